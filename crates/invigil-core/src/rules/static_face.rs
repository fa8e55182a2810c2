//! A face that does not move at all: `static_face` (a photograph propped in
//! front of the camera).
//!
//! A live person's face changes shape in the picture all the time: the head
//! turns and nods a little, the mouth moves. A photograph only moves as a
//! whole: shifted, scaled, turned in its plane. So the rule measures the
//! face's shape with those taken out: the nose tip and mouth centre in a
//! frame set by the eyes (origin between the eyes, one unit the distance
//! between them, the x axis through both). While that shape stays within
//! `static_face_max_motion` of where it was when the episode began, for
//! `static_face_s`, the face is flagged. Any larger change starts afresh.

use serde_json::json;

use super::{Emitter, FrameFacts, Rule};
use crate::policy::ms;
use crate::{EventKind, Face, Policy};

/// Faces whose eyes are closer than this (pixels) are too small to measure.
const MIN_EYE_DISTANCE_PX: f32 = 12.0;

/// No measurable face for longer than this ends an episode.
const GAP_MS: u64 = 2000;

/// Shapes are averaged over blocks of this much media time before they are
/// compared: one detection's keypoints jitter by about 0.02 eye distances
/// (measured on still photographs, docs/identity.md), a block's mean far less.
pub const SHAPE_BLOCK_MS: u64 = 3000;

/// `static_face_max_motion` holds for faces whose eyes are this far apart
/// (pixels) or more; for smaller faces it grows in proportion, since the
/// keypoints' jitter is a matter of pixels (measured: docs/identity.md).
pub const MOTION_REFERENCE_EYE_PX: f32 = 40.0;

/// Averages face shapes over [`SHAPE_BLOCK_MS`] blocks.
#[derive(Clone, Debug, Default)]
pub struct ShapeBlocks {
    /// Start, sum of shapes, sum of eye distances, count.
    block: Option<(u64, [f32; 4], f32, u32)>,
}

/// One block's averages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShapeBlock {
    pub start_ms: u64,
    pub shape: [f32; 4],
    /// Mean eye distance, pixels.
    pub eye_px: f32,
}

impl ShapeBlock {
    /// How much change counts as none for a face of this size.
    pub fn tolerance(&self, max_motion: f32) -> f32 {
        max_motion * (MOTION_REFERENCE_EYE_PX / self.eye_px).max(1.0)
    }
}

impl ShapeBlocks {
    /// Adds one measured face at `t_ms`; returns the block it closes.
    pub fn add(&mut self, t_ms: u64, face: &Face) -> Option<ShapeBlock> {
        let shape = face_shape(face)?;
        let [r, l, ..] = face.keypoints;
        let eye_px = (l[0] - r[0]).hypot(l[1] - r[1]);
        let mut closed = None;
        if let Some((start, sum, eyes, n)) = self.block {
            if t_ms.saturating_sub(start) >= SHAPE_BLOCK_MS || t_ms < start {
                closed = Some(ShapeBlock {
                    start_ms: start,
                    shape: sum.map(|x| x / n as f32),
                    eye_px: eyes / n as f32,
                });
                self.block = None;
            }
        }
        let (_, sum, eyes, n) = self.block.get_or_insert((t_ms, [0.0; 4], 0.0, 0));
        for (a, b) in sum.iter_mut().zip(shape) {
            *a += b;
        }
        *eyes += eye_px;
        *n += 1;
        closed
    }
}

/// The largest difference of two shapes' numbers.
pub fn shape_change(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[derive(Default)]
pub struct StaticFace {
    blocks: ShapeBlocks,
    /// The (block-mean) shape when the episode began, and when.
    anchor: Option<([f32; 4], u64)>,
    /// Largest change from the anchor within the episode.
    motion: f32,
    /// Media time of the last frame measured.
    last_seen: u64,
    flagged: bool,
}

/// Nose tip and mouth centre in the eyes' frame (see the module doc).
pub fn face_shape(face: &Face) -> Option<[f32; 4]> {
    let [right_eye, left_eye, nose, mouth, ..] = face.keypoints;
    let origin = [
        (right_eye[0] + left_eye[0]) / 2.0,
        (right_eye[1] + left_eye[1]) / 2.0,
    ];
    let axis = [left_eye[0] - right_eye[0], left_eye[1] - right_eye[1]];
    let d = axis[0].hypot(axis[1]);
    if d.is_nan() || d < MIN_EYE_DISTANCE_PX {
        return None;
    }
    let (ux, uy) = (axis[0] / d, axis[1] / d);
    let local = |p: [f32; 2]| {
        let (x, y) = (p[0] - origin[0], p[1] - origin[1]);
        [(x * ux + y * uy) / d, (-x * uy + y * ux) / d]
    };
    let (n, m) = (local(nose), local(mouth));
    Some([n[0], n[1], m[0], m[1]])
}

impl Rule for StaticFace {
    fn name(&self) -> &'static str {
        "static_face"
    }

    fn rests_on_break(&self) -> bool {
        true
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn observe(&mut self, frame: &FrameFacts<'_>, policy: &Policy, out: &mut Emitter) {
        if policy.static_face_s == 0.0 {
            return;
        }
        // Only freshly detected faces: a reused detection repeats the last
        // keypoints exactly and proves nothing.
        if !frame.obs.detected {
            return;
        }
        let main = frame
            .obs
            .faces
            .iter()
            .filter(|f| f64::from(f.score) >= policy.min_face_score)
            .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])));
        let t = frame.t_ms;
        let Some(face) = main.filter(|f| face_shape(f).is_some()) else {
            // Nobody (or a face too small to measure) for a while ends the
            // episode; a detector's single miss does not.
            if t.saturating_sub(self.last_seen) > GAP_MS {
                *self = Self::default();
            }
            return;
        };
        self.last_seen = t;
        let Some(block) = self.blocks.add(t, face) else {
            return;
        };
        let (anchor, since) = *self.anchor.get_or_insert((block.shape, block.start_ms));
        let change = shape_change(&anchor, &block.shape);
        if change > block.tolerance(policy.static_face_max_motion as f32) {
            *self = Self {
                blocks: std::mem::take(&mut self.blocks),
                anchor: Some((block.shape, block.start_ms)),
                last_seen: t,
                ..Self::default()
            };
            return;
        }
        self.motion = self.motion.max(change);
        let static_ms = t.saturating_sub(since);
        if !self.flagged && static_ms >= ms(policy.static_face_s) {
            self.flagged = true;
            out.emit(
                EventKind::StaticFace,
                json!({
                    "static_ms": static_ms,
                    "motion": (f64::from(self.motion) * 1e4).round() / 1e4,
                }),
            );
        }
    }

    fn open_conditions(&self) -> Vec<&'static str> {
        super::open_if(self.flagged, "static_face")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EndReason, Observation, RuleEngine, SceneStats};

    /// A face with eyes 60 px apart at `(x, y)`, turned in its plane by
    /// `angle` (radians), nose and mouth moved by `wobble` eye distances.
    fn face(x: f32, y: f32, angle: f32, wobble: f32) -> Face {
        let (c, s) = (angle.cos(), angle.sin());
        let at = |u: f32, v: f32| [x + 60.0 * (u * c - v * s), y + 60.0 * (u * s + v * c)];
        Face {
            score: 0.9,
            bbox: [x - 80.0, y - 80.0, 160.0, 160.0],
            keypoints: [
                at(-0.5, 0.0),
                at(0.5, 0.0),
                at(wobble, 0.6),
                at(0.0, 1.0 + wobble),
                at(-1.1, 0.3),
                at(1.1, 0.3),
            ],
        }
    }

    fn static_faces(seconds: u64, face_at: impl Fn(u64) -> Face) -> Vec<u64> {
        let mut engine = RuleEngine::new(Policy::default());
        engine.start();
        let mut flagged = Vec::new();
        for n in 0..seconds * 5 {
            let t = n * 200;
            let obs = Observation::new(t, vec![face_at(t)], SceneStats::test_pattern(n));
            for e in engine.observe(&obs) {
                assert_eq!(e.kind, EventKind::StaticFace);
                flagged.push(e.t_ms);
            }
        }
        let end = engine.finish(EndReason::EndOfStream);
        assert_eq!(
            end[0].data["open_conditions"].as_array().unwrap().len(),
            flagged.len().min(1)
        );
        flagged
    }

    #[test]
    fn a_photo_moved_turned_and_scaled_is_still_static() {
        let flagged = static_faces(200, |t| {
            let k = t as f32 / 1000.0;
            face(
                300.0 + 20.0 * k.sin(),
                200.0 + k.cos() * 10.0,
                0.2 * (k / 7.0).sin(),
                0.0,
            )
        });
        assert_eq!(flagged, vec![120_000]);
    }

    #[test]
    fn a_face_that_changes_shape_is_not() {
        // A few hundredths of an eye distance every half minute (a head
        // turning a little) is enough.
        let flagged = static_faces(400, |t| {
            let wobble = if (t / 30_000) % 2 == 0 { 0.0 } else { 0.05 };
            face(300.0, 200.0, 0.0, wobble)
        });
        assert!(flagged.is_empty(), "{flagged:?}");
        // Off with static_face_s = 0.
        let p = Policy {
            static_face_s: 0.0,
            ..Policy::default()
        };
        let mut engine = RuleEngine::new(p);
        engine.start();
        for n in 0..1000 {
            let obs = Observation::new(
                n * 200,
                vec![face(300.0, 200.0, 0.0, 0.0)],
                SceneStats::test_pattern(n),
            );
            assert!(engine.observe(&obs).is_empty());
        }
    }

    #[test]
    fn shape_is_measured_in_eye_distances() {
        let s = face_shape(&face(10.0, 20.0, 0.7, 0.0)).unwrap();
        for (got, want) in s.iter().zip([0.0, 0.6, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-4, "{s:?}");
        }
        let mut tiny = face(0.0, 0.0, 0.0, 0.0);
        tiny.keypoints[1] = tiny.keypoints[0];
        assert_eq!(face_shape(&tiny), None);
    }
}
