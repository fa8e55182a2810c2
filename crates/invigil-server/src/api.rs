//! Routes and handlers of `/api/v1`. Documented in docs/api.md and
//! `openapi.json` (served at `/api/v1/openapi.json`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::ingest::{self, AppendResult, EventBatch};
use crate::json::{body_bytes, parse, StrictJson};
use crate::review;
use crate::store::Sha256Hex;
use crate::{now_ms, AppState};

const OPENAPI: &str = include_str!("../openapi.json");

pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let max_media = state.config.max_media_bytes;
    let media_routes = Router::new()
        .route(
            "/api/v1/sessions/{id}/media/{sha256}",
            put(upload_media).get(get_media),
        )
        .layer(DefaultBodyLimit::max(max_media));
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/sessions", post(create_session).get(list_sessions))
        .route("/api/v1/sessions/{id}", get(session_status))
        .route("/api/v1/sessions/{id}/events", post(append_events))
        .route("/api/v1/sessions/{id}/end", post(end_session))
        .route("/api/v1/sessions/{id}/decisions", post(decide))
        .route("/api/v1/sessions/{id}/timeline", get(timeline))
        .route("/api/v1/alerts", get(alerts))
        .layer(DefaultBodyLimit::max(max_body))
        .merge(media_routes)
        .fallback(not_found);
    app = match &state.config.console_dir {
        Some(dir) => app.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        None => app.fallback(console_asset),
    };
    app.with_state(state)
}

mod console {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// What the console's pages may load: only this server; no framing.
const CONSOLE_CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// Serves the proctor console embedded at build time (see build.rs). The
/// pages themselves hold no data: everything they show comes from the API,
/// which needs a proctor's sign-in.
async fn console_asset(req: Request) -> Response {
    let path = req.uri().path();
    let readable =
        req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
    if !readable || path.starts_with("/api/") {
        return not_found(req).await.into_response();
    }
    let path = if path == "/" { "/index.html" } else { path };
    let (content_type, body): (&str, &'static [u8]) =
        match console::CONSOLE.iter().find(|(p, ..)| *p == path) {
            Some((_, ct, bytes)) => (ct, bytes),
            None if path == "/index.html" => (
                "text/html; charset=utf-8",
                b"<!doctype html><title>invigil console</title><h1>The proctor console was not built</h1>\
                  <p>Install Node.js and npm, then rebuild invigil (cargo build); the build runs \
                  <code>npm ci && npm run build</code> in <code>console/</code>.</p>",
            ),
            None => return not_found(req).await.into_response(),
        };
    let cache = if path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

// ---------------------------------------------------------------- validation

fn validate_label(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` contains control characters"),
        ));
    }
    Ok(())
}

fn validate_session_id(value: &str) -> ApiResult<()> {
    let ok = (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "session_id",
            "a session id is 8 to 64 characters of A-Z, a-z, 0-9, `-` and `_`",
        ))
    }
}

pub(crate) fn validate_username(value: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "username",
            "a user name is 1 to 64 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and `@`",
        ))
    }
}

/// Media names are labels, never paths.
fn validate_media_name(value: &str) -> ApiResult<()> {
    let ok = (1..=128).contains(&value.len())
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "name",
            format!(
                "media name `{}` is not allowed: use 1 to 128 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and space, not starting with `.` (names are labels, never paths)",
                value.escape_debug()
            ),
        ))
    }
}

const MEDIA_KINDS: &[&str] = &["clip", "face_photo", "id_photo", "room_scan", "other"];

// ---------------------------------------------------------------- auth

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    StrictJson(body): StrictJson<Login>,
) -> ApiResult<Response> {
    if !auth::check_proctor(&state, &body.username, &body.password).await? {
        return Err(ApiError::unauthorized("wrong user name or password"));
    }
    let token = auth::new_token(auth::PROCTOR_PREFIX);
    let now = now_ms();
    let expires = now + auth::PROCTOR_TOKEN_TTL_MS;
    sqlx::query("INSERT INTO proctor_tokens (token_hash, username, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
        .bind(auth::token_hash(&token))
        .bind(&body.username)
        .bind(now)
        .bind(expires)
        .execute(&state.db.pool)
        .await?;
    let cookie = format!(
        "invigil_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        auth::PROCTOR_TOKEN_TTL_MS / 1000
    );
    let mut response =
        Json(json!({ "token": token, "username": body.username, "expires_ms": expires }))
            .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.proctor()?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|c| c.trim().strip_prefix("invigil_session=").map(str::to_owned))
        });
    if let Some(token) = token {
        sqlx::query("DELETE FROM proctor_tokens WHERE token_hash = $1")
            .bind(auth::token_hash(&token))
            .execute(&state.db.pool)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("invigil_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

async fn me(caller: Caller) -> ApiResult<Json<Value>> {
    Ok(Json(match caller {
        Caller::Proctor { username } => json!({ "role": "proctor", "username": username }),
        Caller::Candidate { session_id } => {
            json!({ "role": "candidate", "session_id": session_id })
        }
    }))
}

// ---------------------------------------------------------------- sessions

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    /// Client-chosen id, so a client can chain events before it reaches
    /// the server. Generated when absent.
    session_id: Option<String>,
    exam_id: String,
    candidate_id: String,
    #[serde(default)]
    policy: Map<String, Value>,
    /// Client-chosen candidate token (`ivc_` + 64 hex digits); makes
    /// creation safely repeatable. Generated when absent.
    token: Option<String>,
}

#[derive(Serialize)]
struct Created {
    session_id: String,
    token: String,
    /// `prev` of the session's first event.
    chain_origin: String,
}

async fn create_session(
    State(state): State<AppState>,
    StrictJson(body): StrictJson<CreateSession>,
) -> ApiResult<Response> {
    validate_label("exam_id", &body.exam_id, 200)?;
    validate_label("candidate_id", &body.candidate_id, 200)?;
    let session_id = body.session_id.unwrap_or_else(auth::new_id);
    validate_session_id(&session_id)?;
    if let Some(token) = &body.token {
        let ok = token.len() == 68
            && token.starts_with(auth::CANDIDATE_PREFIX)
            && token[4..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(ApiError::invalid_field(
                "token",
                "a candidate token is `ivc_` followed by 64 hex digits",
            ));
        }
    }
    let token = body
        .token
        .unwrap_or_else(|| auth::new_token(auth::CANDIDATE_PREFIX));
    let token_hash = auth::token_hash(&token);
    let origin = invigil_core::chain::origin(&session_id);
    let inserted = sqlx::query(
        "INSERT INTO sessions (id, exam_id, candidate_id, policy, token_hash, state, created_ms, \
         next_seq, head, violations, warnings) \
         VALUES ($1, $2, $3, $4, $5, 'live', $6, 0, $7, 0, 0) ON CONFLICT DO NOTHING",
    )
    .bind(&session_id)
    .bind(&body.exam_id)
    .bind(&body.candidate_id)
    .bind(Value::Object(body.policy).to_string())
    .bind(&token_hash)
    .bind(now_ms())
    .bind(&origin)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    let status = if inserted == 1 {
        tracing::info!(
            session = session_id,
            exam = body.exam_id,
            candidate = body.candidate_id,
            "session created"
        );
        StatusCode::CREATED
    } else {
        // Creation repeated by the same client (its first reply was lost)
        // is fine; anything else is a clash.
        let row =
            sqlx::query("SELECT exam_id, candidate_id, token_hash FROM sessions WHERE id = $1")
                .bind(&session_id)
                .fetch_optional(&state.db.pool)
                .await?;
        let same = match &row {
            Some(r) => {
                r.try_get::<String, _>("token_hash")? == token_hash
                    && r.try_get::<String, _>("exam_id")? == body.exam_id
                    && r.try_get::<String, _>("candidate_id")? == body.candidate_id
            }
            None => false,
        };
        if !same {
            return Err(ApiError::conflict(
                "session_exists",
                format!("session {session_id} already exists with other details or another token"),
            ));
        }
        StatusCode::OK
    };
    Ok((
        status,
        Json(Created {
            session_id,
            token,
            chain_origin: origin,
        }),
    )
        .into_response())
}

#[derive(Serialize)]
struct SessionSummary {
    session_id: String,
    exam_id: String,
    candidate_id: String,
    state: String,
    created_ms: i64,
    ended_ms: Option<i64>,
    end_reason: Option<String>,
    /// Events held: seq 0 .. next_seq-1.
    next_seq: i64,
    head: String,
    last_event_ms: Option<i64>,
    violations: i64,
    warnings: i64,
    media: i64,
    /// Batches refused for a broken chain (tamper evidence).
    rejected_batches: i64,
    policy: Value,
    /// Review priority, 0-100 (docs/console.md).
    priority: f64,
    /// Violations no proctor has decided on yet.
    open_alerts: i64,
    /// `invalidated` once a proctor invalidated the session.
    verdict: Option<String>,
    /// When the candidate's client last reached the server (heartbeat
    /// every 30 s), ms since the Unix epoch.
    last_seen_ms: Option<i64>,
}

const SUMMARY_COLUMNS: &str = "s.id, s.exam_id, s.candidate_id, s.state, s.created_ms, s.ended_ms, s.end_reason, \
     s.next_seq, s.head, s.last_event_ms, s.violations, s.warnings, s.policy, \
     s.priority, s.open_alerts, s.verdict, s.last_seen_ms, \
     (SELECT COUNT(*) FROM media m WHERE m.session_id = s.id) AS media, \
     (SELECT COUNT(*) FROM notes n WHERE n.session_id = s.id AND n.kind = 'batch_rejected') AS rejected";

fn summary(row: &AnyRow) -> ApiResult<SessionSummary> {
    let policy: String = row.try_get("policy")?;
    Ok(SessionSummary {
        session_id: row.try_get("id")?,
        exam_id: row.try_get("exam_id")?,
        candidate_id: row.try_get("candidate_id")?,
        state: row.try_get("state")?,
        created_ms: row.try_get("created_ms")?,
        ended_ms: row.try_get("ended_ms")?,
        end_reason: row.try_get("end_reason")?,
        next_seq: row.try_get("next_seq")?,
        head: row.try_get("head")?,
        last_event_ms: row.try_get("last_event_ms")?,
        violations: row.try_get("violations")?,
        warnings: row.try_get("warnings")?,
        media: row.try_get("media")?,
        rejected_batches: row.try_get("rejected")?,
        policy: serde_json::from_str(&policy).unwrap_or(Value::Null),
        priority: row.try_get("priority")?,
        open_alerts: row.try_get("open_alerts")?,
        verdict: row.try_get("verdict")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
    })
}

async fn load_summary(state: &AppState, id: &str) -> ApiResult<SessionSummary> {
    let row = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM sessions s WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
    summary(&row)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `live`, `ended` or `all` (default).
    state: Option<String>,
    /// Only the sessions of this exam.
    exam: Option<String>,
    /// `created` (newest first, default), `priority` (highest review
    /// priority first) or `attention` (undecided alerts first, then
    /// priority).
    order: Option<String>,
    limit: Option<i64>,
}

async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
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
    let rows = sqlx::query(&sql).bind(limit);
    let rows = match &query.exam {
        Some(exam) => rows
            .bind(exam)
            .bind(query.state.as_deref().unwrap_or("all")),
        None => rows,
    }
    .fetch_all(&state.db.pool)
    .await?;
    let sessions = rows.iter().map(summary).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "sessions": sessions })))
}

async fn session_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionSummary>> {
    caller.reader_of(&id)?;
    Ok(Json(load_summary(&state, &id).await?))
}

async fn append_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(batch): StrictJson<EventBatch>,
) -> ApiResult<Json<AppendResult>> {
    caller.candidate_of(&id)?;
    Ok(Json(ingest::append(&state, &id, batch).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EndSession {
    reason: Option<String>,
}

async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Json<SessionSummary>> {
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
        Caller::Proctor { username } => format!("proctor:{username}"),
        Caller::Candidate { .. } => "candidate".to_owned(),
    };
    let lock = state.session_lock(&id);
    let _guard = lock.lock().await;
    load_summary(&state, &id).await?;
    end_live(&state, &id, &reason, &actor).await?;
    Ok(Json(load_summary(&state, &id).await?))
}

/// Ends a live session (the caller holds its lock); false if it had ended.
async fn end_live(state: &AppState, id: &str, reason: &str, actor: &str) -> ApiResult<bool> {
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

// ---------------------------------------------------------------- decisions

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDecision {
    /// acknowledge | dismiss | confirm (with `event_seq`); end | invalidate.
    action: String,
    event_seq: Option<u64>,
    #[serde(default)]
    note: String,
}

/// Longest decision note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<NewDecision>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let proctor = caller.proctor()?.to_owned();
    review::check_action(&body.action, body.event_seq)?;
    let note = body.note.trim().to_owned();
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid_field(
            "note",
            format!("`note` is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid_field(
            "note",
            "`note` contains control characters",
        ));
    }
    if body.action == "invalidate" && note.is_empty() {
        return Err(ApiError::invalid_field(
            "note",
            "say in `note` why the session is invalidated",
        ));
    }
    let lock = state.session_lock(&id);
    let _guard = lock.lock().await;
    let session = load_summary(&state, &id).await?;
    if let Some(seq) = body.event_seq {
        let row = sqlx::query("SELECT severity FROM events WHERE session_id = $1 AND seq = $2")
            .bind(&id)
            .bind(seq as i64)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("session {id} has no event {seq}")))?;
        let severity: String = row.try_get("severity")?;
        if severity == "info" {
            return Err(ApiError::invalid_field(
                "event_seq",
                format!("event {seq} is not an alert (a warning or violation)"),
            ));
        }
    }
    let actor = format!("proctor:{proctor}");
    if body.action == "end" && !end_live(&state, &id, "ended_by_proctor", &actor).await? {
        return Err(ApiError::conflict(
            "session_ended",
            format!("session {id} has already ended"),
        ));
    }
    if body.action == "invalidate" {
        if session.verdict.as_deref() == Some("invalidated") {
            return Err(ApiError::conflict(
                "session_invalidated",
                format!("session {id} is already invalidated"),
            ));
        }
        sqlx::query("UPDATE sessions SET verdict = 'invalidated' WHERE id = $1")
            .bind(&id)
            .execute(&state.db.pool)
            .await?;
    }
    let decision_id = auth::new_id();
    let at = now_ms();
    sqlx::query(
        "INSERT INTO decisions (id, session_id, event_seq, action, note, proctor, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&decision_id)
    .bind(&id)
    .bind(body.event_seq.map(|s| s as i64))
    .bind(&body.action)
    .bind(&note)
    .bind(&proctor)
    .bind(at)
    .execute(&state.db.pool)
    .await?;
    review::refresh(&state, &id).await?;
    tracing::info!(session = %id, proctor = %proctor, "decision: {} {:?}", body.action, body.event_seq);
    let decided = json!({
        "decision": {
            "id": decision_id,
            "session_id": id,
            "event_seq": body.event_seq,
            "action": body.action,
            "note": note,
            "proctor": proctor,
            "at_ms": at,
        },
        "session": load_summary(&state, &id).await?,
    });
    // Other proctors' consoles follow (no receivers is fine).
    let _ = state.decisions.send(std::sync::Arc::new(decided.clone()));
    Ok((StatusCode::CREATED, Json(decided)))
}

async fn load_decisions(state: &AppState, id: &str) -> ApiResult<Vec<Value>> {
    sqlx::query(
        "SELECT id, event_seq, action, note, proctor, at_ms FROM decisions WHERE session_id = $1 ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?
    .iter()
    .map(|r| -> ApiResult<Value> {
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "event_seq": r.try_get::<Option<i64>, _>("event_seq")?,
            "action": r.try_get::<String, _>("action")?,
            "note": r.try_get::<String, _>("note")?,
            "proctor": r.try_get::<String, _>("proctor")?,
            "at_ms": r.try_get::<i64, _>("at_ms")?,
        }))
    })
    .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    after_seq: Option<i64>,
    limit: Option<i64>,
}

async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.proctor()?;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(10_000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 100000",
        ));
    }
    Ok(Json(
        timeline_of(&state, &id, query.after_seq.unwrap_or(-1), limit).await?,
    ))
}

/// A session's summary, events after `after_seq` (at most `limit`), media,
/// notes and decisions: the timeline a proctor reads, and what an export
/// writes.
pub(crate) async fn timeline_of(
    state: &AppState,
    id: &str,
    after_seq: i64,
    limit: i64,
) -> ApiResult<Value> {
    let session = load_summary(state, id).await?;
    let rows = sqlx::query(
        "SELECT body, hash, received_ms FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let body: String = row.try_get("body")?;
        let mut event: Value = serde_json::from_str(&body).map_err(ApiError::internal)?;
        event["hash"] = json!(row.try_get::<String, _>("hash")?);
        event["received_ms"] = json!(row.try_get::<i64, _>("received_ms")?);
        events.push(event);
    }
    let media = sqlx::query(
        "SELECT sha256, name, kind, content_type, bytes, received_ms FROM media WHERE session_id = $1 ORDER BY received_ms, sha256",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?
    .iter()
    .map(|r| -> ApiResult<Value> {
        Ok(json!({
            "sha256": r.try_get::<String, _>("sha256")?,
            "name": r.try_get::<String, _>("name")?,
            "kind": r.try_get::<String, _>("kind")?,
            "content_type": r.try_get::<String, _>("content_type")?,
            "bytes": r.try_get::<i64, _>("bytes")?,
            "received_ms": r.try_get::<i64, _>("received_ms")?,
        }))
    })
    .collect::<ApiResult<Vec<_>>>()?;
    let notes = sqlx::query(
        "SELECT at_ms, kind, actor, detail FROM notes WHERE session_id = $1 ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?
    .iter()
    .map(|r| -> ApiResult<Value> {
        let detail: String = r.try_get("detail")?;
        Ok(json!({
            "at_ms": r.try_get::<i64, _>("at_ms")?,
            "kind": r.try_get::<String, _>("kind")?,
            "actor": r.try_get::<String, _>("actor")?,
            "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::Null),
        }))
    })
    .collect::<ApiResult<Vec<_>>>()?;
    let decisions = load_decisions(state, id).await?;
    Ok(json!({
        "session": session,
        "events": events,
        "media": media,
        "notes": notes,
        "decisions": decisions,
    }))
}

// ---------------------------------------------------------------- media

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaQuery {
    name: String,
    kind: Option<String>,
}

async fn upload_media(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sha256)): Path<(String, String)>,
    query: Result<Query<MediaQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    caller.candidate_of(&id)?;
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("media upload: {}", e.body_text())))?;
    let sha = Sha256Hex::parse(&sha256).ok_or_else(|| {
        ApiError::invalid_field(
            "sha256",
            "media are named by their SHA-256: 64 lowercase hex digits",
        )
    })?;
    validate_media_name(&query.name)?;
    let kind = query.kind.unwrap_or_else(|| "other".to_owned());
    if !MEDIA_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::invalid_field(
            "kind",
            format!(
                "media kind `{kind}` is not one of {}",
                MEDIA_KINDS.join(", ")
            ),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""))
        .unwrap_or("application/octet-stream")
        .to_owned();
    let ok_type = content_type.len() <= 100
        && content_type.split_once('/').is_some()
        && content_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b));
    if !ok_type {
        return Err(ApiError::invalid_field(
            "Content-Type",
            format!("`{}` is not a media type", content_type.escape_debug()),
        ));
    }
    load_summary(&state, &id).await?; // 404 before reading the body
    let body: Bytes = body_bytes(req, &()).await?;
    let actual = invigil_core::chain::hex(&Sha256::digest(&body));
    if actual != sha.as_str() {
        return Err(ApiError::invalid_field(
            "sha256",
            format!(
                "the body's SHA-256 is {actual}, not {} as named; the upload was damaged",
                sha.as_str()
            ),
        ));
    }
    // Not while this session is being deleted, nor while unused bodies are
    // being removed from the store (the body may be one of them).
    let lock = state.session_lock(&id);
    let _session = lock.lock().await;
    let _media = state.media_gc.read().await;
    let session = load_summary(&state, &id).await?;
    let store = state.store.clone();
    let (sha_w, body_len) = (sha.clone(), body.len());
    tokio::task::spawn_blocking(move || store.put(&sha_w, &body))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("media store: {e}")))?;
    let inserted = sqlx::query(
        "INSERT INTO media (session_id, sha256, name, kind, content_type, bytes, received_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&session.session_id)
    .bind(sha.as_str())
    .bind(&query.name)
    .bind(&kind)
    .bind(&content_type)
    .bind(body_len as i64)
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    let status = if inserted == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "sha256": sha.as_str(), "bytes": body_len })),
    )
        .into_response())
}

async fn get_media(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.proctor()?;
    let sha = Sha256Hex::parse(&sha256).ok_or_else(|| {
        ApiError::invalid_field(
            "sha256",
            "media are named by their SHA-256: 64 lowercase hex digits",
        )
    })?;
    let row = sqlx::query("SELECT content_type FROM media WHERE session_id = $1 AND sha256 = $2")
        .bind(&id)
        .bind(sha.as_str())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("session {id} has no media {sha256}")))?;
    let content_type: String = row.try_get("content_type")?;
    let store = state.store.clone();
    let body = tokio::task::spawn_blocking(move || store.get(&sha))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("media store: {e}")))?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "media {sha256} is listed but missing from the store"
            ))
        })?;
    let total = body.len() as u64;
    let common = [
        (header::CONTENT_TYPE, content_type),
        (
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable".to_owned(),
        ),
        (
            header::HeaderName::from_static("x-content-type-options"),
            "nosniff".to_owned(),
        ),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    // Browsers seek in a clip with range requests.
    match headers
        .get(header::RANGE)
        .map(|v| byte_range(v.to_str().unwrap_or(""), total))
    {
        None => Ok((common, body).into_response()),
        Some(Some((start, end))) => Ok((
            StatusCode::PARTIAL_CONTENT,
            common,
            [(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            )],
            body[start as usize..=end as usize].to_vec(),
        )
            .into_response()),
        Some(None) => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response()),
    }
}

/// The one byte range of a `Range` header (`bytes=a-b`, `bytes=a-`,
/// `bytes=-n`) within `total` bytes, inclusive; `None` when unsatisfiable
/// or not understood (several ranges are not served).
fn byte_range(value: &str, total: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || total == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (total.saturating_sub(n), total - 1)
        }
        (a, "") => (a.parse().ok()?, total - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(total - 1)),
    };
    (start <= end && start < total).then_some((start, end))
}

// ---------------------------------------------------------------- alerts

async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    caller.proctor()?;
    let rx = state.subscribe_alerts();
    let decided = state.decisions.subscribe();
    let closing = state.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (rx, decided, closing),
        |(mut rx, mut decided, mut closing)| async move {
            if *closing.borrow() {
                return None;
            }
            let event = tokio::select! {
                r = rx.recv() => match r {
                    Ok(alert) => SseEvent::default()
                        .event("alert")
                        .id(format!("{}:{}", alert.session_id, alert.event.seq))
                        .json_data(&*alert)
                        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable alert")),
                    Err(RecvError::Lagged(n)) => SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string()),
                    Err(RecvError::Closed) => return None,
                },
                d = decided.recv() => match d {
                    Ok(d) => SseEvent::default().event("decision").data(d.to_string()),
                    // A missed decision shows on the next refresh.
                    Err(RecvError::Lagged(_)) => SseEvent::default().comment("decisions lagged"),
                    Err(RecvError::Closed) => return None,
                },
                _ = closing.changed() => return None,
            };
            Some((Ok(event), (rx, decided, closing)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("bytes=0-", 100), Some((0, 99)));
        assert_eq!(byte_range("bytes=10-19", 100), Some((10, 19)));
        assert_eq!(byte_range("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-30", 100), Some((70, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=5-2", 100), None);
        assert_eq!(byte_range("bytes=0-1,4-5", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=x-", 100), None);
    }
}
