//! The same person all exam long: `identity_mismatch`, `identity_restored`
//! (docs/identity.md).
//!
//! The rule does not look at faces itself: the analyzer compares the face
//! in view with the check-in's reference face now and then and puts the
//! similarity in [`Observation::identity`](crate::Observation::identity).
//! Between comparisons the last verdict stands. Without a reference there
//! are no comparisons and the rule never says anything.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule};
use crate::policy::ms;
use crate::{EventKind, Policy};

/// No face for at least this long and then a face again is a return: the
/// analyzer compares at once, and a mismatch right after it is flagged
/// after `identity_return_flag_s` instead of `identity_flag_s`.
pub const RETURN_AFTER_MS: u64 = 1000;

/// While a mismatch is unresolved, the analyzer compares this often.
pub const MISMATCH_RECHECK_MS: u64 = 1000;

#[derive(Default)]
pub struct Identity {
    /// Media time of the first comparison of the current run of
    /// mismatching ones.
    low_since: Option<u64>,
    /// The run began right after a return (the shorter wait applies).
    low_after_return: bool,
    /// The last comparison of the run.
    last_low: f32,
    /// A flag is open: when it was raised.
    flagged_at: Option<u64>,
    /// While flagged: the first matching comparison since, and its
    /// similarity.
    match_since: Option<(u64, f32)>,
    /// Media time since which no face is in view.
    absent_since: Option<u64>,
    /// A face came back after an absence and has not been compared yet.
    returned: bool,
}

impl Rule for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    /// Others may pass in front of the camera during a break; the first
    /// face after it is compared at once (a return).
    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        let flagged_at = self.flagged_at;
        *self = Self::default();
        // An open flag stays open over a break: only a matching face
        // clears it. The comparison right after the break decides soon.
        self.flagged_at = flagged_at;
        self.absent_since = Some(0);
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let t = frame.t_ms;
        if frame.faces == 0 {
            // Nobody in view, or a covered lens: nothing to compare; an
            // unconfirmed mismatch is forgotten after a real absence (the
            // person who comes back is compared afresh, at once).
            let since = *self.absent_since.get_or_insert(t);
            if t.saturating_sub(since) >= RETURN_AFTER_MS {
                self.low_since = None;
            }
            return;
        }
        if let Some(since) = self.absent_since.take() {
            if t.saturating_sub(since) >= RETURN_AFTER_MS {
                self.returned = true;
            }
        }
        let threshold = policy.identity_min_similarity as f32;
        if let Some(similarity) = frame.obs.identity {
            let after_return = std::mem::take(&mut self.returned);
            if similarity < threshold {
                self.match_since = None;
                self.last_low = similarity;
                if self.low_since.is_none() {
                    self.low_since = Some(t);
                    // The first comparison after a return: the person who
                    // sat down has not matched since.
                    self.low_after_return = after_return;
                }
            } else {
                self.low_since = None;
                if self.flagged_at.is_some() && self.match_since.is_none() {
                    self.match_since = Some((t, similarity));
                }
            }
        }
        if let (None, Some(since)) = (self.flagged_at, self.low_since) {
            let wait = if self.low_after_return {
                policy.identity_return_flag_s
            } else {
                policy.identity_flag_s
            };
            let seen_ms = t.saturating_sub(since);
            if seen_ms >= ms(wait) {
                self.flagged_at = Some(t);
                out.emit(
                    EventKind::IdentityMismatch,
                    json!({
                        "similarity": round4(self.last_low),
                        "threshold": round4(threshold),
                        "seen_ms": seen_ms,
                        "after_return": self.low_after_return,
                    }),
                );
            }
        }
        if let (Some(flagged_at), Some((since, similarity))) = (self.flagged_at, self.match_since) {
            if t.saturating_sub(since) >= ms(policy.return_confirm_s) {
                out.emit(
                    EventKind::IdentityRestored,
                    json!({
                        "similarity": round4(similarity),
                        "mismatch_ms": t.saturating_sub(flagged_at),
                    }),
                );
                self.flagged_at = None;
                self.match_since = None;
            }
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.flagged_at.is_some(), "identity_mismatch")
    }
}

/// Four decimals: enough for a similarity, short in the event.
fn round4(x: f32) -> f64 {
    (f64::from(x) * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use crate::{EndReason, Face, Observation, Policy, RuleEngine, SceneStats};

    /// Plays 10 frames a second; `at(t_ms)` gives (faces in view, the
    /// similarity if the analyzer compared on this frame). Returns (kind,
    /// t_ms, data) of every event but the first and last.
    fn play(
        seconds: u64,
        at: impl Fn(u64) -> (usize, Option<f32>),
    ) -> Vec<(String, u64, serde_json::Value)> {
        let mut engine = RuleEngine::new(Policy::default());
        engine.start();
        let mut events = Vec::new();
        for n in 0..seconds * 10 {
            let t = n * 100;
            let (faces, identity) = at(t);
            let face = Face {
                score: 0.9,
                bbox: [200.0, 100.0, 160.0, 160.0],
                keypoints: [[0.0; 2]; 6],
            };
            let mut obs = Observation::new(t, vec![face; faces], SceneStats::test_pattern(n));
            obs.identity = identity;
            events.extend(engine.observe(&obs));
        }
        let end = engine.finish(EndReason::EndOfStream);
        events.extend(end);
        events
            .into_iter()
            .filter(|e| {
                e.kind.as_str().starts_with("identity") || e.kind.as_str() == "session_ended"
            })
            .map(|e| {
                (
                    e.kind.as_str().to_owned(),
                    e.t_ms,
                    serde_json::Value::Object(e.data),
                )
            })
            .collect()
    }

    /// Compared every 10 s while matching, every second while not.
    fn schedule(t: u64, low: bool) -> bool {
        if low {
            t % 1000 == 0
        } else {
            t % 10_000 == 0
        }
    }

    #[test]
    fn a_replacement_is_flagged_and_the_return_of_the_candidate_restores() {
        // The candidate until 20 s, someone else 20-40 s, the candidate again.
        let ev = play(60, |t| {
            let other = (20_000..40_000).contains(&t);
            let due = schedule(t, other) || t == 20_000 || t == 40_000;
            (1, due.then_some(if other { 0.1 } else { 0.7 }))
        });
        assert_eq!(ev[0].0, "identity_mismatch", "{ev:?}");
        assert_eq!(ev[0].1, 25_000);
        assert_eq!(ev[0].2["seen_ms"], 5000);
        assert_eq!(ev[0].2["after_return"], false);
        assert_eq!(ev[0].2["threshold"], 0.35);
        assert_eq!(ev[1].0, "identity_restored");
        assert_eq!(ev[1].1, 41_000, "matched for return_confirm_s");
        assert_eq!(ev[2].2["open_conditions"], serde_json::json!([]));
    }

    #[test]
    fn after_an_absence_the_wait_is_shorter_and_an_open_flag_is_reported() {
        // The candidate leaves at 10 s; someone else sits down at 20 s.
        let ev = play(40, |t| match t {
            0..10_000 => (1, (t == 0).then_some(0.8)),
            10_000..20_000 => (0, None),
            _ => (1, (t % 1000 == 0).then_some(0.2)),
        });
        assert_eq!(ev[0].0, "identity_mismatch", "{ev:?}");
        assert_eq!(ev[0].1, 22_000, "flagged 2 s after the return");
        assert_eq!(ev[0].2["after_return"], true);
        assert_eq!(ev[1].0, "session_ended");
        assert_eq!(
            ev[1].2["open_conditions"],
            serde_json::json!(["identity_mismatch"])
        );
    }

    #[test]
    fn a_single_low_comparison_or_none_at_all_is_not_a_flag() {
        // One bad comparison (a turned head) between good ones.
        let ev = play(60, |t| {
            (
                1,
                match t {
                    15_000 => Some(0.1),
                    16_000 => Some(0.6),
                    t => schedule(t, false).then_some(0.6),
                },
            )
        });
        assert_eq!(ev.len(), 1, "{ev:?}");
        // No reference: no comparisons, nothing said.
        let ev = play(30, |_| (1, None));
        assert_eq!(ev.len(), 1, "{ev:?}");
    }

    #[test]
    fn a_mismatch_before_an_absence_is_forgotten() {
        // Two low comparisons, then the candidate leaves for 5 s and comes
        // back matching.
        let ev = play(30, |t| match t {
            10_000 | 11_000 => (1, Some(0.2)),
            12_000..17_000 => (0, None),
            17_000 => (1, Some(0.7)),
            _ => (1, None),
        });
        assert_eq!(ev.len(), 1, "{ev:?}");
    }
}
