//! Media: clips and check-in photos, uploaded by the candidate's client
//! under their SHA-256, read by proctors (with byte ranges, so browsers
//! can seek in a clip).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use invigil_core::protocol::{ErrorBody, MediaKind, MediaStored, SessionState, SNAPSHOT_MAX_BYTES};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::body_bytes;
use crate::store::Sha256Hex;
use crate::timeline::load_summary;
use crate::validate::{media_kind, sniff_media, validate_media_name, INLINE_MEDIA_TYPES};
use crate::{media_guard, AppState};

pub(super) fn router(max_media_bytes: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sessions/{id}/media/{sha256}",
            put(upload_media).get(get_media),
        )
        .layer(DefaultBodyLimit::max(max_media_bytes))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct MediaQuery {
    /// A label (1-128 of A-Z a-z 0-9 - _ . and space), never a path.
    name: String,
    /// `clip`, `face_photo`, `id_photo`, `room_scan` or `other` (default).
    kind: Option<String>,
}

/// Uploads a media body named by its SHA-256 (checked). Repeating an
/// upload answers 200.
#[utoipa::path(put, path = "/api/v1/sessions/{id}/media/{sha256}", tag = "media",
    params(
        ("id" = String, Path, description = "Session id"),
        ("sha256" = String, Path, description = "SHA-256 of the body, 64 lowercase hex digits"),
        MediaQuery,
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The body: MP4 for clips, JPEG, PNG or WebP for photos (read from its bytes; the Content-Type header is ignored)"),
    responses(
        (status = 201, description = "Stored", body = MediaStored),
        (status = 200, description = "Held already", body = MediaStored),
        (status = 400, description = "A field is invalid, the body does not match its SHA-256, or its type is not allowed for its kind", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not this session's candidate token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session has ended, or its media quota is used up", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
    ),
    security(("candidate" = [])))]
pub(super) async fn upload_media(
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
    let kind = match &query.kind {
        Some(kind) => media_kind(kind)?,
        None => MediaKind::Other,
    };
    // The client's Content-Type is not trusted: the type is read from the
    // body below. Over the quota already? Say so before reading the body.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    // Refusals before the body is read close the connection.
    let session = load_summary(&state, &id).await.map_err(ApiError::closing)?;
    if !holds(&state, &id, &sha).await? {
        if session.state == SessionState::Ended {
            return Err(ended(&id).closing());
        }
        check_quota(&state, &id, declared, kind)
            .await
            .map_err(ApiError::closing)?;
    }
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
    let content_type = sniff_media(kind, &body)?;
    // Not while this session is being deleted.
    let _session = state.lock_session(&id).await;
    let session = load_summary(&state, &id).await?;
    let held = holds(&state, &id, &sha).await?;
    if !held {
        if session.state == SessionState::Ended {
            return Err(ended(&id));
        }
        check_quota(&state, &id, body.len() as u64, kind).await?;
    }
    // The row first, then the body (see media_guard): a body is never
    // removed from the store once a row naming it is committed.
    let body_len = body.len();
    let row = media_guard::MediaRow {
        session_id: &session.session_id,
        sha256: &sha,
        name: &query.name,
        kind: kind.as_str(),
        content_type,
        bytes: body_len as i64,
    };
    let inserted = u64::from(media_guard::record(&state, &row).await?);
    let store = state.store.clone();
    let sha_w = sha.clone();
    let stored = tokio::task::spawn_blocking(move || store.put(&sha_w, &body))
        .await
        .map_err(ApiError::internal)
        .and_then(|r| r.map_err(|e| ApiError::internal(format!("media store: {e}"))));
    if let Err(e) = stored {
        if inserted == 1 {
            media_guard::unrecord(&state, &id, &sha).await;
        }
        return Err(e);
    }
    if inserted == 1 && kind == MediaKind::Snapshot {
        let (state, id, sha) = (state.clone(), id.clone(), sha.as_str().to_owned());
        tokio::spawn(async move { crate::spot::stored(&state, &id, &sha).await });
    }
    let status = if inserted == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(MediaStored {
            sha256: sha.as_str().to_owned(),
            bytes: body_len as u64,
        }),
    )
        .into_response())
}

/// Whether the session lists this body already (a repeated upload).
async fn holds(state: &AppState, id: &str, sha: &Sha256Hex) -> ApiResult<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT bytes FROM media WHERE session_id = $1 AND sha256 = $2")
            .bind(id)
            .bind(sha.as_str())
            .fetch_optional(&state.db.pool)
            .await?;
    Ok(row.is_some())
}

fn ended(id: &str) -> ApiError {
    ApiError::conflict(
        "session_ended",
        format!("session {id} has ended; it takes no new media"),
    )
}

/// 409 when `more` bytes in one more item would take the session over its
/// media quota (`Config::media_quota_items`, `media_quota_bytes`).
///
/// Spot-check snapshots are not counted as items (a long exam has hundreds)
/// but are limited instead to the requests the server made, and to
/// `SNAPSHOT_MAX_BYTES` each; their bytes count.
async fn check_quota(state: &AppState, id: &str, more: u64, kind: MediaKind) -> ApiResult<()> {
    if kind == MediaKind::Snapshot {
        if more > SNAPSHOT_MAX_BYTES as u64 {
            return Err(ApiError::invalid_field(
                "body",
                format!(
                    "a snapshot is a small still picture: at most {SNAPSHOT_MAX_BYTES} bytes, not {more}"
                ),
            ));
        }
        let (held, asked): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM media WHERE session_id = $1 AND kind = 'snapshot'), \
                    (SELECT COUNT(*) FROM spot_checks WHERE session_id = $1)",
        )
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
        if held >= asked {
            return Err(ApiError::conflict(
                "snapshot_not_requested",
                format!(
                    "session {id} was asked for {asked} snapshot(s) and holds {held}; snapshots are sent only when the server asks"
                ),
            ));
        }
    }
    let (items, bytes): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'snapshot' THEN 0 ELSE 1 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM media WHERE session_id = $1",
    )
    .bind(id)
    .fetch_one(&state.db.pool)
    .await?;
    let (max_items, max_bytes) = (
        state.config.media_quota_items,
        state.config.media_quota_bytes,
    );
    let one_more = i64::from(kind != MediaKind::Snapshot);
    if (items + one_more) as u64 > u64::from(max_items)
        || (bytes as u64).saturating_add(more) > max_bytes
    {
        return Err(ApiError::conflict(
            "media_quota_exceeded",
            format!(
                "session {id} holds {items} media items, {bytes} bytes; a session may upload at most {max_items} items and {max_bytes} bytes"
            ),
        )
        .with_detail(serde_json::json!({
            "items": items, "bytes": bytes, "max_items": max_items, "max_bytes": max_bytes,
        })));
    }
    Ok(())
}

/// A media body, for proctors; one byte range (`Range: bytes=a-b`) is
/// served as 206.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/media/{sha256}", tag = "media",
    params(
        ("id" = String, Path, description = "Session id"),
        ("sha256" = String, Path, description = "SHA-256 of the body"),
    ),
    responses(
        (status = 200, description = "The body, with its stored Content-Type", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such media", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
    ),
    security(("proctor" = [])))]
pub(super) async fn get_media(
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
    let (content_type, name): (String, String) = sqlx::query_as(
        "SELECT content_type, name FROM media WHERE session_id = $1 AND sha256 = $2",
    )
    .bind(&id)
    .bind(sha.as_str())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("session {id} has no media {sha256}")))?;
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
    // Only types checked on upload are shown inline; a row stored before
    // uploads were checked is downloaded, never rendered.
    let (content_type, disposition) = if INLINE_MEDIA_TYPES.contains(&content_type.as_str()) {
        (content_type, "inline".to_owned())
    } else {
        (
            "application/octet-stream".to_owned(),
            format!(
                "attachment; filename=\"{}\"",
                name.replace(['"', '\\'], "_")
            ),
        )
    };
    let common = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox".to_owned(),
        ),
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
