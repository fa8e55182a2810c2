//! What a candidate types on the start screen, turned into the session to
//! stream, and the check-in photos journaled when the exam starts.

use invigil_capture::pipeline::Note;
use invigil_core::protocol::{CandidateToken, LaunchCode, MediaKind, CANDIDATE_TOKEN_PREFIX};
use invigil_core::EventKind;
use invigil_uplink::{SessionRequest, Uplink};
use serde_json::{json, Map, Value};

use crate::Photo;

/// The session a candidate asks for: a launch code (`K7QF-3MZC-T9XA-HW4P`,
/// typed or from a launch link), a session token handed out by an exam
/// platform (`ivc_` and 64 hex digits, with the session id when a link
/// carries one), or, on a server with open enrolment, an exam id and a
/// candidate id. Errors are sentences for the candidate.
pub fn candidate_request(
    server: &str,
    code: Option<&str>,
    session_id: Option<&str>,
    exam_id: Option<&str>,
    candidate_id: Option<&str>,
) -> Result<SessionRequest, String> {
    let server = server.trim().trim_end_matches('/').to_owned();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(format!(
            "The server address `{server}` must start with http:// or https://."
        ));
    }
    if let Some(code) = given(code) {
        if code.starts_with(CANDIDATE_TOKEN_PREFIX) {
            let Ok(token) = CandidateToken::parse(code) else {
                return Err("This session token is not complete: it starts with ivc_ and has 64 more letters and digits. Use the launch link you were sent, or its launch code.".into());
            };
            return Ok(SessionRequest::Token {
                server,
                token,
                session_id: given(session_id).map(str::to_owned),
            });
        }
        let Ok(code) = LaunchCode::parse(code) else {
            return Err("This launch code is not valid: it has 16 letters and digits in four groups, like K7QF-3MZC-T9XA-HW4P (no I, O, 0 or 1). Check the code you were sent.".into());
        };
        return Ok(SessionRequest::Launch { server, code });
    }
    match (given(exam_id), given(candidate_id)) {
        (Some(exam), Some(candidate)) => Ok(SessionRequest::Enrol {
            server,
            exam_id: exam.to_owned(),
            candidate_id: candidate.to_owned(),
            policy: Map::new(),
        }),
        _ => Err("Enter the launch code you were sent for this exam.".into()),
    }
}

/// A field the candidate filled in, trimmed.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Journals the check-in photos through `uplink` and returns the
/// `checkin_completed` event that names them (by sha256) with their
/// measures, to open the exam with.
pub fn journal_checkin(uplink: &Uplink, photos: &[Photo]) -> Note {
    let mut data = Map::new();
    let mut room = Vec::new();
    let mut measures = Map::new();
    for p in photos {
        let sha256 = uplink.record_media(p.kind, &format!("{}.jpg", p.slot), "image/jpeg", &p.jpeg);
        measures.insert(
            p.slot.clone(),
            p.measures
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<Map<_, _>>()
                .into(),
        );
        match p.kind {
            MediaKind::RoomScan => room.push(json!({"side": p.slot, "sha256": sha256})),
            kind => {
                data.insert(kind.as_str().to_owned(), sha256.into());
            }
        }
    }
    data.insert("room_scan".into(), Value::from(room));
    data.insert("measures".into(), measures.into());
    (EventKind::CheckinCompleted, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_screen_answers_become_a_session_request() {
        match candidate_request(
            " http://h:1/ ",
            Some(" k7qf 3mzc-t9xa-hw4p "),
            None,
            None,
            None,
        ) {
            Ok(SessionRequest::Launch { server, code }) => {
                assert_eq!(server, "http://h:1");
                assert_eq!(code.to_string(), "K7QF-3MZC-T9XA-HW4P");
            }
            other => panic!("{other:?}"),
        }
        let token = format!("ivc_{}", "a".repeat(64));
        match candidate_request("http://h:1", Some(&token), Some(" s1 "), None, None) {
            Ok(SessionRequest::Token {
                token: t,
                session_id,
                ..
            }) => {
                assert_eq!(t.as_str(), token);
                assert_eq!(session_id.as_deref(), Some("s1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            candidate_request("http://h", Some(" "), None, Some("e"), Some("c")),
            Ok(SessionRequest::Enrol { .. })
        ));
        let bad = |r: Result<SessionRequest, String>| r.err().unwrap();
        assert!(bad(candidate_request("h:1", Some(&token), None, None, None)).contains("http://"));
        assert!(bad(candidate_request(
            "http://h",
            Some("ivc_x"),
            None,
            None,
            None
        ))
        .contains("not complete"));
        assert!(bad(candidate_request(
            "http://h",
            Some("K7QF-3MZC-T9XA"),
            None,
            None,
            None
        ))
        .contains("launch code is not valid"));
        assert!(bad(candidate_request(
            "http://h",
            Some("K7QF-3MZC-T9XA-HW4O"),
            None,
            None,
            None
        ))
        .contains("no I, O"));
        assert!(
            bad(candidate_request("http://h", None, None, Some("e"), None))
                .contains("Enter the launch code")
        );
    }
}
