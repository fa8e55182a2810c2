//! The rule engine: observations in, events out.

use serde_json::{json, Map, Value};

use crate::rules::{default_rules, Emitter, FrameFacts, Rule};
use crate::{Event, EventKind, Observation, Policy, EVENT_SCHEMA_VERSION};

/// Why a session ended; carried in `session_ended`'s `reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// A file or scenario ran to its end.
    EndOfStream,
    /// The user or the app stopped the session.
    Stopped,
    /// The camera disappeared; a `camera_lost` event precedes the end.
    CameraLost,
    /// The source failed (corrupt file); the message says how.
    SourceError(String),
}

impl EndReason {
    fn as_str(&self) -> &'static str {
        match self {
            EndReason::EndOfStream => "end_of_stream",
            EndReason::Stopped => "stopped",
            EndReason::CameraLost => "camera_lost",
            EndReason::SourceError(_) => "source_error",
        }
    }
}

/// The exam-rule state machine. Pure: time comes only from observations.
///
/// Call [`start`](Self::start) once, [`observe`](Self::observe) per frame in
/// media-time order, and [`finish`](Self::finish) once.
pub struct RuleEngine {
    policy: Policy,
    rules: Vec<Box<dyn Rule>>,
    next_seq: u64,
    /// Media time at which this run starts (non-zero when resuming).
    t_offset: u64,
    resumed: bool,
    first_t: Option<u64>,
    last_t: u64,
    frames: u64,
    dropped_frames: u64,
    skipped_frames: u64,
    finished: bool,
    on_break: Option<OnBreak>,
}

/// A break the exam allows, in progress.
#[derive(Clone, Copy, Debug)]
struct OnBreak {
    number: u64,
    since_ms: u64,
    max_ms: u64,
}

impl RuleEngine {
    /// An engine running every built-in rule.
    pub fn new(policy: Policy) -> Self {
        Self::with_rules(policy, default_rules())
    }

    /// An engine running the given rules.
    pub fn with_rules(policy: Policy, rules: Vec<Box<dyn Rule>>) -> Self {
        Self {
            policy,
            rules,
            next_seq: 0,
            t_offset: 0,
            resumed: false,
            first_t: None,
            last_t: 0,
            frames: 0,
            dropped_frames: 0,
            skipped_frames: 0,
            finished: false,
            on_break: None,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Number of events emitted so far (the next `seq`).
    pub fn events_emitted(&self) -> u64 {
        self.next_seq
    }

    /// Session time of the last observed frame, ms.
    pub fn session_time_ms(&self) -> u64 {
        self.last_t
    }

    /// Frames that the source had to drop before analysis; reported at the end.
    pub fn add_dropped_frames(&mut self, n: u64) {
        self.dropped_frames += n;
    }

    /// Counts frames the pipeline passed over on purpose (analysis rate
    /// cap), for `session_ended`.
    pub fn add_skipped_frames(&mut self, n: u64) {
        self.skipped_frames += n;
    }

    /// An engine that carries on a session an earlier run left unfinished
    /// (the client crashed or was restarted): events continue at `next_seq`
    /// and media time continues from `after_t_ms`. Call
    /// [`resume_start`](Self::resume_start) instead of [`start`](Self::start).
    pub fn resuming(policy: Policy, next_seq: u64, after_t_ms: u64) -> Self {
        let mut engine = Self::new(policy);
        engine.next_seq = next_seq;
        engine.t_offset = after_t_ms;
        engine.last_t = after_t_ms;
        engine.resumed = true;
        engine
    }

    /// Emits `session_resumed`, the first event of a resumed run.
    fn resume_start(&mut self) -> Vec<Event> {
        let data = json!({
            "after_seq": self.next_seq.checked_sub(1),
            "after_t_ms": self.t_offset,
            "policy": serde_json::to_value(&self.policy).expect("policy serialises"),
        });
        let t = self.t_offset;
        vec![self.event(t, EventKind::SessionResumed, into_map(data))]
    }

    /// Emits an event that did not come from a rule (e.g. `clip_saved`), at
    /// the session time of the last observed frame.
    ///
    /// `break_started` (data `number`, `max_s`) starts a break: the rules
    /// that rest on breaks (presence, multiple faces) see no frames until
    /// `break_ended`, which gets its `duration_ms` here, and they start
    /// afresh after it. A break that runs past `max_s` raises
    /// `break_overrun` on the next frame and ends.
    pub fn note(&mut self, kind: EventKind, mut data: Map<String, Value>) -> Event {
        let t = self.last_t;
        match kind {
            EventKind::BreakStarted => {
                let max_s = data.get("max_s").and_then(Value::as_f64).unwrap_or(0.0);
                self.on_break = Some(OnBreak {
                    number: data.get("number").and_then(Value::as_u64).unwrap_or(0),
                    since_ms: t,
                    max_ms: (max_s.clamp(0.0, 86_400.0) * 1000.0) as u64,
                });
            }
            EventKind::BreakEnded => {
                if let Some(b) = self.end_break() {
                    data.insert("duration_ms".into(), json!(t.saturating_sub(b.since_ms)));
                }
            }
            _ => {}
        }
        self.event(t, kind, data)
    }

    /// Whether a break is in progress.
    pub fn on_break(&self) -> bool {
        self.on_break.is_some()
    }

    fn end_break(&mut self) -> Option<OnBreak> {
        let b = self.on_break.take()?;
        for rule in &mut self.rules {
            if rule.rests_on_break() {
                rule.reset();
            }
        }
        Some(b)
    }

    /// Emits `session_started` (or `session_resumed` for an engine made by
    /// [`resuming`](Self::resuming)).
    pub fn start(&mut self) -> Vec<Event> {
        if self.resumed {
            return self.resume_start();
        }
        let data = json!({
            "schema": EVENT_SCHEMA_VERSION,
            "policy": serde_json::to_value(&self.policy).expect("policy serialises"),
            "rules": self.rules.iter().map(|r| r.name()).collect::<Vec<_>>(),
        });
        vec![self.event(0, EventKind::SessionStarted, into_map(data))]
    }

    /// Feeds one frame's observation; returns the events it caused.
    pub fn observe(&mut self, obs: &Observation) -> Vec<Event> {
        let first = *self.first_t.get_or_insert(obs.t_ms);
        // Media time never runs backwards for the rules, even if a source
        // stamps a frame out of order.
        let t_ms = (obs.t_ms.saturating_sub(first) + self.t_offset).max(self.last_t);
        self.last_t = t_ms;
        self.frames += 1;
        let facts = FrameFacts {
            t_ms,
            faces: obs
                .faces
                .iter()
                .filter(|f| f64::from(f.score) >= self.policy.min_face_score)
                .count(),
            confident_faces: obs
                .faces
                .iter()
                .filter(|f| f64::from(f.score) >= self.policy.multiple_faces_min_score)
                .count(),
            featureless: self.policy.is_featureless(&obs.scene),
            obs,
        };
        let mut overrun = None;
        if let Some(b) = self.on_break {
            if t_ms.saturating_sub(b.since_ms) > b.max_ms {
                overrun = self.end_break();
            }
        }
        let on_break = self.on_break.is_some();
        let mut out = Emitter::default();
        for rule in &mut self.rules {
            if on_break && rule.rests_on_break() {
                continue;
            }
            rule.observe(&facts, &self.policy, &mut out);
        }
        let mut events: Vec<(EventKind, Map<String, Value>)> = Vec::new();
        if let Some(b) = overrun {
            events.push((
                EventKind::BreakOverrun,
                into_map(json!({ "number": b.number, "max_s": b.max_ms as f64 / 1000.0 })),
            ));
        }
        events.extend(out.into_inner());
        events
            .into_iter()
            .map(|(kind, data)| self.event(t_ms, kind, data))
            .collect()
    }

    /// The camera failed mid-session: emits `camera_lost`.
    pub fn camera_lost(&mut self, error: &str) -> Vec<Event> {
        let data = json!({ "error": error });
        vec![self.event(self.last_t, EventKind::CameraLost, into_map(data))]
    }

    /// Emits `session_ended` once; later calls return nothing.
    pub fn finish(&mut self, reason: EndReason) -> Vec<Event> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let mut data = json!({
            "reason": reason.as_str(),
            "frames": self.frames,
            "duration_ms": self.last_t,
            "dropped_frames": self.dropped_frames,
            "skipped_frames": self.skipped_frames,
        });
        if let EndReason::SourceError(message) = &reason {
            data["error"] = Value::String(message.clone());
        }
        let open: Vec<&str> = self
            .rules
            .iter()
            .flat_map(|r| r.open_conditions())
            .collect();
        data["open_conditions"] = json!(open);
        vec![self.event(self.last_t, EventKind::SessionEnded, into_map(data))]
    }

    fn event(&mut self, t_ms: u64, kind: EventKind, data: Map<String, Value>) -> Event {
        let seq = self.next_seq;
        self.next_seq += 1;
        Event {
            v: EVENT_SCHEMA_VERSION,
            seq,
            t_ms,
            kind,
            severity: kind.severity(),
            data,
            prev: None,
        }
    }
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests;
