//! The camera is not covered: `camera_blocked`, `camera_unblocked`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, Policy};

/// A dark or featureless frame (a covered lens, a closed lid).
///
/// A dim but visible room keeps its edges and contrast, so it is not blocked;
/// see the `blocked_max_*` policy keys.
#[derive(Default)]
pub struct CameraBlocked {
    staged: Staged,
}

impl Rule for CameraBlocked {
    fn name(&self) -> &'static str {
        "camera_blocked"
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let flag_at = [ms(policy.blocked_flag_s)];
        let (debounce, confirm) = (ms(policy.debounce_s), ms(policy.clear_confirm_s));
        match self
            .staged
            .step(frame.t_ms, frame.featureless, &flag_at, debounce, confirm)
        {
            Stage::Active { elapsed_ms, newly } if !newly.is_empty() => {
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
            Stage::Ended {
                started_ms,
                duration_ms,
                reached: 1..,
            } => out.emit(
                EventKind::CameraUnblocked,
                json!({ "duration_ms": duration_ms, "since_ms": started_ms }),
            ),
            _ => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.staged.reached() >= 1, "camera_blocked")
    }
}

/// Rounds to one decimal for readable event data.
pub(crate) fn round1(x: f32) -> f64 {
    (f64::from(x) * 10.0).round() / 10.0
}
