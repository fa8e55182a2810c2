//! The BlazeFace face detector on tract-onnx.

use std::path::Path;
use std::sync::Arc;

use invigil_core::{Face, Frame};
use tract_onnx::prelude::*;

use crate::decode::{decode_anchors, weighted_blend, Candidate};
use crate::preprocess::{letterbox, Letterbox};
use crate::VisionError;

/// Candidates below this score are dropped before blending. The rules apply
/// their own, higher threshold (`min_face_score` in the policy).
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

/// Overlap above which two candidates are the same face (MediaPipe's value).
const BLEND_IOU: f32 = 0.3;

/// Which BlazeFace variant to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// Short-range "front" model, 128x128 input: faces within ~2 m, the
    /// usual laptop-webcam framing. Fast.
    Front128,
    /// Full-range "back" model, 256x256 input: also finds smaller, more
    /// distant faces. About four times the work.
    Back256,
}

impl ModelKind {
    /// Square input side in pixels.
    pub fn input_size(self) -> usize {
        match self {
            ModelKind::Front128 => 128,
            ModelKind::Back256 => 256,
        }
    }

    /// File name under `models/`.
    pub fn file_name(self) -> &'static str {
        match self {
            ModelKind::Front128 => "face_detection_front_128x128_barracuda.onnx",
            ModelKind::Back256 => "face_detection_back_256x256_barracuda.onnx",
        }
    }

    /// The model bytes built into the binary.
    pub fn embedded_bytes(self) -> &'static [u8] {
        match self {
            ModelKind::Front128 => include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/face_detection_front_128x128_barracuda.onnx"
            )),
            ModelKind::Back256 => include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/face_detection_back_256x256_barracuda.onnx"
            )),
        }
    }

    /// Short name used on the command line: `front` or `back`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Front128 => "front",
            ModelKind::Back256 => "back",
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "front" | "front128" | "short" => Ok(ModelKind::Front128),
            "back" | "back256" | "full" => Ok(ModelKind::Back256),
            other => Err(format!(
                "unknown model `{other}` (expected `front` or `back`)"
            )),
        }
    }
}

/// The four raw model outputs, as produced by the runtime.
#[derive(Clone, Debug, Default)]
pub struct RawOutputs {
    /// 16x16 grid, 2 anchors per cell: 512 logits and 512x16 regressors.
    pub scores_16: Vec<f32>,
    pub boxes_16: Vec<f32>,
    /// 8x8 grid, 6 anchors per cell: 384 logits and 384x16 regressors.
    pub scores_8: Vec<f32>,
    pub boxes_8: Vec<f32>,
}

/// Finds faces in frames. Not thread-safe by itself; one per analysis thread.
pub struct FaceDetector {
    kind: ModelKind,
    plan: Arc<TypedRunnableModel>,
    min_score: f32,
    auto_gain: bool,
    input: Vec<f32>,
    scratch: Vec<f32>,
}

impl FaceDetector {
    /// Loads the model built into the binary.
    pub fn new(kind: ModelKind) -> Result<Self, VisionError> {
        let name = format!("built-in {}", kind.file_name());
        Self::from_bytes(kind, kind.embedded_bytes(), &name)
    }

    /// Loads a model file of the given kind, e.g. a newer export.
    pub fn from_file(kind: ModelKind, path: &Path) -> Result<Self, VisionError> {
        let bytes = std::fs::read(path).map_err(|source| VisionError::ModelRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(kind, &bytes, &path.display().to_string())
    }

    fn from_bytes(kind: ModelKind, bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let invalid = |e: TractError| VisionError::ModelInvalid {
            name: name.to_owned(),
            message: format!("{e:#}"),
        };
        let size = kind.input_size();
        let mut onnx = tract_onnx::onnx();
        onnx.op_register
            .insert("ConstantOfShape", constant_of_shape_f32_default);
        let model = onnx
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(invalid)?
            .with_input_fact(0, f32::fact([1, size, size, 3]).into())
            .map_err(invalid)?
            .into_optimized()
            .map_err(invalid)?;
        let shapes: Vec<String> = model
            .output_outlets()
            .map_err(invalid)?
            .iter()
            .map(|o| {
                model
                    .outlet_fact(*o)
                    .map(|f| format!("{:?}", f.shape.as_concrete()))
                    .unwrap_or_default()
            })
            .collect();
        let expected = [
            "Some([1, 512, 1])",
            "Some([1, 384, 1])",
            "Some([1, 512, 16])",
            "Some([1, 384, 16])",
        ];
        if shapes != expected {
            return Err(VisionError::ModelInvalid {
                name: name.to_owned(),
                message: format!(
                    "expected outputs [1,512,1], [1,384,1], [1,512,16], [1,384,16] \
                     for a {size}x{size} input; the model has {shapes:?}"
                ),
            });
        }
        let plan = model.into_runnable().map_err(invalid)?;
        crate::memory::release_freed();
        Ok(Self {
            kind,
            plan,
            min_score: DEFAULT_MIN_SCORE,
            auto_gain: true,
            input: Vec::new(),
            scratch: Vec::new(),
        })
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Sets the score below which candidates are dropped.
    pub fn set_min_score(&mut self, min_score: f32) {
        self.min_score = min_score.clamp(0.0, 1.0);
    }

    /// Brightens dark frames before detection, as a camera's auto-exposure
    /// would (on by default). BlazeFace was trained on well-exposed photos
    /// and loses faces in dim rooms; a gain of up to 4x brings them back.
    pub fn set_auto_gain(&mut self, on: bool) {
        self.auto_gain = on;
    }

    /// Faces in a frame, best first, in frame pixel coordinates.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Face>, VisionError> {
        self.detect_rgb(&frame.rgb, frame.width, frame.height)
    }

    /// Faces in a packed RGB8 image, best first, in its pixel coordinates.
    pub fn detect_rgb(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
    ) -> Result<Vec<Face>, VisionError> {
        let expected = width as usize * height as usize * 3;
        if width == 0 || height == 0 || rgb.len() != expected {
            return Err(VisionError::BadFrame {
                width,
                height,
                expected,
                actual: rgb.len(),
            });
        }
        let size = self.kind.input_size();
        let mut input = std::mem::take(&mut self.input);
        let lb = letterbox(rgb, width, height, size, &mut input, &mut self.scratch);
        if self.auto_gain {
            apply_auto_gain(&mut input, &lb);
        }
        let raw = self.run_tensor(&input);
        self.input = input;
        let candidates = self.decode(&raw?);
        Ok(candidates
            .iter()
            .map(|c| face_from_candidate(c, &lb))
            .collect())
    }

    /// Runs the model on a prepared NHWC `[size, size, 3]` tensor in `[-1, 1]`.
    pub fn run_tensor(&self, input: &[f32]) -> Result<RawOutputs, VisionError> {
        let size = self.kind.input_size();
        let tensor = Tensor::from_shape(&[1, size, size, 3], input)
            .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let outputs = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let mut vecs = outputs.iter().map(|o| {
            o.to_plain_array_view::<f32>()
                .map(|view| view.iter().copied().collect::<Vec<f32>>())
                .map_err(|e| VisionError::Inference(format!("{e:#}")))
        });
        let mut next = || {
            vecs.next()
                .unwrap_or_else(|| Err(VisionError::Inference("missing model output".into())))
        };
        Ok(RawOutputs {
            scores_16: next()?,
            scores_8: next()?,
            boxes_16: next()?,
            boxes_8: next()?,
        })
    }

    /// Decodes raw outputs into blended candidates (normalised coordinates).
    pub fn decode(&self, raw: &RawOutputs) -> Vec<Candidate> {
        let size = self.kind.input_size();
        let mut candidates = Vec::new();
        decode_anchors(
            &raw.scores_16,
            &raw.boxes_16,
            16,
            2,
            size,
            self.min_score,
            &mut candidates,
        );
        decode_anchors(
            &raw.scores_8,
            &raw.boxes_8,
            8,
            6,
            size,
            self.min_score,
            &mut candidates,
        );
        weighted_blend(candidates, BLEND_IOU)
    }
}

/// Mean brightness (0..1) below which a frame is brightened.
const GAIN_TARGET: f32 = 0.4;
/// Largest gain applied: beyond this, noise dominates.
const MAX_GAIN: f32 = 4.0;

/// Scales the letterboxed content so its mean brightness reaches
/// [`GAIN_TARGET`]; bars stay black.
fn apply_auto_gain(input: &mut [f32], lb: &Letterbox) {
    let row = lb.size * 3;
    let rows = lb.pad_y..lb.pad_y + lb.content_h;
    let cols = lb.pad_x * 3..(lb.pad_x + lb.content_w) * 3;
    let mut sum = 0.0f32;
    for y in rows.clone() {
        sum += input[y * row + cols.start..y * row + cols.end]
            .iter()
            .map(|v| (v + 1.0) * 0.5)
            .sum::<f32>();
    }
    let mean = sum / (lb.content_h * lb.content_w * 3) as f32;
    if mean >= GAIN_TARGET || mean <= 0.0 {
        return;
    }
    let gain = (GAIN_TARGET / mean).min(MAX_GAIN);
    for y in rows {
        for v in &mut input[y * row + cols.start..y * row + cols.end] {
            *v = (((*v + 1.0) * 0.5 * gain).min(1.0)) * 2.0 - 1.0;
        }
    }
}

/// ONNX's `ConstantOfShape` fills with float32 zeros when it has no `value`
/// attribute. tract 0.23 uses a float64 zero instead, which breaks the
/// BlazeFace exports (their channel padding concatenates it with float32
/// tensors), so the op is registered again with the default the spec gives.
fn constant_of_shape_f32_default(
    ctx: &tract_onnx::model::ParsingContext,
    node: &tract_onnx::pb::NodeProto,
) -> TractResult<(Box<dyn tract_hir::infer::InferenceOp>, Vec<String>)> {
    let mut value = match node.get_attr_opt::<&tract_onnx::pb::TensorProto>("value")? {
        Some(val) => ctx.load_tensor(val)?.into_arc_tensor(),
        None => rctensor0(0.0f32),
    };
    if value.rank() > 0 {
        if value.len() != 1 {
            return Err(anyhow::anyhow!(
                "ConstantOfShape: expected a scalar value, got {value:?}"
            ));
        }
        value = value.nth(0)?.into_arc_tensor();
    }
    Ok((
        tract_hir::ops::expandable::expand(tract_hir::ops::array::ConstantOfShape::new(value)),
        vec![],
    ))
}

fn face_from_candidate(c: &Candidate, lb: &Letterbox) -> Face {
    let [cx, cy] = lb.frame_from_model(c.cx, c.cy);
    let w = lb.frame_len_x(c.w);
    let h = lb.frame_len_y(c.h);
    let mut keypoints = [[0.0f32; 2]; 6];
    for (kp, src) in keypoints.iter_mut().zip(&c.keypoints) {
        *kp = lb.frame_from_model(src[0], src[1]);
    }
    Face {
        score: c.score,
        bbox: [cx - w / 2.0, cy - h / 2.0, w, h],
        keypoints,
    }
}
