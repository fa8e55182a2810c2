//! Open Badges 3.0 credentials: the unsigned document and its parts.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::canon::{OB_V3, VC_V2};
use crate::dates;
use crate::status::StatusEntry;

/// What the badge says was achieved (the exam's achievement).
#[derive(Clone, Debug)]
pub struct Achievement {
    /// A URL naming the achievement (the server's page for it).
    pub id: String,
    pub name: String,
    pub description: String,
    /// How it is earned, in words (`criteria.narrative`).
    pub criteria: String,
    /// The badge image's URL, if any.
    pub image: Option<String>,
}

/// The issuer's profile.
#[derive(Clone, Debug)]
pub struct Issuer {
    /// The issuer's DID (`did:web:...` or `did:key:...`).
    pub id: String,
    pub name: String,
    /// The institution's home page, if given.
    pub url: Option<String>,
}

/// Everything one badge says.
#[derive(Clone, Debug)]
pub struct BadgeContent {
    /// `urn:uuid:...`
    pub id: String,
    pub issuer: Issuer,
    pub achievement: Achievement,
    /// `sha256$...` of the earner's email and `salt`.
    pub identity_hash: String,
    pub salt: String,
    pub valid_from_ms: i64,
    pub valid_until_ms: Option<i64>,
    /// Where its revocation (and suspension) bits are.
    pub status: Vec<StatusEntry>,
}

/// The form of an email that is hashed: trimmed and lower-cased, so that
/// `Ada@Example.org ` and `ada@example.org` name the same person.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `sha256$` + hex(SHA-256(email + salt)), the Open Badges recipient hash,
/// of the normalised email.
pub fn identity_hash(email: &str, salt: &str) -> String {
    let digest = Sha256::digest(format!("{}{salt}", normalise_email(email)).as_bytes());
    let mut out = String::from("sha256$");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A `urn:uuid:` (version 4) from 16 random bytes.
pub fn urn_uuid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl BadgeContent {
    /// The unsigned `OpenBadgeCredential`.
    pub fn to_json(&self) -> Value {
        let a = &self.achievement;
        let mut achievement = json!({
            "id": a.id,
            "type": ["Achievement"],
            "name": a.name,
            "description": a.description,
            "criteria": { "narrative": a.criteria },
        });
        if let Some(image) = &a.image {
            achievement["image"] = json!({ "id": image, "type": "Image" });
        }
        let mut issuer = json!({
            "id": self.issuer.id,
            "type": ["Profile"],
            "name": self.issuer.name,
        });
        if let Some(url) = &self.issuer.url {
            issuer["url"] = Value::String(url.clone());
        }
        let mut doc = json!({
            "@context": [VC_V2, OB_V3],
            "id": self.id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": issuer,
            "validFrom": dates::format(self.valid_from_ms),
            "name": a.name,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [{
                    "type": "IdentityObject",
                    "identityHash": self.identity_hash,
                    "identityType": "emailAddress",
                    "hashed": true,
                    "salt": self.salt,
                }],
                "achievement": achievement,
            },
        });
        if let Some(until) = self.valid_until_ms {
            doc["validUntil"] = Value::String(dates::format(until));
        }
        if !self.status.is_empty() {
            let entries: Vec<Value> = self.status.iter().map(StatusEntry::to_json).collect();
            doc["credentialStatus"] = if entries.len() == 1 {
                entries[0].clone()
            } else {
                Value::Array(entries)
            };
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_hash_is_of_the_normalised_email() {
        let h = identity_hash(" Ada@Example.org", "s4lt");
        assert_eq!(h, identity_hash("ada@example.org", "s4lt"));
        assert!(h.starts_with("sha256$") && h.len() == 7 + 64);
        assert_ne!(h, identity_hash("ada@example.org", "other"));
        // SHA-256("ada@example.orgs4lt"), computed independently (sha256sum).
        assert_eq!(
            h,
            "sha256$e01ce1162e3b91a04b413bdc0749c6e836952bf4fbb73b1430e0a411efe745c9"
        );
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let u = urn_uuid([0xff; 16]);
        assert_eq!(u, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
