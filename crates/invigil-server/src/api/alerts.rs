//! The live alert stream: every warning and violation as it arrives, and
//! every proctor's decision, to every signed-in console.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use invigil_core::protocol::{ErrorBody, Lagged};
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
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    caller.proctor()?;
    let rx = state.subscribe_alerts();
    let decided = state.decisions.subscribe();
    let notes = state.notes.subscribe();
    let closing = state.closing.subscribe();
    let stream = futures_util::stream::unfold(
        (rx, decided, notes, closing),
        |(mut rx, mut decided, mut notes, mut closing)| async move {
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
            Some((Ok(event), (rx, decided, notes, closing)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
