//! Ed25519 keys, their multibase `Multikey` form and `did:key` identifiers.

use ring::signature::{self, Ed25519KeyPair, KeyPair};

use crate::BadgeError;

/// The multicodec prefix of an Ed25519 public key (`ed25519-pub`, 0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// An issuer's signing key: the 32-byte Ed25519 seed.
pub struct SigningKey {
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// The key with this seed (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        // from_seed_unchecked cannot fail on a 32-byte seed.
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("a 32-byte Ed25519 seed");
        Self { seed, pair }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, BadgeError> {
        let mut seed = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
            .map_err(|_| BadgeError::internal("the system random generator failed"))?;
        Ok(Self::from_seed(seed))
    }

    /// The seed, for storing the key.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub fn public(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(bytes)
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// `z6Mk...`: base58btc multibase of the multicodec-prefixed key, the
    /// `publicKeyMultibase` of a `Multikey` and the body of a `did:key`.
    pub fn multibase(&self) -> String {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&ED25519_PUB);
        bytes.extend_from_slice(&self.0);
        format!("z{}", bs58::encode(bytes).into_string())
    }

    /// Reads a `publicKeyMultibase` value.
    pub fn from_multibase(text: &str) -> Result<Self, BadgeError> {
        let body = text.strip_prefix('z').ok_or_else(|| {
            BadgeError::Key(format!(
                "{text:?} is not base58btc multibase (must start with 'z')"
            ))
        })?;
        let bytes = bs58::decode(body)
            .into_vec()
            .map_err(|e| BadgeError::Key(format!("{text:?}: {e}")))?;
        if bytes.len() != 34 || bytes[..2] != ED25519_PUB {
            return Err(BadgeError::Key(format!(
                "{text:?} is not an Ed25519 public key"
            )));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[2..]);
        Ok(Self(key))
    }

    /// `did:key:z6Mk...`
    pub fn did_key(&self) -> String {
        format!("did:key:{}", self.multibase())
    }

    /// The verification method of this key's `did:key`.
    pub fn did_key_method(&self) -> String {
        let mb = self.multibase();
        format!("did:key:{mb}#{mb}")
    }

    pub fn verify(&self, message: &[u8], signature_bytes: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, signature_bytes)
            .is_ok()
    }
}

/// The key a `did:key` verification method names, if it is one.
pub fn resolve_did_key(method: &str) -> Option<Result<PublicKey, BadgeError>> {
    let rest = method.strip_prefix("did:key:")?;
    let (did_part, fragment) = match rest.split_once('#') {
        Some((d, f)) => (d, Some(f)),
        None => (rest, None),
    };
    if let Some(f) = fragment {
        if f != did_part {
            return Some(Err(BadgeError::Key(format!(
                "verification method {method:?}: the fragment must repeat the key"
            ))));
        }
    }
    Some(PublicKey::from_multibase(did_part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_seed_gives_the_published_did_key() {
        // The reference key: 32 bytes of 0x07.
        let key = SigningKey::from_seed([7u8; 32]);
        assert_eq!(
            key.public().did_key(),
            "did:key:z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z"
        );
        let back = PublicKey::from_multibase(&key.public().multibase()).unwrap();
        assert_eq!(back, key.public());
    }

    #[test]
    fn bad_multibase_is_refused() {
        for bad in ["", "z", "m123", "z0OIl", "z6Mk"] {
            assert!(PublicKey::from_multibase(bad).is_err(), "{bad}");
        }
        let k = SigningKey::from_seed([1u8; 32]).public();
        let other = SigningKey::from_seed([2u8; 32]).public();
        let wrong = format!("did:key:{}#{}", k.multibase(), other.multibase());
        assert!(resolve_did_key(&wrong).unwrap().is_err());
        assert!(resolve_did_key("did:web:example.com#key-1").is_none());
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let key = SigningKey::from_seed([9u8; 32]);
        let sig = key.sign(b"hello");
        assert!(key.public().verify(b"hello", &sig));
        assert!(!key.public().verify(b"hellp", &sig));
    }
}
