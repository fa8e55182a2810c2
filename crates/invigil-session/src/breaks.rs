//! Breaks the exam allows: the candidate asks (the app's *Take a break*),
//! and at the next frame the session hands the engine `break_started` or
//! `break_ended`, so the break is in the event chain at the media time it
//! began and the presence rules rest meanwhile (`RuleEngine::note`).

use std::sync::Mutex;

use invigil_capture::pipeline::Note;
use invigil_core::protocol::{BreakClock, Breaks};
use invigil_core::sync::lock;
use invigil_core::{Event, EventKind};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Where a session's breaks stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BreakView {
    /// Breaks the exam allows (0: none).
    pub allowed: u32,
    /// Length of each, minutes.
    pub minutes: f64,
    /// Breaks begun so far.
    pub taken: u32,
    /// A break is in progress.
    pub on_break: bool,
    /// The exam clock stops during breaks.
    pub pauses_clock: bool,
}

/// The candidate's requests, waiting for the next frame.
#[derive(Debug, Default)]
pub struct BreakDesk {
    allowed: Option<Breaks>,
    state: Mutex<DeskState>,
}

#[derive(Debug, Default)]
struct DeskState {
    taken: u32,
    on_break: bool,
    pending: Vec<Note>,
}

impl BreakDesk {
    pub fn new(allowed: Option<Breaks>) -> Self {
        Self {
            allowed,
            state: Mutex::default(),
        }
    }

    /// Starts a break; errors are sentences for the candidate.
    pub fn take(&self) -> Result<u32, String> {
        let Some(b) = self.allowed else {
            return Err("This exam allows no breaks.".into());
        };
        let mut s = lock(&self.state);
        if s.on_break {
            return Err("You are on a break already.".into());
        }
        if s.taken >= b.count {
            return Err(format!(
                "You have taken all {} break{} this exam allows.",
                b.count,
                if b.count == 1 { "" } else { "s" }
            ));
        }
        s.taken += 1;
        s.on_break = true;
        let number = s.taken;
        let clock = match b.clock {
            BreakClock::Paused => "paused",
            BreakClock::Running => "running",
        };
        s.pending.push((
            EventKind::BreakStarted,
            map(json!({"number": number, "max_s": b.minutes * 60.0, "clock": clock})),
        ));
        Ok(number)
    }

    /// Ends the break in progress.
    pub fn end(&self) -> Result<(), String> {
        let mut s = lock(&self.state);
        if !s.on_break {
            return Err("You are not on a break.".into());
        }
        s.on_break = false;
        let number = s.taken;
        s.pending
            .push((EventKind::BreakEnded, map(json!({ "number": number }))));
        Ok(())
    }

    pub fn view(&self) -> BreakView {
        let s = lock(&self.state);
        BreakView {
            allowed: self.allowed.map_or(0, |b| b.count),
            minutes: self.allowed.map_or(0.0, |b| b.minutes),
            taken: s.taken,
            on_break: s.on_break,
            pauses_clock: self.allowed.is_some_and(|b| b.clock == BreakClock::Paused),
        }
    }

    /// The requests to emit now.
    pub(crate) fn drain(&self) -> Vec<Note> {
        std::mem::take(&mut lock(&self.state).pending)
    }

    /// Follows the session's events: an overrun ends the break.
    pub(crate) fn saw(&self, event: &Event) {
        if event.kind == EventKind::BreakOverrun {
            lock(&self.state).on_break = false;
        }
    }
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_are_counted_and_explained() {
        let none = BreakDesk::new(None);
        assert!(none.take().unwrap_err().contains("no breaks"));
        let desk = BreakDesk::new(Some(Breaks {
            count: 1,
            minutes: 5.0,
            clock: BreakClock::Paused,
        }));
        assert!(desk.end().unwrap_err().contains("not on a break"));
        assert_eq!(desk.take(), Ok(1));
        assert!(desk.take().unwrap_err().contains("already"));
        let notes = desk.drain();
        assert_eq!(notes[0].0, EventKind::BreakStarted);
        assert_eq!(notes[0].1["max_s"], 300.0);
        desk.end().unwrap();
        assert!(desk
            .take()
            .unwrap_err()
            .contains("all 1 break this exam allows"));
        assert_eq!(
            desk.view(),
            BreakView {
                allowed: 1,
                minutes: 5.0,
                taken: 1,
                on_break: false,
                pauses_clock: true,
            }
        );
    }
}
