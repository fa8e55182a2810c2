//! The candidate looks at the screen: `looking_away_warning`,
//! `looking_away`, `looking_back`.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule, Stage, Staged};
use crate::policy::ms;
use crate::{EventKind, HeadPose, Policy};

const WARNED: usize = 1;
const FLAGGED: usize = 2;

/// A pose older than this (media time) no longer says where the head
/// points: the analyzer measures a few times a second.
pub const POSE_STALE_MS: u64 = 1000;

/// Pose samples needed for a neutral pose, at the least.
const MIN_CALIBRATION_SAMPLES: usize = 5;

/// While the head is within half the limits of the neutral pose, each
/// measurement moves the neutral pose this fraction of the way towards it:
/// a candidate who settles into another posture over an exam is followed
/// (about 100 s at 5 measurements a second), a look away is not.
const NEUTRAL_FOLLOW: f32 = 0.002;

/// Where the head turned, as the candidate would say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }

    /// Which way a pose `(yaw, pitch)` relative to the neutral one points,
    /// if it is beyond the limits: the axis furthest past its limit wins.
    /// Looking down is not looking away when the exam allows scratch
    /// paper.
    pub fn of(yaw: f32, pitch: f32, policy: &Policy) -> Option<Direction> {
        let max_yaw = policy.looking_away_max_yaw_deg as f32;
        let max_pitch = policy.looking_away_max_pitch_deg as f32;
        let side = yaw.abs() / max_yaw;
        let nod = if pitch < 0.0 && policy.scratch_paper {
            0.0
        } else {
            pitch.abs() / max_pitch
        };
        if side <= 1.0 && nod <= 1.0 {
            return None;
        }
        Some(if side >= nod {
            if yaw > 0.0 {
                Direction::Left
            } else {
                Direction::Right
            }
        } else if pitch > 0.0 {
            Direction::Up
        } else {
            Direction::Down
        })
    }
}

/// The head turned away from the candidate's own neutral pose (the median
/// of the first `looking_away_calibrate_s` of measurements: people sit at
/// angles to their webcam), with a warning before the flag.
///
/// Without a face (absence is the presence rule's) or on a dark frame, an
/// episode is forgotten without an event; the neutral pose is kept.
#[derive(Default)]
pub struct LookingAway {
    staged: Staged,
    /// (media time of the first, yaw, pitch) while calibrating.
    samples: Vec<(f32, f32)>,
    calibrating_since: Option<u64>,
    neutral: Option<(f32, f32)>,
    last: Option<(u64, HeadPose)>,
    /// The episode's direction (the first one) and its largest offsets.
    direction: Option<Direction>,
    offset: (f32, f32),
}

impl LookingAway {
    /// The neutral pose `(yaw, pitch)`, once calibrated.
    pub fn neutral(&self) -> Option<(f32, f32)> {
        self.neutral
    }

    fn calibrate(&mut self, t_ms: u64, pose: HeadPose, policy: &Policy) {
        let since = *self.calibrating_since.get_or_insert(t_ms);
        self.samples.push((pose.yaw, pose.pitch));
        let enough = t_ms.saturating_sub(since) >= ms(policy.looking_away_calibrate_s);
        if enough && self.samples.len() >= MIN_CALIBRATION_SAMPLES {
            let median = |mut v: Vec<f32>| {
                v.sort_by(f32::total_cmp);
                v[v.len() / 2]
            };
            let yaws = self.samples.iter().map(|s| s.0).collect();
            let pitches = self.samples.iter().map(|s| s.1).collect();
            self.neutral = Some((median(yaws), median(pitches)));
            self.samples = Vec::new();
        }
    }
}

impl Rule for LookingAway {
    fn name(&self) -> &'static str {
        "looking_away"
    }

    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        // A break ends: the same candidate, the same neutral pose.
        let neutral = self.neutral;
        *self = Self::default();
        self.neutral = neutral;
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        if policy.looking_away_flag_s <= 0.0 {
            return;
        }
        let t = frame.t_ms;
        if frame.featureless || frame.faces == 0 {
            self.staged.reset();
            self.direction = None;
            self.last = None;
            return;
        }
        if let Some(pose) = frame.obs.pose {
            self.last = Some((t, pose));
            if self.neutral.is_none() {
                self.calibrate(t, pose, policy);
            }
        }
        let Some((yaw0, pitch0)) = self.neutral else {
            return;
        };
        let current = self
            .last
            .filter(|(at, _)| t >= *at && t - at <= POSE_STALE_MS)
            .map(|(_, p)| (p.yaw - yaw0, p.pitch - pitch0));
        let away = current.and_then(|(y, p)| Direction::of(y, p, policy));
        if let (Some((y, p)), None, Some(pose)) = (current, away, frame.obs.pose) {
            let (my, mp) = (
                policy.looking_away_max_yaw_deg as f32 / 2.0,
                policy.looking_away_max_pitch_deg as f32 / 2.0,
            );
            if let Some(n) = self
                .neutral
                .as_mut()
                .filter(|_| y.abs() <= my && p.abs() <= mp)
            {
                n.0 += (pose.yaw - n.0) * NEUTRAL_FOLLOW;
                n.1 += (pose.pitch - n.1) * NEUTRAL_FOLLOW;
            }
        }
        let flag_ms = ms(policy.looking_away_flag_s);
        let stages = [ms(policy.looking_away_warn_s), flag_ms];
        let (debounce, confirm) = (ms(policy.debounce_s), ms(policy.return_confirm_s));
        match self
            .staged
            .step(t, away.is_some(), &stages, debounce, confirm)
        {
            Stage::Active { elapsed_ms, newly } => {
                let direction = *self
                    .direction
                    .get_or_insert(away.unwrap_or(Direction::Left));
                if let Some((y, p)) = current.filter(|_| away.is_some()) {
                    if y.abs() + p.abs() > self.offset.0.abs() + self.offset.1.abs() {
                        self.offset = (y, p);
                    }
                }
                for stage in newly {
                    let data = json!({
                        "yaw": round1(self.offset.0),
                        "pitch": round1(self.offset.1),
                        "direction": direction.as_str(),
                        "duration_ms": elapsed_ms,
                        "flag_in_ms": flag_ms.saturating_sub(elapsed_ms),
                    });
                    let kind = match stage + 1 {
                        WARNED => EventKind::LookingAwayWarning,
                        _ => EventKind::LookingAway,
                    };
                    out.emit(kind, data);
                }
            }
            Stage::Ended {
                duration_ms,
                reached,
                ..
            } => {
                if reached >= WARNED {
                    out.emit(
                        EventKind::LookingBack,
                        json!({
                            "duration_ms": duration_ms,
                            "direction": self.direction.map_or("left", Direction::as_str),
                            "flagged": reached >= FLAGGED,
                        }),
                    );
                }
                self.direction = None;
                self.offset = (0.0, 0.0);
            }
            Stage::Quiet => {}
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.staged.reached() >= FLAGGED, "looking_away")
    }
}

fn round1(v: f32) -> f64 {
    (f64::from(v) * 10.0).round() / 10.0
}
