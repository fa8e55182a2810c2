//! What proctors review: decisions, timelines and the live alerts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use super::{MediaItem, SessionSummary};
use crate::Event;

// ---------------------------------------------------------------- decisions

/// What a proctor decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum DecisionAction {
    /// Seen; about an alert (`event_seq`).
    Acknowledge,
    /// A false flag; about an alert.
    Dismiss,
    /// A real incident; about an alert.
    Confirm,
    /// Ends the live session.
    End,
    /// The session's result does not stand (a note says why).
    Invalidate,
}

impl DecisionAction {
    pub const ALL: [DecisionAction; 5] = [
        DecisionAction::Acknowledge,
        DecisionAction::Dismiss,
        DecisionAction::Confirm,
        DecisionAction::End,
        DecisionAction::Invalidate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Acknowledge => "acknowledge",
            DecisionAction::Dismiss => "dismiss",
            DecisionAction::Confirm => "confirm",
            DecisionAction::End => "end",
            DecisionAction::Invalidate => "invalidate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// Whether the decision is about one alert (and needs `event_seq`).
    pub fn about_an_alert(self) -> bool {
        matches!(
            self,
            DecisionAction::Acknowledge | DecisionAction::Dismiss | DecisionAction::Confirm
        )
    }
}

/// `POST /api/v1/sessions/{id}/decisions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewDecision {
    /// acknowledge, dismiss, confirm (with `event_seq`); end, invalidate.
    pub action: String,
    #[serde(default)]
    pub event_seq: Option<u64>,
    #[serde(default)]
    pub note: String,
    /// Forensic flags (ids) the decision rests on, for `invalidate`.
    #[serde(default)]
    pub cites: Vec<String>,
}

/// A decision in the audit trail (never changed or deleted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Decision {
    pub id: String,
    pub session_id: String,
    pub event_seq: Option<i64>,
    pub action: DecisionAction,
    pub note: String,
    pub proctor: String,
    pub at_ms: i64,
    /// Forensic flags the decision cites.
    #[serde(default)]
    pub cites: Vec<super::ForensicFlag>,
}

/// A decision taken, with the session as it is now; also pushed on the
/// alert stream as `event: decision`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Decided {
    pub decision: Decision,
    pub session: SessionSummary,
}

// ---------------------------------------------------------------- timeline

/// An event as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: Event,
    /// The event's hash (the next event's `prev`).
    pub hash: String,
    /// Server time it arrived, ms since the Unix epoch.
    pub received_ms: i64,
}

/// Something the server noted in a session's timeline (`batch_rejected`,
/// `session_ended` by a proctor, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TimelineNote {
    pub at_ms: i64,
    pub kind: String,
    /// `candidate`, `proctor:NAME` or `server`.
    pub actor: String,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: Value,
}

/// `GET /api/v1/sessions/{id}/timeline`: everything a proctor reviews.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Timeline {
    pub session: SessionSummary,
    /// One page of events, in seq order.
    pub events: Vec<StoredEvent>,
    /// Set when more events may follow: ask again with `after_seq` = this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub next_after_seq: Option<i64>,
    pub media: Vec<MediaItem>,
    pub notes: Vec<TimelineNote>,
    pub decisions: Vec<Decision>,
    /// The spot checks the server asked for, oldest first
    /// (docs/spot-checks.md).
    #[serde(default)]
    pub spot_checks: Vec<SpotCheck>,
    /// The data-forensics flags on the session's candidate from the
    /// exam's latest analysis (docs/forensics.md).
    #[serde(default)]
    pub forensics: Vec<super::ForensicFlag>,
}

/// One spot check: the server's request, the client's snapshot and claim,
/// and what the server found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SpotCheck {
    pub id: String,
    /// When the server asked, ms since the Unix epoch.
    pub requested_ms: i64,
    /// Media time of the snapshot's frame, once answered.
    pub t_ms: Option<i64>,
    /// The snapshot (media kind `snapshot`).
    pub sha256: Option<String>,
    /// Faces the client's rules counted on that frame.
    pub client_faces: Option<i64>,
    /// Faces the server found on the snapshot.
    pub server_faces: Option<i64>,
    /// `agree`, `no_face`, `extra_faces`, `events_claim_presence`,
    /// `repeated`, `unreadable`, `missing`; `judging` while the server
    /// looks; none while the snapshot is awaited.
    pub verdict: Option<String>,
}

// ---------------------------------------------------------------- alerts

/// A warning or violation as it arrives, pushed on `GET /api/v1/alerts`
/// (server-sent events, `event: alert`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Alert {
    pub session_id: String,
    pub exam_id: String,
    pub candidate_id: String,
    /// Server time the event arrived, ms since the Unix epoch.
    pub received_ms: i64,
    pub event: Event,
}

/// Something the server itself found about a session (`policy_mismatch`,
/// `analysis_disagreement`), pushed on `GET /api/v1/alerts` as `event:
/// note`; the same note is in the session's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NoteAlert {
    pub session_id: String,
    pub exam_id: String,
    pub candidate_id: String,
    pub note: TimelineNote,
}

/// `event: lagged` on the alert stream: this many alerts were missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Lagged {
    pub missed: u64,
}
