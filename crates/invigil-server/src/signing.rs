//! The server's signing key: an Ed25519 key made at first start and kept in
//! the data directory (`server-key.pk8`, readable by the owner only). Every
//! batch reply carries a receipt signed with it (docs/receipts.md), so a
//! candidate can prove what the server acknowledged and an operator cannot
//! rewrite a session without contradicting receipts the candidate holds.

use std::path::Path;

use anyhow::Context;
use invigil_core::protocol::{
    receipt_message, ticket_message, BatchReceipt, OfflineTicket, ServerKey,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

/// File name of the key in the data directory.
pub const KEY_FILE: &str = "server-key.pk8";

/// The key pair and how it is published.
pub struct Signer {
    pair: Ed25519KeyPair,
    public: ServerKey,
}

impl Signer {
    /// Loads `<data_dir>/server-key.pk8`, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|_| anyhow::anyhow!("cannot generate the server's signing key"))?;
                write_private(&path, doc.as_ref())
                    .with_context(|| format!("cannot write the signing key {}", path.display()))?;
                tracing::info!("created the server's signing key {}", path.display());
                doc.as_ref().to_vec()
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read the signing key {}", path.display()))
            }
        };
        Self::from_pkcs8(&pkcs8)
            .with_context(|| format!("{} is not an Ed25519 key (PKCS#8)", path.display()))
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        let public_key = invigil_core::chain::hex(pair.public_key().as_ref());
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self {
            pair,
            public: ServerKey {
                algorithm: "Ed25519".into(),
                public_key,
                key_id,
            },
        })
    }

    pub fn public(&self) -> &ServerKey {
        &self.public
    }

    /// The receipt for holding events `0..next_seq` of a session, ending at
    /// `head`.
    pub fn receipt(&self, session_id: &str, next_seq: u64, head: &str) -> BatchReceipt {
        let sig = self.pair.sign(&receipt_message(session_id, next_seq, head));
        BatchReceipt {
            key_id: self.public.key_id.clone(),
            signature: invigil_core::chain::hex(sig.as_ref()),
        }
    }
}

impl Signer {
    /// The text form of an offline ticket, signed (docs/exams.md).
    pub fn seal_ticket(&self, ticket: &OfflineTicket) -> String {
        ticket.seal(|message| self.pair.sign(message).as_ref().to_vec())
    }

    /// An offline ticket this server signed, or why not (the words are for
    /// logs: a client is told only that its code is not valid).
    pub fn check_ticket(&self, text: &str) -> Result<OfflineTicket, String> {
        let read = OfflineTicket::read(text)?;
        if read.ticket.key_id != self.public.key_id {
            return Err(format!(
                "the ticket names key {}, not this server's {}",
                read.ticket.key_id, self.public.key_id
            ));
        }
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            self.pair.public_key().as_ref(),
        )
        .verify(&ticket_message(&read.payload), &read.signature)
        .map_err(|_| "the ticket's signature does not verify".to_owned())?;
        Ok(read.ticket)
    }
}

/// First 16 hex digits of the SHA-256 of a public key.
pub fn key_id(public_key: &[u8]) -> String {
    invigil_core::chain::hex(&Sha256::digest(public_key))[..16].to_owned()
}

/// Whether `receipt` is a valid signature by `public_key` (raw 32 bytes)
/// over the session's state.
pub fn verify(
    public_key: &[u8],
    session_id: &str,
    next_seq: u64,
    head: &str,
    signature_hex: &str,
) -> bool {
    let Some(sig) = unhex(signature_hex) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(&receipt_message(session_id, next_seq, head), &sig)
        .is_ok()
}

/// Hex digits to bytes; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_verify_and_a_changed_one_does_not() {
        use invigil_core::protocol::{Aids, CheckinRequirements, ExamBrief};
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let ticket = OfflineTicket {
            session_id: "s-1".into(),
            candidate_id: "c-1".into(),
            exam: ExamBrief {
                id: "ex".into(),
                title: "Exam".into(),
                opens_ms: 1,
                closes_ms: 2,
                checkin: CheckinRequirements::default(),
                aids: Aids::default(),
                accommodations: serde_json::Map::new(),
            },
            policy: serde_json::Map::new(),
            issued_ms: 5,
            key_id: signer.public().key_id.clone(),
        };
        let text = signer.seal_ticket(&ticket);
        assert_eq!(signer.check_ticket(&text).unwrap(), ticket);
        // Another policy under the same signature.
        let mut forged = ticket.clone();
        forged
            .policy
            .insert("absence_flag_s".into(), serde_json::json!(100000));
        let sig = text.rsplit('.').next().unwrap();
        let body = forged.seal(|_| vec![0; 64]);
        let body = body.rsplit_once('.').unwrap().0;
        let err = signer.check_ticket(&format!("{body}.{sig}")).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        // Another server's ticket.
        let other = Signer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
        let err = signer
            .check_ticket(&other.seal_ticket(&ticket))
            .unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let mut renamed = ticket.clone();
        renamed.key_id = other.public().key_id.clone();
        let err = signer
            .check_ticket(&other.seal_ticket(&renamed))
            .unwrap_err();
        assert!(err.contains("names key"), "{err}");
    }

    #[test]
    fn receipts_verify_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        // Kept: the same key on the next start.
        let again = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(signer.public(), again.public());
        let pk = unhex(&signer.public().public_key).unwrap();
        assert_eq!(pk.len(), 32);
        let r = signer.receipt("s-1", 12, "ab");
        assert_eq!(r.key_id, signer.public().key_id);
        assert!(verify(&pk, "s-1", 12, "ab", &r.signature));
        assert!(!verify(&pk, "s-1", 13, "ab", &r.signature), "another seq");
        assert!(
            !verify(&pk, "s-2", 12, "ab", &r.signature),
            "another session"
        );
        assert!(!verify(&pk, "s-1", 12, "ac", &r.signature), "another head");
        assert!(!verify(&pk, "s-1", 12, "ab", "zz"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is the owner's alone");
        }
        std::fs::write(dir.path().join(KEY_FILE), b"junk").unwrap();
        let err = Signer::load_or_create(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not an Ed25519 key"), "{err}");
    }
}
