//! Which session a journal streams: a new one made here (enrolment), or
//! the session of a token, asked from the server.

use std::time::{Duration, Instant};

use invigil_core::chain;
use invigil_core::protocol::{
    wait_words, CandidateToken, CreateSession, Created, DeliveryStatus, LaunchCode, Me,
    OfflineTicket, SessionState,
};

use super::shipper::{client, send, Backoff, Failure};
use super::{SessionRequest, UplinkError};
use crate::session::SessionMeta;

/// Longest wait for the server before a launch link's ticket starts the
/// exam offline.
const TICKET_WAIT: Duration = Duration::from_secs(10);

pub(super) fn new_meta(
    server: &str,
    request: SessionRequest,
    resolve_timeout: Duration,
) -> Result<SessionMeta, UplinkError> {
    match request {
        SessionRequest::Enrol {
            exam_id,
            candidate_id,
            policy,
            ..
        } => {
            let session_id = random_hex(16);
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the OS random source works");
            let token = CandidateToken::from_random(bytes);
            Ok(SessionMeta {
                server: server.to_owned(),
                head: chain::origin(&session_id),
                session_id,
                token,
                exam_id,
                candidate_id,
                policy,
                created: false,
                next_seq: 0,
                last_t_ms: 0,
                ended: false,
                policy_from_server: false,
                exam: None,
                launch_code: None,
                ticket: None,
            })
        }
        SessionRequest::Launch { code, ticket, .. } => {
            let ticket = match ticket {
                Some(text) => Some((
                    OfflineTicket::read(&text)
                        .map_err(|problem| refused(server, problem))?
                        .ticket,
                    text,
                )),
                None => None,
            };
            // A ticket's session id, so that an answer lost on the way and
            // the offline start name the same session.
            let session_id = ticket
                .as_ref()
                .map_or_else(|| random_hex(16), |(t, _)| t.session_id.clone());
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the OS random source works");
            let token = CandidateToken::from_random(bytes);
            // With a ticket the candidate need not wait long for a server
            // that does not answer: the exam can begin without it.
            let wait = match ticket {
                Some(_) => resolve_timeout.min(TICKET_WAIT),
                None => resolve_timeout,
            };
            let http = client();
            let asked = retrying(server, wait, || {
                launch(&http, server, &code, &session_id, &token)
            });
            match (asked, ticket) {
                (Ok(meta), _) => Ok(meta),
                (Err(Failure::Retry(problem)), Some((ticket, text))) => {
                    tracing::warn!(
                        "cannot reach {server} ({problem}); starting offline from the launch link's ticket"
                    );
                    offline_meta(server, code, ticket, text, token, now_ms())
                }
                (Err(Failure::Retry(problem) | Failure::Refused(problem)), _) => {
                    Err(refused(server, problem))
                }
            }
        }
        SessionRequest::Token {
            token, session_id, ..
        } => {
            let http = client();
            retrying(server, resolve_timeout, || {
                resolve(&http, server, &token, session_id.as_deref())
            })
            .map_err(|(Failure::Retry(problem) | Failure::Refused(problem))| {
                refused(server, problem)
            })
        }
    }
}

fn refused(server: &str, problem: String) -> UplinkError {
    UplinkError::Resolve {
        server: server.to_owned(),
        problem,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The session of a launch link's ticket, begun without the server: the
/// code is redeemed (with the ticket) when the shipper first reaches it.
/// Refused outside the exam's window by this computer's clock.
fn offline_meta(
    server: &str,
    code: LaunchCode,
    ticket: OfflineTicket,
    text: String,
    token: CandidateToken,
    now: i64,
) -> Result<SessionMeta, UplinkError> {
    let exam = &ticket.exam;
    if now < exam.opens_ms {
        return Err(refused(
            server,
            format!(
                "the server cannot be reached, and {} opens in {} by this computer's clock; start again then",
                exam.title,
                wait_words(exam.opens_ms - now)
            ),
        ));
    }
    if now >= exam.closes_ms {
        return Err(refused(
            server,
            format!(
                "the server cannot be reached, and {} closed {} ago by this computer's clock",
                exam.title,
                wait_words(now - exam.closes_ms)
            ),
        ));
    }
    Ok(SessionMeta {
        server: server.to_owned(),
        head: chain::origin(&ticket.session_id),
        session_id: ticket.session_id,
        token,
        exam_id: ticket.exam.id.clone(),
        candidate_id: ticket.candidate_id,
        policy: ticket.policy,
        created: false,
        next_seq: 0,
        last_t_ms: 0,
        ended: false,
        policy_from_server: true,
        exam: Some(ticket.exam),
        launch_code: Some(code),
        ticket: Some(text),
    })
}

/// Tries `ask` until it succeeds, is refused, or `timeout` has passed; the
/// last failure says which.
fn retrying(
    server: &str,
    timeout: Duration,
    mut ask: impl FnMut() -> Result<SessionMeta, Failure>,
) -> Result<SessionMeta, Failure> {
    let deadline = Instant::now() + timeout;
    let mut backoff = Backoff::default();
    loop {
        match ask() {
            Ok(meta) => return Ok(meta),
            Err(Failure::Retry(problem)) if Instant::now() < deadline => {
                tracing::warn!("cannot reach {server} yet: {problem}");
                std::thread::sleep(
                    backoff
                        .next()
                        .min(deadline.saturating_duration_since(Instant::now())),
                );
            }
            Err(failure) => return Err(failure),
        }
    }
}

/// Redeems a launch code for a session with this id and token (repeatable:
/// a lost reply is answered again).
fn launch(
    http: &reqwest::blocking::Client,
    server: &str,
    code: &LaunchCode,
    session_id: &str,
    token: &CandidateToken,
) -> Result<SessionMeta, Failure> {
    let created: Created = send(
        http.post(format!("{server}/api/v1/sessions"))
            .json(&CreateSession {
                session_id: Some(session_id.to_owned()),
                launch_code: Some(code.clone()),
                exam_id: None,
                candidate_id: None,
                policy: serde_json::Map::new(),
                token: Some(token.clone()),
                ticket: None,
            }),
        "the session of the launch code",
    )?;
    if created.session_id != session_id || created.token != *token {
        return Err(Failure::Refused(format!(
            "the server started session {} instead of {session_id}",
            created.session_id
        )));
    }
    Ok(SessionMeta {
        server: server.to_owned(),
        head: chain::origin(session_id),
        session_id: created.session_id,
        token: created.token,
        exam_id: created.exam_id,
        candidate_id: created.candidate_id,
        policy: created.policy,
        created: true,
        next_seq: 0,
        last_t_ms: 0,
        ended: false,
        policy_from_server: true,
        exam: created.exam,
        launch_code: None,
        ticket: None,
    })
}

fn resolve(
    http: &reqwest::blocking::Client,
    server: &str,
    token: &CandidateToken,
    session_id: Option<&str>,
) -> Result<SessionMeta, Failure> {
    let id = match session_id {
        Some(id) => id.to_owned(),
        None => {
            let me: Me = send(
                http.get(format!("{server}/api/v1/auth/me"))
                    .bearer_auth(token.as_str()),
                "who the token belongs to",
            )?;
            match me {
                Me::Candidate { session_id } => session_id,
                Me::Proctor { .. } => {
                    return Err(Failure::Refused(
                        "the token is not a candidate token".into(),
                    ))
                }
            }
        }
    };
    let s: DeliveryStatus = send(
        http.get(format!("{server}/api/v1/sessions/{id}"))
            .bearer_auth(token.as_str()),
        "the session's status",
    )?;
    if s.state != SessionState::Live {
        return Err(Failure::Refused(format!("session {id} has already ended")));
    }
    Ok(SessionMeta {
        server: server.to_owned(),
        session_id: id,
        token: token.clone(),
        exam_id: s.exam_id,
        candidate_id: s.candidate_id,
        policy: s.policy.as_object().cloned().unwrap_or_default(),
        created: true,
        next_seq: u64::try_from(s.next_seq).unwrap_or(0),
        head: s.head,
        last_t_ms: 0,
        ended: false,
        policy_from_server: true,
        exam: None,
        launch_code: None,
        ticket: None,
    })
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source works");
    chain::hex(&b)
}
