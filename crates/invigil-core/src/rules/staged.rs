//! The skeleton most rules share: one condition watched with hysteresis,
//! stages raised once each while an episode runs (a warning, then a flag),
//! and an end reported when an episode that raised anything is over.

use crate::{Episode, EpisodeStep};

/// An [`Episode`] with stages. Before any stage is reached, a gap of
/// `debounce_ms` ends an episode; after, it takes `confirm_ms`, so a flag
/// is cleared only when the condition has really gone.
#[derive(Clone, Debug, Default)]
pub struct Staged {
    episode: Episode,
    reached: usize,
}

/// What one frame did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// No episode, or a gap in one that has not ended it.
    Quiet,
    /// The condition holds, since `elapsed_ms`; the stages in `newly` were
    /// reached on this frame (usually none).
    Active {
        elapsed_ms: u64,
        newly: std::ops::Range<usize>,
    },
    /// An episode ended that had reached `reached` stages (0: nothing was
    /// raised, so nothing needs clearing).
    Ended {
        started_ms: u64,
        duration_ms: u64,
        reached: usize,
    },
}

impl Staged {
    /// Feeds one frame. `stages_ms` are the episode lengths at which each
    /// stage is reached, in increasing order.
    pub fn step(
        &mut self,
        t_ms: u64,
        condition: bool,
        stages_ms: &[u64],
        debounce_ms: u64,
        confirm_ms: u64,
    ) -> Stage {
        let clear_ms = if self.reached > 0 {
            confirm_ms
        } else {
            debounce_ms
        };
        match self.episode.step(t_ms, condition, clear_ms) {
            EpisodeStep::Active { elapsed_ms } => {
                let from = self.reached;
                while stages_ms
                    .get(self.reached)
                    .is_some_and(|&at| elapsed_ms >= at)
                {
                    self.reached += 1;
                }
                Stage::Active {
                    elapsed_ms,
                    newly: from..self.reached,
                }
            }
            EpisodeStep::Ended {
                started_ms,
                duration_ms,
            } => Stage::Ended {
                started_ms,
                duration_ms,
                reached: std::mem::take(&mut self.reached),
            },
            EpisodeStep::Idle | EpisodeStep::Interrupted => Stage::Quiet,
        }
    }

    /// Stages the running episode has reached.
    pub fn reached(&self) -> usize {
        self.reached
    }

    /// Forgets the running episode without reporting it.
    pub fn reset(&mut self) {
        self.episode.reset();
        self.reached = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_reached_once_and_the_end_reports_them() {
        let mut s = Staged::default();
        let stages = [200, 500];
        let step = |s: &mut Staged, t, c| s.step(t, c, &stages, 100, 300);
        assert_eq!(step(&mut s, 0, false), Stage::Quiet);
        assert_eq!(
            step(&mut s, 100, true),
            Stage::Active {
                elapsed_ms: 0,
                newly: 0..0
            }
        );
        // Both stages at once when the frame comes late.
        assert_eq!(
            step(&mut s, 700, true),
            Stage::Active {
                elapsed_ms: 600,
                newly: 0..2
            }
        );
        assert_eq!(s.reached(), 2);
        // Once raised, a gap must last confirm_ms (300), not debounce_ms.
        assert_eq!(step(&mut s, 800, false), Stage::Quiet);
        assert_eq!(step(&mut s, 1000, false), Stage::Quiet);
        assert_eq!(
            step(&mut s, 1100, false),
            Stage::Ended {
                started_ms: 100,
                duration_ms: 700,
                reached: 2
            }
        );
        assert_eq!(s.reached(), 0);
    }

    #[test]
    fn an_episode_below_the_first_stage_ends_after_the_debounce() {
        let mut s = Staged::default();
        s.step(0, true, &[1000], 100, 5000);
        assert_eq!(s.step(50, false, &[1000], 100, 5000), Stage::Quiet);
        assert!(matches!(
            s.step(150, false, &[1000], 100, 5000),
            Stage::Ended { reached: 0, .. }
        ));
    }
}
