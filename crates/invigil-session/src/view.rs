//! What a UI sees of a session. These types are the app's IPC; with the
//! `ts` feature their TypeScript definitions are generated (ts-rs).

use invigil_core::{Event, Severity};

use crate::BreakView;
use invigil_uplink::{Connection, UplinkStatus};
use serde::Serialize;

/// One event, as shown to the candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventView {
    pub seq: u64,
    pub t_ms: u64,
    /// Wire kind, e.g. `candidate_absent` (docs/events.md).
    pub kind: String,
    /// `info`, `warning` or `violation`.
    pub severity: String,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub data: serde_json::Value,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            seq: e.seq,
            t_ms: e.t_ms,
            kind: e.kind.as_str().to_owned(),
            severity: e.severity.as_str().to_owned(),
            data: serde_json::Value::Object(e.data.clone()),
        }
    }
}

/// A detected face, in fractions of the frame (0-1).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub score: f32,
}

impl FaceBox {
    /// A detected face (frame pixels) in fractions of a `width` x `height`
    /// frame.
    pub fn of(face: &invigil_core::Face, width: f32, height: f32) -> Self {
        Self {
            x: face.bbox[0] / width,
            y: face.bbox[1] / height,
            w: face.bbox[2] / width,
            h: face.bbox[3] / height,
            score: face.score,
        }
    }
}

/// The link to the backend.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConnectionView {
    /// `none` (not streaming), `connecting`, `online`, `offline`, `refused`.
    pub state: String,
    /// Items waiting in the journal.
    pub pending: u64,
    pub sent_events: u64,
    pub sent_media: u64,
    pub last_error: Option<String>,
    pub journal_error: Option<String>,
}

impl ConnectionView {
    pub fn none() -> Self {
        Self {
            state: "none".into(),
            ..Self::default()
        }
    }

    pub fn of(s: &UplinkStatus) -> Self {
        Self {
            state: match s.connection {
                Connection::Connecting => "connecting",
                Connection::Online => "online",
                Connection::Offline => "offline",
                Connection::Refused => "refused",
            }
            .into(),
            pending: s.pending,
            sent_events: s.sent_events,
            sent_media: s.sent_media,
            last_error: s.refused.clone().or_else(|| s.last_error.clone()),
            journal_error: s.journal_error.clone(),
        }
    }
}

/// The end-of-session receipt shown to the candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Receipt {
    pub session_id: Option<String>,
    /// Events of this run, `session_started`/`session_resumed` to
    /// `session_ended`.
    pub events: u64,
    /// Hash of the last event (the chain head): what the server must hold.
    pub last_hash: Option<String>,
    /// `end_of_stream`, `stopped`, `camera_lost`, `source_error`.
    pub reason: String,
    pub connection: ConnectionView,
}

/// Everything a UI shows of a running session.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Snapshot {
    pub running: bool,
    pub source: String,
    pub session_id: Option<String>,
    pub frames: u64,
    pub dropped: u64,
    /// Session time, ms.
    pub t_ms: u64,
    pub width: u32,
    pub height: u32,
    pub faces: Vec<FaceBox>,
    pub events: u64,
    pub violations: u64,
    /// While an absence warning is up: ms left before `candidate_absent`.
    pub countdown_ms: Option<u64>,
    /// While a looking-away warning is up: ms left before `looking_away`
    /// ("Look back at the screen").
    pub look_back_ms: Option<u64>,
    /// Every warning and violation so far, oldest first.
    pub flagged: Vec<EventView>,
    pub connection: ConnectionView,
    /// Set once the session has ended.
    pub receipt: Option<Receipt>,
    /// Why the session failed, if it did (the source broke).
    pub error: Option<String>,
    /// The breaks the exam allows and where they stand.
    pub breaks: BreakView,
    /// During a break: ms left before it overruns (`break_overrun`).
    pub break_left_ms: Option<u64>,
    /// The exam clock, ms: session time less the breaks an exam with a
    /// paused clock has had (equal to `t_ms` otherwise).
    pub exam_ms: u64,
    /// The exam clock is paused (a break, with a paused clock).
    pub clock_paused: bool,
    /// The break in progress, as the events tell it.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) on_break: Option<BreakSpan>,
    /// Time taken off the exam clock by finished breaks, ms.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) paused_ms: u64,
    /// Session time at which a warned absence becomes a flag.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) flag_at: Option<u64>,
    /// Session time at which a warned look away becomes a flag.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub(crate) look_flag_at: Option<u64>,
}

impl Snapshot {
    pub(crate) fn new(source: &str) -> Self {
        Self {
            running: true,
            source: source.to_owned(),
            session_id: None,
            frames: 0,
            dropped: 0,
            t_ms: 0,
            width: 0,
            height: 0,
            faces: Vec::new(),
            events: 0,
            violations: 0,
            countdown_ms: None,
            look_back_ms: None,
            flagged: Vec::new(),
            connection: ConnectionView::none(),
            receipt: None,
            error: None,
            breaks: BreakView::default(),
            break_left_ms: None,
            exam_ms: 0,
            clock_paused: false,
            on_break: None,
            paused_ms: 0,
            flag_at: None,
            look_flag_at: None,
        }
    }

    /// Folds an event into the view (counts, flagged list, countdown).
    pub(crate) fn apply(&mut self, e: &Event) {
        self.events += 1;
        if e.severity == Severity::Violation {
            self.violations += 1;
        }
        if e.severity >= Severity::Warning {
            self.flagged.push(EventView::from(e));
        }
        match e.kind {
            invigil_core::EventKind::AbsenceWarning => {
                let left = e
                    .data
                    .get("flag_in_ms")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                self.flag_at = Some(e.t_ms + left);
            }
            invigil_core::EventKind::LookingAwayWarning => {
                let left = e
                    .data
                    .get("flag_in_ms")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                self.look_flag_at = Some(e.t_ms + left);
            }
            invigil_core::EventKind::LookingAway | invigil_core::EventKind::LookingBack => {
                self.look_flag_at = None;
            }
            invigil_core::EventKind::CandidateAbsent
            | invigil_core::EventKind::CandidateReturned
            | invigil_core::EventKind::SessionEnded => {
                self.flag_at = None;
                self.look_flag_at = None;
            }
            invigil_core::EventKind::BreakStarted => {
                // The presence rules rest: no absence countdown runs.
                self.flag_at = None;
                self.look_flag_at = None;
                let max_s = e.data.get("max_s").and_then(|v| v.as_f64()).unwrap_or(0.0);
                self.on_break = Some(BreakSpan {
                    since_ms: e.t_ms,
                    max_ms: (max_s.clamp(0.0, 86_400.0) * 1000.0) as u64,
                    paused: e.data.get("clock").and_then(|v| v.as_str()) == Some("paused"),
                });
            }
            invigil_core::EventKind::BreakEnded | invigil_core::EventKind::BreakOverrun => {
                if let Some(b) = self.on_break.take() {
                    if b.paused {
                        self.paused_ms += e.t_ms.saturating_sub(b.since_ms);
                    }
                }
            }
            _ => {}
        }
        self.tick(self.t_ms.max(e.t_ms));
    }

    /// Moves the session clock (the countdowns and the exam clock) on.
    pub(crate) fn tick(&mut self, t_ms: u64) {
        self.t_ms = t_ms;
        self.countdown_ms = self.flag_at.map(|at| at.saturating_sub(t_ms));
        // An absence starts where a look away ends: the absence's countdown
        // is the one shown.
        if self.flag_at.is_some() {
            self.look_flag_at = None;
        }
        self.look_back_ms = self.look_flag_at.map(|at| at.saturating_sub(t_ms));
        self.break_left_ms = self
            .on_break
            .map(|b| (b.since_ms + b.max_ms).saturating_sub(t_ms));
        let pausing = self
            .on_break
            .filter(|b| b.paused)
            .map_or(0, |b| t_ms.saturating_sub(b.since_ms));
        self.clock_paused = self.on_break.is_some_and(|b| b.paused);
        self.exam_ms = t_ms.saturating_sub(self.paused_ms + pausing);
    }
}

/// A break in progress, from its `break_started` event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BreakSpan {
    since_ms: u64,
    max_ms: u64,
    paused: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use invigil_core::{EventKind, EVENT_SCHEMA_VERSION};

    fn event(kind: EventKind, t_ms: u64, data: serde_json::Value) -> Event {
        Event {
            v: EVENT_SCHEMA_VERSION,
            seq: 0,
            t_ms,
            kind,
            severity: kind.severity(),
            data: data.as_object().cloned().unwrap_or_default(),
            prev: None,
        }
    }

    #[test]
    fn the_countdown_runs_from_the_warning_to_the_flag() {
        let mut s = Snapshot::new("x");
        s.apply(&event(
            EventKind::AbsenceWarning,
            12_000,
            serde_json::json!({"absent_ms": 2000, "flag_in_ms": 3000}),
        ));
        assert_eq!(s.countdown_ms, Some(3000));
        s.tick(13_500);
        assert_eq!(s.countdown_ms, Some(1500));
        s.apply(&event(
            EventKind::CandidateReturned,
            14_000,
            serde_json::json!({}),
        ));
        assert_eq!(s.countdown_ms, None);
        assert_eq!(s.flagged.len(), 1);
        assert_eq!(s.events, 2);
    }

    #[test]
    fn looking_away_has_its_own_countdown() {
        let mut s = Snapshot::new("x");
        s.apply(&event(
            EventKind::LookingAwayWarning,
            20_000,
            serde_json::json!({"direction": "right", "flag_in_ms": 10_000}),
        ));
        assert_eq!((s.look_back_ms, s.countdown_ms), (Some(10_000), None));
        s.tick(26_000);
        assert_eq!(s.look_back_ms, Some(4_000));
        s.apply(&event(
            EventKind::LookingBack,
            27_000,
            serde_json::json!({}),
        ));
        assert_eq!(s.look_back_ms, None);
        // A look away that turns into an absence shows the absence's.
        s.apply(&event(
            EventKind::LookingAwayWarning,
            40_000,
            serde_json::json!({"flag_in_ms": 10_000}),
        ));
        s.apply(&event(
            EventKind::AbsenceWarning,
            42_000,
            serde_json::json!({"flag_in_ms": 3_000}),
        ));
        assert_eq!((s.look_back_ms, s.countdown_ms), (None, Some(3_000)));
    }

    #[test]
    fn a_paused_break_stops_the_exam_clock_and_a_running_one_does_not() {
        let mut s = Snapshot::new("x");
        s.tick(60_000);
        s.apply(&event(
            EventKind::AbsenceWarning,
            60_000,
            serde_json::json!({"flag_in_ms": 3000}),
        ));
        s.apply(&event(
            EventKind::BreakStarted,
            61_000,
            serde_json::json!({"number": 1, "max_s": 300.0, "clock": "paused"}),
        ));
        assert_eq!(s.countdown_ms, None, "no absence countdown on a break");
        s.tick(121_000);
        assert!(s.clock_paused);
        assert_eq!(s.exam_ms, 61_000);
        assert_eq!(s.break_left_ms, Some(240_000));
        s.apply(&event(
            EventKind::BreakEnded,
            181_000,
            serde_json::json!({"number": 1}),
        ));
        s.tick(191_000);
        assert!(!s.clock_paused);
        assert_eq!(s.break_left_ms, None);
        assert_eq!(s.exam_ms, 71_000);
        // A running clock counts the break.
        s.apply(&event(
            EventKind::BreakStarted,
            200_000,
            serde_json::json!({"number": 2, "max_s": 60.0, "clock": "running"}),
        ));
        s.tick(230_000);
        assert!(!s.clock_paused);
        assert_eq!(s.exam_ms, 110_000);
        s.apply(&event(
            EventKind::BreakOverrun,
            260_001,
            serde_json::json!({"number": 2}),
        ));
        assert_eq!(s.break_left_ms, None);
        assert_eq!(s.exam_ms, 140_001);
    }
}
