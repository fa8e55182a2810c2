//! The exam rules: one module per rule, each a small state machine.
//!
//! Adding a rule: write a module with a type implementing [`Rule`] (most
//! are a [`Staged`] episode and the events of its stages and end), and list
//! it in [`default_rules`].

use serde_json::{Map, Value};

use crate::{EventKind, Observation, Policy};

mod blocked;
#[cfg(test)]
mod conduct_tests;
mod frozen;
mod identity;
mod looking_away;
mod multiple_faces;
mod objects;
mod presence;
mod staged;
mod static_face;

pub use blocked::CameraBlocked;
pub use frozen::CameraFrozen;
pub use identity::{Identity, MISMATCH_RECHECK_MS, RETURN_AFTER_MS};
pub use looking_away::{Direction, LookingAway, POSE_STALE_MS};
pub use multiple_faces::MultipleFaces;
pub use objects::Objects;
pub use presence::Presence;
pub use staged::{Stage, Staged};
pub use static_face::{
    face_shape, shape_change, ShapeBlock, ShapeBlocks, StaticFace, MOTION_REFERENCE_EYE_PX,
    SHAPE_BLOCK_MS,
};

/// What the rules know about one frame.
pub struct FrameFacts<'a> {
    /// Session media time, ms from the first frame.
    pub t_ms: u64,
    /// Faces at or above the policy's `min_face_score`.
    pub faces: usize,
    /// Faces at or above the policy's `multiple_faces_min_score`.
    pub confident_faces: usize,
    /// The frame is too dark or flat to see anything (a covered lens).
    pub featureless: bool,
    pub obs: &'a Observation,
}

/// Collects the events rules raise on one frame.
#[derive(Default)]
pub struct Emitter {
    events: Vec<(EventKind, Map<String, Value>)>,
}

impl Emitter {
    /// Raises an event; `data` must be a JSON object (anything else is
    /// replaced by an empty object).
    pub fn emit(&mut self, kind: EventKind, data: Value) {
        let data = match data {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.events.push((kind, data));
    }

    pub(crate) fn into_inner(self) -> Vec<(EventKind, Map<String, Value>)> {
        self.events
    }
}

/// One exam rule: fed every frame in order, raises events through the
/// emitter. Rules must be deterministic functions of what they are fed.
pub trait Rule: Send {
    /// Short stable name, listed in `session_started`.
    fn name(&self) -> &'static str;

    /// Feeds one frame.
    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter);

    /// Flags raised and not cleared yet (e.g. `candidate_absent`), reported in
    /// `session_ended`.
    fn open_conditions(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Whether the rule rests during a break the exam allows (the
    /// candidate may leave the desk, others may pass through the room).
    fn rests_on_break(&self) -> bool {
        false
    }

    /// Forgets what the rule saw (a break ended: it starts afresh).
    fn reset(&mut self) {}
}

/// Every built-in rule, in the order they run on each frame.
pub fn default_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(CameraBlocked::default()),
        Box::new(CameraFrozen::default()),
        Box::new(Presence::default()),
        Box::new(MultipleFaces::default()),
        Box::new(Identity::default()),
        Box::new(StaticFace::default()),
        Box::new(LookingAway::default()),
        Box::new(Objects::default()),
    ]
}

/// `open_conditions` of a rule with one flag.
fn open_if(open: bool, condition: &'static str) -> Vec<&'static str> {
    if open {
        vec![condition]
    } else {
        Vec::new()
    }
}
