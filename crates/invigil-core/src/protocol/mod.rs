//! The HTTP API's request and reply bodies (docs/api.md), defined once:
//! `invigil-server` answers with them, `invigil-uplink` reads them, the
//! console's TypeScript types are generated from them (feature `ts`) and so
//! is the server's OpenAPI document (feature `openapi`). A renamed field
//! fails to compile on every side.

mod badges;
mod exams;
mod forensics;
mod review;
mod sessions;
mod ticket;
#[cfg(feature = "ts")]
mod ts;

pub use badges::{
    Achievement, Badge, BadgeList, BadgeStatus, NewAchievement, NewBadgeStatus, Passes, PassesCsv,
    PassesRecorded,
};
pub use exams::{
    effective_policy, policy_differences, wait_words, Accommodations, Aids, BreakClock, Breaks,
    CheckinRequirements, Enrol, Enrolment, EnrolmentList, Exam, ExamBrief, ExamList, Issued,
    IssuedCode, LaunchCode, NewEnrolment, NewExam, Reissue, RosterUpload, LAUNCH_CODE_ALPHABET,
    LAUNCH_CODE_SYMBOLS,
};
pub use forensics::{ForensicFlag, ForensicsReport, ResponsesUpload};
pub use review::{
    Alert, Decided, Decision, DecisionAction, Lagged, NewDecision, NoteAlert, SpotCheck,
    StoredEvent, Timeline, TimelineNote,
};
pub use sessions::{
    receipt_message, BatchReceipt, BatchReply, CreateSession, Created, DeliveryStatus, EndSession,
    EventBatch, MediaItem, MediaStored, ServerKey, SessionList, SessionState, SessionStatus,
    SessionSummary,
};
pub use ticket::{ticket_message, OfflineTicket, UnverifiedTicket, TICKET_MAX_CHARS};
#[cfg(feature = "ts")]
pub use ts::{event_texts_typescript, typescript};

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Response header by which the server asks a candidate's client for a spot
/// check: its value is the request's id (1-64 of `A-Z a-z 0-9 _ -`), to
/// be named in the `snapshot_taken` event (docs/spot-checks.md).
pub const SNAPSHOT_HEADER: &str = "invigil-snapshot";

/// Largest spot-check snapshot the server takes, bytes.
pub const SNAPSHOT_MAX_BYTES: usize = 256 * 1024;

/// Whether a spot-check request id has the shape the server gives it.
pub fn is_snapshot_request(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Prefix of a candidate token.
pub const CANDIDATE_TOKEN_PREFIX: &str = "ivc_";

/// A candidate token: `ivc_` and 64 hex digits. It writes only its own
/// session's events and media and reads only that session's status. Its
/// `Debug` form hides it, so it never reaches a log.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[cfg_attr(feature = "openapi", derive(ToSchema), schema(value_type = String, pattern = "^ivc_[0-9a-fA-F]{64}$"))]
pub struct CandidateToken(String);

impl CandidateToken {
    /// What a valid token looks like, for error messages.
    pub const SHAPE: &'static str = "a candidate token is `ivc_` followed by 64 hex digits";

    /// Checks the shape of a token.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = text.len() == CANDIDATE_TOKEN_PREFIX.len() + 64
            && text.starts_with(CANDIDATE_TOKEN_PREFIX)
            && text[CANDIDATE_TOKEN_PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Self::SHAPE.to_owned())
        }
    }

    /// A token from 32 random bytes (the caller draws them).
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(format!(
            "{CANDIDATE_TOKEN_PREFIX}{}",
            crate::chain::hex(&bytes)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CandidateToken {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<CandidateToken> for String {
    fn from(t: CandidateToken) -> String {
        t.0
    }
}

impl fmt::Debug for CandidateToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CandidateToken(ivc_…)")
    }
}

/// What a media item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum MediaKind {
    /// A flagged clip (H.264 MP4).
    Clip,
    FacePhoto,
    IdPhoto,
    /// One view of the room scan.
    RoomScan,
    /// A spot check's still picture (docs/spot-checks.md).
    Snapshot,
    Other,
}

impl MediaKind {
    pub const ALL: [MediaKind; 6] = [
        MediaKind::Clip,
        MediaKind::FacePhoto,
        MediaKind::IdPhoto,
        MediaKind::RoomScan,
        MediaKind::Snapshot,
        MediaKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Clip => "clip",
            MediaKind::FacePhoto => "face_photo",
            MediaKind::IdPhoto => "id_photo",
            MediaKind::RoomScan => "room_scan",
            MediaKind::Snapshot => "snapshot",
            MediaKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------- errors

/// Every failure's body: `{"error": {...}}` with a 4xx or 5xx status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorInfo {
    /// Stable code: `invalid_field`, `unauthorized`, `chain_broken`, ...
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
    /// The request field at fault (`events[2].kind`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub field: Option<String>,
    /// Machine-readable details (e.g. the expected `prev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "Record<string, unknown>"))]
    pub detail: Option<Value>,
}

// ---------------------------------------------------------------- the server

/// `GET /api/v1/server`: what a candidate's app tells the candidate before
/// anything is sent (no sign-in needed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServerInfo {
    /// The server's version.
    pub version: String,
    /// Sessions are deleted this many days after their last activity;
    /// `null`: kept until the exam provider deletes them.
    pub retention_days: Option<u32>,
}

// ---------------------------------------------------------------- sign-in

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// A proctor signed in; the token also comes as an HttpOnly cookie.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignedIn {
    pub token: String,
    pub username: String,
    pub expires_ms: i64,
    /// An admin account (manages exams, enrolments and accounts).
    #[serde(default)]
    pub admin: bool,
}

/// `GET /api/v1/auth/me`: who the caller is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Me {
    Proctor {
        username: String,
        /// An admin account (manages exams, enrolments and accounts).
        #[serde(default)]
        admin: bool,
    },
    Candidate {
        session_id: String,
    },
}

#[cfg(test)]
mod tests;
