//! The candidate stays in camera view: `absence_warning`, `candidate_absent`,
//! `candidate_returned`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, Policy};

/// Stages of an absence.
const WARNED: usize = 1;
const FLAGGED: usize = 2;

/// Absence of any face, with a warning before the flag.
///
/// While the frame is featureless (covered lens), presence cannot be judged:
/// the blocked rule reports it and any absence in progress is forgotten, so a
/// covered camera is never reported as an absent candidate.
#[derive(Default)]
pub struct Presence {
    absence: Staged,
}

impl Rule for Presence {
    fn name(&self) -> &'static str {
        "presence"
    }

    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        if frame.featureless {
            self.absence.reset();
            return;
        }
        let flag_ms = ms(policy.absence_flag_s);
        let stages = [ms(policy.absence_warn_s), flag_ms];
        let (debounce, confirm) = (ms(policy.debounce_s), ms(policy.return_confirm_s));
        match self
            .absence
            .step(frame.t_ms, frame.faces == 0, &stages, debounce, confirm)
        {
            Stage::Active { elapsed_ms, newly } => {
                for stage in newly {
                    match stage + 1 {
                        WARNED => out.emit(
                            EventKind::AbsenceWarning,
                            json!({
                                "absent_ms": elapsed_ms,
                                "flag_in_ms": flag_ms.saturating_sub(elapsed_ms),
                            }),
                        ),
                        _ => out.emit(
                            EventKind::CandidateAbsent,
                            json!({ "absent_ms": elapsed_ms }),
                        ),
                    }
                }
            }
            Stage::Ended {
                started_ms,
                duration_ms,
                reached: reached @ WARNED..,
            } => out.emit(
                EventKind::CandidateReturned,
                json!({
                    "absence_ms": duration_ms,
                    "absent_since_ms": started_ms,
                    "flagged": reached >= FLAGGED,
                }),
            ),
            _ => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.absence.reached() >= FLAGGED, "candidate_absent")
    }
}
