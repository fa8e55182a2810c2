//! Objects in view: NanoDet-m (COCO, 416 px, Apache-2.0; models/MODELS.md)
//! on tract, for the objects rule (people, phones, books, laptops,
//! screens). It costs ~20x a face detection, so the analyzer runs it every
//! few seconds, never per frame.

use std::sync::{Arc, Mutex};

use invigil_core::sync::lock;
use invigil_core::{Frame, ObjectLabel, SeenObject};
use tract_onnx::prelude::*;

use crate::preprocess::{letterbox, Letterbox};
use crate::VisionError;

/// Side of the model's square input, pixels.
pub const OBJECT_SIDE: usize = 416;
/// The built-in model's file name under `models/`.
pub const OBJECT_MODEL_FILE: &str = "nanodet_m_416_f16w.onnx";
/// COCO classes the model scores.
pub const CLASSES: usize = 80;
/// Distance bins per box side (NanoDet's generalised focal loss head).
const BINS: usize = 11;
/// Grid strides, smallest first, as the outputs come.
const STRIDES: [usize; 3] = [8, 16, 32];
/// NanoDet's input normalisation, per BGR channel.
const MEAN_BGR: [f32; 3] = [103.53, 116.28, 123.675];
const STD_BGR: [f32; 3] = [57.375, 57.12, 58.395];
/// Boxes of one label overlapping more than this are one object.
const NMS_IOU: f32 = 0.5;
/// Candidates below this are not decoded (the rules apply their own,
/// higher threshold: `object_min_score`).
pub const OBJECT_MIN_SCORE: f32 = 0.3;

/// Which of COCO's 80 classes (index) the rules care about, under their
/// own names.
pub fn label_of(class: usize) -> Option<ObjectLabel> {
    match class {
        0 => Some(ObjectLabel::Person),
        62 => Some(ObjectLabel::Screen),
        63 => Some(ObjectLabel::Laptop),
        67 => Some(ObjectLabel::Phone),
        73 => Some(ObjectLabel::Book),
        _ => None,
    }
}

/// One scored box straight from the model, in input pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct RawObject {
    /// COCO class index.
    pub class: usize,
    pub score: f32,
    /// `[x0, y0, x1, y1]`.
    pub corners: [f32; 4],
}

/// A plan for one input size, `[height, width]`.
type SizedPlan = ([usize; 2], Arc<TypedRunnableModel>);

/// Finds objects in frames. Cheap to clone (the plan is shared).
#[derive(Clone)]
pub struct ObjectDetector {
    /// The plan for the last input size: first the square 416x416 one the
    /// model was checked with, then the cut-down input of the frames' shape
    /// (see [`input_window`]), made on first use. Only one is kept (each
    /// holds its own packed copy of the weights, ~15 MB): a camera keeps its
    /// size all session.
    plan: Arc<Mutex<SizedPlan>>,
    square_only: bool,
}

/// The part of the square letterboxed input a frame's picture covers,
/// rounded out to the coarsest stride (32): `(x0, y0, width, height)`.
/// NanoDet is fully convolutional, so the bars need not be computed: a
/// 4:3 frame runs on 416x320 (77% of the work), 16:9 on 416x256 (62%).
pub fn input_window(lb: &Letterbox) -> (usize, usize, usize, usize) {
    let side = lb.size;
    let up = |n: usize| (n.div_ceil(32) * 32).clamp(32, side);
    let (w, h) = (up(lb.content_w), up(lb.content_h));
    ((side - w) / 2, (side - h) / 2, w, h)
}

impl ObjectDetector {
    /// The model built into the binary.
    pub fn new() -> Result<Self, VisionError> {
        Self::from_bytes(embedded_bytes(), &format!("built-in {OBJECT_MODEL_FILE}"))
    }

    fn from_bytes(bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let invalid = |e: TractError| VisionError::Unusable {
            what: "NanoDet object detection",
            name: name.to_owned(),
            message: format!("{e:#}"),
        };
        let side = OBJECT_SIDE;
        let model = optimized(bytes, [1, 3, side, side]).map_err(invalid)?;
        let shapes: Vec<Vec<usize>> = model
            .output_outlets()
            .map_err(invalid)?
            .iter()
            .filter_map(|o| model.outlet_fact(*o).ok())
            .filter_map(|f| f.shape.as_concrete().map(<[usize]>::to_vec))
            .collect();
        if output_order(&shapes, [side, side]).is_none() {
            return Err(VisionError::Unusable {
                what: "NanoDet object detection",
                name: name.to_owned(),
                message: format!("unexpected outputs {shapes:?}"),
            });
        }
        let plan = model.into_runnable().map_err(invalid)?;
        crate::memory::release_freed();
        Ok(Self {
            plan: Arc::new(Mutex::new(([side, side], plan))),
            square_only: false,
        })
    }

    /// Runs on the whole square input, bars included, as the model was
    /// trained (comparisons, benchmarks).
    pub fn square_only(mut self) -> Self {
        self.square_only = true;
        self
    }

    /// The plan for an input of `[h, w]`.
    fn plan_for(&self, hw: [usize; 2]) -> Result<Arc<TypedRunnableModel>, VisionError> {
        let mut cached = lock(&self.plan);
        if cached.0 == hw {
            return Ok(Arc::clone(&cached.1));
        }
        let fail = |e: TractError| VisionError::Inference(format!("NanoDet for {hw:?}: {e:#}"));
        let plan = optimized(embedded_bytes(), [1, 3, hw[0], hw[1]])
            .and_then(|m| m.into_runnable())
            .map_err(fail)?;
        *cached = (hw, Arc::clone(&plan));
        drop(cached);
        crate::memory::release_freed();
        Ok(plan)
    }

    /// Objects the rules know, in frame pixels, best first, one box per
    /// object.
    pub fn detect(&self, frame: &Frame) -> Result<Vec<SeenObject>, VisionError> {
        let side = OBJECT_SIDE;
        let (mut nhwc, mut scratch) = (Vec::new(), Vec::new());
        let lb = letterbox(
            &frame.rgb,
            frame.width,
            frame.height,
            side,
            &mut nhwc,
            &mut scratch,
        );
        let (x0, y0, w, h) = if self.square_only {
            (0, 0, side, side)
        } else {
            input_window(&lb)
        };
        // letterbox gives RGB in [-1, 1]; NanoDet takes normalised BGR, NCHW.
        let mut input = vec![0f32; 3 * w * h];
        for y in 0..h {
            let row = &nhwc[((y0 + y) * side + x0) * 3..][..w * 3];
            for (x, px) in row.chunks_exact(3).enumerate() {
                for (c, bgr) in [2usize, 1, 0].into_iter().enumerate() {
                    let v = (px[bgr] + 1.0) * 127.5;
                    input[c * w * h + y * w + x] = (v - MEAN_BGR[c]) / STD_BGR[c];
                }
            }
        }
        let mut raw = self.run_sized(&input, [h, w])?;
        for r in &mut raw {
            r.corners[0] += x0 as f32;
            r.corners[2] += x0 as f32;
            r.corners[1] += y0 as f32;
            r.corners[3] += y0 as f32;
        }
        let s = side as f32;
        let mut found: Vec<SeenObject> = raw
            .into_iter()
            .filter_map(|r| {
                let label = label_of(r.class)?;
                let [x0, y0] = lb.frame_from_model(r.corners[0] / s, r.corners[1] / s);
                let [x1, y1] = lb.frame_from_model(r.corners[2] / s, r.corners[3] / s);
                let (fw, fh) = (frame.width as f32, frame.height as f32);
                let (x0, y0) = (x0.clamp(0.0, fw), y0.clamp(0.0, fh));
                let (x1, y1) = (x1.clamp(0.0, fw), y1.clamp(0.0, fh));
                (x1 > x0 && y1 > y0).then_some(SeenObject {
                    label,
                    score: r.score,
                    bbox: [x0, y0, x1 - x0, y1 - y0],
                })
            })
            .collect();
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut kept: Vec<SeenObject> = Vec::new();
        for o in found {
            if kept
                .iter()
                .all(|k| k.label != o.label || iou(&k.bbox, &o.bbox) <= NMS_IOU)
            {
                kept.push(o);
            }
        }
        Ok(kept)
    }

    /// Every grid cell whose best class scores at least
    /// [`OBJECT_MIN_SCORE`], from a normalised NCHW input (no suppression).
    pub fn run_input(&self, input: &[f32]) -> Result<Vec<RawObject>, VisionError> {
        self.run_sized(input, [OBJECT_SIDE, OBJECT_SIDE])
    }

    /// As [`run_input`](Self::run_input) for an input of `[height, width]`
    /// (multiples of 32).
    fn run_sized(&self, input: &[f32], hw: [usize; 2]) -> Result<Vec<RawObject>, VisionError> {
        let fail = |e: TractError| VisionError::Inference(format!("{e:#}"));
        let tensor = Tensor::from_shape(&[1, 3, hw[0], hw[1]], input).map_err(fail)?;
        let out = self.plan_for(hw)?.run(tvec!(tensor.into())).map_err(fail)?;
        let shapes: Vec<Vec<usize>> = out.iter().map(|t| t.shape().to_vec()).collect();
        let order = output_order(&shapes, hw)
            .ok_or_else(|| VisionError::Inference(format!("unexpected outputs {shapes:?}")))?;
        let mut found = Vec::new();
        for (level, (cls_at, reg_at)) in order.into_iter().enumerate() {
            let stride = STRIDES[level];
            let cells = hw[1] / stride;
            let cls = values(&out[cls_at]).map_err(fail)?;
            let reg = values(&out[reg_at]).map_err(fail)?;
            for (i, scores) in cls.chunks_exact(CLASSES).enumerate() {
                let (class, &score) = scores
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .expect("80 classes");
                if score.is_nan() || score < OBJECT_MIN_SCORE {
                    continue;
                }
                let (cy, cx) = (i / cells, i % cells);
                let (x, y) = (
                    (cx as f32 + 0.5) * stride as f32,
                    (cy as f32 + 0.5) * stride as f32,
                );
                let d = distances(&reg[i * 4 * BINS..(i + 1) * 4 * BINS], stride as f32);
                found.push(RawObject {
                    class,
                    score,
                    corners: [x - d[0], y - d[1], x + d[2], y + d[3]],
                });
            }
        }
        Ok(found)
    }
}

/// An ONNX model for one f32 input of `shape`, optimised by tract.
pub(crate) fn optimized(bytes: &[u8], shape: [usize; 4]) -> TractResult<TypedModel> {
    tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))?
        .with_input_fact(0, f32::fact(shape).into())?
        .into_optimized()
}

/// A model output's values, in order.
pub(crate) fn values(t: &TValue) -> TractResult<Vec<f32>> {
    Ok(t.to_plain_array_view::<f32>()?.iter().copied().collect())
}

/// For each stride level, the indices of its class and box outputs:
/// `[1, cells², 80]` and `[1, cells², 44]`.
fn output_order(shapes: &[Vec<usize>], hw: [usize; 2]) -> Option<[(usize, usize); 3]> {
    let find = |n: usize, width: usize| shapes.iter().position(|s| s[..] == [1, n, width]);
    let mut order = [(0, 0); 3];
    for (level, stride) in STRIDES.into_iter().enumerate() {
        let n = (hw[0] / stride) * (hw[1] / stride);
        order[level] = (find(n, CLASSES)?, find(n, 4 * BINS)?);
    }
    Some(order)
}

/// Expected distance to each side (left, top, right, bottom), in pixels:
/// the softmax over each side's bins.
fn distances(reg: &[f32], stride: f32) -> [f32; 4] {
    let mut d = [0f32; 4];
    for (side, bins) in reg.chunks_exact(BINS).enumerate() {
        let max = bins.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (mut sum, mut acc) = (0f32, 0f32);
        for (k, &b) in bins.iter().enumerate() {
            let e = (b - max).exp();
            sum += e;
            acc += e * k as f32;
        }
        d[side] = acc / sum * stride;
    }
    d
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let iy = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The model bytes built into the binary.
pub fn embedded_bytes() -> &'static [u8] {
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/nanodet_m_416_f16w.onnx"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_distance_is_the_mean_bin() {
        let mut reg = vec![-50.0f32; 4 * BINS];
        reg[3] = 10.0; // left: bin 3
        reg[BINS] = 10.0; // top: bin 0
        reg[2 * BINS + 10] = 10.0; // right: bin 10
        reg[3 * BINS + 4] = 10.0;
        reg[3 * BINS + 5] = 10.0; // bottom: halfway between 4 and 5
        let d = distances(&reg, 8.0);
        assert!((d[0] - 24.0).abs() < 1e-3 && d[1].abs() < 1e-3, "{d:?}");
        assert!(
            (d[2] - 80.0).abs() < 1e-3 && (d[3] - 36.0).abs() < 1e-3,
            "{d:?}"
        );
    }

    #[test]
    fn only_the_rules_classes_have_labels() {
        assert_eq!(label_of(67), Some(ObjectLabel::Phone));
        assert_eq!(label_of(73), Some(ObjectLabel::Book));
        assert_eq!(label_of(0), Some(ObjectLabel::Person));
        assert_eq!(label_of(15), None, "a cat is nobody's business");
        assert_eq!(label_of(1000), None);
    }
}
