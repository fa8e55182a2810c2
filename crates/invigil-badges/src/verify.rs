//! Verifying a badge: structure, signature (with the issuer's key from its
//! DID), dates, recipient, and the status lists.
//!
//! Fetching is the caller's: a [`Lookup`] answers DID documents and status
//! list credentials (the CLI over HTTP, the server from its own tables), so
//! this module stays computation and runs offline with [`Offline`].

use serde::Serialize;
use serde_json::{json, Value};

use crate::credential::{identity_hash, normalise_email};
use crate::key::{resolve_did_key, PublicKey};
use crate::status::{type_names, Bitstring, Purpose, StatusEntry};
use crate::{dates, proof, BadgeError};

/// What a verifier fetches.
pub trait Lookup {
    /// The DID document at a `did:web` DID's URL.
    fn did_document(&mut self, did: &str, url: &str) -> Result<Value, String>;
    /// The status list credential at `url`.
    fn status_list(&mut self, url: &str) -> Result<Value, String>;
}

/// A lookup that fetches nothing: `did:key` badges verify fully, `did:web`
/// ones fail, status is not checked.
pub struct Offline;

impl Lookup for Offline {
    fn did_document(&mut self, _did: &str, url: &str) -> Result<Value, String> {
        Err(format!("offline: cannot fetch {url}"))
    }
    fn status_list(&mut self, url: &str) -> Result<Value, String> {
        Err(format!("offline: cannot fetch {url}"))
    }
}

/// How to verify.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The holder's email, to check the badge was issued to them.
    pub email: Option<String>,
    /// The time to judge dates by (Unix ms).
    pub now_ms: i64,
    /// Skip the status lists (offline verification).
    pub skip_status: bool,
}

/// The verdict on a badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// Its issuer revoked it.
    Revoked,
    /// Its issuer suspended it (for now).
    Suspended,
    /// Past its `validUntil`.
    Expired,
    /// Before its `validFrom`.
    NotYetValid,
    /// A check failed: a bad signature, an unknown key, a wrong email, a
    /// malformed document, a status list that could not be checked.
    Invalid,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Revoked => "revoked",
            Verdict::Suspended => "suspended",
            Verdict::Expired => "expired",
            Verdict::NotYetValid => "not yet valid",
            Verdict::Invalid => "invalid",
        }
    }
}

/// One check and how it went (`ok: None`: not run).
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: Option<bool>,
    pub detail: String,
}

/// The verdict and what it rests on.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub verdict: Verdict,
    pub id: Option<String>,
    pub issuer: Option<String>,
    pub issuer_name: Option<String>,
    pub achievement: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub checks: Vec<Check>,
}

impl Verification {
    /// The first failed check's detail, or the verdict.
    pub fn reason(&self) -> String {
        match self.checks.iter().find(|c| c.ok == Some(false)) {
            Some(c) => format!("{}: {}", c.check, c.detail),
            None => self.verdict.as_str().to_string(),
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// The `https://` URL of a `did:web` DID's document.
pub fn did_web_url(did: &str) -> Result<String, BadgeError> {
    let rest = did
        .strip_prefix("did:web:")
        .ok_or_else(|| BadgeError::Key(format!("{did:?} is not a did:web DID")))?;
    let mut parts = rest.split(':');
    let host = parts
        .next()
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%3a", ":");
    let valid_host = |h: &str| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    };
    if !valid_host(&host) {
        return Err(BadgeError::Key(format!("{did:?}: bad host")));
    }
    let path: Vec<&str> = parts.collect();
    if path
        .iter()
        .any(|p| p.is_empty() || p.contains(['/', '?', '#', '%']) || *p == "..")
    {
        return Err(BadgeError::Key(format!("{did:?}: bad path")));
    }
    Ok(if path.is_empty() {
        format!("https://{host}/.well-known/did.json")
    } else {
        format!("https://{host}/{}/did.json", path.join("/"))
    })
}

/// A DID document listing `keys` (fragment, key) as `Multikey`s allowed to
/// sign credentials (`assertionMethod`). Old keys stay listed after a
/// rotation so that the badges they signed still verify.
pub fn did_document(did: &str, keys: &[(String, PublicKey)]) -> Value {
    let methods: Vec<Value> = keys
        .iter()
        .map(|(fragment, key)| {
            json!({
                "id": format!("{did}#{fragment}"),
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.multibase(),
            })
        })
        .collect();
    let ids: Vec<Value> = keys
        .iter()
        .map(|(f, _)| Value::String(format!("{did}#{f}")))
        .collect();
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
    })
}

/// The key `method` names, found in `did`'s DID document.
fn key_in_did_document(doc: &Value, did: &str, method: &str) -> Result<PublicKey, BadgeError> {
    if doc.get("id").and_then(Value::as_str) != Some(did) {
        return Err(BadgeError::Key(format!(
            "the DID document is not {did:?}'s"
        )));
    }
    let fragment_or_full = |v: &Value| -> Option<String> {
        let s = v.as_str().or_else(|| v.get("id").and_then(Value::as_str))?;
        Some(if s.starts_with('#') {
            format!("{did}{s}")
        } else {
            s.to_string()
        })
    };
    let asserts = doc
        .get("assertionMethod")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(fragment_or_full).any(|id| id == method))
        .unwrap_or(false);
    if !asserts {
        return Err(BadgeError::Key(format!(
            "{method:?} is not one of the issuer's assertion methods"
        )));
    }
    let entry = doc
        .get("verificationMethod")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|m| fragment_or_full(m).as_deref() == Some(method))
        })
        .or_else(|| {
            doc.get("assertionMethod")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|m| m.is_object() && fragment_or_full(m).as_deref() == Some(method))
                })
        })
        .ok_or_else(|| {
            BadgeError::Key(format!("{method:?} is not in the issuer's DID document"))
        })?;
    let multibase = entry
        .get("publicKeyMultibase")
        .and_then(Value::as_str)
        .ok_or_else(|| BadgeError::Key(format!("{method:?} has no publicKeyMultibase")))?;
    PublicKey::from_multibase(multibase)
}

/// The issuer's key for `method`, which must belong to `issuer`.
fn issuer_key(
    issuer: &str,
    method: &str,
    lookup: &mut dyn Lookup,
) -> Result<PublicKey, BadgeError> {
    let (did, _) = method.split_once('#').ok_or_else(|| {
        BadgeError::Key(format!("verification method {method:?} has no fragment"))
    })?;
    if did != issuer {
        return Err(BadgeError::Key(format!(
            "the proof's key {method:?} does not belong to the issuer {issuer:?}"
        )));
    }
    if let Some(key) = resolve_did_key(method) {
        return key;
    }
    if did.starts_with("did:web:") {
        let url = did_web_url(did)?;
        let doc = lookup.did_document(did, &url).map_err(|e| {
            BadgeError::Key(format!(
                "the issuer's DID document could not be fetched: {e}"
            ))
        })?;
        return key_in_did_document(&doc, did, method);
    }
    Err(BadgeError::Key(format!(
        "{did:?}: only did:key and did:web issuers are supported"
    )))
}

/// Checks a credential's signature with its issuer's key; the issuer id.
pub fn check_signature(doc: &Value, lookup: &mut dyn Lookup) -> Result<String, BadgeError> {
    let issuer = match doc.get("issuer") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| BadgeError::Malformed("the issuer has no id".into()))?,
        None => return Err(BadgeError::Malformed("no issuer".into())),
    };
    let (info, _) = proof::read_proof(doc)?;
    let key = issuer_key(&issuer, &info.verification_method, lookup)?;
    proof::verify(doc, &key)?;
    Ok(issuer)
}

fn structure(doc: &Value) -> Result<(), String> {
    if !doc.is_object() {
        return Err("a credential is a JSON object".into());
    }
    let contexts = match doc.get("@context") {
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => return Err("no @context".into()),
    };
    if contexts.first().and_then(Value::as_str) != Some(crate::canon::VC_V2) {
        return Err(format!(
            "the first @context must be {}",
            crate::canon::VC_V2
        ));
    }
    let types = doc.get("type").map(type_names).unwrap_or_default();
    for needed in ["VerifiableCredential", "OpenBadgeCredential"] {
        if !types.iter().any(|t| t == needed) {
            return Err(format!("type does not include {needed}"));
        }
    }
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
    if !(id.starts_with("urn:uuid:") || id.starts_with("https://") || id.starts_with("http://")) {
        return Err("id must be a urn:uuid or a URL".into());
    }
    if str_at(doc, &["credentialSubject", "achievement", "name"]).is_none() {
        return Err("credentialSubject has no achievement with a name".into());
    }
    if doc.get("validFrom").and_then(Value::as_str).is_none() {
        return Err("no validFrom".into());
    }
    Ok(())
}

fn recipient(doc: &Value, email: &str) -> Result<(), String> {
    let ids: Vec<&Value> = match doc
        .get("credentialSubject")
        .and_then(|s| s.get("identifier"))
    {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => return Err("the badge names no recipient identifier".into()),
    };
    for id in ids {
        if id.get("identityType").and_then(Value::as_str) != Some("emailAddress") {
            continue;
        }
        let stored = id
            .get("identityHash")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hashed = id.get("hashed").and_then(Value::as_bool).unwrap_or(false);
        let matches = if hashed {
            let salt = id.get("salt").and_then(Value::as_str).unwrap_or_default();
            stored.eq_ignore_ascii_case(&identity_hash(email, salt))
        } else {
            normalise_email(stored) == normalise_email(email)
        };
        if matches {
            return Ok(());
        }
    }
    Err(format!(
        "the badge was not issued to {:?}",
        normalise_email(email)
    ))
}

/// Reads one status entry's bit from its list, checking the list's proof.
fn status_bit(
    entry: &StatusEntry,
    issuer: &str,
    now_ms: i64,
    lookup: &mut dyn Lookup,
) -> Result<bool, String> {
    let list = lookup
        .status_list(&entry.list_url)
        .map_err(|e| format!("{}: {e}", entry.list_url))?;
    let list_issuer =
        check_signature(&list, lookup).map_err(|e| format!("the status list: {e}"))?;
    if list_issuer != issuer {
        return Err(format!(
            "the status list is issued by {list_issuer:?}, not the badge's issuer"
        ));
    }
    if list.get("id").and_then(Value::as_str) != Some(entry.list_url.as_str()) {
        return Err("the status list's id is not the URL it was fetched from".into());
    }
    if let Some(until) = list.get("validUntil").and_then(Value::as_str) {
        if dates::parse(until)? <= now_ms {
            return Err("the status list has expired".into());
        }
    }
    let (bits, purpose) = Bitstring::from_credential(&list).map_err(|e| e.to_string())?;
    if purpose != entry.purpose {
        return Err(format!(
            "the list's purpose is {}, the entry's {}",
            purpose.as_str(),
            entry.purpose.as_str()
        ));
    }
    bits.get(entry.index).ok_or_else(|| {
        format!(
            "index {} is past the list's {} entries",
            entry.index,
            bits.len()
        )
    })
}

/// Verifies a badge.
pub fn verify(doc: &Value, options: &Options, lookup: &mut dyn Lookup) -> Verification {
    let mut v = Verification {
        verdict: Verdict::Valid,
        id: str_at(doc, &["id"]).map(str::to_string),
        issuer: str_at(doc, &["issuer", "id"])
            .or_else(|| str_at(doc, &["issuer"]))
            .map(str::to_string),
        issuer_name: str_at(doc, &["issuer", "name"]).map(str::to_string),
        achievement: str_at(doc, &["credentialSubject", "achievement", "name"]).map(str::to_string),
        valid_from: str_at(doc, &["validFrom"]).map(str::to_string),
        valid_until: str_at(doc, &["validUntil"]).map(str::to_string),
        checks: Vec::new(),
    };
    let push = |v: &mut Verification, check, ok: Option<bool>, detail: String, fail: Verdict| {
        if ok == Some(false) && v.verdict == Verdict::Valid {
            v.verdict = fail;
        }
        v.checks.push(Check { check, ok, detail });
    };
    if let Err(e) = structure(doc) {
        push(&mut v, "structure", Some(false), e, Verdict::Invalid);
        return v;
    }
    push(
        &mut v,
        "structure",
        Some(true),
        "an Open Badges 3.0 credential".into(),
        Verdict::Invalid,
    );
    let issuer = match check_signature(doc, lookup) {
        Ok(issuer) => {
            push(
                &mut v,
                "signature",
                Some(true),
                format!("signed by {issuer} (eddsa-rdfc-2022)"),
                Verdict::Invalid,
            );
            issuer
        }
        Err(e) => {
            push(
                &mut v,
                "signature",
                Some(false),
                e.to_string(),
                Verdict::Invalid,
            );
            return v;
        }
    };
    let from = v.valid_from.as_deref().map(dates::parse);
    let until = v.valid_until.as_deref().map(dates::parse);
    match (from, until) {
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            push(&mut v, "dates", Some(false), e, Verdict::Invalid)
        }
        (Some(Ok(f)), _) if f > options.now_ms => push(
            &mut v,
            "dates",
            Some(false),
            format!("not valid before {}", dates::format(f)),
            Verdict::NotYetValid,
        ),
        (_, Some(Ok(u))) if u <= options.now_ms => push(
            &mut v,
            "dates",
            Some(false),
            format!("expired on {}", dates::format(u)),
            Verdict::Expired,
        ),
        _ => push(
            &mut v,
            "dates",
            Some(true),
            "within its validity period".into(),
            Verdict::Invalid,
        ),
    }
    match &options.email {
        Some(email) => match recipient(doc, email) {
            Ok(()) => push(
                &mut v,
                "recipient",
                Some(true),
                format!("issued to {}", normalise_email(email)),
                Verdict::Invalid,
            ),
            Err(e) => push(&mut v, "recipient", Some(false), e, Verdict::Invalid),
        },
        None => push(
            &mut v,
            "recipient",
            None,
            "no email given: anyone holding it could show it".into(),
            Verdict::Invalid,
        ),
    }
    let entries = match StatusEntry::read_all(doc) {
        Ok(e) => e,
        Err(e) => {
            push(
                &mut v,
                "status",
                Some(false),
                e.to_string(),
                Verdict::Invalid,
            );
            return v;
        }
    };
    if entries.is_empty() {
        push(
            &mut v,
            "status",
            None,
            "the badge has no status list: it cannot be revoked".into(),
            Verdict::Invalid,
        );
    } else if options.skip_status {
        push(
            &mut v,
            "status",
            None,
            "not checked (offline)".into(),
            Verdict::Invalid,
        );
    } else {
        for entry in &entries {
            match status_bit(entry, &issuer, options.now_ms, lookup) {
                Ok(false) => push(
                    &mut v,
                    "status",
                    Some(true),
                    format!("not {}", past(entry.purpose)),
                    Verdict::Invalid,
                ),
                Ok(true) => {
                    let verdict = match entry.purpose {
                        Purpose::Revocation => Verdict::Revoked,
                        Purpose::Suspension => Verdict::Suspended,
                    };
                    push(
                        &mut v,
                        "status",
                        Some(false),
                        format!("{} by its issuer", past(entry.purpose)),
                        verdict,
                    )
                }
                Err(e) => push(
                    &mut v,
                    "status",
                    Some(false),
                    format!("could not be checked: {e}"),
                    Verdict::Invalid,
                ),
            }
        }
    }
    v
}

fn past(p: Purpose) -> &'static str {
    match p {
        Purpose::Revocation => "revoked",
        Purpose::Suspension => "suspended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_urls() {
        assert_eq!(
            did_web_url("did:web:example.com").unwrap(),
            "https://example.com/.well-known/did.json"
        );
        assert_eq!(
            did_web_url("did:web:localhost%3A8443:exams:eu").unwrap(),
            "https://localhost:8443/exams/eu/did.json"
        );
        for bad in [
            "did:key:z6Mk",
            "did:web:",
            "did:web:a/b",
            "did:web:ex.com:..",
            "did:web:ex.com::x",
            "did:web:ex.com:a%2Fb",
        ] {
            assert!(did_web_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn did_documents_name_their_keys() {
        let k1 = crate::key::SigningKey::from_seed([1; 32]).public();
        let k2 = crate::key::SigningKey::from_seed([2; 32]).public();
        let did = "did:web:badges.example.edu";
        let doc = did_document(did, &[("key-1".into(), k1), ("key-2".into(), k2)]);
        assert_eq!(
            key_in_did_document(&doc, did, &format!("{did}#key-2")).unwrap(),
            k2
        );
        assert!(key_in_did_document(&doc, did, &format!("{did}#key-3")).is_err());
        assert!(
            key_in_did_document(&doc, "did:web:other.example", &format!("{did}#key-1")).is_err()
        );
    }
}
