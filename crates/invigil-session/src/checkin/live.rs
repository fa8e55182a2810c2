//! The check-in's liveness step: the head-turn challenge of
//! `invigil_vision::checkin::liveness`, started when the step is shown,
//! fed the main face of every judged frame, retried as often as the
//! candidate likes, and tied to the face photo: the face looking at the
//! camera before and after the turns must be the face in the photo.

use std::hash::BuildHasher;

use invigil_core::Face;
use invigil_vision::checkin::liveness::{HeadTurnChallenge, Liveness, LivenessMeasures, Turn};
use invigil_vision::identity::SAME_PERSON_MIN_SIMILARITY;
use serde::Serialize;

/// What the check-in screen shows of the head-turn check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LivenessView {
    /// `facing` (look at the camera), `turning`, `returning` (back to the
    /// camera), `passed`, `failed` (try again), or `idle` (not started).
    pub state: String,
    /// What the candidate is asked to do now.
    pub instruction: String,
    /// The way the head is asked to turn now (`left` or `right`, the
    /// candidate's own).
    #[cfg_attr(feature = "ts", ts(type = "\"left\" | \"right\" | null"))]
    pub turn: Option<Turn>,
    /// Turns made so far, of 2.
    pub done: u32,
    /// Attempts started, this one included.
    pub attempts: u32,
    pub passed: bool,
    /// Why the last attempt did not pass.
    pub failure: Option<String>,
}

/// The head-turn check's result as `checkin_completed.liveness` records it
/// (docs/identity.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivenessResult {
    pub passed: bool,
    pub attempts: u32,
    /// The order the turns were asked in, the largest offset reached each
    /// way and the frontal pose (nose offset in eye distances), and the
    /// time the passing attempt took.
    #[serde(flatten)]
    pub measures: Option<LivenessMeasures>,
    /// The lowest similarity of the face looking at the camera (before and
    /// after the turns) to the face photo; none without a face photo.
    pub similarity: Option<f32>,
    /// Why the last attempt failed, when none passed.
    pub failure: Option<String>,
}

/// Why a frame's face is to be compared with the face photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compare {
    /// Looking at the camera before the first turn.
    Start,
    /// Back at the camera after the last turn: the attempt passes if it
    /// matches.
    End,
}

/// The liveness step's state across attempts.
#[derive(Debug, Default)]
pub(super) struct LivenessCheck {
    challenge: Option<HeadTurnChallenge>,
    attempts: u32,
    /// The passing attempt, once its faces matched the face photo.
    passed: Option<(LivenessMeasures, Option<f32>)>,
    /// The challenge passed; waiting for its last face's comparison.
    ending: Option<LivenessMeasures>,
    similarity: Option<f32>,
    failure: Option<String>,
}

impl LivenessCheck {
    /// Starts an attempt unless one is running or one passed.
    pub(super) fn start(&mut self) {
        let running = self
            .challenge
            .as_ref()
            .is_some_and(|c| !matches!(c.state(), Liveness::Failed { .. }));
        if self.passed.is_some() || running {
            return;
        }
        self.attempts += 1;
        // The order of the turns is drawn at random for every attempt, so
        // a recording made for one cannot pass another.
        let seed = std::collections::hash_map::RandomState::new().hash_one(self.attempts);
        self.challenge = Some(HeadTurnChallenge::new(seed));
        self.ending = None;
        self.similarity = None;
    }

    /// The face photo was retaken: a passed check was tied to the old one.
    pub(super) fn forget(&mut self) {
        self.passed = None;
        self.challenge = None;
        self.ending = None;
    }

    pub(super) fn passed(&self) -> bool {
        self.passed.is_some()
    }

    /// Feeds one judged frame's faces; says when the main face is to be
    /// compared with the face photo.
    pub(super) fn observe(&mut self, t_ms: u64, faces: &[Face]) -> Option<Compare> {
        let challenge = self.challenge.as_mut()?;
        if self.ending.is_some() {
            return None;
        }
        let before = challenge.state().clone();
        // Someone else in view, or nobody: the turn does not count.
        let main = match faces {
            [one] => Some(one),
            _ => None,
        };
        match challenge.observe(t_ms, main).clone() {
            Liveness::Failed { reason } if !matches!(before, Liveness::Failed { .. }) => {
                self.failure = Some(reason);
                None
            }
            Liveness::Turning { done: 0, .. } if before == Liveness::Facing => Some(Compare::Start),
            Liveness::Passed(m) => {
                self.ending = Some(m);
                Some(Compare::End)
            }
            _ => None,
        }
    }

    /// The comparison asked for by [`observe`](Self::observe): `None` when
    /// there is no face photo to compare with, or this face could not be
    /// embedded (then only the turns count).
    pub(super) fn compared(&mut self, at: Compare, similarity: Option<f32>) {
        if let Some(s) = similarity {
            self.similarity = Some(self.similarity.map_or(s, |m: f32| m.min(s)));
            if s < SAME_PERSON_MIN_SIMILARITY {
                self.challenge = None;
                self.ending = None;
                self.failure = Some(format!(
                    "the face turning did not look like the face photo (similarity {s:.2})"
                ));
                return;
            }
        }
        if at == Compare::End {
            if let Some(m) = self.ending.take() {
                self.passed = Some((m, self.similarity));
                self.failure = None;
            }
        }
    }

    pub(super) fn view(&self) -> LivenessView {
        let state = match (&self.passed, &self.challenge, &self.ending) {
            (Some(_), ..) => None,
            (None, Some(c), None) => Some(c.state().clone()),
            // Passed the turns; comparing the last face.
            (None, Some(_), Some(_)) => Some(Liveness::Facing),
            (None, None, _) => None,
        };
        let failed = self.passed.is_none()
            && self.failure.is_some()
            && state
                .as_ref()
                .is_none_or(|s| matches!(s, Liveness::Failed { .. }));
        let (name, instruction, turn, done) = match (&self.passed, state, failed) {
            (Some(_), ..) => ("passed", "Done: you can go on.".to_owned(), None, 2),
            (None, _, true) => (
                "failed",
                format!(
                    "That did not work ({}). Look straight at the camera and try again.",
                    self.failure.as_deref().unwrap_or("no turn seen")
                ),
                None,
                0,
            ),
            (None, Some(Liveness::Facing), _) => (
                "facing",
                "Look straight at the camera, alone in the picture.".to_owned(),
                None,
                0,
            ),
            (None, Some(Liveness::Turning { turn, done }), _) => {
                ("turning", turn.words().to_owned(), Some(turn), done)
            }
            (None, Some(Liveness::Returning { turn, done }), _) => (
                "returning",
                "Now look back at the camera.".to_owned(),
                Some(turn),
                done,
            ),
            _ => ("idle", "Starting…".to_owned(), None, 0),
        };
        LivenessView {
            state: name.to_owned(),
            instruction,
            turn,
            done: done as u32,
            attempts: self.attempts,
            passed: self.passed.is_some(),
            failure: if self.passed.is_some() {
                None
            } else {
                self.failure.clone()
            },
        }
    }

    pub(super) fn result(&self) -> LivenessResult {
        LivenessResult {
            passed: self.passed.is_some(),
            attempts: self.attempts,
            measures: self.passed.as_ref().map(|(m, _)| m.clone()),
            similarity: self
                .passed
                .as_ref()
                .map_or(self.similarity, |(_, s)| *s)
                .map(|s| (s * 1e4).round() / 1e4),
            failure: if self.passed.is_some() {
                None
            } else {
                self.failure.clone()
            },
        }
    }
}
