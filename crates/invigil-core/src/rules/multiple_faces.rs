//! One person only: `multiple_faces`, `multiple_faces_cleared`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule};
use crate::policy::ms;
use crate::{Episode, EpisodeStep, EventKind, Policy};

/// Two or more faces in view.
#[derive(Default)]
pub struct MultipleFaces {
    episode: Episode,
    most_faces: usize,
    flagged: bool,
}

impl Rule for MultipleFaces {
    fn name(&self) -> &'static str {
        "multiple_faces"
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let several = !frame.featureless && frame.confident_faces >= 2;
        let clear_ms = if self.flagged {
            ms(policy.clear_confirm_s)
        } else {
            ms(policy.debounce_s)
        };
        match self.episode.step(frame.t_ms, several, clear_ms) {
            EpisodeStep::Active { elapsed_ms } => {
                self.most_faces = self.most_faces.max(frame.confident_faces);
                if !self.flagged && elapsed_ms >= ms(policy.multiple_faces_flag_s) {
                    self.flagged = true;
                    out.emit(
                        EventKind::MultipleFaces,
                        json!({ "faces": self.most_faces, "seen_ms": elapsed_ms }),
                    );
                }
            }
            EpisodeStep::Ended {
                started_ms,
                duration_ms,
            } => {
                if self.flagged {
                    out.emit(
                        EventKind::MultipleFacesCleared,
                        json!({
                            "duration_ms": duration_ms,
                            "since_ms": started_ms,
                            "max_faces": self.most_faces,
                        }),
                    );
                }
                self.flagged = false;
                self.most_faces = 0;
            }
            EpisodeStep::Idle | EpisodeStep::Interrupted => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        if self.flagged {
            vec!["multiple_faces"]
        } else {
            Vec::new()
        }
    }
}
