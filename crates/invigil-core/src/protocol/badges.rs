//! Verifiable badges (docs/badges.md): an exam's achievement, passes
//! recorded by admins, the Open Badges 3.0 credentials issued for them and
//! their status.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `PUT /api/v1/exams/{id}/achievement` (admins): what the exam's badge
/// says. Changing it changes badges issued afterwards, never earlier ones.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewAchievement {
    /// 1-200 characters.
    pub name: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// How the badge is earned, in words; up to 2,000 characters.
    pub criteria: String,
    /// The badge image: a PNG, base64, at most 256 KiB (square, 200-1,000
    /// pixels, is what badge displays expect). Absent: keep the current
    /// image (the server's plain medal if none was given).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub image_png_base64: Option<String>,
    /// Months a badge stays valid after it is issued (`validUntil`);
    /// absent: no expiry.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub valid_months: Option<u32>,
}

/// An exam's achievement as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Achievement {
    pub exam_id: String,
    pub name: String,
    pub description: String,
    pub criteria: String,
    /// Whether an image was uploaded (else the server's plain medal).
    pub has_image: bool,
    pub valid_months: Option<u32>,
    /// The achievement's public URL (its id in the credentials).
    pub url: String,
}

/// `POST /api/v1/exams/{id}/passes` (admins): candidates who passed. Each
/// must be enrolled with an email, and their session ended and not
/// invalidated; all or none are issued.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Passes {
    pub candidate_ids: Vec<String>,
}

/// `POST /api/v1/exams/{id}/passes` as JSON `{ "csv": ... }` or
/// `text/csv`: a results file with a `candidate_id` column and, optionally,
/// a `passed` column (`true`/`false`, `yes`/`no`, `1`/`0`, `pass`/`fail`);
/// rows without `passed` count as passes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PassesCsv {
    pub csv: String,
}

/// A badge's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum BadgeStatus {
    Valid,
    /// For now: an admin may reinstate it.
    Suspended,
    /// For good (an invalidated session, or an admin's revocation).
    Revoked,
}

impl BadgeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BadgeStatus::Valid => "valid",
            BadgeStatus::Suspended => "suspended",
            BadgeStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "valid" => Some(BadgeStatus::Valid),
            "suspended" => Some(BadgeStatus::Suspended),
            "revoked" => Some(BadgeStatus::Revoked),
            _ => None,
        }
    }
}

/// A badge as the server holds it (the credential itself is at
/// `credential_url`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Badge {
    /// The uuid of the credential's `urn:uuid:` id.
    pub id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub session_id: String,
    pub status: BadgeStatus,
    pub status_reason: Option<String>,
    pub status_ms: Option<i64>,
    pub issued_ms: i64,
    pub issued_by: String,
    pub valid_until_ms: Option<i64>,
    /// The public badge page, to give the candidate.
    pub url: String,
    /// The credential (JSON) and the baked PNG.
    pub credential_url: String,
    pub png_url: String,
}

/// The reply to recording passes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PassesRecorded {
    /// Badges issued now.
    pub issued: Vec<Badge>,
    /// Candidates who already had a badge for the session (unchanged).
    pub already: Vec<Badge>,
    /// Rows of a CSV marked as not passed (no badge).
    pub not_passed: u32,
}

/// `GET /api/v1/exams/{id}/badges`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BadgeList {
    pub achievement: Option<Achievement>,
    pub badges: Vec<Badge>,
}

/// `POST /api/v1/badges/{id}/status` (admins): revoke (for good), suspend,
/// or reinstate (`valid`, from suspended only), with a reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewBadgeStatus {
    pub status: BadgeStatus,
    /// Required; up to 500 characters. Shown on the public badge page.
    pub reason: String,
}
