//! Face identity: who is in front of the camera, as a 128-number embedding
//! that two photographs of one person share and two people do not.
//!
//! The model is OpenCV Zoo's SFace (MobileFaceNet trained with the SFace
//! loss, Apache-2.0), run on tract from a copy whose weights are stored in
//! half precision (models/MODELS.md). A face found by BlazeFace is aligned
//! to the 112x112 ArcFace template by the similarity transform that best
//! maps four of its keypoints (both eyes, the nose tip, the mouth centre)
//! onto the template's; the embedding of the aligned crop is normalised, so
//! two embeddings compare by their dot product (cosine similarity, -1..1).

use std::path::Path;
use std::sync::Arc;

use invigil_core::{Face, Frame};
use tract_onnx::prelude::*;

use crate::VisionError;

/// Numbers in an embedding.
pub const EMBEDDING_DIM: usize = 128;
/// Side of the aligned face crop the model takes, in pixels.
pub const ALIGNED_SIDE: usize = 112;

/// The built-in model's file name under `models/`.
pub const EMBEDDER_FILE: &str = "face_recognition_sface_2021dec_f16w.onnx";

/// Where the ArcFace 112x112 template puts the subject's right eye, left
/// eye, nose tip and mouth centre (the midpoint of the template's mouth
/// corners): the positions SFace was trained on.
const TEMPLATE: [[f32; 2]; 4] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [56.1396, 92.2848],
];

/// Cosine similarity from which two faces count as one person: the
/// operating point chosen from the measurements in docs/performance.md.
pub const SAME_PERSON_MIN_SIMILARITY: f32 = 0.40;

/// The face a photograph is of: the largest one found.
pub fn main_face(faces: &[Face]) -> Option<&Face> {
    faces
        .iter()
        .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
}

/// The face photo against the portrait on the ID photo.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IdentityCheck {
    /// A portrait was found on the ID and could be aligned.
    pub id_face_found: bool,
    /// Cosine similarity of the two faces; none without both.
    pub similarity: Option<f32>,
    /// `similarity >= SAME_PERSON_MIN_SIMILARITY`; none without both.
    pub same_person: Option<bool>,
}

impl IdentityCheck {
    /// Compares the candidate's face (`face` in `face_frame`) with the ID's
    /// portrait (`portrait` in `id_frame`), either possibly missing.
    pub fn compare(
        embedder: &FaceEmbedder,
        face: Option<(&Frame, &Face)>,
        portrait: Option<(&Frame, &Face)>,
    ) -> Result<Self, VisionError> {
        let embed = |x: Option<(&Frame, &Face)>| match x {
            Some((frame, f)) => embedder.embed(frame, f),
            None => Ok(None),
        };
        let (a, b) = (embed(face)?, embed(portrait)?);
        let similarity = match (&a, &b) {
            (Some(a), Some(b)) => Some(a.similarity(b)),
            _ => None,
        };
        Ok(Self {
            id_face_found: b.is_some(),
            similarity,
            same_person: similarity.map(|s| s >= SAME_PERSON_MIN_SIMILARITY),
        })
    }
}

/// A face's identity embedding: unit length.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding(pub Vec<f32>);

impl Embedding {
    /// Cosine similarity, -1..1: about 0.7-0.8 for two photographs of one
    /// person, below 0.4 for two people (docs/performance.md has the
    /// measured rates).
    pub fn similarity(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// The similarity transform `p -> a·p + t` (a complex scale-rotation `a`
/// and a shift `t`) that best maps the face's keypoints onto the template,
/// in the least-squares sense.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alignment {
    /// `a = s·(cos θ, sin θ)`.
    pub a: [f32; 2],
    pub t: [f32; 2],
}

impl Alignment {
    /// From a BlazeFace face's keypoints; `None` when they coincide (no
    /// scale to find).
    pub fn of(face: &Face) -> Option<Self> {
        let src = [
            face.keypoints[0],
            face.keypoints[1],
            face.keypoints[2],
            face.keypoints[3],
        ];
        Self::fit(&src, &TEMPLATE)
    }

    /// Least-squares similarity from `src` to `dst` (treating points as
    /// complex numbers: `a = Σ (w−w̄)·conj(z−z̄) / Σ |z−z̄|²`, `t = w̄ − a·z̄`).
    pub fn fit(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Self> {
        let n = src.len().min(dst.len()) as f32;
        if n < 2.0 {
            return None;
        }
        let mean = |p: &[[f32; 2]]| {
            let (x, y) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
            [x / n, y / n]
        };
        let (zm, wm) = (mean(src), mean(dst));
        let (mut re, mut im, mut norm) = (0.0f32, 0.0f32, 0.0f32);
        for (z, w) in src.iter().zip(dst) {
            let (zx, zy) = (z[0] - zm[0], z[1] - zm[1]);
            let (wx, wy) = (w[0] - wm[0], w[1] - wm[1]);
            // (wx + i wy)(zx − i zy)
            re += wx * zx + wy * zy;
            im += wy * zx - wx * zy;
            norm += zx * zx + zy * zy;
        }
        if norm.is_nan() || norm <= 1e-6 || !re.is_finite() || !im.is_finite() {
            return None;
        }
        let a = [re / norm, im / norm];
        let t = [
            wm[0] - (a[0] * zm[0] - a[1] * zm[1]),
            wm[1] - (a[1] * zm[0] + a[0] * zm[1]),
        ];
        Some(Self { a, t })
    }

    /// How many template pixels one frame pixel spans (the crop's scale):
    /// below 1 the crop is enlarged from fewer pixels than it has.
    pub fn scale(&self) -> f32 {
        (self.a[0] * self.a[0] + self.a[1] * self.a[1]).sqrt()
    }

    /// The 112x112 RGB crop: each crop pixel sampled bilinearly from the
    /// frame at the inverse transform; outside the frame is black.
    pub fn crop(&self, frame: &Frame) -> Vec<u8> {
        self.crop_square(frame, ALIGNED_SIDE)
    }

    /// A `side` x `side` RGB crop, as [`crop`](Self::crop).
    pub fn crop_square(&self, frame: &Frame, side: usize) -> Vec<u8> {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let det = self.a[0] * self.a[0] + self.a[1] * self.a[1];
        // Inverse of a: conj(a) / |a|².
        let inv = [self.a[0] / det, -self.a[1] / det];
        let mut out = vec![0u8; side * side * 3];
        for v in 0..side {
            for u in 0..side {
                let (dx, dy) = (u as f32 - self.t[0], v as f32 - self.t[1]);
                let x = inv[0] * dx - inv[1] * dy;
                let y = inv[1] * dx + inv[0] * dy;
                let px = sample(&frame.rgb, w, h, x, y);
                let o = (v * side + u) * 3;
                out[o..o + 3].copy_from_slice(&px);
            }
        }
        out
    }
}

/// Bilinear sample at `(x, y)`; pixels outside the frame count as black.
fn sample(rgb: &[u8], w: usize, h: usize, x: f32, y: f32) -> [u8; 3] {
    if !(x > -1.0 && y > -1.0 && x < w as f32 && y < h as f32) {
        return [0; 3];
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xi: f32, yi: f32, c: usize| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            0.0
        } else {
            f32::from(rgb[(yi as usize * w + xi as usize) * 3 + c])
        }
    };
    let mut px = [0u8; 3];
    for (c, p) in px.iter_mut().enumerate() {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1.0, y0, c) * fx;
        let bottom = at(x0, y0 + 1.0, c) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0, c) * fx;
        *p = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    px
}

/// Turns aligned faces into embeddings. Cheap to clone (the plan is
/// shared); `embed` takes `&self`.
#[derive(Clone)]
pub struct FaceEmbedder {
    plan: Arc<TypedRunnableModel>,
}

impl FaceEmbedder {
    /// The model built into the binary.
    pub fn new() -> Result<Self, VisionError> {
        Self::from_bytes(embedded_bytes(), &format!("built-in {EMBEDDER_FILE}"))
    }

    /// Another copy of an SFace-shaped model (input 1x3x112x112 RGB 0-255,
    /// output 1x128), e.g. the original float32 file.
    pub fn from_file(path: &Path) -> Result<Self, VisionError> {
        let bytes = std::fs::read(path).map_err(|source| VisionError::ModelRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let invalid = |e: TractError| VisionError::EmbedderInvalid {
            name: name.to_owned(),
            message: format!("{e:#}"),
        };
        let side = ALIGNED_SIDE;
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(invalid)?
            .with_input_fact(0, f32::fact([1, 3, side, side]).into())
            .map_err(invalid)?
            .into_optimized()
            .map_err(invalid)?;
        let out = model
            .output_outlets()
            .map_err(invalid)?
            .first()
            .and_then(|o| model.outlet_fact(*o).ok())
            .and_then(|f| f.shape.as_concrete().map(<[usize]>::to_vec));
        if out.as_deref() != Some(&[1, EMBEDDING_DIM][..]) {
            return Err(VisionError::EmbedderInvalid {
                name: name.to_owned(),
                message: format!(
                    "expected a [1, {EMBEDDING_DIM}] output for a 1x3x{side}x{side} input; the model has {out:?}"
                ),
            });
        }
        let plan = model.into_runnable().map_err(invalid)?;
        crate::memory::release_freed();
        Ok(Self { plan })
    }

    /// The embedding of one face found in `frame` (aligned by its
    /// keypoints); `None` when its keypoints give no alignment.
    pub fn embed(&self, frame: &Frame, face: &Face) -> Result<Option<Embedding>, VisionError> {
        match Alignment::of(face) {
            Some(al) => self.embed_aligned(&al.crop(frame)).map(Some),
            None => Ok(None),
        }
    }

    /// The embedding of an aligned 112x112 RGB crop.
    pub fn embed_aligned(&self, rgb: &[u8]) -> Result<Embedding, VisionError> {
        let side = ALIGNED_SIDE;
        if rgb.len() != side * side * 3 {
            return Err(VisionError::BadFrame {
                width: side as u32,
                height: side as u32,
                expected: side * side * 3,
                actual: rgb.len(),
            });
        }
        let mut input = vec![0f32; 3 * side * side];
        for (i, px) in rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                input[c * side * side + i] = f32::from(px[c]);
            }
        }
        let fail = |e: TractError| VisionError::Inference(format!("{e:#}"));
        let tensor = Tensor::from_shape(&[1, 3, side, side], &input).map_err(fail)?;
        let out = self.plan.run(tvec!(tensor.into())).map_err(fail)?;
        let v: Vec<f32> = out[0]
            .to_plain_array_view::<f32>()
            .map_err(fail)?
            .iter()
            .copied()
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= 0.0 {
            return Err(VisionError::Inference(
                "the face model gave an empty embedding".into(),
            ));
        }
        Ok(Embedding(v.into_iter().map(|x| x / norm).collect()))
    }
}

/// The model bytes built into the binary.
pub fn embedded_bytes() -> &'static [u8] {
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/face_recognition_sface_2021dec_f16w.onnx"
    ))
}

/// Faces turned further than this (the nose's sideways offset from between
/// the eyes, in eye distances; about 35 degrees) are not compared: a
/// turned face scores low for anyone, and a later frontal view decides.
pub const MAX_COMPARE_TURN: f32 = 0.45;

/// Faces whose eyes are closer than this (pixels) are too small to compare.
pub const MIN_COMPARE_EYE_PX: f32 = 16.0;

/// At most this many faces are compared per check (largest first).
const MAX_COMPARED_FACES: usize = 3;

/// Whether a face is frontal and large enough to compare with a reference.
pub fn comparable(face: &Face) -> bool {
    let [right_eye, left_eye, ..] = face.keypoints;
    let eyes = (left_eye[0] - right_eye[0]).hypot(left_eye[1] - right_eye[1]);
    eyes >= MIN_COMPARE_EYE_PX
        && invigil_core::rules::face_shape(face).is_some_and(|s| s[0].abs() <= MAX_COMPARE_TURN)
}

/// A reference photograph's face must score at least this: it is posed, and
/// a phantom face in a textured photograph must not become the reference.
pub const REFERENCE_MIN_SCORE: f32 = 0.75;

/// The reference face of a photograph (the check-in's face photo): the
/// embedding of its largest confident face, which must be comparable.
pub fn reference_embedding(
    frame: &Frame,
    faces: &[Face],
    embedder: &FaceEmbedder,
) -> Result<Embedding, String> {
    let confident: Vec<Face> = faces
        .iter()
        .filter(|f| f.score >= REFERENCE_MIN_SCORE)
        .cloned()
        .collect();
    let face = main_face(&confident).ok_or("no face found")?;
    if !comparable(face) {
        return Err("the face is too small or turned too far to the side (it must face the camera, eyes at least 16 px apart)".into());
    }
    embedder
        .embed(frame, face)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the face cannot be aligned".into())
}

/// When the analyzer compares the face in view with the reference: every
/// `interval_ms`, at once after a return or when the face in view jumps
/// elsewhere, and every [`MISMATCH_RECHECK_MS`] while the last comparison
/// did not match (docs/identity.md).
///
/// [`MISMATCH_RECHECK_MS`]: invigil_core::rules::MISMATCH_RECHECK_MS
pub struct IdentityWatch {
    embedder: FaceEmbedder,
    reference: Embedding,
    interval_ms: u64,
    min_similarity: f32,
    min_face_score: f32,
    last_check: Option<u64>,
    last_low: bool,
    /// Compare on the next usable frame.
    due: bool,
    absent_since: Option<u64>,
    /// Centre and width of the largest face on the last detection.
    last_main: Option<([f32; 2], f32)>,
    comparisons: u64,
}

impl IdentityWatch {
    pub fn new(
        embedder: FaceEmbedder,
        reference: Embedding,
        policy: &invigil_core::Policy,
    ) -> Self {
        Self {
            embedder,
            reference,
            interval_ms: (policy.identity_check_interval_s * 1000.0).round() as u64,
            min_similarity: policy.identity_min_similarity as f32,
            min_face_score: policy.min_face_score as f32,
            last_check: None,
            last_low: false,
            due: true,
            absent_since: None,
            last_main: None,
            comparisons: 0,
        }
    }

    /// Comparisons made so far.
    pub fn comparisons(&self) -> u64 {
        self.comparisons
    }

    /// Sees one freshly detected frame; compares when due and returns the
    /// best similarity of the faces in view.
    pub fn check(&mut self, frame: &Frame, faces: &[Face]) -> Result<Option<f32>, VisionError> {
        use invigil_core::rules::{MISMATCH_RECHECK_MS, RETURN_AFTER_MS};
        let t = frame.t_ms;
        let mut faces: Vec<&Face> = faces
            .iter()
            .filter(|f| f.score >= self.min_face_score)
            .collect();
        if faces.is_empty() {
            self.absent_since.get_or_insert(t);
            self.last_main = None;
            return Ok(None);
        }
        if let Some(since) = self.absent_since.take() {
            if t.saturating_sub(since) >= RETURN_AFTER_MS {
                self.due = true;
            }
        }
        faces.sort_by(|a, b| (b.bbox[2] * b.bbox[3]).total_cmp(&(a.bbox[2] * a.bbox[3])));
        let main = (faces[0].center(), faces[0].bbox[2]);
        if let Some((c, w)) = self.last_main {
            // Someone else in the seat: the face is elsewhere, or of another
            // size, from one detection to the next.
            let moved = (main.0[0] - c[0]).hypot(main.0[1] - c[1]) > 0.5 * w;
            let resized = main.1 > 1.5 * w || main.1 < w / 1.5;
            if moved || resized {
                self.due = true;
            }
        }
        self.last_main = Some(main);
        let wait = if self.last_low {
            MISMATCH_RECHECK_MS
        } else {
            self.interval_ms
        };
        let due = self.due || self.last_check.is_none_or(|l| t < l || t - l >= wait);
        if !due {
            return Ok(None);
        }
        let mut best: Option<f32> = None;
        for face in faces
            .into_iter()
            .filter(|f| comparable(f))
            .take(MAX_COMPARED_FACES)
        {
            if let Some(e) = self.embedder.embed(frame, face)? {
                let s = e.similarity(&self.reference);
                best = Some(best.map_or(s, |b| b.max(s)));
            }
        }
        // No usable face (turned away, too small): still due.
        let Some(best) = best else {
            self.due = true;
            return Ok(None);
        };
        self.comparisons += 1;
        self.due = false;
        self.last_check = Some(t);
        self.last_low = best < self.min_similarity;
        Ok(Some(best))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_known_similarity() {
        // Template points scaled by 2, turned 30°, shifted.
        let (s, th) = (2.0f32, 30f32.to_radians());
        let a = [s * th.cos(), s * th.sin()];
        let src: Vec<[f32; 2]> = TEMPLATE
            .iter()
            .map(|p| {
                [
                    a[0] * p[0] - a[1] * p[1] + 40.0,
                    a[1] * p[0] + a[0] * p[1] - 7.0,
                ]
            })
            .collect();
        let fit = Alignment::fit(&src, &TEMPLATE).unwrap();
        assert!((fit.scale() - 0.5).abs() < 1e-4, "{fit:?}");
        for (z, w) in src.iter().zip(&TEMPLATE) {
            let x = fit.a[0] * z[0] - fit.a[1] * z[1] + fit.t[0];
            let y = fit.a[1] * z[0] + fit.a[0] * z[1] + fit.t[1];
            assert!((x - w[0]).abs() < 1e-3 && (y - w[1]).abs() < 1e-3);
        }
        assert!(Alignment::fit(&[[1.0, 1.0]; 4], &TEMPLATE).is_none());
    }

    #[test]
    fn the_crop_of_an_identity_transform_is_the_frame() {
        let mut rgb = vec![0u8; 112 * 112 * 3];
        for (i, b) in rgb.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let frame = Frame::new(0, 112, 112, rgb.clone()).unwrap();
        let same = Alignment {
            a: [1.0, 0.0],
            t: [0.0, 0.0],
        };
        assert_eq!(same.crop(&frame), rgb);
        let shifted = Alignment {
            a: [1.0, 0.0],
            t: [500.0, 0.0],
        };
        assert!(
            shifted.crop(&frame).iter().all(|&b| b == 0),
            "outside is black"
        );
    }
}
