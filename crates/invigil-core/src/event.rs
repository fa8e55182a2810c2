//! The event wire format: one JSON object per line.
//!
//! Stable and versioned: fields are only ever added, never renamed or
//! removed, within one [`EVENT_SCHEMA_VERSION`]. See docs/events.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Version of the event schema, carried in every event as `v`.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// How much an event matters to a proctor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// Bookkeeping: the session started, a condition cleared.
    Info,
    /// Shown to the candidate; not a rule violation (yet).
    Warning,
    /// A rule was broken; proctors review these.
    Violation,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Violation => "violation",
        }
    }
}

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $severity:ident, $label:literal, $to_candidate:literal;)*) => {
        /// What happened. The string form is the wire `kind`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind, in documentation order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The wire name, e.g. `"candidate_absent"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// The severity every event of this kind carries.
            pub fn severity(self) -> Severity {
                match self {
                    $(EventKind::$variant => Severity::$severity,)*
                }
            }

            /// How proctors read it (the console's timeline and alerts).
            pub fn label(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $label,)*
                }
            }

            /// How the candidate's app words it, for the kinds it shows.
            pub fn to_candidate(self) -> Option<&'static str> {
                match self {
                    $(EventKind::$variant => Some($to_candidate).filter(|t| !t.is_empty()),)*
                }
            }
        }
    };
}

event_kinds! {
    /// First event of every session; data: `policy`, `schema`.
    SessionStarted = "session_started", Info, "Session started", "";
    /// No face for `absence_warn_s`; shown to the candidate with a countdown.
    AbsenceWarning = "absence_warning", Warning, "Left the camera view (warning)", "You were out of view (warning)";
    /// No face for `absence_flag_s`.
    CandidateAbsent = "candidate_absent", Violation, "Candidate absent", "Out of view for too long";
    /// A face is back for `return_confirm_s` after a warning or flag.
    CandidateReturned = "candidate_returned", Info, "Candidate returned", "";
    /// Two or more faces for `multiple_faces_flag_s`.
    MultipleFaces = "multiple_faces", Violation, "More than one person", "More than one person in view";
    /// Back to at most one face.
    MultipleFacesCleared = "multiple_faces_cleared", Info, "One person again", "";
    /// The frame was dark or featureless for `blocked_flag_s`.
    CameraBlocked = "camera_blocked", Violation, "Camera covered or dark", "Camera covered or dark";
    CameraUnblocked = "camera_unblocked", Info, "Camera picture back", "";
    /// Frames did not change for `frozen_flag_s`.
    CameraFrozen = "camera_frozen", Violation, "Camera picture frozen", "Camera picture frozen";
    CameraUnfrozen = "camera_unfrozen", Info, "Camera picture moving again", "";
    /// The camera disappeared or failed mid-session.
    CameraLost = "camera_lost", Violation, "Camera lost", "Camera disconnected";
    /// Last event of every session; data: `reason`, `frames`, `duration_ms`.
    SessionEnded = "session_ended", Info, "Session ended", "";
    /// The client restarted mid-session (crash, reboot) and carries on with
    /// the same session; data: `after_seq`, `after_t_ms`.
    SessionResumed = "session_resumed", Warning, "Client restarted (session resumed)", "The app restarted during the exam";
    /// A flagged clip was recorded and stored as media; data: `event_seq`
    /// (the violation it covers), `sha256`, `bytes`, `start_ms`, `end_ms`.
    ClipSaved = "clip_saved", Info, "Clip saved", "";
    /// The candidate's check-in photos, taken before the exam and uploaded
    /// as media; data: `face_photo`, `id_photo` (sha256), `room_scan`
    /// (`[{side, sha256}]`), `measures`.
    CheckinCompleted = "checkin_completed", Info, "Check-in completed", "";
    /// The candidate took a break the exam allows; presence and
    /// multiple-faces rules rest until it ends. Data: `number` (1, 2, ...),
    /// `max_s` (its length), `clock` (`paused` or `running`: the exam time).
    BreakStarted = "break_started", Info, "Break started", "";
    /// The candidate came back from a break; data: `number`, `duration_ms`.
    BreakEnded = "break_ended", Info, "Break ended", "";
    /// A break ran past its length; the rules take over again from here.
    /// Data: `number`, `max_s`.
    BreakOverrun = "break_overrun", Violation, "Break ran over its length", "Your break ran over its length";
    /// The server asked for a spot check and the client took this frame's
    /// snapshot (media kind `snapshot`); data: `request` (the server's id),
    /// `sha256`, `faces` (faces the rules counted on this frame), `width`,
    /// `height`.
    SnapshotTaken = "snapshot_taken", Info, "Spot-check snapshot", "";
    /// The face in view has not matched the check-in's reference face for
    /// `identity_flag_s` (`identity_return_flag_s` right after a return
    /// from an absence); data: `similarity` (the last comparison),
    /// `threshold`, `seen_ms`, `after_return`.
    IdentityMismatch = "identity_mismatch", Violation, "Different person in view", "The person in view does not match your check-in photo";
    /// The face in view matches the reference again for `return_confirm_s`;
    /// data: `similarity`, `mismatch_ms` (since the flag).
    IdentityRestored = "identity_restored", Info, "Same person again", "";
    /// The face in view has not changed shape for `static_face_s`: a
    /// photograph in front of the camera; data: `static_ms`, `motion`.
    StaticFace = "static_face", Violation, "Face does not move (a photo?)", "Your face has not moved for a long time";
    /// The head has been turned away from the candidate's neutral pose for
    /// `looking_away_warn_s`; shown to the candidate with a countdown.
    /// Data: `yaw`, `pitch` (degrees from the neutral pose), `direction`
    /// (`left`, `right`, `up`, `down`: the candidate's own), `duration_ms`,
    /// `flag_in_ms`.
    LookingAwayWarning = "looking_away_warning", Warning, "Looking away (warning)", "Look back at the screen";
    /// ...for `looking_away_flag_s`. Data as the warning's.
    LookingAway = "looking_away", Violation, "Looking away from the screen", "You looked away from the screen for too long";
    /// The head is back towards the screen after a warning or flag; data:
    /// `duration_ms`, `direction`, `flagged`.
    LookingBack = "looking_back", Info, "Looking at the screen again", "";
    /// An object the exam does not allow (`object_labels` less the aids)
    /// has been in view for `object_flag_s`; data: `label` (`phone`,
    /// `book`, `person`: a second person whose face is not visible,
    /// `laptop`, `screen`), `score`, `box`, `seen_ms`.
    ObjectDetected = "object_detected", Violation, "Object in view", "An object that is not allowed is in view";
    /// That object has gone; data: `label`, `duration_ms`.
    ObjectCleared = "object_cleared", Info, "Object gone", "";
}

impl std::str::FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown event kind `{s}` (known: {})", known.join(", "))
            })
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Schema version, [`EVENT_SCHEMA_VERSION`].
    pub v: u32,
    /// Position in the session, from 0, without gaps.
    pub seq: u64,
    /// Media time since the session's first frame, milliseconds.
    pub t_ms: u64,
    pub kind: EventKind,
    pub severity: Severity,
    /// Kind-specific details; always an object.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Map<String, Value>,
    /// Hash of the previous event of the session (see [`crate::chain`]);
    /// absent in sessions that are not chained (plain `invigil watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub prev: Option<String>,
}

impl Event {
    /// One JSON line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_stable() {
        let mut data = Map::new();
        data.insert("absent_ms".into(), 5000.into());
        let e = Event {
            v: EVENT_SCHEMA_VERSION,
            seq: 3,
            t_ms: 7200,
            kind: EventKind::CandidateAbsent,
            severity: EventKind::CandidateAbsent.severity(),
            data,
            prev: None,
        };
        assert_eq!(
            e.to_json_line(),
            r#"{"v":1,"seq":3,"t_ms":7200,"kind":"candidate_absent","severity":"violation","data":{"absent_ms":5000}}"#
        );
        let back: Event = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            let parsed: EventKind = kind.as_str().parse().unwrap();
            assert_eq!(parsed, *kind);
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!("nope".parse::<EventKind>().unwrap_err().contains("nope"));
    }
}
