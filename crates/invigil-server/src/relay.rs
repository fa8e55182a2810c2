//! Alerts across server nodes on one PostgreSQL database (docs/deploy.md).
//!
//! The database is the source of truth; PostgreSQL's `LISTEN/NOTIFY` is
//! only the wake-up, naming a row, never carrying it, on channel
//! [`CHANNEL`] (well under NOTIFY's 8,000-byte payload limit):
//! `e:<last seq>:<session id>` right after the transaction that stores a
//! batch commits (in a transaction of its own: NOTIFY takes a global lock
//! at commit, see [`publish`]), `d:<decision id>:<session id>` for a
//! proctor's decision, `n:<note id>:<session id>` for a server note that
//! alerts. Every node listens; on an `e` it reads the session's events
//! after the last one it relayed and pushes their alerts to its own
//! proctors, in order, each once; on a `d` or `n` it reads that row and
//! pushes it. The node that stored a batch hands it to its own relay
//! ([`stored_here`]), which pushes it without reading it back when it
//! follows what was relayed, and then skips the notification.
//! Notifications are lost while a listener is disconnected, so after every
//! (re)connection, and every [`SWEEP_EVERY`] as a safety net, a node reads
//! every session with events since it last looked ([`CATCH_UP_MARGIN_MS`]
//! of clock skew allowed).
//!
//! On SQLite (one node) none of this runs: ingest pushes alerts directly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use invigil_core::protocol::{Alert, Decided, NoteAlert, TimelineNote};
use invigil_core::{Event, Severity};
use sqlx::postgres::PgListener;

use crate::{now_ms, AppState};

/// The notification channel.
pub(crate) const CHANNEL: &str = "invigil_events";

/// How often a node looks for events whose notification it missed.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Notifications handled together: their sessions are read concurrently.
const MAX_BURST: usize = 256;

/// Sessions read at once when relaying a burst (each session's events are
/// still read by one query and pushed in order).
const READS_AT_ONCE: usize = 8;

/// Allowance for the nodes' clocks (events carry the receiving node's
/// time) when a node catches up.
const CATCH_UP_MARGIN_MS: i64 = 60_000;

/// What a notification is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Events up to a seq.
    Events,
    /// A decision, by id.
    Decision,
    /// A server note that alerts, by id.
    Note,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Events => "e",
            Kind::Decision => "d",
            Kind::Note => "n",
        }
    }
}

/// Sends the wake-up for a row already committed, in a transaction of its
/// own that does not wait for its commit to reach the disk
/// (`synchronous_commit = off`: the notification is only a wake-up; the
/// row it names is durable already). NOTIFY holds a global lock from its
/// transaction's commit until the commit is flushed, so notifying inside
/// the transaction that stores a batch would put every node's batches
/// through one disk flush at a time, capping the whole fleet at one batch
/// per flush (a few hundred a second on network storage); this way the
/// batches' commits share flushes and each notification holds the lock
/// briefly. A notification lost to a
/// crash right after the commit is made up by the next catch-up sweep. A
/// failure is logged.
pub(crate) async fn publish(state: &AppState, kind: Kind, key: &str, session_id: &str) {
    let payload = format!("{}:{key}:{session_id}", kind.tag());
    let sent = async {
        let mut tx = state.db.pool.begin().await?;
        sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = sent {
        tracing::warn!(session = session_id, "alert relay: cannot notify: {e}");
    }
}

/// Starts the node's listener (PostgreSQL only).
pub(crate) fn spawn(state: AppState, url: String) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    if state.relay_local.set(tx).is_err() {
        tracing::warn!("alert relay: started twice on one server; the second stays idle");
        return;
    }
    tokio::spawn(async move { listen(state, url, rx).await });
}

/// A batch this node stored, with the alerts among its events: the relay
/// pushes them without reading them back when they directly follow what
/// it has relayed of the session (otherwise the notification's read does).
#[derive(Debug)]
pub(crate) struct Stored {
    pub session_id: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub received_ms: i64,
    pub alerts: Vec<Alert>,
}

pub(crate) type LocalSender = tokio::sync::mpsc::UnboundedSender<Stored>;

/// Hands a batch just committed on this node to its relay.
pub(crate) fn stored_here(state: &AppState, stored: Stored) {
    if let Some(tx) = state.relay_local.get() {
        // Closed only while the server stops.
        let _ = tx.send(stored);
    }
}

/// What a node has relayed.
struct Relay {
    /// Per session: the last seq relayed, and when it was received.
    seen: HashMap<String, (i64, i64)>,
    /// Events received before this are not relayed for a session missing
    /// from `seen`: at first the node's start (less the clock margin); it
    /// rises as quiet sessions are pruned from `seen` ([`Relay::prune`]).
    floor_ms: i64,
    /// When the node last looked at every session (catch-up).
    swept_ms: i64,
}

async fn listen(
    state: AppState,
    url: String,
    mut local: tokio::sync::mpsc::UnboundedReceiver<Stored>,
) {
    let started = now_ms();
    let mut relay = Relay::new(started);
    let mut closing = state.closing.subscribe();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut listener = match connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("alert relay: cannot listen on PostgreSQL ({e}); retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = closing.changed() => return,
                }
            }
        };
        // Anything stored while this node was not listening.
        relay.catch_up(&state).await;
        loop {
            tokio::select! {
                n = listener.try_recv() => match n {
                    Ok(Some(n)) => {
                        // This one and any others already here, at once.
                        let mut burst = vec![n.payload().to_owned()];
                        while burst.len() < MAX_BURST {
                            let Some(more) = listener.next_buffered() else { break };
                            burst.push(more.payload().to_owned());
                        }
                        relay.burst(&state, &burst).await;
                    }
                    // The connection was lost; the next call reconnects
                    // and listens again. What was sent meanwhile is lost:
                    // catch up.
                    Ok(None) => {
                        tracing::warn!("alert relay: the PostgreSQL connection was lost; reconnecting");
                        relay.catch_up(&state).await;
                    }
                    Err(e) => {
                        tracing::warn!("alert relay: {e}; reconnecting");
                        break;
                    }
                },
                Some(stored) = local.recv() => relay.local(&state, stored),
                _ = sweep.tick() => relay.catch_up(&state).await,
                _ = closing.changed() => return,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = closing.changed() => return,
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

impl Relay {
    fn new(started_ms: i64) -> Self {
        Relay {
            seen: HashMap::new(),
            floor_ms: started_ms - CATCH_UP_MARGIN_MS,
            swept_ms: started_ms,
        }
    }

    /// Forgets sessions with nothing received for a while, after a sweep
    /// that began at `swept_ms` has relayed everything received before it
    /// (so every event received before `swept_ms` less the clock margin has
    /// been relayed). A session whose last relayed event is older than
    /// three margins is dropped, and the floor for sessions missing from
    /// `seen` rises to two margins before the sweep: a dropped session's
    /// relayed events all lie below it, and any event it has not relayed
    /// was received after `swept_ms` less one margin, above it. So `seen`
    /// holds the sessions active in the last few minutes, not every
    /// session since the node started, and nothing is relayed twice.
    fn prune(&mut self, swept_ms: i64) {
        let stale = swept_ms - 3 * CATCH_UP_MARGIN_MS;
        self.seen.retain(|_, &mut (_, received)| received >= stale);
        self.floor_ms = self.floor_ms.max(swept_ms - 2 * CATCH_UP_MARGIN_MS);
    }

    /// Relays every session with events since the last sweep.
    async fn catch_up(&mut self, state: &AppState) {
        let from = self.swept_ms - CATCH_UP_MARGIN_MS;
        let now = now_ms();
        let sessions: Result<Vec<(String,)>, _> =
            sqlx::query_as("SELECT id FROM sessions WHERE last_event_ms >= $1")
                .bind(from)
                .fetch_all(&state.db.pool)
                .await;
        match sessions {
            Ok(sessions) => {
                for (id,) in sessions {
                    self.session(state, &id).await;
                }
                self.prune(self.swept_ms);
                self.swept_ms = now;
            }
            Err(e) => tracing::warn!("alert relay: cannot catch up: {e}"),
        }
    }

    /// Relays a burst of notifications: the sessions with new events
    /// (each once) read several at a time, then decisions and notes.
    async fn burst(&mut self, state: &AppState, payloads: &[String]) {
        let mut sessions: Vec<&str> = Vec::new();
        let mut others = Vec::new();
        for payload in payloads {
            let mut parts = payload.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("e"), Some(last), Some(session)) => {
                    // Already relayed (stored on this node, or read with
                    // an earlier notification): nothing to read.
                    let done = last.parse::<i64>().is_ok_and(|last| {
                        self.seen.get(session).is_some_and(|&(seq, _)| seq >= last)
                    });
                    if !done && !sessions.contains(&session) {
                        sessions.push(session);
                    }
                }
                (Some(kind @ ("d" | "n")), Some(id), Some(session)) => {
                    others.push((kind, id, session))
                }
                _ => tracing::warn!("alert relay: unexpected payload {payload:?}"),
            }
        }
        let jobs: Vec<(&str, Option<i64>)> = sessions
            .iter()
            .map(|&id| (id, self.seen.get(id).map(|&(seq, _)| seq)))
            .collect();
        let floor = self.floor_ms;
        let mut results = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(READS_AT_ONCE) {
            let mut reads = Vec::with_capacity(chunk.len());
            for &(id, after) in chunk {
                reads.push(read_session(state, id, after, floor));
            }
            results.extend(futures_util::future::join_all(reads).await);
        }
        for (id, rows) in sessions.iter().zip(results) {
            self.push(state, id, rows);
        }
        for (kind, id, session) in others {
            if kind == "d" {
                decision(state, id, session).await;
            } else {
                note(state, id, session).await;
            }
        }
    }

    /// A batch this node stored: its alerts pushed at once if it directly
    /// follows what was relayed of the session (or opens it); otherwise
    /// left to the notification, whose read brings the events between.
    fn local(&mut self, state: &AppState, stored: Stored) {
        let follows = match self.seen.get(&stored.session_id) {
            Some(&(seq, _)) => seq + 1 == stored.first_seq as i64,
            None => stored.first_seq == 0,
        };
        if !follows {
            return;
        }
        for alert in stored.alerts {
            // No receivers is fine: nobody is watching on this node.
            let _ = state.alerts.send(Arc::new(alert));
        }
        self.seen.insert(
            stored.session_id,
            (stored.last_seq as i64, stored.received_ms),
        );
    }

    /// Pushes the alerts of `session_id`'s events after the last relayed.
    async fn session(&mut self, state: &AppState, session_id: &str) {
        let after = self.seen.get(session_id).map(|&(seq, _)| seq);
        let rows = read_session(state, session_id, after, self.floor_ms).await;
        self.push(state, session_id, rows);
    }

    /// Pushes the alerts among a session's events just read, in order.
    fn push(&mut self, state: &AppState, session_id: &str, rows: Option<Vec<EventRow>>) {
        let Some(rows) = rows else { return };
        for (seq, severity, body, received_ms, exam_id, candidate_id) in rows {
            self.seen.insert(session_id.to_owned(), (seq, received_ms));
            // What ingest pushes: warnings and violations.
            let alerting = [Severity::Warning, Severity::Violation]
                .iter()
                .any(|s| s.as_str() == severity);
            if !alerting {
                continue;
            }
            let event: Event = match serde_json::from_str(&body) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(
                        session = session_id,
                        seq,
                        "alert relay: unreadable event: {e}"
                    );
                    continue;
                }
            };
            // No receivers is fine: nobody is watching on this node.
            let _ = state.alerts.send(Arc::new(Alert {
                session_id: session_id.to_owned(),
                exam_id,
                candidate_id,
                received_ms,
                event,
            }));
        }
    }
}

/// An event row as the relay reads it: seq, severity, body, received_ms,
/// exam, candidate.
type EventRow = (i64, String, String, i64, String, String);

/// A session's events after `after` (or, for a session this node has not
/// relayed yet, those received since `floor_ms`); `None` after an error.
async fn read_session(
    state: &AppState,
    session_id: &str,
    after: Option<i64>,
    floor_ms: i64,
) -> Option<Vec<EventRow>> {
    let rows = sqlx::query_as(
        "SELECT e.seq, e.severity, e.body, e.received_ms, s.exam_id, s.candidate_id \
         FROM events e JOIN sessions s ON s.id = e.session_id \
         WHERE e.session_id = $1 AND e.seq > $2 AND ($3 = 1 OR e.received_ms >= $4) \
         ORDER BY e.seq",
    )
    .bind(session_id)
    .bind(after.unwrap_or(-1))
    .bind(i64::from(after.is_some()))
    .bind(floor_ms)
    .fetch_all(&state.db.pool)
    .await;
    match rows {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::warn!(session = session_id, "alert relay: cannot read events: {e}");
            None
        }
    }
}

/// Pushes a decision to this node's consoles.
async fn decision(state: &AppState, decision_id: &str, session_id: &str) {
    let found = async {
        let decision = crate::timeline::load_decisions(state, session_id)
            .await?
            .into_iter()
            .find(|d| d.id == decision_id);
        let session = crate::timeline::load_summary(state, session_id).await?;
        Ok::<_, crate::error::ApiError>(decision.map(|decision| Decided { decision, session }))
    }
    .await;
    match found {
        Ok(Some(decided)) => {
            let _ = state.decisions.send(Arc::new(decided));
        }
        // Deleted meanwhile (the session went): nothing to show.
        Ok(None) => {}
        Err(e) => tracing::warn!(
            session = session_id,
            "alert relay: cannot read a decision: {}",
            e.message
        ),
    }
}

/// Pushes a server note to this node's consoles.
async fn note(state: &AppState, note_id: &str, session_id: &str) {
    type Row = (i64, String, String, String, String, String);
    let row: Result<Option<Row>, _> = sqlx::query_as(
        "SELECT n.at_ms, n.kind, n.actor, n.detail, s.exam_id, s.candidate_id \
         FROM notes n JOIN sessions s ON s.id = n.session_id WHERE n.id = $1 AND n.session_id = $2",
    )
    .bind(note_id)
    .bind(session_id)
    .fetch_optional(&state.db.pool)
    .await;
    match row {
        Ok(Some((at_ms, kind, actor, detail, exam_id, candidate_id))) => {
            let _ = state.notes.send(Arc::new(NoteAlert {
                session_id: session_id.to_owned(),
                exam_id,
                candidate_id,
                note: TimelineNote {
                    at_ms,
                    kind,
                    actor,
                    detail: serde_json::from_str(&detail).unwrap_or_default(),
                },
            }));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(session = session_id, "alert relay: cannot read a note: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_sessions_are_pruned_and_the_floor_rises_behind_them() {
        let start = 1_000_000_000;
        let mut relay = Relay::new(start);
        assert_eq!(relay.floor_ms, start - CATCH_UP_MARGIN_MS);
        relay.seen.insert("quiet".into(), (4, start + 1_000));
        relay.seen.insert("busy".into(), (9, start + 200_000));
        // A sweep four minutes on: "quiet" last had an event more than
        // three margins before it.
        let sweep = start + 240_000;
        relay.prune(sweep);
        assert!(!relay.seen.contains_key("quiet"));
        assert_eq!(relay.seen["busy"], (9, start + 200_000));
        assert_eq!(relay.floor_ms, sweep - 2 * CATCH_UP_MARGIN_MS);
        // Everything "quiet" relayed lies below the floor; an event it
        // gets now (received after the sweep) lies above it.
        assert!(start + 1_000 < relay.floor_ms && sweep > relay.floor_ms);
        // The floor never goes back.
        relay.prune(start);
        assert_eq!(relay.floor_ms, sweep - 2 * CATCH_UP_MARGIN_MS);
    }
}
