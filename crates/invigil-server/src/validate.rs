//! Checks of request fields: each failure is a 400 naming the field.

use invigil_core::protocol::MediaKind;

use crate::error::{ApiError, ApiResult};

pub(crate) fn validate_label(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` contains control characters"),
        ));
    }
    Ok(())
}

pub(crate) fn validate_session_id(value: &str) -> ApiResult<()> {
    let ok = (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "session_id",
            "a session id is 8 to 64 characters of A-Z, a-z, 0-9, `-` and `_`",
        ))
    }
}

pub(crate) fn validate_username(value: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "username",
            "a user name is 1 to 64 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and `@`",
        ))
    }
}

/// Media names are labels, never paths.
pub(crate) fn validate_media_name(value: &str) -> ApiResult<()> {
    let ok = (1..=128).contains(&value.len())
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "name",
            format!(
                "media name `{}` is not allowed: use 1 to 128 characters of A-Z, a-z, 0-9, `-`, `_`, `.` and space, not starting with `.` (names are labels, never paths)",
                value.escape_debug()
            ),
        ))
    }
}

/// A media kind from the upload's `kind` query parameter.
pub(crate) fn media_kind(value: &str) -> ApiResult<MediaKind> {
    MediaKind::parse(value).ok_or_else(|| {
        let known: Vec<&str> = MediaKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::invalid_field(
            "kind",
            format!("media kind `{value}` is not one of {}", known.join(", ")),
        )
    })
}
