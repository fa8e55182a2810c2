//! Sessions: creation by a candidate's client, its event batches and end;
//! lists, status and timelines for proctors.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use invigil_core::protocol::{
    BatchReply, CandidateToken, CreateSession, Created, EndSession, ErrorBody, EventBatch,
    SessionList, SessionStatus, SessionSummary, Timeline,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{self, Caller, ClientAddr};
use crate::error::{ApiError, ApiResult};
use crate::ingest;
use crate::json::{body_bytes, parse, StrictJson};
use crate::timeline::{load_summary, timeline_of, SummaryRow, SUMMARY_COLUMNS};
use crate::validate::{validate_label, validate_session_id};
use crate::{now_ms, AppState, MAX_JSON_FIELD_BYTES};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(create_session).get(list_sessions))
        .route("/api/v1/sessions/{id}", get(session_status))
        .route("/api/v1/sessions/{id}/events", post(append_events))
        .route("/api/v1/sessions/{id}/end", post(end_session))
        .route("/api/v1/sessions/{id}/timeline", get(timeline))
}

/// Creates a session from a launch code (or, on a server started with
/// `--open-enrolment`, for the exam and candidate given). Repeating a
/// creation with the same code (or exam and candidate), id and token
/// answers 200 (a client whose first reply was lost).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions",
    request_body = CreateSession,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 200, description = "The same session, created before", body = Created),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "No launch code, or not a valid one (`launch_code_required`, `bad_launch_code`)", body = ErrorBody),
        (status = 403, description = "Outside the exam's window (`exam_not_open`, `exam_closed`; with an offline ticket, codes are taken up to 72 h after the close)", body = ErrorBody),
        (status = 409, description = "The code has started another session, or the id is taken", body = ErrorBody),
        (status = 429, description = "Too many sessions created from this address; see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn create_session(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    StrictJson(body): StrictJson<CreateSession>,
) -> ApiResult<Response> {
    if let Err(wait) = state.creations.take(addr, std::time::Instant::now()) {
        tracing::warn!(%addr, "session creation refused: over {} a minute", state.config.sessions_per_minute);
        return Err(ApiError::too_many(
            wait,
            format!(
                "this address created {} sessions in the last minute, the most allowed; try again shortly",
                state.config.sessions_per_minute
            ),
        ));
    }
    let session_id = body.session_id.clone().unwrap_or_else(auth::new_id);
    validate_session_id(&session_id)?;
    let token = match body.token.clone() {
        Some(token) => token,
        None => CandidateToken::parse(&auth::new_token(auth::CANDIDATE_PREFIX))
            .map_err(ApiError::internal)?,
    };
    let client_policy = Value::Object(body.policy.clone()).to_string();
    if client_policy.len() > MAX_JSON_FIELD_BYTES {
        return Err(ApiError::invalid_field(
            "policy",
            format!(
                "the policy is {} bytes as JSON; at most {MAX_JSON_FIELD_BYTES} are taken",
                client_policy.len()
            ),
        ));
    }
    if body.ticket.is_some() && body.launch_code.is_none() {
        return Err(ApiError::invalid_field(
            "ticket",
            "an offline ticket comes with its launch code (`launch_code`)",
        ));
    }
    let created = match (&body.launch_code, &body.exam_id, &body.candidate_id) {
        (Some(code), None, None) => {
            crate::launch::redeem(
                &state,
                code,
                &session_id,
                &token,
                &body.policy,
                body.ticket.as_deref(),
            )
            .await?
        }
        (Some(_), _, _) => {
            return Err(ApiError::invalid_field(
                "exam_id",
                "give a launch code or (with open enrolment) an exam and a candidate, not both",
            ))
        }
        (None, Some(exam), Some(candidate)) if state.config.open_enrolment => {
            open_enrolment(&state, exam, candidate, &session_id, &token, &client_policy).await?
        }
        (None, Some(_), None) if state.config.open_enrolment => {
            return Err(ApiError::invalid_field(
                "candidate_id",
                "`candidate_id` is missing: open enrolment needs an exam and a candidate",
            ))
        }
        (None, None, Some(_)) if state.config.open_enrolment => {
            return Err(ApiError::invalid_field(
                "exam_id",
                "`exam_id` is missing: open enrolment needs an exam and a candidate",
            ))
        }
        (None, _, _) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "launch_code_required",
                "starting a session needs the launch code the exam's organisers sent you",
            ))
        }
    };
    let (status, created) = created;
    Ok((status, Json(created)).into_response())
}

/// Creation without a launch code (`--open-enrolment`: demos, tests): the
/// client names the exam and candidate and its policy is the session's.
async fn open_enrolment(
    state: &AppState,
    exam_id: &str,
    candidate_id: &str,
    session_id: &str,
    token: &CandidateToken,
    policy: &str,
) -> ApiResult<(StatusCode, Created)> {
    validate_label("exam_id", exam_id, 200)?;
    validate_label("candidate_id", candidate_id, 200)?;
    let token_hash = auth::token_hash(token.as_str());
    let origin = invigil_core::chain::origin(session_id);
    let inserted = sqlx::query(
        "INSERT INTO sessions (id, exam_id, candidate_id, policy, token_hash, state, created_ms, \
         next_seq, head, violations, warnings) \
         VALUES ($1, $2, $3, $4, $5, 'live', $6, 0, $7, 0, 0) ON CONFLICT DO NOTHING",
    )
    .bind(session_id)
    .bind(exam_id)
    .bind(candidate_id)
    .bind(policy)
    .bind(&token_hash)
    .bind(now_ms())
    .bind(&origin)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    let status = if inserted == 1 {
        tracing::info!(
            session = session_id,
            exam = exam_id,
            candidate = candidate_id,
            "session created (open enrolment)"
        );
        StatusCode::CREATED
    } else {
        // Creation repeated by the same client (its first reply was lost)
        // is fine; anything else is a clash.
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT exam_id, candidate_id, token_hash FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&state.db.pool)
                .await?;
        let same = row.is_some_and(|(exam, candidate, hash)| {
            hash == token_hash && exam == exam_id && candidate == candidate_id
        });
        if !same {
            return Err(ApiError::conflict(
                "session_exists",
                format!("session {session_id} already exists with other details or another token"),
            ));
        }
        StatusCode::OK
    };
    let stored: (String,) = sqlx::query_as("SELECT policy FROM sessions WHERE id = $1")
        .bind(session_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok((
        status,
        Created {
            session_id: session_id.to_owned(),
            token: token.clone(),
            chain_origin: origin,
            exam_id: exam_id.to_owned(),
            candidate_id: candidate_id.to_owned(),
            policy: serde_json::from_str(&stored.0).unwrap_or_default(),
            exam: None,
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    /// `live`, `ended` or `all` (default).
    state: Option<String>,
    /// Only the sessions of this exam.
    exam: Option<String>,
    /// `created` (newest first, default), `priority` (highest review
    /// priority first) or `attention` (undecided alerts first, then
    /// priority).
    order: Option<String>,
    /// At most this many (1-5000, default 500).
    limit: Option<i64>,
}

/// Lists sessions for proctors.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    params(ListQuery),
    responses(
        (status = 200, description = "Sessions", body = SessionList),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SessionList>> {
    caller.proctor()?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut filter = match query.state.as_deref() {
        None | Some("all") => "WHERE 1 = 1",
        Some("live") => "WHERE s.state = 'live'",
        Some("ended") => "WHERE s.state = 'ended'",
        Some(other) => {
            return Err(ApiError::invalid_field(
                "state",
                format!("state `{other}` is not one of live, ended, all"),
            ))
        }
    };
    let order = match query.order.as_deref() {
        None | Some("created") => "s.created_ms DESC, s.id",
        Some("priority") => "s.priority DESC, s.created_ms DESC, s.id",
        Some("attention") => "s.open_alerts DESC, s.priority DESC, s.created_ms DESC, s.id",
        Some(other) => {
            return Err(ApiError::invalid_field(
                "order",
                format!("order `{other}` is not one of created, priority, attention"),
            ))
        }
    };
    let limit = query.limit.unwrap_or(500);
    if !(1..=5000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 5000",
        ));
    }
    if let Some(exam) = &query.exam {
        validate_label("exam", exam, 200)?;
        filter = "WHERE s.exam_id = $2 AND ($3 = 'all' OR s.state = $3)";
    }
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM sessions s {filter} ORDER BY {order} LIMIT $1");
    let rows = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit);
    let rows = match &query.exam {
        Some(exam) => rows
            .bind(exam)
            .bind(query.state.as_deref().unwrap_or("all")),
        None => rows,
    }
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(SessionList {
        // The policy is per session: read it there, not in every list.
        sessions: rows
            .into_iter()
            .map(|r| SessionSummary {
                policy: None,
                accommodations: None,
                ..SessionSummary::from(r)
            })
            .collect(),
    }))
}

/// A session's status: the whole summary for proctors, its delivery status
/// for its candidate (whose client also sends `HEAD` here as a heartbeat).
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session: `SessionSummary` for proctors, `DeliveryStatus` for its candidate", body = SessionStatus),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Another session's token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    ),
    security(("proctor" = []), ("candidate" = [])))]
pub(super) async fn session_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionStatus>> {
    caller.reader_of(&id)?;
    Ok(Json(status_for(&caller, load_summary(&state, &id).await?)))
}

/// What `caller` may see of a session's summary.
fn status_for(caller: &Caller, summary: SessionSummary) -> SessionStatus {
    match caller {
        Caller::Proctor { .. } => SessionStatus::Review(summary),
        Caller::Candidate { .. } => SessionStatus::Delivery(summary.into()),
    }
}

/// Appends a batch of chained events. Idempotent on (session, seq): events
/// the server holds byte for byte count as duplicates. An edited, missing,
/// reordered or unchained event rejects the whole batch (409) and is noted
/// in the timeline.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/events", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    request_body = EventBatch,
    responses(
        (status = 200, description = "Taken", body = BatchReply),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not this session's candidate token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "Chain rejected, or the session has ended", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
    ),
    security(("candidate" = [])))]
pub(super) async fn append_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(batch): StrictJson<EventBatch>,
) -> ApiResult<Json<BatchReply>> {
    caller.candidate_of(&id)?;
    Ok(Json(ingest::append(&state, &id, batch).await?))
}

/// Ends a live session (its candidate, or a proctor); the body
/// `{"reason": ...}` is optional.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/end", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    request_body(content = EndSession, description = "Optional"),
    responses(
        (status = 200, description = "The session, ended (as `GET` shows it to the caller)", body = SessionStatus),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Another session's token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    ),
    security(("proctor" = []), ("candidate" = [])))]
pub(super) async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<SessionStatus>> {
    caller.reader_of(&id)?;
    let bytes = body_bytes(req, &()).await?;
    let body: EndSession = if bytes.iter().all(u8::is_ascii_whitespace) {
        EndSession::default()
    } else {
        parse(&bytes)?
    };
    let reason = body.reason.unwrap_or_else(|| "ended".to_owned());
    validate_label("reason", &reason, 500)?;
    let actor = match &caller {
        Caller::Proctor { username, .. } => format!("proctor:{username}"),
        Caller::Candidate { .. } => "candidate".to_owned(),
    };
    let _guard = state.lock_session(&id).await;
    load_summary(&state, &id).await?;
    end_live(&state, &id, &reason, &actor).await?;
    Ok(Json(status_for(&caller, load_summary(&state, &id).await?)))
}

/// Ends a live session (the caller holds its lock); false if it had ended.
pub(super) async fn end_live(
    state: &AppState,
    id: &str,
    reason: &str,
    actor: &str,
) -> ApiResult<bool> {
    let changed = sqlx::query(
        "UPDATE sessions SET state = 'ended', ended_ms = $1, end_reason = $2 WHERE id = $3 AND state = 'live'",
    )
    .bind(now_ms())
    .bind(reason)
    .bind(id)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if changed == 1 {
        ingest::record_note(
            state,
            id,
            "session_ended",
            actor,
            json!({ "reason": reason }),
        )
        .await?;
    }
    Ok(changed == 1)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct TimelineQuery {
    /// Only events after this seq (default: all).
    after_seq: Option<i64>,
    /// At most this many events (1-10000, default 2000); when more follow,
    /// `next_after_seq` says where the next page starts.
    limit: Option<i64>,
}

/// Everything a proctor reviews: the session, its events with their
/// hashes, media, server notes and decisions.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/timeline", tag = "sessions",
    params(("id" = String, Path, description = "Session id"), TimelineQuery),
    responses(
        (status = 200, description = "The timeline", body = Timeline),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Timeline>> {
    caller.proctor()?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(2_000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 10000",
        ));
    }
    Ok(Json(
        timeline_of(&state, &id, query.after_seq.unwrap_or(-1), limit).await?,
    ))
}
