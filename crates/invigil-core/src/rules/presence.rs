//! The candidate stays in camera view: `absence_warning`, `candidate_absent`,
//! `candidate_returned`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule};
use crate::policy::ms;
use crate::{Episode, EpisodeStep, EventKind, Policy};

/// Absence of any face, with a warning before the flag.
///
/// While the frame is featureless (covered lens), presence cannot be judged:
/// the blocked rule reports it and any absence in progress is forgotten, so a
/// covered camera is never reported as an absent candidate.
#[derive(Default)]
pub struct Presence {
    absence: Episode,
    warned: bool,
    flagged: bool,
}

impl Rule for Presence {
    fn name(&self) -> &'static str {
        "presence"
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        if frame.featureless {
            self.absence.reset();
            self.warned = false;
            self.flagged = false;
            return;
        }
        let absent = frame.faces == 0;
        let clear_ms = if self.warned || self.flagged {
            ms(policy.return_confirm_s)
        } else {
            ms(policy.debounce_s)
        };
        match self.absence.step(frame.t_ms, absent, clear_ms) {
            EpisodeStep::Active { elapsed_ms } => {
                let flag_ms = ms(policy.absence_flag_s);
                if !self.warned && elapsed_ms >= ms(policy.absence_warn_s) {
                    self.warned = true;
                    out.emit(
                        EventKind::AbsenceWarning,
                        json!({
                            "absent_ms": elapsed_ms,
                            "flag_in_ms": flag_ms.saturating_sub(elapsed_ms),
                        }),
                    );
                }
                if !self.flagged && elapsed_ms >= flag_ms {
                    self.flagged = true;
                    out.emit(
                        EventKind::CandidateAbsent,
                        json!({ "absent_ms": elapsed_ms }),
                    );
                }
            }
            EpisodeStep::Ended {
                started_ms,
                duration_ms,
            } => {
                if self.warned || self.flagged {
                    out.emit(
                        EventKind::CandidateReturned,
                        json!({
                            "absence_ms": duration_ms,
                            "absent_since_ms": started_ms,
                            "flagged": self.flagged,
                        }),
                    );
                }
                self.warned = false;
                self.flagged = false;
            }
            EpisodeStep::Idle | EpisodeStep::Interrupted => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        if self.flagged {
            vec!["candidate_absent"]
        } else {
            Vec::new()
        }
    }
}
