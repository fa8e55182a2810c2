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

/// Media types a proctor's browser shows inline; anything else is served
/// as an attachment.
pub(crate) const INLINE_MEDIA_TYPES: [&str; 4] =
    ["video/mp4", "image/jpeg", "image/png", "image/webp"];

/// The media type of an upload, read from its first bytes (never from the
/// client's `Content-Type`): clips are MP4, photos JPEG, PNG or WebP,
/// `other` any of these. Anything else (HTML, SVG, scripts) is refused.
pub(crate) fn sniff_media(kind: MediaKind, body: &[u8]) -> ApiResult<&'static str> {
    let found = if body.len() >= 12
        && &body[4..8] == b"ftyp"
        && u32::from_be_bytes([body[0], body[1], body[2], body[3]]) >= 8
    {
        Some("video/mp4")
    } else if body.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if body.len() >= 12 && body.starts_with(b"RIFF") && &body[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    };
    let allowed: &[&str] = match kind {
        MediaKind::Clip => &["video/mp4"],
        MediaKind::Snapshot => &["image/jpeg"],
        MediaKind::FacePhoto | MediaKind::IdPhoto | MediaKind::RoomScan => {
            &["image/jpeg", "image/png", "image/webp"]
        }
        MediaKind::Other => &INLINE_MEDIA_TYPES,
    };
    match found {
        Some(t) if allowed.contains(&t) => Ok(t),
        found => Err(ApiError::invalid_field(
            "body",
            format!(
                "a `{}` upload must be {}; this body is {}",
                kind.as_str(),
                allowed.join(" or "),
                found.unwrap_or("none of these (its first bytes match no allowed type)")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_bytes() {
        let mp4 = b"\0\0\0\x18ftypisom\0\0\0\0";
        assert_eq!(sniff_media(MediaKind::Clip, mp4).unwrap(), "video/mp4");
        let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF";
        assert_eq!(
            sniff_media(MediaKind::FacePhoto, jpeg).unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            sniff_media(MediaKind::IdPhoto, b"\x89PNG\r\n\x1a\n\0\0").unwrap(),
            "image/png"
        );
        assert_eq!(
            sniff_media(MediaKind::RoomScan, b"RIFF\x10\0\0\0WEBPVP8 ").unwrap(),
            "image/webp"
        );
        assert_eq!(sniff_media(MediaKind::Other, jpeg).unwrap(), "image/jpeg");
        // The wrong type for the kind, and types a browser would run.
        assert!(sniff_media(MediaKind::Clip, jpeg).is_err());
        assert!(sniff_media(MediaKind::FacePhoto, mp4).is_err());
        for hostile in [
            &b"<html><script>alert(1)</script>"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            b"",
            b"\0\0\0\x04ftyp",
        ] {
            let e = sniff_media(MediaKind::FacePhoto, hostile).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("body"));
            assert!(sniff_media(MediaKind::Other, hostile).is_err());
        }
    }
}
