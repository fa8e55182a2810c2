//! BlazeFace output decoding: anchors, sigmoid, and MediaPipe-style weighted
//! blending of overlapping detections.

/// One decoded detection in normalised model-input coordinates (0..1).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub score: f32,
    /// Centre x, centre y, width, height.
    pub cx: f32,
    pub cy: f32,
    pub w: f32,
    pub h: f32,
    pub keypoints: [[f32; 2]; 6],
}

impl Candidate {
    fn iou(&self, other: &Candidate) -> f32 {
        let x0 = (self.cx - self.w / 2.0).max(other.cx - other.w / 2.0);
        let y0 = (self.cy - self.h / 2.0).max(other.cy - other.h / 2.0);
        let x1 = (self.cx + self.w / 2.0).min(other.cx + other.w / 2.0);
        let y1 = (self.cy + self.h / 2.0).min(other.cy + other.h / 2.0);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.w * self.h + other.w * other.h - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

/// Decodes one output layer of BlazeFace: a `cells` x `cells` grid with
/// `per_cell` anchors per cell, row-major then anchor; `scores` holds one
/// logit per anchor and `boxes` 16 regressors per anchor (box centre, size,
/// six keypoints) in input pixels relative to the anchor centre. Candidates
/// scoring at least `min_score` are appended to `out`.
pub fn decode_anchors(
    scores: &[f32],
    boxes: &[f32],
    cells: usize,
    per_cell: usize,
    input_size: usize,
    min_score: f32,
    out: &mut Vec<Candidate>,
) {
    let n = cells * cells * per_cell;
    debug_assert_eq!(scores.len(), n);
    debug_assert_eq!(boxes.len(), n * 16);
    let inv = 1.0 / input_size as f32;
    // Compare logits, not probabilities: one exp per survivor only.
    let min_logit = if min_score <= 0.0 {
        f32::NEG_INFINITY
    } else if min_score >= 1.0 {
        f32::INFINITY
    } else {
        (min_score / (1.0 - min_score)).ln()
    };
    for (i, &logit) in scores.iter().enumerate().take(n) {
        if logit < min_logit {
            continue;
        }
        let cell = i / per_cell;
        let ax = ((cell % cells) as f32 + 0.5) / cells as f32;
        let ay = ((cell / cells) as f32 + 0.5) / cells as f32;
        let r = &boxes[i * 16..i * 16 + 16];
        let mut keypoints = [[0.0f32; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [ax + r[4 + 2 * k] * inv, ay + r[5 + 2 * k] * inv];
        }
        out.push(Candidate {
            score: sigmoid(logit),
            cx: ax + r[0] * inv,
            cy: ay + r[1] * inv,
            w: r[2] * inv,
            h: r[3] * inv,
            keypoints,
        });
    }
}

/// Merges overlapping candidates the way MediaPipe's face detector does:
/// best first, every candidate overlapping it by at least `min_iou` is
/// removed and its geometry blended in, weighted by score. The blended
/// detection keeps the best score.
pub fn weighted_blend(mut candidates: Vec<Candidate>, min_iou: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut merged = Vec::new();
    let mut used = vec![false; candidates.len()];
    for i in 0..candidates.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let top = &candidates[i];
        let mut acc = [0.0f32; 16];
        let mut total = 0.0f32;
        let mut add = |c: &Candidate| {
            let geo = [
                c.cx,
                c.cy,
                c.w,
                c.h,
                c.keypoints[0][0],
                c.keypoints[0][1],
                c.keypoints[1][0],
                c.keypoints[1][1],
                c.keypoints[2][0],
                c.keypoints[2][1],
                c.keypoints[3][0],
                c.keypoints[3][1],
                c.keypoints[4][0],
                c.keypoints[4][1],
                c.keypoints[5][0],
                c.keypoints[5][1],
            ];
            for (a, g) in acc.iter_mut().zip(geo) {
                *a += g * c.score;
            }
            total += c.score;
        };
        add(top);
        for j in i + 1..candidates.len() {
            if !used[j] && top.iou(&candidates[j]) >= min_iou {
                used[j] = true;
                add(&candidates[j]);
            }
        }
        let g: Vec<f32> = acc.iter().map(|a| a / total).collect();
        let mut keypoints = [[0.0f32; 2]; 6];
        for (k, kp) in keypoints.iter_mut().enumerate() {
            *kp = [g[4 + 2 * k], g[5 + 2 * k]];
        }
        merged.push(Candidate {
            score: top.score,
            cx: g[0],
            cy: g[1],
            w: g[2],
            h: g[3],
            keypoints,
        });
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(score: f32, cx: f32) -> Candidate {
        Candidate {
            score,
            cx,
            cy: 0.5,
            w: 0.2,
            h: 0.2,
            keypoints: [[cx, 0.5]; 6],
        }
    }

    #[test]
    fn anchors_are_placed_on_their_grid() {
        // 2x2 grid, 1 anchor per cell; only the last anchor scores.
        let scores = [-10.0, -10.0, -10.0, 10.0];
        let mut boxes = [0.0f32; 64];
        boxes[48..52].copy_from_slice(&[8.0, 0.0, 32.0, 16.0]);
        let mut out = Vec::new();
        decode_anchors(&scores, &boxes, 2, 1, 64, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert!((c.cx - (0.75 + 8.0 / 64.0)).abs() < 1e-6);
        assert!((c.cy - 0.75).abs() < 1e-6);
        assert!((c.w - 0.5).abs() < 1e-6 && (c.h - 0.25).abs() < 1e-6);
        assert!(c.score > 0.99);
    }

    #[test]
    fn blending_merges_overlaps_and_keeps_separate_faces() {
        let merged = weighted_blend(vec![cand(0.6, 0.52), cand(0.9, 0.5), cand(0.8, 0.1)], 0.3);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        let expected = (0.9 * 0.5 + 0.6 * 0.52) / 1.5;
        assert!((merged[0].cx - expected).abs() < 1e-5, "{}", merged[0].cx);
        assert!((merged[1].cx - 0.1).abs() < 1e-6);
    }
}
