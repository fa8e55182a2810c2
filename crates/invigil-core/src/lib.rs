//! invigil-core: the domain types, wire events and the exam-rule engine; pure, no I/O.
//!
//! Frames come in with media timestamps, an [`Analyzer`] turns each one into an
//! [`Observation`], and the [`RuleEngine`] turns observations into [`Event`]s.
//! Time is read only from frames, so every run can be replayed exactly.
//!
//! ```
//! use invigil_core::{Observation, Policy, RuleEngine, SceneStats};
//!
//! let mut engine = RuleEngine::new(Policy::default());
//! let mut events = engine.start();
//! // Ten seconds of an empty but well-lit room, 10 frames a second.
//! for i in 0..=100u64 {
//!     let obs = Observation::new(i * 100, Vec::new(), SceneStats::test_pattern(i));
//!     events.extend(engine.observe(&obs));
//! }
//! events.extend(engine.finish(invigil_core::EndReason::EndOfStream));
//! let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
//! assert_eq!(
//!     kinds,
//!     ["session_started", "absence_warning", "candidate_absent", "session_ended"]
//! );
//! ```

pub mod chain;
pub mod clip;
mod engine;
mod episode;
mod event;
mod frame;
mod observation;
mod policy;
pub mod protocol;
pub mod rules;
pub mod sync;

pub use engine::{EndReason, RuleEngine};
pub use episode::{Episode, EpisodeStep};
pub use event::{Event, EventKind, Severity, EVENT_SCHEMA_VERSION};
pub use frame::{Frame, FrameError, MAX_T_MS};
pub use observation::{
    Analyzer, Face, Fingerprint, HeadPose, ObjectLabel, Observation, SceneStats, SeenObject,
};
pub use policy::{Policy, PolicyError};
pub use rules::{Emitter, FrameFacts, Rule};
