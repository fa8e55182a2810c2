//! One person only: `multiple_faces`, `multiple_faces_cleared`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, Policy};

/// Two or more faces in view.
#[derive(Default)]
pub struct MultipleFaces {
    staged: Staged,
    most_faces: usize,
}

impl Rule for MultipleFaces {
    fn name(&self) -> &'static str {
        "multiple_faces"
    }

    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let several = !frame.featureless && frame.confident_faces >= 2;
        let flag_at = [ms(policy.multiple_faces_flag_s)];
        let (debounce, confirm) = (ms(policy.debounce_s), ms(policy.clear_confirm_s));
        match self
            .staged
            .step(frame.t_ms, several, &flag_at, debounce, confirm)
        {
            Stage::Active { elapsed_ms, newly } => {
                self.most_faces = self.most_faces.max(frame.confident_faces);
                if !newly.is_empty() {
                    out.emit(
                        EventKind::MultipleFaces,
                        json!({ "faces": self.most_faces, "seen_ms": elapsed_ms }),
                    );
                }
            }
            Stage::Ended {
                started_ms,
                duration_ms,
                reached,
            } => {
                if reached > 0 {
                    out.emit(
                        EventKind::MultipleFacesCleared,
                        json!({
                            "duration_ms": duration_ms,
                            "since_ms": started_ms,
                            "max_faces": self.most_faces,
                        }),
                    );
                }
                self.most_faces = 0;
            }
            Stage::Quiet => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.staged.reached() >= 1, "multiple_faces")
    }
}
