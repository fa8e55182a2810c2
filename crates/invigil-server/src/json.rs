//! Strict JSON request bodies: unknown fields and trailing bytes are
//! errors, and every error names the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, with 400s that name the field (`events[2].kind`)
/// and 413 when the body is over the route's limit.
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse(&bytes).map(StrictJson)
    }
}

/// The request's `Content-Type`, lower-cased ("" when absent): what an
/// upload that takes JSON or CSV branches on.
pub fn content_type(req: &Request) -> String {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The whole body, or 413 when it is over the limit.
pub async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the request body is over this endpoint's size limit ({})",
                rejection.body_text()
            ))
        } else {
            ApiError::bad_request(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Parses a JSON body strictly.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; expected a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = format!("malformed JSON body: {inner}");
        if field.is_empty() || field == "." {
            ApiError::bad_request(message)
        } else {
            ApiError::invalid_field(
                field.clone(),
                format!("malformed JSON body at `{field}`: {inner}"),
            )
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Outer>(br#"{"items":[{"n":1},{"n":"x"}]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("items[1].n"));
        let e = parse::<Outer>(br#"{"items":[],"extra":1}"#).unwrap_err();
        assert!(e.message.contains("extra"), "{}", e.message);
        let e = parse::<Outer>(br#"{"items":[]} trailing"#).unwrap_err();
        assert!(e.message.contains("trailing"), "{}", e.message);
        assert!(parse::<Outer>(b"").is_err());
        assert!(parse::<Outer>(br#"{"items":[{"n":1}]}"#).is_ok());
    }
}
