//! Sessions, their event batches and media.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::{CandidateToken, ExamBrief, LaunchCode, MediaKind};
use crate::Event;

// ---------------------------------------------------------------- sessions

/// `POST /api/v1/sessions`: creates a session from a launch code
/// (repeatable with the same code, id and token). A server started with
/// `--open-enrolment` also takes `exam_id` and `candidate_id` instead.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateSession {
    /// Client-chosen id (8-64 of A-Z a-z 0-9 - _), so a client can chain
    /// events before it reaches the server. Generated when absent.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The candidate's launch code (docs/exams.md).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub launch_code: Option<LaunchCode>,
    /// Open enrolment only: the exam ...
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub exam_id: Option<String>,
    /// ... and the candidate.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub candidate_id: Option<String>,
    /// Open enrolment: the policy the client runs (docs/policy.md). With a
    /// launch code, the policy the client means to run: the server's is
    /// used either way, and a difference is noted for proctors.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: Map<String, Value>,
    /// Client-chosen candidate token; makes creation safely repeatable.
    /// Generated when absent.
    #[serde(default)]
    pub token: Option<CandidateToken>,
    /// With a launch code: the offline ticket of the launch link, when the
    /// client began before it reached the server (docs/exams.md). The
    /// session then has the ticket's id and runs the ticket's policy, and
    /// the code is taken up to a grace period after the exam closed.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ticket: Option<String>,
}

/// A session created (201) or found again (200).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Created {
    pub session_id: String,
    pub token: CandidateToken,
    /// `prev` of the session's first event.
    pub chain_origin: String,
    #[serde(default)]
    pub exam_id: String,
    #[serde(default)]
    pub candidate_id: String,
    /// The policy the session runs, every key (the exam's with the
    /// candidate's accommodations, or the client's under open enrolment).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: Map<String, Value>,
    /// The exam, when a launch code started the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub exam: Option<ExamBrief>,
}

/// `live` until `session_ended` arrives or someone ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SessionState {
    Live,
    Ended,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Live => "live",
            SessionState::Ended => "ended",
        }
    }
}

/// A session's status (`GET /api/v1/sessions/{id}`, lists, timelines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionSummary {
    pub session_id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub state: SessionState,
    pub created_ms: i64,
    pub ended_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// Events held: seq 0 .. next_seq-1.
    pub next_seq: i64,
    /// Hash of the last event held: the next event's `prev`.
    pub head: String,
    pub last_event_ms: Option<i64>,
    pub violations: i64,
    pub warnings: i64,
    pub media: i64,
    /// Batches refused for a broken chain (tamper evidence).
    pub rejected_batches: i64,
    /// The policy the session runs under; not in lists (only one session's
    /// status and its timeline carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub policy: Option<Value>,
    /// The candidate's accommodations (policy keys that differ from the
    /// exam's), when a launch code with some started the session; not in
    /// lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>", optional))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub accommodations: Option<Value>,
    /// Review priority, 0-100 (docs/console.md).
    pub priority: f64,
    /// Violations no proctor has decided on yet.
    pub open_alerts: i64,
    /// `invalidated` once a proctor invalidated the session.
    pub verdict: Option<String>,
    /// When the candidate's client last reached the server (heartbeat
    /// every 30 s), ms since the Unix epoch.
    pub last_seen_ms: Option<i64>,
    /// SHA-256 of the latest spot-check snapshot (media kind `snapshot`),
    /// the live card's thumbnail.
    pub snapshot: Option<String>,
}

/// What a candidate's own client reads of its session
/// (`GET /api/v1/sessions/{id}` with the candidate token): its delivery,
/// nothing of its review.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeliveryStatus {
    pub session_id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub state: SessionState,
    pub created_ms: i64,
    pub ended_ms: Option<i64>,
    pub end_reason: Option<String>,
    /// Events held: seq 0 .. next_seq-1.
    pub next_seq: i64,
    /// Hash of the last event held: the next event's `prev`.
    pub head: String,
    pub last_event_ms: Option<i64>,
    /// Media items held.
    pub media: i64,
    /// Batches refused for a broken chain.
    pub rejected_batches: i64,
    /// The policy the session was created with.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: Value,
}

impl From<SessionSummary> for DeliveryStatus {
    fn from(s: SessionSummary) -> Self {
        DeliveryStatus {
            session_id: s.session_id,
            exam_id: s.exam_id,
            candidate_id: s.candidate_id,
            state: s.state,
            created_ms: s.created_ms,
            ended_ms: s.ended_ms,
            end_reason: s.end_reason,
            next_seq: s.next_seq,
            head: s.head,
            last_event_ms: s.last_event_ms,
            media: s.media,
            rejected_batches: s.rejected_batches,
            policy: s.policy.unwrap_or(Value::Null),
        }
    }
}

/// `GET /api/v1/sessions/{id}` and `POST .../end`: the whole summary for
/// proctors, the delivery status for the session's candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SessionStatus {
    Review(SessionSummary),
    Delivery(DeliveryStatus),
}

/// `GET /api/v1/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionSummary>,
}

/// `POST /api/v1/sessions/{id}/end` (the body may be empty).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EndSession {
    #[serde(default)]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------- events

/// `POST /api/v1/sessions/{id}/events`: chained events in seq order.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// A batch taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BatchReply {
    /// Events new to the server.
    pub accepted: u64,
    /// Events the server already held, byte for byte (re-sent batches).
    pub duplicates: u64,
    /// The server holds seq 0 .. next_seq-1.
    pub next_seq: u64,
    /// Hash of the server's last event: the next event's `prev`.
    pub head: String,
    /// The server's signature over what it now holds (docs/receipts.md):
    /// the candidate keeps it to prove what the server acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub receipt: Option<BatchReceipt>,
}

/// A signed acknowledgement: Ed25519 over [`receipt_message`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BatchReceipt {
    /// Which server key signed (`ServerKey::key_id`).
    pub key_id: String,
    /// The signature, 128 hex digits.
    pub signature: String,
}

/// `GET /api/v1/server-key`: the key receipts are signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ServerKey {
    /// `Ed25519`.
    pub algorithm: String,
    /// The public key, 64 hex digits.
    pub public_key: String,
    /// First 16 hex digits of the SHA-256 of the public key.
    pub key_id: String,
}

/// The bytes a receipt signs: the server holds events `0..next_seq` of
/// `session_id`, the last with hash `head`.
pub fn receipt_message(session_id: &str, next_seq: u64, head: &str) -> Vec<u8> {
    format!("invigil-receipt-v1\n{session_id}\n{next_seq}\n{head}").into_bytes()
}

// ---------------------------------------------------------------- media

/// A media body stored (201) or already held (200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MediaStored {
    pub sha256: String,
    pub bytes: u64,
}

/// A media item of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MediaItem {
    pub sha256: String,
    pub name: String,
    pub kind: MediaKind,
    pub content_type: String,
    pub bytes: i64,
    pub received_ms: i64,
}
