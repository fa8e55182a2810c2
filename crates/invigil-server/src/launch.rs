//! Redeeming a launch code: the session it starts runs the exam's policy
//! with the candidate's accommodations, whatever the client asked for.

use std::sync::Arc;

use axum::http::StatusCode;
use invigil_core::protocol::{
    effective_policy, policy_differences, wait_words, CandidateToken, Created, LaunchCode,
    NoteAlert, OfflineTicket, TimelineNote,
};
use invigil_core::Policy;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::exams::{code_hash, ExamRow, EXAM_COLUMNS};
use crate::{auth, now_ms, AppState};

#[derive(sqlx::FromRow)]
struct CodeRow {
    exam_id: String,
    candidate_id: String,
    overrides: String,
    session_id: Option<String>,
    token_hash: Option<String>,
}

/// The one answer to a code that is not valid: it does not tell a wrong
/// code from a replaced one or which characters were wrong.
fn bad_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "bad_launch_code",
        "this launch code is not valid; check it against the one you were sent, or ask the exam's organisers for a new one",
    )
}

/// How long after its exam closed a code is still taken from a client that
/// began offline with the launch link's ticket (its evidence arrives when
/// its network is back): 72 h. Such a session is flagged to proctors.
pub const OFFLINE_GRACE_MS: i64 = 72 * 3600 * 1000;

/// Starts (or finds again, for the same client) the session of a code.
/// With `ticket` (the client began offline, docs/exams.md) the session is
/// the ticket's: its id, and the policy the server signed into it.
pub(crate) async fn redeem(
    state: &AppState,
    code: &LaunchCode,
    session_id: &str,
    token: &CandidateToken,
    client_policy: &Map<String, Value>,
    ticket: Option<&str>,
) -> ApiResult<(StatusCode, Created)> {
    let hash = code_hash(code);
    let row: CodeRow = sqlx::query_as(
        "SELECT exam_id, candidate_id, overrides, session_id, token_hash FROM enrolments WHERE code_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(bad_code)?;
    let exam: ExamRow = sqlx::query_as(&format!(
        "SELECT {EXAM_COLUMNS} FROM exams x WHERE x.id = $1"
    ))
    .bind(&row.exam_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(bad_code)?;
    let overrides: Map<String, Value> = serde_json::from_str(&row.overrides).unwrap_or_default();
    let token_hash = auth::token_hash(token.as_str());
    let exam_policy = effective_policy(&exam.policy(), &exam.aids(), &overrides).map_err(|e| {
        ApiError::internal(format!(
            "exam {}: the stored policy is invalid: {e}",
            exam.id
        ))
    })?;
    let ticket = match ticket {
        None => None,
        Some(text) => Some(open_ticket(state, text, session_id, &row)?),
    };
    // The policy in force: the one the server signed into the ticket the
    // client began with, else the exam's as it is now.
    let (policy, brief) = match &ticket {
        Some(t) => (
            Policy::from_json_keys(&t.policy, "ticket policy").map_err(|e| {
                tracing::warn!(
                    session = session_id,
                    "a signed ticket's policy is invalid: {e}"
                );
                bad_code()
            })?,
            t.exam.clone(),
        ),
        None => (exam_policy.clone(), exam.brief(overrides.clone())),
    };
    let policy_json = serde_json::to_value(&policy).map_err(ApiError::internal)?;
    let created = |status| {
        Ok((
            status,
            Created {
                session_id: session_id.to_owned(),
                token: token.clone(),
                chain_origin: invigil_core::chain::origin(session_id),
                exam_id: exam.id.clone(),
                candidate_id: row.candidate_id.clone(),
                policy: policy_json.as_object().cloned().unwrap_or_default(),
                exam: Some(brief.clone()),
            },
        ))
    };
    if let Some(used_by) = &row.session_id {
        // The same client again (its first reply was lost): the same answer.
        if used_by == session_id && row.token_hash.as_deref() == Some(token_hash.as_str()) {
            return created(StatusCode::OK);
        }
        return Err(ApiError::conflict(
            "launch_code_used",
            "this launch code has started a session already, and each code works once; if that was not you, tell the exam's organisers",
        ));
    }
    let now = now_ms();
    if now < exam.opens_ms {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "exam_not_open",
            format!(
                "{} opens in {}; start again then",
                exam.title,
                wait_words(exam.opens_ms - now)
            ),
        )
        .with_detail(json!({ "opens_ms": exam.opens_ms })));
    }
    let late = now >= exam.closes_ms;
    if late && !(ticket.is_some() && now < exam.closes_ms.saturating_add(OFFLINE_GRACE_MS)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "exam_closed",
            format!("{} has closed; its launch codes no longer work", exam.title),
        )
        .with_detail(json!({ "closes_ms": exam.closes_ms })));
    }
    let origin = invigil_core::chain::origin(session_id);
    let mut tx = state.db.pool.begin().await?;
    let claimed = sqlx::query(
        "UPDATE enrolments SET session_id = $1, token_hash = $2, redeemed_ms = $3 \
         WHERE code_hash = $4 AND session_id IS NULL",
    )
    .bind(session_id)
    .bind(&token_hash)
    .bind(now)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Err(ApiError::conflict(
            "launch_code_used",
            "this launch code has just started another session; each code works once",
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO sessions (id, exam_id, candidate_id, policy, token_hash, state, created_ms, \
         next_seq, head, violations, warnings) \
         VALUES ($1, $2, $3, $4, $5, 'live', $6, 0, $7, 0, 0) ON CONFLICT DO NOTHING",
    )
    .bind(session_id)
    .bind(&exam.id)
    .bind(&row.candidate_id)
    .bind(policy_json.to_string())
    .bind(&token_hash)
    .bind(now)
    .bind(&origin)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::conflict(
            "session_exists",
            format!("session {session_id} already exists; choose another id"),
        ));
    }
    tx.commit().await?;
    tracing::info!(
        session = session_id,
        exam = exam.id,
        candidate = row.candidate_id,
        "session started with a launch code"
    );
    if !brief.accommodations.is_empty() {
        let base = Policy::from_json_keys(&exam.policy(), "exam").unwrap_or_default();
        let detail = json!({
            "overrides": brief.accommodations,
            "exam": differences_json(&policy, &base).1,
        });
        note(state, session_id, "accommodations", detail, false).await;
    }
    if let Some(t) = &ticket {
        let outdated: Map<String, Value> = policy_differences(&exam_policy, &policy)
            .into_iter()
            .map(|(key, now, link)| (key, json!({ "now": now, "link": link })))
            .collect();
        let detail = json!({
            "issued_ms": t.issued_ms,
            "first_contact_ms": now,
            "closes_ms": exam.closes_ms,
            "after_close": late,
            // The exam (or the candidate's accommodations) changed after the
            // link was issued: the session runs the link's policy.
            "outdated": if outdated.is_empty() { Value::Null } else { Value::Object(outdated) },
            "checkin_outdated": t.exam.checkin != exam.checkin(),
        });
        note(state, session_id, "started_offline", detail.clone(), false).await;
        if late {
            note(state, session_id, "closed_before_contact", detail, true).await;
        }
    }
    if !client_policy.is_empty() {
        check_client_policy(state, session_id, &policy, client_policy, "created").await;
    }
    created(StatusCode::CREATED)
}

/// The ticket a client began with, checked against this server's key and
/// the code's enrolment. Any problem is the one answer to a bad code.
fn open_ticket(
    state: &AppState,
    text: &str,
    session_id: &str,
    row: &CodeRow,
) -> ApiResult<OfflineTicket> {
    let refuse = |why: String| {
        tracing::warn!(session = session_id, "an offline ticket was refused: {why}");
        bad_code()
    };
    let ticket = state.signer.check_ticket(text).map_err(refuse)?;
    if ticket.session_id != session_id {
        return Err(refuse(format!(
            "it is for session {}, not {session_id}",
            ticket.session_id
        )));
    }
    if ticket.exam.id != row.exam_id || ticket.candidate_id != row.candidate_id {
        return Err(refuse(format!(
            "it is for {} in {}, the code for {} in {}",
            ticket.candidate_id, ticket.exam.id, row.candidate_id, row.exam_id
        )));
    }
    Ok(ticket)
}

/// Notes (and alerts proctors to) a client whose policy is not the one
/// the server set for its session. `at` says where the client said it:
/// `created` (its creation request) or `session_started`.
pub(crate) async fn check_client_policy(
    state: &AppState,
    session_id: &str,
    expected: &Policy,
    client: &Map<String, Value>,
    at: &str,
) {
    // Read, not checked: a client's policy may be out of range (a day-long
    // absence grace) and is still compared key by key.
    let detail = match serde_json::from_value::<Policy>(Value::Object(client.clone())) {
        Ok(client_policy) => {
            let (keys, diff) = differences_json(expected, &client_policy);
            if keys == 0 {
                return;
            }
            json!({ "at": at, "differences": diff })
        }
        Err(e) => json!({ "at": at, "unreadable": e.to_string() }),
    };
    tracing::warn!(
        session = session_id,
        "the client's policy differs from the session's: {detail}"
    );
    note(state, session_id, "policy_mismatch", detail, true).await;
}

/// `{key: {session, client}}` for every differing key, and their count.
fn differences_json(expected: &Policy, other: &Policy) -> (usize, Value) {
    let diff = policy_differences(expected, other);
    let n = diff.len();
    let map: Map<String, Value> = diff
        .into_iter()
        .map(|(k, a, b)| (k, json!({ "session": a, "client": b })))
        .collect();
    (n, Value::Object(map))
}

/// Records a server note; with `alert`, pushes it to proctors and refreshes
/// the review priority. Failures are logged: the request's outcome stands.
pub(crate) async fn note(
    state: &AppState,
    session_id: &str,
    kind: &str,
    detail: Value,
    alert: bool,
) {
    let note_id =
        match crate::ingest::record_note(state, session_id, kind, "server", detail.clone()).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(
                    session = session_id,
                    "cannot record a {kind} note: {}",
                    e.message
                );
                return;
            }
        };
    if !alert {
        return;
    }
    // Across nodes (PostgreSQL), every node pushes it when told.
    let who: Option<(String, String)> = if state.db.backend == crate::db::Backend::Postgres {
        crate::relay::publish(state, crate::relay::Kind::Note, &note_id, session_id).await;
        None
    } else {
        sqlx::query_as("SELECT exam_id, candidate_id FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&state.db.pool)
            .await
            .ok()
            .flatten()
    };
    if let Some((exam_id, candidate_id)) = who {
        let _ = state.notes.send(Arc::new(NoteAlert {
            session_id: session_id.to_owned(),
            exam_id,
            candidate_id,
            note: TimelineNote {
                at_ms: now_ms(),
                kind: kind.to_owned(),
                actor: "server".to_owned(),
                detail,
            },
        }));
    }
    if let Err(e) = crate::review::refresh(state, session_id).await {
        tracing::error!(
            session = session_id,
            "cannot update the review priority: {}",
            e.message
        );
    }
}
