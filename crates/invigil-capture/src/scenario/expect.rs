//! What a scenario's run must produce, and the verdict on each.

use invigil_core::{Event, EventKind, Severity};
use serde::Deserialize;

/// Events a scenario must produce.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Event kind to count; or
    #[serde(default)]
    pub kind: Option<EventKind>,
    /// every event of a severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Exactly this many.
    #[serde(default)]
    pub count: Option<u64>,
    /// At least (default 1 when neither `count` nor `max` is given).
    #[serde(default)]
    pub min: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
    /// Window start, session seconds (inclusive).
    #[serde(default)]
    pub after_s: Option<f64>,
    /// Window end, session seconds (inclusive).
    #[serde(default)]
    pub before_s: Option<f64>,
}

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectationResult {
    pub passed: bool,
    /// e.g. `candidate_absent in 5.0..12.0 s: expected 1, got 1`.
    pub message: String,
}

impl Expectation {
    fn describe(&self) -> String {
        let what = match (&self.kind, &self.severity) {
            (Some(k), _) => k.as_str().to_owned(),
            (None, Some(s)) => format!("{} events", s.as_str()),
            (None, None) => "events".to_owned(),
        };
        let window = match (self.after_s, self.before_s) {
            (None, None) => String::new(),
            (a, b) => format!(
                " in {}..{} s",
                a.map_or("start".into(), |a| a.to_string()),
                b.map_or("end".into(), |b| b.to_string())
            ),
        };
        format!("{what}{window}")
    }

    fn bounds(&self) -> (u64, u64) {
        match (self.count, self.min, self.max) {
            (Some(c), _, _) => (c, c),
            (None, None, None) => (1, u64::MAX),
            (None, min, max) => (min.unwrap_or(0), max.unwrap_or(u64::MAX)),
        }
    }

    /// Checks this expectation against a run's events.
    pub fn check(&self, events: &[Event]) -> ExpectationResult {
        let lo_ms = self.after_s.map_or(0, |s| (s * 1000.0).round() as u64);
        let hi_ms = self
            .before_s
            .map_or(u64::MAX, |s| (s * 1000.0).round() as u64);
        let got = events
            .iter()
            .filter(|e| self.kind.is_none_or(|k| e.kind == k))
            .filter(|e| self.severity.is_none_or(|s| e.severity == s))
            .filter(|e| (lo_ms..=hi_ms).contains(&e.t_ms))
            .count() as u64;
        let (lo, hi) = self.bounds();
        let expected = if lo == hi {
            format!("{lo}")
        } else if hi == u64::MAX {
            format!("at least {lo}")
        } else {
            format!("{lo} to {hi}")
        };
        ExpectationResult {
            passed: (lo..=hi).contains(&got),
            message: format!("{}: expected {expected}, got {got}", self.describe()),
        }
    }
}
