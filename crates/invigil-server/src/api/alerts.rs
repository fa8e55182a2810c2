//! The live alert stream: every warning and violation as it arrives, and
//! every proctor's decision, to every signed-in console.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use std::collections::{HashSet, VecDeque};

use axum::http::HeaderMap;
use invigil_core::protocol::{Alert, ErrorBody, Lagged};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/alerts", get(alerts))
}

/// Server-sent events: `alert` (an `Alert`), `note` (a `NoteAlert`: what
/// the server itself found, e.g. `policy_mismatch`), `decision` (a
/// `Decided`), `lagged` (a `Lagged`: alerts this stream missed); a comment
/// every 15 s keeps the connection open.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses(
        (status = 200, description = "text/event-stream of `alert`, `note`, `decision` and `lagged` events", content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    caller.proctor()?;
    // Subscribed before the catch-up is read: nothing falls between.
    let rx = state.subscribe_alerts();
    let decided = state.decisions.subscribe();
    let notes = state.notes.subscribe();
    let closing = state.closing.subscribe();
    let mut missed = VecDeque::new();
    let mut replayed = HashSet::new();
    if let Some(value) = headers.get("last-event-id") {
        match value.to_str().ok().and_then(parse_event_id) {
            Some(since_ms) => {
                let (alerts, beyond) = since(&state, since_ms).await?;
                for alert in alerts {
                    replayed.insert((alert.session_id.clone(), alert.event.seq));
                    missed.push_back(alert_event(&alert));
                }
                if beyond > 0 {
                    missed.push_back(
                        SseEvent::default()
                            .event("lagged")
                            .json_data(Lagged { missed: beyond })
                            .unwrap_or_else(|_| SseEvent::default().comment("lagged")),
                    );
                }
            }
            None => missed.push_back(SseEvent::default().comment(
                "Last-Event-ID not understood (expected <received_ms>:<session>:<seq>); live alerts only",
            )),
        }
    }
    let stream = futures_util::stream::unfold(
        (rx, decided, notes, closing, missed, replayed),
        |(mut rx, mut decided, mut notes, mut closing, mut missed, replayed)| async move {
            if *closing.borrow() {
                return None;
            }
            if let Some(event) = missed.pop_front() {
                return Some((Ok(event), (rx, decided, notes, closing, missed, replayed)));
            }
            let event = tokio::select! {
                r = rx.recv() => match r {
                    // Sent already from the database.
                    Ok(alert) if replayed.contains(&(alert.session_id.clone(), alert.event.seq)) => {
                        SseEvent::default().comment("resumed")
                    }
                    Ok(alert) => alert_event(&alert),
                    Err(RecvError::Lagged(n)) => SseEvent::default()
                        .event("lagged")
                        .json_data(Lagged { missed: n })
                        .unwrap_or_else(|_| SseEvent::default().comment("lagged")),
                    Err(RecvError::Closed) => return None,
                },
                d = decided.recv() => match d {
                    Ok(d) => SseEvent::default()
                        .event("decision")
                        .json_data(&*d)
                        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable decision")),
                    // A missed decision shows on the next refresh.
                    Err(RecvError::Lagged(_)) => SseEvent::default().comment("decisions lagged"),
                    Err(RecvError::Closed) => return None,
                },
                n = notes.recv() => match n {
                    Ok(n) => SseEvent::default()
                        .event("note")
                        .json_data(&*n)
                        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable note")),
                    Err(RecvError::Lagged(n)) => SseEvent::default()
                        .event("lagged")
                        .json_data(Lagged { missed: n })
                        .unwrap_or_else(|_| SseEvent::default().comment("lagged")),
                    Err(RecvError::Closed) => return None,
                },
                _ = closing.changed() => return None,
            };
            Some((Ok(event), (rx, decided, notes, closing, missed, replayed)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Alerts replayed at most on a resume; beyond, `lagged` (read the
/// timelines).
const RESUME_MAX: usize = 1000;

/// How far before the last alert a console saw a resume starts: alerts
/// carry the time the receiving node stored them, and nodes' clocks and
/// relays differ by up to this much. The console drops repeats by
/// `session:seq`.
const RESUME_MARGIN_MS: i64 = 60_000;

/// An alert as an SSE event; its id `<received_ms>:<session>:<seq>` is
/// what a console resumes from.
fn alert_event(alert: &Alert) -> SseEvent {
    SseEvent::default()
        .event("alert")
        .id(format!(
            "{}:{}:{}",
            alert.received_ms, alert.session_id, alert.event.seq
        ))
        .json_data(alert)
        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable alert"))
}

/// The `received_ms` of a `Last-Event-ID`.
fn parse_event_id(value: &str) -> Option<i64> {
    let mut parts = value.trim().splitn(3, ':');
    let ms: i64 = parts.next()?.parse().ok()?;
    let session = parts.next()?;
    let _seq: u64 = parts.next()?.parse().ok()?;
    (ms >= 0 && !session.is_empty()).then_some(ms)
}

/// Alerts stored from `since_ms` (less the margin) on, oldest first, at
/// most [`RESUME_MAX`], and how many more there are.
async fn since(state: &AppState, since_ms: i64) -> ApiResult<(Vec<Alert>, u64)> {
    type Row = (String, String, i64, String, String);
    const ALERTING: &str = "e.received_ms >= $1 AND e.severity IN ('warning', 'violation')";
    let from = since_ms.saturating_sub(RESUME_MARGIN_MS);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT e.session_id, e.body, e.received_ms, s.exam_id, s.candidate_id \
         FROM events e JOIN sessions s ON s.id = e.session_id \
         WHERE {ALERTING} ORDER BY e.received_ms, e.session_id, e.seq LIMIT $2"
    ))
    .bind(from)
    .bind(RESUME_MAX as i64 + 1)
    .fetch_all(&state.db.pool)
    .await?;
    let beyond = if rows.len() > RESUME_MAX {
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM events e WHERE {ALERTING}"))
                .bind(from)
                .fetch_one(&state.db.pool)
                .await?;
        (total as u64).saturating_sub(RESUME_MAX as u64)
    } else {
        0
    };
    let alerts = rows
        .into_iter()
        .take(RESUME_MAX)
        .filter_map(|(session_id, body, received_ms, exam_id, candidate_id)| {
            Some(Alert {
                event: serde_json::from_str(&body).ok()?,
                session_id,
                exam_id,
                candidate_id,
                received_ms,
            })
        })
        .collect();
    Ok((alerts, beyond))
}
