//! What a candidate types on the start screen, turned into the session to
//! stream, and the check-in photos journaled when the exam starts.

use invigil_capture::pipeline::Note;
use invigil_core::protocol::{CandidateToken, LaunchCode, MediaKind, CANDIDATE_TOKEN_PREFIX};
use invigil_core::EventKind;
use invigil_uplink::{SessionRequest, Uplink};
use serde_json::{json, Map, Value};

use crate::CheckInRecord;

/// The session a candidate asks for: a launch code (`K7QF-3MZC-T9XA-HW4P`,
/// typed or from a launch link, whose offline `ticket` comes along), a
/// session token handed out by an exam platform (`ivc_` and 64 hex digits,
/// with the session id when a link carries one), or, on a server with open
/// enrolment, an exam id and a candidate id. Errors are sentences for the
/// candidate.
pub fn candidate_request(
    server: &str,
    code: Option<&str>,
    session_id: Option<&str>,
    exam_id: Option<&str>,
    candidate_id: Option<&str>,
    ticket: Option<&str>,
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
        return Ok(SessionRequest::Launch {
            server,
            code,
            ticket: given(ticket).map(str::to_owned),
        });
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

/// What a launch link carries: `invigil://launch?server=URL&code=CODE`
/// (URL-encoded values; `session=ID` too for a platform's session token;
/// `ticket=...` for starting while the server cannot be reached,
/// docs/exams.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchLink {
    pub server: String,
    pub code: String,
    pub session_id: Option<String>,
    pub ticket: Option<String>,
}

/// Reads a launch link (the operating system hands it to the app as its
/// argument). Errors are sentences for the candidate.
pub fn parse_launch_link(link: &str) -> Result<LaunchLink, String> {
    let bad = |why: &str| {
        format!("This launch link cannot be used: {why}. Type the server address and launch code instead.")
    };
    let rest = link
        .trim()
        .strip_prefix("invigil://launch")
        .ok_or_else(|| bad("it does not start with invigil://launch"))?;
    let query = rest.trim_start_matches('/').strip_prefix('?').unwrap_or("");
    let (mut server, mut code, mut session_id, mut ticket) = (None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| bad("it is damaged (bad % escapes)"))?;
        match k {
            "server" => server = Some(v),
            "code" => code = Some(v),
            "session" => session_id = Some(v),
            "ticket" => ticket = Some(v),
            _ => {}
        }
    }
    let server = server.ok_or_else(|| bad("it names no server"))?;
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(bad("its server address is not http:// or https://"));
    }
    let code = code.ok_or_else(|| bad("it carries no launch code"))?;
    if let Some(t) = &ticket {
        invigil_core::protocol::OfflineTicket::read(t)
            .map_err(|e| bad(&format!("its offline part is damaged ({e})")))?;
    }
    Ok(LaunchLink {
        server,
        code,
        session_id,
        ticket,
    })
}

/// `%XX` and `+` decoded; `None` for a broken escape or text that is not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A field the candidate filled in, trimmed.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Journals the check-in photos through `uplink` and returns the
/// `checkin_completed` event that names them (by sha256) with their
/// measures, the ID's comparison and the head-turn check's result, to open
/// the exam with.
pub fn journal_checkin(uplink: &Uplink, record: &CheckInRecord) -> Note {
    let photos = &record.photos;
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
    // The ID's portrait against the face photo, as the candidate's app
    // judged it (proctors see both photos; the server notes a mismatch).
    if let Some(i) = crate::checkin::identity_of(photos) {
        let portrait = photos
            .iter()
            .find(|p| p.slot == "id")
            .and_then(|p| p.portrait)
            .map(|b| b.map(|x| (f64::from(x) * 1e4).round() / 1e4));
        data.insert(
            "identity".into(),
            json!({
                "id_face_found": i.id_face_found,
                "similarity": i.similarity,
                "same_person": i.same_person,
                "attempts": i.attempts,
                "portrait": portrait,
            }),
        );
    }
    if let Some(l) = &record.liveness {
        data.insert(
            "liveness".into(),
            serde_json::to_value(l).unwrap_or(Value::Null),
        );
    }
    (EventKind::CheckinCompleted, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_links_carry_the_server_and_the_code() {
        let link = parse_launch_link(
            "invigil://launch?server=http%3A%2F%2F127.0.0.1%3A8480&code=K7QF-3MZC-T9XA-HW4P",
        )
        .unwrap();
        assert_eq!(link.server, "http://127.0.0.1:8480");
        assert_eq!(link.code, "K7QF-3MZC-T9XA-HW4P");
        assert_eq!(link.session_id, None);
        let with =
            parse_launch_link("invigil://launch/?code=x&server=https://e.org&session=s-1&utm=1")
                .unwrap();
        assert_eq!(
            (with.server.as_str(), with.session_id.as_deref()),
            ("https://e.org", Some("s-1"))
        );
        let ticket =
            parse_launch_link("invigil://launch?server=https://e.org&code=x&ticket=v1.e30.AAAA")
                .unwrap_err();
        assert!(ticket.contains("offline part is damaged"), "{ticket}");
        for (bad, says) in [
            ("https://evil.example/launch?code=x", "does not start"),
            ("invigil://launch?code=x", "no server"),
            ("invigil://launch?server=file%3A%2F%2Fx&code=x", "not http"),
            ("invigil://launch?server=http%3A%2F%2Fh", "no launch code"),
            ("invigil://launch?server=%zz&code=x", "damaged"),
            ("invigil://launch?server=%FF&code=x", "damaged"),
        ] {
            let e = parse_launch_link(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    /// The start screen without a launch link's ticket.
    fn ask(
        server: &str,
        code: Option<&str>,
        session_id: Option<&str>,
        exam_id: Option<&str>,
        candidate_id: Option<&str>,
    ) -> Result<SessionRequest, String> {
        candidate_request(server, code, session_id, exam_id, candidate_id, None)
    }

    #[test]
    fn start_screen_answers_become_a_session_request() {
        match ask(
            " http://h:1/ ",
            Some(" k7qf 3mzc-t9xa-hw4p "),
            None,
            None,
            None,
        ) {
            Ok(SessionRequest::Launch {
                server,
                code,
                ticket: None,
            }) => {
                assert_eq!(server, "http://h:1");
                assert_eq!(code.to_string(), "K7QF-3MZC-T9XA-HW4P");
            }
            other => panic!("{other:?}"),
        }
        let token = format!("ivc_{}", "a".repeat(64));
        match ask("http://h:1", Some(&token), Some(" s1 "), None, None) {
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
            ask("http://h", Some(" "), None, Some("e"), Some("c")),
            Ok(SessionRequest::Enrol { .. })
        ));
        let bad = |r: Result<SessionRequest, String>| r.err().unwrap();
        assert!(bad(ask("h:1", Some(&token), None, None, None)).contains("http://"));
        assert!(bad(ask("http://h", Some("ivc_x"), None, None, None)).contains("not complete"));
        assert!(
            bad(ask("http://h", Some("K7QF-3MZC-T9XA"), None, None, None))
                .contains("launch code is not valid")
        );
        assert!(bad(ask(
            "http://h",
            Some("K7QF-3MZC-T9XA-HW4O"),
            None,
            None,
            None
        ))
        .contains("no I, O"));
        assert!(bad(ask("http://h", None, None, Some("e"), None)).contains("Enter the launch code"));
    }
}
