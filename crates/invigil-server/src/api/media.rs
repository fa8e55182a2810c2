//! Media: clips and check-in photos, uploaded by the candidate's client
//! under their SHA-256, read by proctors (with byte ranges, so browsers
//! can seek in a clip).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use invigil_core::protocol::{ErrorBody, MediaKind, MediaStored};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::body_bytes;
use crate::store::Sha256Hex;
use crate::timeline::load_summary;
use crate::validate::{media_kind, validate_media_name};
use crate::{now_ms, AppState};

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
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The body; its Content-Type is stored"),
    responses(
        (status = 201, description = "Stored", body = MediaStored),
        (status = 200, description = "Held already", body = MediaStored),
        (status = 400, description = "A field is invalid, or the body does not match its SHA-256", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not this session's candidate token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
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
    .bind(kind.as_str())
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
        Json(MediaStored {
            sha256: sha.as_str().to_owned(),
            bytes: body_len as u64,
        }),
    )
        .into_response())
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
    let (content_type,): (String,) =
        sqlx::query_as("SELECT content_type FROM media WHERE session_id = $1 AND sha256 = $2")
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
