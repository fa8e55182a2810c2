//! Head pose from MediaPipe's face mesh: where the face in view points.
//!
//! The face landmark model (`face_landmark.onnx`, 468 points with depth,
//! Apache-2.0; models/MODELS.md) runs on a 192x192 crop around a face the
//! detector found, turned upright by the eye line and 1.5 times the face
//! box, as MediaPipe's own face mesh crops it. The pose comes from the
//! mesh's geometry: the eye corners give the face's horizontal axis, the
//! forehead and chin its vertical one, and their cross product the
//! direction the face points (the model's depth is in the same units as
//! its x and y).

use std::sync::Arc;

use invigil_core::{Face, Frame, HeadPose};
use tract_onnx::prelude::*;

use crate::identity::Alignment;
use crate::VisionError;

/// Side of the model's square input, pixels.
pub const LANDMARK_SIDE: usize = 192;
/// Points in the mesh.
pub const LANDMARKS: usize = 468;
/// The built-in model's file name under `models/`.
pub const LANDMARKER_FILE: &str = "face_landmark.onnx";
/// The crop is this many times the detector's face box (MediaPipe's value).
const ROI_SCALE: f32 = 1.5;
/// The face-presence logit below which the mesh is not of a face (a crop
/// of a turned-away head, a hand): sigmoid 0.5.
const MIN_FACE_LOGIT: f32 = 0.0;

/// Mesh indices: the outer eye corners (the subject's right eye is on the
/// picture's left), the top of the forehead, the chin.
const RIGHT_EYE_OUTER: usize = 33;
const LEFT_EYE_OUTER: usize = 263;
const FOREHEAD: usize = 10;
const CHIN: usize = 152;

/// The mesh of one face.
#[derive(Clone, Debug, PartialEq)]
pub struct Landmarks {
    /// `[x, y, z]` in the crop's pixels (z: depth, larger is further).
    pub points: Vec<[f32; 3]>,
    /// The model's face-presence logit.
    pub face_logit: f32,
}

/// Runs the face landmark model. Cheap to clone (the plan is shared).
#[derive(Clone)]
pub struct FaceLandmarker {
    plan: Arc<TypedRunnableModel>,
}

impl FaceLandmarker {
    /// The model built into the binary.
    pub fn new() -> Result<Self, VisionError> {
        Self::from_bytes(embedded_bytes(), &format!("built-in {LANDMARKER_FILE}"))
    }

    fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let invalid = |e: TractError| VisionError::Unusable {
            what: "face landmark",
            name: name.to_owned(),
            message: format!("{e:#}"),
        };
        let side = LANDMARK_SIDE;
        let model = crate::objects::optimized(bytes, [1, side, side, 3]).map_err(invalid)?;
        let sizes: Vec<usize> = model
            .output_outlets()
            .map_err(invalid)?
            .iter()
            .filter_map(|o| model.outlet_fact(*o).ok())
            .filter_map(|f| f.shape.as_concrete().map(|s| s.iter().product()))
            .collect();
        if sizes != [LANDMARKS * 3, 1] {
            return Err(VisionError::Unusable {
                what: "face landmark",
                name: name.to_owned(),
                message: format!(
                    "expected outputs of {} and 1 values for a 1x{side}x{side}x3 input; the model has {sizes:?}",
                    LANDMARKS * 3
                ),
            });
        }
        let plan = model.into_runnable().map_err(invalid)?;
        crate::memory::release_freed();
        Ok(Self { plan })
    }

    /// The mesh of a 192x192 RGB crop.
    pub fn run_crop(&self, rgb: &[u8]) -> Result<Landmarks, VisionError> {
        let side = LANDMARK_SIDE;
        if rgb.len() != side * side * 3 {
            return Err(VisionError::BadFrame {
                width: side as u32,
                height: side as u32,
                expected: side * side * 3,
                actual: rgb.len(),
            });
        }
        let input: Vec<f32> = rgb.iter().map(|&b| f32::from(b) / 255.0).collect();
        let fail = |e: TractError| VisionError::Inference(format!("{e:#}"));
        let tensor = Tensor::from_shape(&[1, side, side, 3], &input).map_err(fail)?;
        let out = self.plan.run(tvec!(tensor.into())).map_err(fail)?;
        let coords = crate::objects::values(&out[0]).map_err(fail)?;
        let face_logit = crate::objects::values(&out[1]).map_err(fail)?[0];
        let points = coords.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Ok(Landmarks { points, face_logit })
    }

    /// The head pose of `face` in `frame`; `None` when the face's keypoints
    /// give no crop or the model sees no face in it.
    pub fn pose(&self, frame: &Frame, face: &Face) -> Result<Option<HeadPose>, VisionError> {
        let Some((crop, roll)) = roi(face) else {
            return Ok(None);
        };
        let mesh = self.run_crop(&crop.crop_square(frame, LANDMARK_SIDE))?;
        if mesh.face_logit.is_nan() || mesh.face_logit < MIN_FACE_LOGIT {
            return Ok(None);
        }
        Ok(head_pose(&mesh.points).map(|p| HeadPose {
            roll: p.roll + roll,
            ..p
        }))
    }
}

/// The crop MediaPipe's face mesh takes: centred on the face box, 1.5
/// times its longer side, turned so the eyes are level; with the roll
/// (degrees, clockwise) it took out.
pub fn roi(face: &Face) -> Option<(Alignment, f32)> {
    let [right_eye, left_eye, ..] = face.keypoints;
    let theta = (left_eye[1] - right_eye[1]).atan2(left_eye[0] - right_eye[0]);
    let side = ROI_SCALE * face.bbox[2].max(face.bbox[3]);
    if !(side.is_finite() && side >= 4.0 && theta.is_finite()) {
        return None;
    }
    let s = LANDMARK_SIDE as f32 / side;
    // p' = s·e^{-iθ}·(p − c) + (96, 96)
    let a = [s * theta.cos(), -s * theta.sin()];
    let c = face.center();
    let half = LANDMARK_SIDE as f32 / 2.0;
    let t = [
        half - (a[0] * c[0] - a[1] * c[1]),
        half - (a[1] * c[0] + a[0] * c[1]),
    ];
    Some((Alignment { a, t }, theta.to_degrees()))
}

/// Yaw, pitch and roll of a mesh (points in any square picture, depth in
/// the same units); `None` for a degenerate one.
pub fn head_pose(points: &[[f32; 3]]) -> Option<HeadPose> {
    let p = |i: usize| points.get(i).copied();
    let (r, l, top, chin) = (
        p(RIGHT_EYE_OUTER)?,
        p(LEFT_EYE_OUTER)?,
        p(FOREHEAD)?,
        p(CHIN)?,
    );
    let x = unit(sub(l, r))?;
    let down = sub(chin, top);
    let y = unit(sub(down, scale(x, dot(down, x))))?;
    // x right, y down: x × y points into the picture, away from the
    // camera; the face points the other way.
    let back = cross(x, y);
    let f = [-back[0], -back[1], -back[2]];
    let yaw = f[0].atan2(-f[2]).to_degrees();
    let pitch = (-f[1]).atan2(f[0].hypot(f[2])).to_degrees();
    let roll = x[1].atan2(x[0]).to_degrees();
    [yaw, pitch, roll]
        .iter()
        .all(|v| v.is_finite())
        .then_some(HeadPose { yaw, pitch, roll })
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f32; 3], k: f32) -> [f32; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn unit(a: [f32; 3]) -> Option<[f32; 3]> {
    let n = dot(a, a).sqrt();
    (n.is_finite() && n > 1e-6).then(|| scale(a, 1.0 / n))
}

/// The model bytes built into the binary.
pub fn embedded_bytes() -> &'static [u8] {
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/face_landmark.onnx"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mesh of the four points that matter, turned by `yaw` and `pitch`.
    fn mesh(yaw: f32, pitch: f32) -> Vec<[f32; 3]> {
        let mut pts = vec![[0.0f32; 3]; LANDMARKS];
        let (cy, sy) = (yaw.to_radians().cos(), yaw.to_radians().sin());
        let (cp, sp) = (pitch.to_radians().cos(), pitch.to_radians().sin());
        // A face in its own frame: x right, y down, z away from the camera.
        let turn = |p: [f32; 3]| {
            // Pitch about x (up is negative y), then yaw about y.
            let (x, y, z) = (p[0], p[1] * cp + p[2] * sp, -p[1] * sp + p[2] * cp);
            [x * cy - z * sy + 96.0, y + 96.0, x * sy + z * cy]
        };
        pts[RIGHT_EYE_OUTER] = turn([-40.0, -10.0, 0.0]);
        pts[LEFT_EYE_OUTER] = turn([40.0, -10.0, 0.0]);
        pts[FOREHEAD] = turn([0.0, -60.0, 5.0]);
        pts[CHIN] = turn([0.0, 60.0, 5.0]);
        pts
    }

    #[test]
    fn a_frontal_mesh_points_at_the_camera_and_turns_are_recovered() {
        let p = head_pose(&mesh(0.0, 0.0)).unwrap();
        assert!(
            p.yaw.abs() < 0.5 && p.pitch.abs() < 0.5 && p.roll.abs() < 0.5,
            "{p:?}"
        );
        for (yaw, pitch) in [
            (30.0, 0.0),
            (-25.0, 0.0),
            (0.0, 20.0),
            (0.0, -30.0),
            (20.0, -15.0),
        ] {
            let p = head_pose(&mesh(yaw, pitch)).unwrap();
            assert!((p.yaw - yaw).abs() < 3.0, "yaw {yaw}: {p:?}");
            assert!((p.pitch - pitch).abs() < 3.0, "pitch {pitch}: {p:?}");
        }
        assert!(head_pose(&[[0.0; 3]; LANDMARKS]).is_none());
        assert!(head_pose(&[]).is_none());
    }

    #[test]
    fn the_crop_is_centred_on_the_face_and_levels_the_eyes() {
        let face = Face {
            score: 0.9,
            bbox: [100.0, 100.0, 100.0, 100.0],
            keypoints: [
                [130.0, 130.0],
                [170.0, 170.0],
                [150.0, 160.0],
                [150.0, 180.0],
                [110.0, 140.0],
                [190.0, 140.0],
            ],
        };
        let (al, roll) = roi(&face).unwrap();
        assert!((roll - 45.0).abs() < 1e-3);
        let map = |p: [f32; 2]| {
            [
                al.a[0] * p[0] - al.a[1] * p[1] + al.t[0],
                al.a[1] * p[0] + al.a[0] * p[1] + al.t[1],
            ]
        };
        let c = map([150.0, 150.0]);
        assert!((c[0] - 96.0).abs() < 1e-3 && (c[1] - 96.0).abs() < 1e-3);
        let (r, l) = (map(face.keypoints[0]), map(face.keypoints[1]));
        assert!((r[1] - l[1]).abs() < 1e-3 && l[0] > r[0], "{r:?} {l:?}");
        assert!((al.scale() - 192.0 / 150.0).abs() < 1e-4);
    }
}
