//! API errors: every failure is a JSON body `{"error": {"code", "message",
//! "field"?}}` with a 4xx or 5xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use invigil_core::protocol::{ErrorBody, ErrorInfo};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable: `unauthorized`, `chain_broken`, ...
    pub code: &'static str,
    pub message: String,
    /// The request field at fault, e.g. `events[3].kind`.
    pub field: Option<String>,
    /// Extra machine-readable details (e.g. the expected seq).
    pub detail: Option<serde_json::Value>,
    /// Seconds to send in `Retry-After` (429s).
    pub retry_after_s: Option<u64>,
    /// Answered before the request body was read: close the connection
    /// (its unread body cannot be told from the next request).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            detail: None,
            retry_after_s: None,
            close: false,
        }
    }

    /// See [`ApiError::close`].
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// 429: try again after `wait`.
    pub fn too_many(wait: std::time::Duration, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after_s = Some(crate::throttle::retry_after_secs(wait));
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_field", message);
        e.field = Some(field.into());
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {err}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error (see the server log)",
        )
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(format!("database: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
                detail: self.detail,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.close {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let Some(secs) = self.retry_after_s {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"invigil\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
