//! Offline tickets (docs/exams.md, "Starting offline"): what a launch link
//! carries so that a candidate's client can begin the exam before it has
//! reached the server. The server pre-issues a session id for one
//! enrolment, with the exam and the policy its client must run, and signs
//! it with its Ed25519 key (the receipts' key, docs/receipts.md). The
//! client makes its own token; the launch code is redeemed, with the
//! ticket, when the client first connects, and the server checks the
//! signature then.
//!
//! Text form: `v1.` + base64url(JSON) + `.` + base64url(signature), the
//! signature over [`ticket_message`] of the JSON bytes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ExamBrief;

/// Longest ticket text taken (a policy with every key is about 1.5 KB).
pub const TICKET_MAX_CHARS: usize = 16 * 1024;

const PREFIX: &str = "v1.";

/// The pre-issued session a launch link carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineTicket {
    /// The session id the server set aside for this enrolment.
    pub session_id: String,
    pub candidate_id: String,
    /// The exam as the candidate's client runs it (window, check-in, aids,
    /// accommodations).
    pub exam: ExamBrief,
    /// The effective policy, every key (the exam's with the candidate's
    /// accommodations) when the ticket was issued.
    pub policy: Map<String, Value>,
    /// When the server issued it (ms since the epoch).
    pub issued_ms: i64,
    /// Which server key signed it (`ServerKey::key_id`).
    pub key_id: String,
}

/// A ticket read from its text form, its signature not yet checked (only
/// the server that issued it holds the key to check it against).
#[derive(Clone, Debug)]
pub struct UnverifiedTicket {
    pub ticket: OfflineTicket,
    /// The JSON bytes the signature covers.
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The bytes a ticket's signature covers.
pub fn ticket_message(payload: &[u8]) -> Vec<u8> {
    let mut m = b"invigil-ticket-v1\n".to_vec();
    m.extend_from_slice(payload);
    m
}

impl OfflineTicket {
    /// The text form, signed by `sign` (which signs [`ticket_message`]).
    pub fn seal(&self, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
        let payload = serde_json::to_vec(self).expect("a ticket serialises");
        let signature = sign(&ticket_message(&payload));
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Reads the text form. Errors say what is wrong with it, in words for
    /// a person ("the ticket ...").
    pub fn read(text: &str) -> Result<UnverifiedTicket, String> {
        let text = text.trim();
        if text.len() > TICKET_MAX_CHARS {
            return Err(format!(
                "the ticket is {} characters long; at most {TICKET_MAX_CHARS} are taken",
                text.len()
            ));
        }
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or("the ticket does not start with `v1.`")?;
        let (payload, signature) = rest
            .split_once('.')
            .ok_or("the ticket has no signature part")?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|e| format!("the ticket is damaged (base64: {e})"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| format!("the ticket's signature is damaged (base64: {e})"))?;
        if signature.len() != 64 {
            return Err(format!(
                "the ticket's signature is {} bytes; an Ed25519 signature is 64",
                signature.len()
            ));
        }
        let ticket: OfflineTicket = serde_json::from_slice(&payload)
            .map_err(|e| format!("the ticket is not readable: {e}"))?;
        if ticket.exam.closes_ms <= ticket.exam.opens_ms {
            return Err("the ticket's exam closes before it opens".into());
        }
        Ok(UnverifiedTicket {
            ticket,
            payload,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Aids, CheckinRequirements};

    fn ticket() -> OfflineTicket {
        OfflineTicket {
            session_id: "s-offline-1".into(),
            candidate_id: "c-1".into(),
            exam: ExamBrief {
                id: "ex".into(),
                title: "Exam".into(),
                opens_ms: 1,
                closes_ms: 2,
                checkin: CheckinRequirements::default(),
                aids: Aids::default(),
                accommodations: Map::new(),
            },
            policy: Map::new(),
            issued_ms: 0,
            key_id: "k".into(),
        }
    }

    #[test]
    fn tickets_read_back_and_bad_text_is_named() {
        let text = ticket().seal(|m| {
            assert!(m.starts_with(b"invigil-ticket-v1\n"));
            vec![7; 64]
        });
        assert!(text.starts_with("v1."));
        let read = OfflineTicket::read(&text).unwrap();
        assert_eq!(read.ticket, ticket());
        assert_eq!(read.signature, vec![7; 64]);
        for (bad, says) in [
            ("v2.abc.def", "does not start"),
            ("v1.abc", "no signature"),
            ("v1.***.AAAA", "damaged"),
            ("v1.e30.AAAA", "bytes"),
        ] {
            let err = OfflineTicket::read(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let short_sig = URL_SAFE_NO_PAD.encode([0u8; 64]);
        let err = OfflineTicket::read(&format!("v1.e30.{short_sig}")).unwrap_err();
        assert!(err.contains("not readable"), "{err}");
        let err = OfflineTicket::read(&"v".repeat(TICKET_MAX_CHARS + 1)).unwrap_err();
        assert!(err.contains("at most"), "{err}");
    }
}
