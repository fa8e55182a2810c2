//! Scripted webcam scenarios: a timeline of segments built from real
//! photographs and videos, policy overrides, and the events the run must
//! produce. The format is documented in docs/scenarios.md.

mod expect;
mod format;
mod play;

pub use expect::{Expectation, ExpectationResult};
pub use format::{
    DarkSegment, DurationSegment, ImageSegment, LostSegment, Overlay, PathSegment, Scenario,
    Segment,
};
pub use play::ScenarioSource;

#[cfg(test)]
mod tests;
