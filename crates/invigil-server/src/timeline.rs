//! What the server tells about a session: its summary, and the timeline a
//! proctor reads (events, media, notes, decisions), which an export also
//! writes.

use invigil_core::protocol::{
    Decision, DecisionAction, MediaItem, MediaKind, SessionState, SessionSummary, SpotCheck,
    StoredEvent, Timeline, TimelineNote,
};
use invigil_core::Event;
use serde_json::Value;
use sqlx::FromRow;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// The columns of [`SummaryRow`], over `sessions s`.
pub(crate) const SUMMARY_COLUMNS: &str = "s.id, s.exam_id, s.candidate_id, s.state, s.created_ms, s.ended_ms, s.end_reason, \
     s.next_seq, s.head, s.last_event_ms, s.violations, s.warnings, s.policy, \
     s.priority, s.open_alerts, s.verdict, s.last_seen_ms, s.last_snapshot, \
     (SELECT COUNT(*) FROM media m WHERE m.session_id = s.id) AS media, \
     (SELECT COUNT(*) FROM notes n WHERE n.session_id = s.id AND n.kind = 'batch_rejected') AS rejected, \
     (SELECT e.overrides FROM enrolments e WHERE e.session_id = s.id) AS accommodations";

/// A session as [`SUMMARY_COLUMNS`] reads it.
#[derive(FromRow)]
pub(crate) struct SummaryRow {
    id: String,
    exam_id: String,
    candidate_id: String,
    state: String,
    created_ms: i64,
    ended_ms: Option<i64>,
    end_reason: Option<String>,
    next_seq: i64,
    head: String,
    last_event_ms: Option<i64>,
    violations: i64,
    warnings: i64,
    policy: String,
    priority: f64,
    open_alerts: i64,
    verdict: Option<String>,
    last_seen_ms: Option<i64>,
    last_snapshot: Option<String>,
    media: i64,
    rejected: i64,
    accommodations: Option<String>,
}

impl From<SummaryRow> for SessionSummary {
    fn from(r: SummaryRow) -> Self {
        SessionSummary {
            session_id: r.id,
            exam_id: r.exam_id,
            candidate_id: r.candidate_id,
            state: if r.state == "live" {
                SessionState::Live
            } else {
                SessionState::Ended
            },
            created_ms: r.created_ms,
            ended_ms: r.ended_ms,
            end_reason: r.end_reason,
            next_seq: r.next_seq,
            head: r.head,
            last_event_ms: r.last_event_ms,
            violations: r.violations,
            warnings: r.warnings,
            media: r.media,
            rejected_batches: r.rejected,
            policy: Some(serde_json::from_str(&r.policy).unwrap_or(Value::Null)),
            accommodations: r
                .accommodations
                .and_then(|a| serde_json::from_str::<Value>(&a).ok())
                .filter(|a| a.as_object().is_some_and(|m| !m.is_empty())),
            priority: r.priority,
            open_alerts: r.open_alerts,
            verdict: r.verdict,
            last_seen_ms: r.last_seen_ms,
            snapshot: r.last_snapshot,
        }
    }
}

/// A session's summary, or 404.
pub(crate) async fn load_summary(state: &AppState, id: &str) -> ApiResult<SessionSummary> {
    let row: SummaryRow = sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM sessions s WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
    Ok(row.into())
}

/// An event as stored: its canonical JSON body and hash.
#[derive(FromRow)]
pub(crate) struct EventRow {
    pub body: String,
    pub hash: String,
    pub received_ms: i64,
}

/// The stored events after `after_seq` (at most `limit`), as stored: an
/// export checks them even when a body no longer reads as an event.
pub(crate) async fn stored_events(
    state: &AppState,
    id: &str,
    after_seq: i64,
    limit: i64,
) -> ApiResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT body, hash, received_ms FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&state.db.pool)
    .await?)
}

#[derive(FromRow)]
struct MediaRow {
    sha256: String,
    name: String,
    kind: String,
    content_type: String,
    bytes: i64,
    received_ms: i64,
}

pub(crate) async fn load_media(state: &AppState, id: &str) -> ApiResult<Vec<MediaItem>> {
    let rows: Vec<MediaRow> = sqlx::query_as(
        "SELECT sha256, name, kind, content_type, bytes, received_ms FROM media WHERE session_id = $1 ORDER BY received_ms, sha256",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MediaItem {
            sha256: r.sha256,
            name: r.name,
            // Kinds are checked on upload.
            kind: MediaKind::parse(&r.kind).unwrap_or(MediaKind::Other),
            content_type: r.content_type,
            bytes: r.bytes,
            received_ms: r.received_ms,
        })
        .collect())
}

#[derive(FromRow)]
struct NoteRow {
    at_ms: i64,
    kind: String,
    actor: String,
    detail: String,
}

pub(crate) async fn load_notes(state: &AppState, id: &str) -> ApiResult<Vec<TimelineNote>> {
    let rows: Vec<NoteRow> = sqlx::query_as(
        "SELECT at_ms, kind, actor, detail FROM notes WHERE session_id = $1 ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TimelineNote {
            at_ms: r.at_ms,
            kind: r.kind,
            actor: r.actor,
            detail: serde_json::from_str(&r.detail).unwrap_or(Value::Null),
        })
        .collect())
}

#[derive(FromRow)]
struct DecisionRow {
    id: String,
    session_id: String,
    event_seq: Option<i64>,
    action: String,
    note: String,
    proctor: String,
    at_ms: i64,
    cites: String,
}

impl DecisionRow {
    fn into_decision(self) -> ApiResult<Decision> {
        let action = DecisionAction::parse(&self.action).ok_or_else(|| {
            ApiError::internal(format!(
                "decision {} has an unknown action `{}`",
                self.id, self.action
            ))
        })?;
        Ok(Decision {
            id: self.id,
            session_id: self.session_id,
            event_seq: self.event_seq,
            action,
            note: self.note,
            proctor: self.proctor,
            at_ms: self.at_ms,
            cites: Vec::new(),
        })
    }
}

/// A session's decisions, oldest first (the audit trail).
pub(crate) async fn load_decisions(state: &AppState, id: &str) -> ApiResult<Vec<Decision>> {
    let rows: Vec<DecisionRow> = sqlx::query_as(
        "SELECT id, session_id, event_seq, action, note, proctor, at_ms, cites FROM decisions WHERE session_id = $1 ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let cited: Vec<String> = serde_json::from_str(&row.cites).unwrap_or_default();
        let mut decision = row.into_decision()?;
        if !cited.is_empty() {
            decision.cites = crate::forensics::by_ids(state, &cited).await?;
        }
        out.push(decision);
    }
    Ok(out)
}

/// A session's summary, events after `after_seq` (at most `limit`), media,
/// notes and decisions.
pub(crate) async fn timeline_of(
    state: &AppState,
    id: &str,
    after_seq: i64,
    limit: i64,
) -> ApiResult<Timeline> {
    let session = load_summary(state, id).await?;
    let mut rows = stored_events(state, id, after_seq, limit.saturating_add(1)).await?;
    let full = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let events = rows
        .into_iter()
        .map(|r| {
            let event: Event = serde_json::from_str(&r.body).map_err(|e| {
                ApiError::internal(format!("a stored event of session {id} does not read: {e}"))
            })?;
            Ok(StoredEvent {
                event,
                hash: r.hash,
                received_ms: r.received_ms,
            })
        })
        .collect::<ApiResult<Vec<StoredEvent>>>()?;
    let next_after_seq = full
        .then(|| events.last().map(|e| e.event.seq as i64))
        .flatten();
    Ok(Timeline {
        session,
        events,
        next_after_seq,
        media: load_media(state, id).await?,
        notes: load_notes(state, id).await?,
        decisions: load_decisions(state, id).await?,
        spot_checks: load_spot_checks(state, id).await?,
        forensics: crate::forensics::of_session(state, id).await?,
    })
}

async fn load_spot_checks(state: &AppState, id: &str) -> ApiResult<Vec<SpotCheck>> {
    type Row = (
        String,
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, requested_ms, t_ms, sha256, client_faces, server_faces, verdict \
         FROM spot_checks WHERE session_id = $1 ORDER BY requested_ms, id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, requested_ms, t_ms, sha256, client_faces, server_faces, verdict)| SpotCheck {
                id,
                requested_ms,
                t_ms,
                sha256,
                client_faces,
                server_faces,
                verdict,
            },
        )
        .collect())
}
