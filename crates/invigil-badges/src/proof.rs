//! Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite
//! (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.2).
//!
//! hashData = SHA-256(canonical proof configuration) || SHA-256(canonical
//! document without its proof); the proof value is the Ed25519 signature of
//! hashData in base58btc multibase.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::canon::canonical_nquads;
use crate::key::{PublicKey, SigningKey};
use crate::BadgeError;

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const CRYPTOSUITE: &str = "eddsa-rdfc-2022";

/// Adds a `proof` to `document` (which must have none).
///
/// `created` is an XML Schema date-time (`2026-01-01T00:00:00Z`);
/// `verification_method` the DID URL of `key`'s public half.
pub fn sign(
    document: &Value,
    key: &SigningKey,
    verification_method: &str,
    created: &str,
) -> Result<Value, BadgeError> {
    let mut unsecured = document
        .as_object()
        .cloned()
        .ok_or_else(|| BadgeError::Malformed("a credential is a JSON object".into()))?;
    if unsecured.contains_key("proof") {
        return Err(BadgeError::Malformed(
            "the document already has a proof".into(),
        ));
    }
    let context = unsecured
        .get("@context")
        .cloned()
        .ok_or_else(|| BadgeError::Malformed("no \"@context\"".into()))?;
    let options = json!({
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    });
    let hash = hash_data(&Value::Object(unsecured.clone()), &options, &context)?;
    let signature = key.sign(&hash);
    let mut proof = options;
    proof["proofValue"] = Value::String(format!("z{}", bs58::encode(signature).into_string()));
    unsecured.insert("proof".into(), proof);
    Ok(Value::Object(unsecured))
}

fn hash_data(unsecured: &Value, options: &Value, context: &Value) -> Result<Vec<u8>, BadgeError> {
    let mut config = options
        .as_object()
        .cloned()
        .ok_or_else(|| BadgeError::Malformed("\"proof\" must be an object".into()))?;
    config.insert("@context".into(), context.clone());
    let config_nq = canonical_nquads(&Value::Object(config))?;
    let doc_nq = canonical_nquads(unsecured)?;
    let mut out = Sha256::digest(config_nq.as_bytes()).to_vec();
    out.extend_from_slice(&Sha256::digest(doc_nq.as_bytes()));
    Ok(out)
}

/// What a proof claims, read before its signature is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofInfo {
    pub verification_method: String,
    pub created: Option<String>,
    pub purpose: String,
}

/// Reads the single `eddsa-rdfc-2022` proof of `document`.
pub fn read_proof(document: &Value) -> Result<(ProofInfo, Map<String, Value>), BadgeError> {
    let proof = match document.get("proof") {
        None => {
            return Err(BadgeError::Proof(
                "the credential has no proof (it is not signed)".into(),
            ))
        }
        Some(Value::Object(p)) => p.clone(),
        Some(Value::Array(_)) => {
            return Err(BadgeError::Proof(
                "several proofs: invigil checks credentials with one".into(),
            ))
        }
        Some(_) => return Err(BadgeError::Proof("\"proof\" must be an object".into())),
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str).map(str::to_string);
    if field("type").as_deref() != Some(PROOF_TYPE) {
        return Err(BadgeError::Proof(format!(
            "proof type {:?} is not supported (only {PROOF_TYPE})",
            field("type").unwrap_or_default()
        )));
    }
    if field("cryptosuite").as_deref() != Some(CRYPTOSUITE) {
        return Err(BadgeError::Proof(format!(
            "cryptosuite {:?} is not supported (only {CRYPTOSUITE})",
            field("cryptosuite").unwrap_or_default()
        )));
    }
    let purpose = field("proofPurpose")
        .ok_or_else(|| BadgeError::Proof("the proof has no proofPurpose".into()))?;
    if purpose != "assertionMethod" {
        return Err(BadgeError::Proof(format!(
            "proof purpose {purpose:?} is not assertionMethod"
        )));
    }
    let verification_method = field("verificationMethod")
        .ok_or_else(|| BadgeError::Proof("the proof has no verificationMethod".into()))?;
    if let Some(created) = field("created") {
        crate::dates::parse(&created)
            .map_err(|e| BadgeError::Proof(format!("proof created: {e}")))?;
    }
    Ok((
        ProofInfo {
            verification_method,
            created: field("created"),
            purpose,
        },
        proof,
    ))
}

/// Checks `document`'s proof with `key` (the public key its verification
/// method resolved to).
pub fn verify(document: &Value, key: &PublicKey) -> Result<ProofInfo, BadgeError> {
    let (info, mut proof) = read_proof(document)?;
    let value = match proof.remove("proofValue") {
        Some(Value::String(v)) => v,
        _ => return Err(BadgeError::Proof("the proof has no proofValue".into())),
    };
    let signature = value
        .strip_prefix('z')
        .and_then(|b| bs58::decode(b).into_vec().ok())
        .filter(|s| s.len() == 64)
        .ok_or_else(|| {
            BadgeError::Proof("proofValue is not a base58btc Ed25519 signature".into())
        })?;
    let mut unsecured = document.as_object().cloned().unwrap_or_default();
    unsecured.remove("proof");
    if proof.contains_key("@context") {
        // A proof's own @context must equal the document's (spec 3.2.2).
        if proof.get("@context") != unsecured.get("@context") {
            return Err(BadgeError::Proof(
                "the proof's @context differs from the document's".into(),
            ));
        }
        proof.remove("@context");
    }
    let context = unsecured
        .get("@context")
        .cloned()
        .ok_or_else(|| BadgeError::Malformed("no \"@context\"".into()))?;
    let hash = hash_data(&Value::Object(unsecured), &Value::Object(proof), &context)?;
    if !key.verify(&hash, &signature) {
        return Err(BadgeError::Signature);
    }
    Ok(info)
}
