//! Proctors' decisions: about an alert (acknowledge, dismiss, confirm) or
//! the whole session (end, invalidate). Kept for good: the audit trail.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use invigil_core::protocol::{Decided, Decision, DecisionAction, ErrorBody, NewDecision};

use super::sessions::end_live;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::json::StrictJson;
use crate::review;
use crate::timeline::load_summary;
use crate::{now_ms, AppState};

/// Longest decision note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sessions/{id}/decisions", post(decide))
}

/// Records a proctor's decision; pushed to every console on the alert
/// stream (`event: decision`).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/decisions", tag = "decisions",
    params(("id" = String, Path, description = "Session id")),
    request_body = NewDecision,
    responses(
        (status = 201, description = "Recorded", body = Decided),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such session or event", body = ErrorBody),
        (status = 409, description = "Already ended or invalidated", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<NewDecision>,
) -> ApiResult<(StatusCode, Json<Decided>)> {
    let proctor = caller.proctor()?.to_owned();
    review::check_action(&body.action, body.event_seq)?;
    let action = DecisionAction::parse(&body.action)
        .ok_or_else(|| ApiError::invalid_field("action", "unknown action"))?;
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
    if action == DecisionAction::Invalidate && note.is_empty() {
        return Err(ApiError::invalid_field(
            "note",
            "say in `note` why the session is invalidated",
        ));
    }
    if body.cites.len() > 100 {
        return Err(ApiError::invalid_field("cites", "cite at most 100 flags"));
    }
    if !body.cites.is_empty() {
        if action != DecisionAction::Invalidate {
            return Err(ApiError::invalid_field(
                "cites",
                "only an `invalidate` decision cites forensic flags",
            ));
        }
        // Forensic evidence is weighed by an admin.
        caller.admin()?;
    }
    let _guard = state.lock_session(&id).await;
    let session = load_summary(&state, &id).await?;
    let own = crate::forensics::of_session(&state, &id).await?;
    let mut cites = Vec::with_capacity(body.cites.len());
    for flag in &body.cites {
        match own.iter().find(|f| f.id == *flag) {
            Some(f) if !cites.iter().any(|c: &invigil_core::protocol::ForensicFlag| c.id == f.id) => {
                cites.push(f.clone());
            }
            Some(_) => {}
            None => {
                return Err(ApiError::invalid_field(
                    "cites",
                    format!("`{flag}` is not a forensic flag on session {id} (from its exam's latest analysis)"),
                ))
            }
        }
    }
    if let Some(seq) = body.event_seq {
        let (severity,): (String,) =
            sqlx::query_as("SELECT severity FROM events WHERE session_id = $1 AND seq = $2")
                .bind(&id)
                .bind(seq as i64)
                .fetch_optional(&state.db.pool)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("session {id} has no event {seq}")))?;
        if severity == "info" {
            return Err(ApiError::invalid_field(
                "event_seq",
                format!("event {seq} is not an alert (a warning or violation)"),
            ));
        }
    }
    let actor = format!("proctor:{proctor}");
    if action == DecisionAction::End && !end_live(&state, &id, "ended_by_proctor", &actor).await? {
        return Err(ApiError::conflict(
            "session_ended",
            format!("session {id} has already ended"),
        ));
    }
    if action == DecisionAction::Invalidate && session.verdict.as_deref() == Some("invalidated") {
        return Err(ApiError::conflict(
            "session_invalidated",
            format!("session {id} is already invalidated"),
        ));
    }
    let decision = Decision {
        id: auth::new_id(),
        session_id: id.clone(),
        event_seq: body.event_seq.map(|s| s as i64),
        action,
        note,
        proctor,
        at_ms: now_ms(),
        cites,
    };
    let cited: Vec<&str> = decision.cites.iter().map(|f| f.id.as_str()).collect();
    // The verdict, the decision and the revocation of the session's badge
    // (docs/badges.md) land together or not at all.
    let mut tx = state.db.pool.begin().await?;
    if action == DecisionAction::Invalidate {
        sqlx::query("UPDATE sessions SET verdict = 'invalidated' WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        if crate::badges::revoke_for_session(&mut tx, &id, &actor, decision.at_ms).await? {
            tracing::info!(session = %id, "badge revoked: the session was invalidated");
        }
    }
    sqlx::query(
        "INSERT INTO decisions (id, session_id, event_seq, action, note, proctor, at_ms, cites) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&decision.id)
    .bind(&id)
    .bind(decision.event_seq)
    .bind(action.as_str())
    .bind(&decision.note)
    .bind(&decision.proctor)
    .bind(decision.at_ms)
    .bind(serde_json::to_string(&cited).map_err(ApiError::internal)?)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    review::refresh(&state, &id).await?;
    tracing::info!(session = %id, proctor = %decision.proctor, "decision: {} {:?}", action.as_str(), body.event_seq);
    let decided = Decided {
        decision,
        session: load_summary(&state, &id).await?,
    };
    // Other proctors' consoles follow (no receivers is fine); across
    // nodes (PostgreSQL), every node pushes it when told.
    if state.db.backend == crate::db::Backend::Postgres {
        crate::relay::publish(
            &state,
            crate::relay::Kind::Decision,
            &decided.decision.id,
            &id,
        )
        .await;
    } else {
        let _ = state.decisions.send(std::sync::Arc::new(decided.clone()));
    }
    Ok((StatusCode::CREATED, Json(decided)))
}
