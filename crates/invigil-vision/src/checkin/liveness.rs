//! Liveness at check-in: the candidate turns the head left and right, in
//! an order drawn at random, measured from the face's keypoints
//! (docs/identity.md).
//!
//! The measure is the nose tip's sideways offset from the middle of the
//! eyes, in eye distances ([`invigil_core::rules::face_shape`]). A real
//! head turning by ~20 degrees moves it by about 0.25. A printed photo or a
//! phone screen cannot: moving, tilting or turning a flat picture changes
//! where and how large the face is, even its width against its height,
//! but the nose stays where it is between the eyes. So the challenge asks
//! for a turn large enough that only a head makes it, back to the front in
//! between, the same face in view throughout.

use invigil_core::rules::face_shape;
use invigil_core::Face;

/// A turn counts from this sideways nose offset (eye distances) away from
/// the candidate's own frontal pose: about 20 degrees.
pub const TURN_MIN: f32 = 0.22;
/// Back to the front: within this of the frontal pose.
pub const FRONT_MAX: f32 = 0.08;
/// Each turn must come within this long of being asked for.
pub const TURN_TIMEOUT_MS: u64 = 10_000;

/// A direction the head turns, the candidate's own left or right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Turn {
    Left,
    Right,
}

impl Turn {
    /// The sign of the nose offset when the head turns this way: the
    /// subject's left eye is keypoint 1, the x axis points to it.
    fn sign(self) -> f32 {
        match self {
            Turn::Left => 1.0,
            Turn::Right => -1.0,
        }
    }

    /// What the candidate is asked.
    pub fn words(self) -> &'static str {
        match self {
            Turn::Left => "Slowly turn your head to your left, then back to the camera.",
            Turn::Right => "Slowly turn your head to your right, then back to the camera.",
        }
    }
}

/// Where a challenge stands.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Liveness {
    /// Looking for the candidate's frontal pose first.
    Facing,
    /// Asked to turn this way (`done` turns finished so far).
    Turning { turn: Turn, done: usize },
    /// Turned, now back to the front.
    Returning { turn: Turn, done: usize },
    /// Both turns made: the measures behind it (for `checkin_completed`).
    Passed(LivenessMeasures),
    /// Not within the time; the challenge can be started again.
    Failed { reason: String },
}

/// What a passed challenge measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LivenessMeasures {
    pub order: [Turn; 2],
    /// Largest offset reached each way, from the frontal pose.
    pub peaks: [f32; 2],
    pub frontal: f32,
    pub duration_ms: u64,
}

/// One head-turn challenge, fed the main face of every judged frame.
#[derive(Clone, Debug)]
pub struct HeadTurnChallenge {
    order: [Turn; 2],
    state: Liveness,
    frontal: Option<f32>,
    started_ms: Option<u64>,
    asked_ms: u64,
    peaks: [f32; 2],
    /// The previous frame's nose offset (`None`: no face in it).
    last: Option<f32>,
}

impl HeadTurnChallenge {
    /// A challenge whose order comes from `seed` (draw it at random).
    pub fn new(seed: u64) -> Self {
        let order = if seed % 2 == 0 {
            [Turn::Left, Turn::Right]
        } else {
            [Turn::Right, Turn::Left]
        };
        Self {
            order,
            state: Liveness::Facing,
            frontal: None,
            started_ms: None,
            asked_ms: 0,
            peaks: [0.0; 2],
            last: None,
        }
    }

    pub fn state(&self) -> &Liveness {
        &self.state
    }

    /// Feeds one frame's main face (`None`: no face, or more than one).
    pub fn observe(&mut self, t_ms: u64, face: Option<&Face>) -> &Liveness {
        let started = *self.started_ms.get_or_insert(t_ms);
        if matches!(self.state, Liveness::Passed(_) | Liveness::Failed { .. }) {
            return &self.state;
        }
        let yaw = face.and_then(face_shape).map(|s| s[0]);
        // A turn and a return count when two judged frames in a row show
        // them: one frame's keypoints can be off (a glitch), a head's turn
        // lasts longer.
        let last = std::mem::replace(&mut self.last, yaw);
        match (self.state.clone(), yaw) {
            (Liveness::Facing, Some(y)) if y.abs() <= 2.0 * FRONT_MAX => {
                self.frontal = Some(y);
                self.asked_ms = t_ms;
                self.state = Liveness::Turning {
                    turn: self.order[0],
                    done: 0,
                };
            }
            (Liveness::Turning { turn, done }, Some(y)) => {
                let off = |y: f32| (y - self.frontal.unwrap_or(0.0)) * turn.sign();
                // The level held over both frames.
                let held = last.map_or(f32::MIN, |l| off(l).min(off(y)));
                self.peaks[done] = self.peaks[done].max(held);
                if held >= TURN_MIN {
                    self.state = Liveness::Returning { turn, done };
                }
            }
            (Liveness::Returning { turn, done }, Some(y)) => {
                let off = |y: f32| (y - self.frontal.unwrap_or(0.0)) * turn.sign();
                let held = last.map_or(f32::MIN, |l| off(l).min(off(y)));
                self.peaks[done] = self.peaks[done].max(held);
                let back =
                    last.is_some_and(|l| off(l).abs() <= FRONT_MAX && off(y).abs() <= FRONT_MAX);
                if back {
                    self.asked_ms = t_ms;
                    self.state = match self.order.get(done + 1) {
                        Some(&next) => Liveness::Turning {
                            turn: next,
                            done: done + 1,
                        },
                        None => Liveness::Passed(LivenessMeasures {
                            order: self.order,
                            peaks: self.peaks.map(|p| (p * 1e3).round() / 1e3),
                            frontal: (self.frontal.unwrap_or(0.0) * 1e3).round() / 1e3,
                            duration_ms: t_ms.saturating_sub(started),
                        }),
                    };
                }
            }
            _ => {}
        }
        let waiting = !matches!(self.state, Liveness::Passed(_));
        if waiting && t_ms.saturating_sub(self.asked_ms.max(started)) > TURN_TIMEOUT_MS {
            self.state = Liveness::Failed {
                reason: match self.state {
                    Liveness::Facing => "no face looking at the camera".into(),
                    Liveness::Turning { turn, .. } => format!(
                        "the head did not turn to the {} far enough",
                        if turn == Turn::Left { "left" } else { "right" }
                    ),
                    _ => "the head did not come back to the camera".into(),
                },
            };
        }
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face whose nose sits `yaw` eye distances to the side, its picture
    /// squeezed sideways by `squeeze` (a photo turned away from the camera).
    fn face(yaw: f32, squeeze: f32) -> Face {
        let at = |u: f32, v: f32| [320.0 + 60.0 * u * squeeze, 200.0 + 60.0 * v];
        Face {
            score: 0.9,
            bbox: [240.0, 120.0, 160.0 * squeeze, 160.0],
            keypoints: [
                at(-0.5, 0.0),
                at(0.5, 0.0),
                at(yaw, 0.6),
                at(yaw * 0.6, 1.0),
                at(-1.1, 0.3),
                at(1.1, 0.3),
            ],
        }
    }

    fn run(c: &mut HeadTurnChallenge, yaws: impl Fn(u64) -> (f32, f32), until_ms: u64) -> Liveness {
        let mut t = 0;
        while t <= until_ms {
            let (yaw, squeeze) = yaws(t);
            c.observe(t, Some(&face(yaw, squeeze)));
            t += 100;
        }
        c.state().clone()
    }

    /// A head that turns whichever way it is asked, 0.3 eye distances.
    fn obliging(c: &HeadTurnChallenge, t: u64) -> f32 {
        let phase = (t / 1500) % 2;
        match (c.state(), phase) {
            (Liveness::Turning { turn, .. }, 1) => 0.3 * turn.sign(),
            (Liveness::Returning { turn, .. }, 1) => 0.3 * turn.sign(),
            _ => 0.0,
        }
    }

    #[test]
    fn a_head_turning_both_ways_passes_in_either_order() {
        for seed in [0, 1] {
            let mut c = HeadTurnChallenge::new(seed);
            let mut t = 0;
            while t < 20_000 && !matches!(c.state(), Liveness::Passed(_)) {
                let y = obliging(&c, t);
                c.observe(t, Some(&face(y + 0.02, 1.0)));
                t += 100;
            }
            let Liveness::Passed(m) = c.state() else {
                panic!("{seed}: {:?}", c.state());
            };
            assert_ne!(m.order[0], m.order[1]);
            assert!(m.peaks.iter().all(|&p| p >= TURN_MIN), "{m:?}");
        }
        assert_ne!(
            HeadTurnChallenge::new(0).order,
            HeadTurnChallenge::new(1).order
        );
    }

    #[test]
    fn a_photo_turned_tilted_and_moved_fails() {
        // A flat picture turned away from the camera: the whole face is
        // squeezed sideways, the nose stays between the eyes.
        let mut c = HeadTurnChallenge::new(0);
        let end = run(
            &mut c,
            |t| (0.01, 1.0 - 0.5 * ((t as f32 / 700.0).sin().abs())),
            15_000,
        );
        assert!(
            matches!(&end, Liveness::Failed { reason } if reason.contains("did not turn")),
            "{end:?}"
        );
    }

    #[test]
    fn one_frame_that_looks_turned_is_not_a_turn() {
        // Every fourth frame's keypoints are off by a turn's worth, both
        // ways, as a detector glitch on a photo might be.
        let mut c = HeadTurnChallenge::new(0);
        let end = run(
            &mut c,
            |t| match (t / 100) % 8 {
                3 => (0.5, 1.0),
                7 => (-0.5, 1.0),
                _ => (0.0, 1.0),
            },
            12_000,
        );
        assert!(
            matches!(&end, Liveness::Failed { reason } if reason.contains("did not turn")),
            "{end:?}"
        );
    }

    #[test]
    fn a_turn_the_wrong_way_or_too_small_is_not_counted() {
        let mut c = HeadTurnChallenge::new(0); // left first
        let end = run(&mut c, |t| (if t > 1000 { -0.3 } else { 0.0 }, 1.0), 12_000);
        assert!(matches!(end, Liveness::Failed { .. }), "{end:?}");
        let mut c = HeadTurnChallenge::new(0);
        let end = run(&mut c, |t| (if t > 1000 { 0.15 } else { 0.0 }, 1.0), 12_000);
        assert!(matches!(end, Liveness::Failed { .. }), "{end:?}");
        // Nobody at all.
        let mut c = HeadTurnChallenge::new(0);
        for t in (0..=11_000).step_by(100) {
            c.observe(t, None);
        }
        assert!(
            matches!(c.state(), Liveness::Failed { reason } if reason.contains("no face")),
            "{:?}",
            c.state()
        );
    }
}
