//! Removing a media body no session lists any more, safely beside uploads
//! of the same body in this process, in another (`invigil sessions delete`
//! next to a running server) or on another server of the same database.
//!
//! Both sides first update the one row of `media_guard` inside their
//! transaction, which orders them on SQLite and PostgreSQL alike:
//! - a removal checks that no `media` row names the body and records it in
//!   `media_removals`, commits, deletes the body, then clears the record;
//! - an upload inserts its `media` row only when no removal of the body is
//!   under way (else it waits), commits, and only then writes the body.
//!
//! So a body is never deleted after a row naming it was committed, and a
//! body written after its row is never under a removal.

use std::time::Duration;

use crate::error::{ApiError, ApiResult};
use crate::store::Sha256Hex;
use crate::{now_ms, AppState};

/// A removal record older than this was left by a process that died
/// mid-removal: uploads no longer wait for it.
const STALE_REMOVAL_MS: i64 = 60_000;
/// How long an upload waits for a removal of its body to end.
const UPLOAD_WAIT: Duration = Duration::from_secs(10);

/// A media row to record for an upload.
pub(crate) struct MediaRow<'a> {
    pub session_id: &'a str,
    pub sha256: &'a Sha256Hex,
    pub name: &'a str,
    pub kind: &'a str,
    pub content_type: &'a str,
    pub bytes: i64,
}

/// Records an upload's media row (false when the session listed it
/// already); waits while the same body is being removed. 404 when the
/// session is gone.
pub(crate) async fn record(state: &AppState, row: &MediaRow<'_>) -> ApiResult<bool> {
    let started = tokio::time::Instant::now();
    loop {
        let mut tx = state.db.pool.begin().await?;
        let now = now_ms();
        sqlx::query("UPDATE media_guard SET at_ms = $1 WHERE id = 1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let removing: Option<(i64,)> =
            sqlx::query_as("SELECT at_ms FROM media_removals WHERE sha256 = $1")
                .bind(row.sha256.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if removing.is_some_and(|(at,)| now - at < STALE_REMOVAL_MS) {
            tx.rollback().await?;
            if started.elapsed() > UPLOAD_WAIT {
                return Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "this media body is being removed from the store; upload it again shortly",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let live: Option<(String,)> = sqlx::query_as("SELECT id FROM sessions WHERE id = $1")
            .bind(row.session_id)
            .fetch_optional(&mut *tx)
            .await?;
        if live.is_none() {
            return Err(ApiError::not_found(format!(
                "no session {}",
                row.session_id
            )));
        }
        let inserted = sqlx::query(
            "INSERT INTO media (session_id, sha256, name, kind, content_type, bytes, received_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(row.session_id)
        .bind(row.sha256.as_str())
        .bind(row.name)
        .bind(row.kind)
        .bind(row.content_type)
        .bind(row.bytes)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        return Ok(inserted == 1);
    }
}

/// Takes back a media row whose body could not be stored.
pub(crate) async fn unrecord(state: &AppState, session_id: &str, sha: &Sha256Hex) {
    let done = sqlx::query("DELETE FROM media WHERE session_id = $1 AND sha256 = $2")
        .bind(session_id)
        .bind(sha.as_str())
        .execute(&state.db.pool)
        .await;
    if let Err(e) = done {
        tracing::error!(session = session_id, "cannot take back a media row: {e}");
    }
}

/// Deletes a body from the store when no session lists it; true when a
/// file was deleted.
pub(crate) async fn remove_if_unused(state: &AppState, sha: &Sha256Hex) -> anyhow::Result<bool> {
    let mut tx = state.db.pool.begin().await?;
    let now = now_ms();
    sqlx::query("UPDATE media_guard SET at_ms = $1 WHERE id = 1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let in_use = sqlx::query("SELECT session_id FROM media WHERE sha256 = $1 LIMIT 1")
        .bind(sha.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if in_use {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO media_removals (sha256, at_ms) VALUES ($1, $2) \
         ON CONFLICT (sha256) DO UPDATE SET at_ms = excluded.at_ms",
    )
    .bind(sha.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let deleted = state.store.delete(sha).await;
    sqlx::query("DELETE FROM media_removals WHERE sha256 = $1")
        .bind(sha.as_str())
        .execute(&state.db.pool)
        .await?;
    Ok(deleted?)
}
