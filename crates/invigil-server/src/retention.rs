//! Deleting sessions: after the retention period, or on an operator's
//! request (`invigil sessions delete|purge`). Evidence is kept as long as
//! the institution needs it and no longer.
//!
//! A session goes whole, in one transaction: its events, media records,
//! notes, proctors' decisions and the session itself. Media bodies that no
//! other session references are then removed from the store. A row in
//! `purges` records what went and why, without the candidate's or exam's
//! identity.

use std::time::Duration;

use crate::store::Sha256Hex;
use crate::{auth, now_ms, AppState};

/// Why a session was deleted (stored in `purges.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Older than the server's retention period.
    Retention,
    /// Deleted by an operator from the command line.
    Operator,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Retention => "retention",
            Reason::Operator => "operator",
        }
    }
}

/// A session as the deletion commands list it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct SessionSummary {
    pub id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub state: String,
    /// Last sign of life: when it ended, else when the client was last seen
    /// or sent an event, else when it was created (ms since the epoch).
    #[sqlx(rename = "activity")]
    pub last_activity_ms: i64,
    #[sqlx(rename = "n_events")]
    pub events: i64,
    #[sqlx(rename = "n_media")]
    pub media: i64,
    #[sqlx(rename = "n_bytes")]
    pub bytes: i64,
}

/// What a deletion removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub sessions: u64,
    pub events: u64,
    pub media: u64,
    pub bytes: u64,
    /// Media bodies removed from the store (a body shared with a session
    /// that stays is kept).
    pub files_deleted: u64,
}

const ACTIVITY: &str = "COALESCE(s.ended_ms, s.last_seen_ms, s.last_event_ms, s.created_ms)";

fn summary_query(filter: &str) -> String {
    format!(
        "SELECT s.id, s.exam_id, s.candidate_id, s.state, {ACTIVITY} AS activity, \
         (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id) AS n_events, \
         (SELECT COUNT(*) FROM media m WHERE m.session_id = s.id) AS n_media, \
         CAST((SELECT COALESCE(SUM(m.bytes), 0) FROM media m WHERE m.session_id = s.id) AS BIGINT) AS n_bytes \
         FROM sessions s WHERE {filter} ORDER BY activity, s.id"
    )
}

/// Sessions whose last activity is before `cutoff_ms` (ms since the epoch),
/// oldest first.
pub async fn inactive_since(
    state: &AppState,
    cutoff_ms: i64,
) -> Result<Vec<SessionSummary>, sqlx::Error> {
    sqlx::query_as(&summary_query(&format!("{ACTIVITY} < $1")))
        .bind(cutoff_ms)
        .fetch_all(&state.db.pool)
        .await
}

/// The session with this id, if there is one.
pub async fn find(state: &AppState, id: &str) -> Result<Option<SessionSummary>, sqlx::Error> {
    sqlx::query_as(&summary_query("s.id = $1"))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await
}

/// Deletes the sessions with these ids (ids that do not exist are skipped)
/// and the media bodies no remaining session uses.
pub async fn purge(state: &AppState, ids: &[String], reason: Reason) -> anyhow::Result<Purged> {
    let mut purged = Purged::default();
    for id in ids {
        // No batch or upload of this session interleaves with its deletion.
        let guard = state.lock_session(id).await;
        let removed = purge_one(state, id, reason).await;
        drop(guard);
        let Some((events, media)) = removed? else {
            continue;
        };
        purged.sessions += 1;
        purged.events += events;
        purged.media += media.len() as u64;
        for (sha, bytes) in media {
            purged.bytes += bytes.max(0) as u64;
            if delete_body_if_unused(state, &sha).await? {
                purged.files_deleted += 1;
            }
        }
        tracing::info!(
            session = id.as_str(),
            reason = reason.as_str(),
            "session deleted"
        );
    }
    Ok(purged)
}

/// One session in one transaction: (events, media (sha256, bytes)) removed,
/// or `None` when there is no such session.
async fn purge_one(
    state: &AppState,
    id: &str,
    reason: Reason,
) -> anyhow::Result<Option<(u64, Vec<(String, i64)>)>> {
    let mut tx = state.db.pool.begin().await?;
    // A write first: SQLite then takes its write lock at once (waiting for
    // other processes), instead of failing to upgrade a read later.
    let exists = sqlx::query("UPDATE sessions SET state = state WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !exists {
        return Ok(None);
    }
    let media: Vec<(String, i64)> =
        sqlx::query_as("SELECT sha256, bytes FROM media WHERE session_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    let mut events = 0;
    sqlx::query(
        "UPDATE forensics_flags SET partner_session_id = NULL WHERE partner_session_id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for table in [
        "forensics_flags",
        "decisions",
        "notes",
        "spot_checks",
        "spot_schedules",
        "receipts",
        "media",
        "events",
    ] {
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE session_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if table == "events" {
            events = done.rows_affected();
        }
    }
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO purges (id, session_id, at_ms, reason, events, media, bytes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(auth::new_id())
    .bind(id)
    .bind(now_ms())
    .bind(reason.as_str())
    .bind(events as i64)
    .bind(media.len() as i64)
    .bind(media.iter().map(|m| m.1).sum::<i64>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((events, media)))
}

/// Removes a media body from the store unless a session still lists it.
async fn delete_body_if_unused(state: &AppState, sha: &str) -> anyhow::Result<bool> {
    match Sha256Hex::parse(sha) {
        Some(digest) => crate::media_guard::remove_if_unused(state, &digest).await,
        None => Ok(false),
    }
}

/// How often the retention task looks for expired sessions.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes every session inactive for longer than `days`, now and then every
/// [`RETENTION_INTERVAL`], until the server closes.
pub fn spawn_retention(state: AppState, days: u32) -> tokio::task::JoinHandle<()> {
    let period_ms = i64::from(days) * 86_400_000;
    let mut closing = state.closing.subscribe();
    tokio::spawn(async move {
        loop {
            let cutoff = now_ms() - period_ms;
            match inactive_since(&state, cutoff).await {
                Ok(expired) if !expired.is_empty() => {
                    let ids: Vec<String> = expired.into_iter().map(|s| s.id).collect();
                    match purge(&state, &ids, Reason::Retention).await {
                        Ok(p) => tracing::info!(
                            sessions = p.sessions,
                            events = p.events,
                            media = p.media,
                            "retention: deleted sessions inactive for over {days} days"
                        ),
                        Err(e) => {
                            tracing::warn!("retention: deleting expired sessions failed: {e:#}")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("retention: cannot list expired sessions: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(RETENTION_INTERVAL) => {}
                _ = closing.changed() => return,
            }
        }
    })
}
