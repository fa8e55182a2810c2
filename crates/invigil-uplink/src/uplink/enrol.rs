//! Which session a journal streams: a new one made here (enrolment), or
//! the session of a token, asked from the server.

use std::time::{Duration, Instant};

use invigil_core::chain;
use invigil_core::protocol::{CandidateToken, DeliveryStatus, Me, SessionState};

use super::shipper::{client, send, Backoff, Failure};
use super::{SessionRequest, UplinkError};
use crate::session::SessionMeta;

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
            })
        }
        SessionRequest::Token {
            token, session_id, ..
        } => {
            let http = client();
            let deadline = Instant::now() + resolve_timeout;
            let mut backoff = Backoff::default();
            loop {
                match resolve(&http, server, &token, session_id.as_deref()) {
                    Ok(meta) => return Ok(meta),
                    Err(Failure::Retry(problem)) if Instant::now() < deadline => {
                        tracing::warn!("cannot reach {server} yet: {problem}");
                        std::thread::sleep(
                            backoff
                                .next()
                                .min(deadline.saturating_duration_since(Instant::now())),
                        );
                    }
                    Err(Failure::Retry(problem) | Failure::Refused(problem)) => {
                        return Err(UplinkError::Resolve {
                            server: server.to_owned(),
                            problem,
                        })
                    }
                }
            }
        }
    }
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
    })
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source works");
    chain::hex(&b)
}
