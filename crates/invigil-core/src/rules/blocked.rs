//! The camera is not covered: `camera_blocked`, `camera_unblocked`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule};
use crate::policy::ms;
use crate::{Episode, EpisodeStep, EventKind, Policy};

/// A dark or featureless frame (a covered lens, a closed lid).
///
/// A dim but visible room keeps its edges and contrast, so it is not blocked;
/// see the `blocked_max_*` policy keys.
#[derive(Default)]
pub struct CameraBlocked {
    episode: Episode,
    flagged: bool,
}

impl Rule for CameraBlocked {
    fn name(&self) -> &'static str {
        "camera_blocked"
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let clear_ms = if self.flagged {
            ms(policy.clear_confirm_s)
        } else {
            ms(policy.debounce_s)
        };
        match self.episode.step(frame.t_ms, frame.featureless, clear_ms) {
            EpisodeStep::Active { elapsed_ms } => {
                if !self.flagged && elapsed_ms >= ms(policy.blocked_flag_s) {
                    self.flagged = true;
                    let scene = &frame.obs.scene;
                    out.emit(
                        EventKind::CameraBlocked,
                        json!({
                            "blocked_ms": elapsed_ms,
                            "luma": round1(scene.luma),
                            "contrast": round1(scene.contrast),
                            "detail": round1(scene.detail),
                        }),
                    );
                }
            }
            EpisodeStep::Ended {
                started_ms,
                duration_ms,
            } => {
                if self.flagged {
                    out.emit(
                        EventKind::CameraUnblocked,
                        json!({ "duration_ms": duration_ms, "since_ms": started_ms }),
                    );
                }
                self.flagged = false;
            }
            EpisodeStep::Idle | EpisodeStep::Interrupted => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        if self.flagged {
            vec!["camera_blocked"]
        } else {
            Vec::new()
        }
    }
}

/// Rounds to one decimal for readable event data.
pub(crate) fn round1(x: f32) -> f64 {
    (f64::from(x) * 10.0).round() / 10.0
}
