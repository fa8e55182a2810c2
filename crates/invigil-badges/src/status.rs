//! W3C Bitstring Status List v1.0: one bit per credential, gzip-compressed
//! and base64url-multibase-encoded inside a signed
//! `BitstringStatusListCredential`.

use std::io::{Read, Write};

use base64::Engine;
use serde_json::{json, Value};

use crate::canon::VC_V2;
use crate::dates;
use crate::BadgeError;

/// Entries per list: the specification's minimum (16 KiB of bits), so
/// that one credential's bit hides among many (herd privacy).
pub const LIST_LEN: usize = 131_072;

/// The most entries a list read from elsewhere may hold (2 MiB of bits):
/// bounds what a hostile `encodedList` can make a verifier decompress.
const MAX_READ_LEN: usize = 16 * 1024 * 1024;

/// Why a status bit exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Set for good: the badge is revoked.
    Revocation,
    /// Set and cleared: the badge is suspended while it is set.
    Suspension,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Revocation => "revocation",
            Purpose::Suspension => "suspension",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "revocation" => Some(Purpose::Revocation),
            "suspension" => Some(Purpose::Suspension),
            _ => None,
        }
    }
}

/// A credential's pointer into a status list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusEntry {
    /// The URL of the `BitstringStatusListCredential`.
    pub list_url: String,
    pub index: usize,
    pub purpose: Purpose,
}

impl StatusEntry {
    pub fn to_json(&self) -> Value {
        json!({
            "id": format!("{}#{}", self.list_url, self.index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.purpose.as_str(),
            "statusListIndex": self.index.to_string(),
            "statusListCredential": self.list_url,
        })
    }

    /// The `credentialStatus` entries of a credential (none, one or a list).
    pub fn read_all(credential: &Value) -> Result<Vec<StatusEntry>, BadgeError> {
        let entries: Vec<&Value> = match credential.get("credentialStatus") {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one) => vec![one],
        };
        entries.into_iter().map(Self::read).collect()
    }

    fn read(entry: &Value) -> Result<StatusEntry, BadgeError> {
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| BadgeError::Status(format!("credentialStatus has no {name:?}")))
        };
        if field("type")? != "BitstringStatusListEntry" {
            return Err(BadgeError::Status(format!(
                "credentialStatus type {:?} is not supported (only BitstringStatusListEntry)",
                field("type")?
            )));
        }
        let purpose = Purpose::parse(field("statusPurpose")?).ok_or_else(|| {
            BadgeError::Status("statusPurpose must be \"revocation\" or \"suspension\"".into())
        })?;
        let index: usize = field("statusListIndex")?
            .parse()
            .map_err(|_| BadgeError::Status("statusListIndex is not a whole number".into()))?;
        Ok(StatusEntry {
            list_url: field("statusListCredential")?.to_string(),
            index,
            purpose,
        })
    }
}

/// The bits of one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitstring {
    bytes: Vec<u8>,
}

impl Default for Bitstring {
    fn default() -> Self {
        Self::new(LIST_LEN)
    }
}

impl Bitstring {
    /// `len` bits, all clear (`len` rounded up to whole bytes).
    pub fn new(len: usize) -> Self {
        Self {
            bytes: vec![0; len.div_ceil(8)],
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bit `index`; index 0 is the left-most (most significant) bit of the
    /// first byte.
    pub fn get(&self, index: usize) -> Option<bool> {
        let byte = self.bytes.get(index / 8)?;
        Some(byte & (0x80 >> (index % 8)) != 0)
    }

    pub fn set(&mut self, index: usize, value: bool) -> Result<(), BadgeError> {
        let len = self.len();
        let byte = self.bytes.get_mut(index / 8).ok_or_else(|| {
            BadgeError::Status(format!("index {index} is past the list's {len} entries"))
        })?;
        if value {
            *byte |= 0x80 >> (index % 8);
        } else {
            *byte &= !(0x80 >> (index % 8));
        }
        Ok(())
    }

    /// `u` + base64url (no padding) of the gzip-compressed bits.
    pub fn encode(&self) -> String {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&self.bytes);
        let compressed = gz.finish().unwrap_or_default();
        format!(
            "u{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
        )
    }

    /// Reads an `encodedList`.
    pub fn decode(encoded: &str) -> Result<Self, BadgeError> {
        let body = encoded.strip_prefix('u').ok_or_else(|| {
            BadgeError::Status(
                "encodedList is not base64url multibase (must start with 'u')".into(),
            )
        })?;
        let compressed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body.trim_end_matches('='))
            .map_err(|e| BadgeError::Status(format!("encodedList: {e}")))?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .take((MAX_READ_LEN / 8 + 1) as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| BadgeError::Status(format!("encodedList is not gzip: {e}")))?;
        if bytes.len() * 8 > MAX_READ_LEN {
            return Err(BadgeError::Status(format!(
                "encodedList holds more than {MAX_READ_LEN} entries"
            )));
        }
        if bytes.len() * 8 < LIST_LEN {
            return Err(BadgeError::Status(format!(
                "encodedList holds {} entries, fewer than the {LIST_LEN} the specification requires",
                bytes.len() * 8
            )));
        }
        Ok(Self { bytes })
    }

    /// The unsigned `BitstringStatusListCredential` publishing these bits.
    pub fn credential(
        &self,
        list_url: &str,
        purpose: Purpose,
        issuer: &str,
        valid_from_ms: i64,
    ) -> Value {
        json!({
            "@context": [VC_V2],
            "id": list_url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer,
            "validFrom": dates::format(valid_from_ms),
            "credentialSubject": {
                "id": format!("{list_url}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": purpose.as_str(),
                "encodedList": self.encode(),
            },
        })
    }

    /// The bits and purpose of a status list credential (its proof is
    /// checked elsewhere).
    pub fn from_credential(credential: &Value) -> Result<(Self, Purpose), BadgeError> {
        let types = credential.get("type").map(type_names).unwrap_or_default();
        if !types.iter().any(|t| t == "BitstringStatusListCredential") {
            return Err(BadgeError::Status(
                "not a BitstringStatusListCredential".into(),
            ));
        }
        let subject = credential
            .get("credentialSubject")
            .ok_or_else(|| BadgeError::Status("the status list has no credentialSubject".into()))?;
        let purpose = subject
            .get("statusPurpose")
            .and_then(Value::as_str)
            .and_then(Purpose::parse)
            .ok_or_else(|| {
                BadgeError::Status("the status list has no known statusPurpose".into())
            })?;
        let encoded = subject
            .get("encodedList")
            .and_then(Value::as_str)
            .ok_or_else(|| BadgeError::Status("the status list has no encodedList".into()))?;
        Ok((Self::decode(encoded)?, purpose))
    }
}

/// The names in a `type` value (a string or a list of them).
pub fn type_names(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_through_the_encoding() {
        let mut bits = Bitstring::default();
        assert_eq!(bits.len(), LIST_LEN);
        bits.set(0, true).unwrap();
        bits.set(9, true).unwrap();
        bits.set(LIST_LEN - 1, true).unwrap();
        assert!(bits.set(LIST_LEN, true).is_err());
        let encoded = bits.encode();
        assert!(encoded.starts_with('u'));
        let back = Bitstring::decode(&encoded).unwrap();
        assert_eq!(back, bits);
        assert_eq!(back.get(0), Some(true));
        assert_eq!(back.get(1), Some(false));
        assert_eq!(back.get(9), Some(true));
        assert_eq!(back.get(LIST_LEN), None);
        // Index 0 is the most significant bit of byte 0.
        assert_eq!(bits.bytes[0], 0x80);
        assert_eq!(bits.bytes[1], 0x40);
        bits.set(9, false).unwrap();
        assert_eq!(bits.get(9), Some(false));
    }

    #[test]
    fn hostile_lists_are_refused() {
        assert!(Bitstring::decode("zabc").is_err());
        assert!(Bitstring::decode("u!!!").is_err());
        assert!(Bitstring::decode("uAAAA").is_err()); // not gzip
                                                      // Too short: 8 bytes.
        assert!(Bitstring::decode(&Bitstring::new(64).encode()).is_err());
        // A gzip bomb: 64 MiB of zeros compresses to ~64 KiB.
        let bomb = Bitstring {
            bytes: vec![0; 64 * 1024 * 1024],
        }
        .encode();
        let err = Bitstring::decode(&bomb).unwrap_err().to_string();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn entries_read_back() {
        let e = StatusEntry {
            list_url: "https://x.test/badges/status/revocation".into(),
            index: 42,
            purpose: Purpose::Revocation,
        };
        let doc = json!({ "credentialStatus": [e.to_json()] });
        assert_eq!(StatusEntry::read_all(&doc).unwrap(), vec![e.clone()]);
        let doc = json!({ "credentialStatus": e.to_json() });
        assert_eq!(StatusEntry::read_all(&doc).unwrap(), vec![e]);
        let bad = json!({ "credentialStatus": { "type": "BitstringStatusListEntry", "statusPurpose": "revocation", "statusListIndex": "-1", "statusListCredential": "x" } });
        assert!(StatusEntry::read_all(&bad).is_err());
    }
}
