//! Media: clips and check-in photos, uploaded by the candidate's client
//! under their SHA-256, read by proctors (with byte ranges, so browsers
//! can seek in a clip).

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use futures_util::StreamExt;
use invigil_core::protocol::{ErrorBody, MediaKind, MediaStored, SessionState, SNAPSHOT_MAX_BYTES};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
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
    // Streamed to a file and hashed on the way: a clip is never held
    // whole in memory, and the store sees only a verified body.
    let upload = receive(&state, req, declared).await?;
    let actual = invigil_core::chain::hex(&upload.sha256);
    if actual != sha.as_str() {
        return Err(ApiError::invalid_field(
            "sha256",
            format!(
                "the body's SHA-256 is {actual}, not {} as named; the upload was damaged",
                sha.as_str()
            ),
        ));
    }
    let content_type = sniff_media(kind, &upload.head)?;
    // Not while this session is being deleted.
    let _session = state.lock_session(&id).await;
    let session = load_summary(&state, &id).await?;
    let held = holds(&state, &id, &sha).await?;
    if !held {
        if session.state == SessionState::Ended {
            return Err(ended(&id));
        }
        check_quota(&state, &id, upload.bytes, kind).await?;
    }
    // The row first, then the body (see media_guard): a body is never
    // removed from the store once a row naming it is committed.
    let body_len = upload.bytes;
    let row = media_guard::MediaRow {
        session_id: &session.session_id,
        sha256: &sha,
        name: &query.name,
        kind: kind.as_str(),
        content_type,
        bytes: body_len as i64,
    };
    let inserted = u64::from(media_guard::record(&state, &row).await?);
    let stored = state
        .store
        .put_file(&sha, upload.file.path())
        .await
        .map_err(|e| ApiError::internal(format!("media store: {e}")));
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
            bytes: body_len,
        }),
    )
        .into_response())
}

/// An upload received into a temporary file.
struct Upload {
    file: tempfile::NamedTempFile,
    sha256: [u8; 32],
    bytes: u64,
    /// Its first bytes, for telling its type.
    head: Vec<u8>,
}

/// Bytes of an upload kept for telling its type ([`sniff_media`]).
const SNIFF_BYTES: usize = 16;

/// Streams the request body into a file under the data directory, hashing
/// it; 413 past `max_media_bytes` (told by Content-Length or counted).
async fn receive(state: &AppState, req: Request, declared: u64) -> ApiResult<Upload> {
    let max = state.config.max_media_bytes as u64;
    let too_large = || {
        ApiError::too_large(format!(
            "the request body is over this endpoint's size limit ({max} bytes)"
        ))
        .closing()
    };
    if declared > max {
        return Err(too_large());
    }
    let failed = |e: std::io::Error| ApiError::internal(format!("cannot receive an upload: {e}"));
    let file = tempfile::NamedTempFile::new_in(state.upload_dir()).map_err(failed)?;
    let mut out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(failed)?);
    let mut hasher = Sha256::new();
    let (mut bytes, mut head) = (0u64, Vec::new());
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
        bytes += chunk.len() as u64;
        if bytes > max {
            return Err(too_large());
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(failed)?;
    }
    out.flush().await.map_err(failed)?;
    Ok(Upload {
        file,
        sha256: hasher.finalize().into(),
        bytes,
        head,
    })
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
    let (content_type, name, total): (String, String, i64) = sqlx::query_as(
        "SELECT content_type, name, bytes FROM media WHERE session_id = $1 AND sha256 = $2",
    )
    .bind(&id)
    .bind(sha.as_str())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("session {id} has no media {sha256}")))?;
    let total = total.max(0) as u64;
    // Browsers seek in a clip with range requests.
    let range = match headers
        .get(header::RANGE)
        .map(|v| byte_range(v.to_str().unwrap_or(""), total))
    {
        None => None,
        Some(Some(range)) => Some(range),
        Some(None) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{total}"))],
            )
                .into_response())
        }
    };
    // Streamed from the store: a clip is never held whole here.
    let body = state
        .store
        .get(&sha, range.map(|(start, end)| start..end + 1))
        .await
        .map_err(|e| ApiError::internal(format!("media store: {e}")))?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "media {sha256} is listed but missing from the store"
            ))
        })?;
    let body = axum::body::Body::from_stream(body);
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
    match range {
        None => Ok((common, [(header::CONTENT_LENGTH, total.to_string())], body).into_response()),
        Some((start, end)) => Ok((
            StatusCode::PARTIAL_CONTENT,
            common,
            [
                (
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{end}/{total}"),
                ),
                (header::CONTENT_LENGTH, (end + 1 - start).to_string()),
            ],
            body,
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
