//! The camera is live: `camera_frozen`, `camera_unfrozen`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, Fingerprint, Policy};

/// Frames that do not change: a still image fed through a virtual camera, or
/// a stuck driver. Live sensors always carry some noise, so even a candidate
/// sitting perfectly still changes the picture a little every frame.
///
/// Featureless frames are the blocked rule's business: a covered lens gives
/// identical black frames, which are not also reported as frozen.
#[derive(Default)]
pub struct CameraFrozen {
    previous: Option<Fingerprint>,
    staged: Staged,
}

impl Rule for CameraFrozen {
    fn name(&self) -> &'static str {
        "camera_frozen"
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        let fingerprint = &frame.obs.scene.fingerprint;
        let change = self
            .previous
            .as_ref()
            .and_then(|prev| prev.max_difference(fingerprint));
        self.previous = Some(fingerprint.clone());
        let Some(change) = change else {
            return;
        };
        let unchanged = !frame.featureless && f64::from(change) <= policy.frozen_max_change;
        // Until flagged, any changed frame ends the episode (no debounce): a
        // camera that repeats every other frame (low light, a slow USB bus)
        // is live.
        let flag_at = [ms(policy.frozen_flag_s)];
        match self.staged.step(
            frame.t_ms,
            unchanged,
            &flag_at,
            0,
            ms(policy.clear_confirm_s),
        ) {
            Stage::Active { elapsed_ms, newly } if !newly.is_empty() => {
                out.emit(EventKind::CameraFrozen, json!({ "frozen_ms": elapsed_ms }));
            }
            Stage::Ended {
                started_ms,
                duration_ms,
                reached: 1..,
            } => out.emit(
                EventKind::CameraUnfrozen,
                json!({ "duration_ms": duration_ms, "since_ms": started_ms }),
            ),
            _ => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.staged.reached() >= 1, "camera_frozen")
    }
}
