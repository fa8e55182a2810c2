//! Hysteresis for conditions that come and go frame by frame.

/// Tracks one episode of a condition (no face, two faces, a dark frame...)
/// across frames, so that a single-frame blip neither starts nor ends it.
///
/// An episode starts at the first frame where the condition holds and ends
/// once the condition has been absent for `clear_ms` without a break. Short
/// interruptions are bridged: the episode keeps its start time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Episode {
    since: Option<u64>,
    gap_since: Option<u64>,
}

/// What one frame did to an episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpisodeStep {
    /// No episode is running.
    Idle,
    /// The condition holds on this frame; it has been running `elapsed_ms`.
    Active { elapsed_ms: u64 },
    /// The condition is missing on this frame but the episode is not over.
    Interrupted,
    /// The episode ended: it ran from `started_ms` for `duration_ms` (up to the
    /// first frame of the gap that ended it).
    Ended { started_ms: u64, duration_ms: u64 },
}

impl Episode {
    /// Feeds one frame at media time `t_ms`.
    pub fn step(&mut self, t_ms: u64, condition: bool, clear_ms: u64) -> EpisodeStep {
        match (self.since, condition) {
            (None, false) => EpisodeStep::Idle,
            (None, true) => {
                self.since = Some(t_ms);
                self.gap_since = None;
                EpisodeStep::Active { elapsed_ms: 0 }
            }
            (Some(since), true) => {
                self.gap_since = None;
                EpisodeStep::Active {
                    elapsed_ms: t_ms.saturating_sub(since),
                }
            }
            (Some(since), false) => {
                let gap_since = *self.gap_since.get_or_insert(t_ms);
                if t_ms.saturating_sub(gap_since) >= clear_ms {
                    self.reset();
                    EpisodeStep::Ended {
                        started_ms: since,
                        duration_ms: gap_since.saturating_sub(since),
                    }
                } else {
                    EpisodeStep::Interrupted
                }
            }
        }
    }

    /// Forgets the running episode without reporting it.
    pub fn reset(&mut self) {
        self.since = None;
        self.gap_since = None;
    }

    /// Start time of the running episode.
    pub fn since(&self) -> Option<u64> {
        self.since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blips_are_bridged_and_gaps_end_it() {
        let mut e = Episode::default();
        assert_eq!(e.step(0, false, 1000), EpisodeStep::Idle);
        assert_eq!(
            e.step(100, true, 1000),
            EpisodeStep::Active { elapsed_ms: 0 }
        );
        assert_eq!(e.step(200, false, 1000), EpisodeStep::Interrupted);
        assert_eq!(
            e.step(300, true, 1000),
            EpisodeStep::Active { elapsed_ms: 200 }
        );
        assert_eq!(e.step(400, false, 1000), EpisodeStep::Interrupted);
        assert_eq!(e.step(1300, false, 1000), EpisodeStep::Interrupted);
        assert_eq!(
            e.step(1400, false, 1000),
            EpisodeStep::Ended {
                started_ms: 100,
                duration_ms: 300
            }
        );
        assert_eq!(e.step(1500, false, 1000), EpisodeStep::Idle);
    }

    #[test]
    fn zero_clear_time_ends_on_first_missing_frame() {
        let mut e = Episode::default();
        e.step(0, true, 0);
        assert!(matches!(e.step(50, false, 0), EpisodeStep::Ended { .. }));
    }
}
