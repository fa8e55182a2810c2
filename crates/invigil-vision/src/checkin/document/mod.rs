//! Finding a document held to the camera: the best-supported four-sided
//! shape of card proportions, from straight edges (a Hough transform voted
//! along each edge pixel's gradient direction).
//!
//! The search is made for roughly upright documents (sides within 25° of
//! the frame's axes), which is how a candidate holds an ID to a webcam;
//! fingers over an edge are tolerated (each side needs about half its
//! length in view).

use serde::Serialize;

use super::gray::Gray;
use invigil_core::Frame;

/// Width of the image the search runs on, pixels.
const WORK_W: usize = 320;
/// Lines further than this from the axes are not document sides, degrees.
const MAX_TILT_DEG: f32 = 25.0;
/// Long side over short side, for ID-1 cards (1.59), passports (1.42) and
/// their perspective at a moderate angle.
const MIN_ASPECT: f32 = 1.2;
const MAX_ASPECT: f32 = 1.95;
/// Lines kept per orientation.
const LINES_PER_AXIS: usize = 18;

/// A found document, in frame pixels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quad {
    /// Top-left, top-right, bottom-right, bottom-left.
    pub corners: [[f32; 2]; 4],
    /// Its area as a fraction of the frame's.
    pub area: f32,
    /// Long side over short side.
    pub aspect: f32,
    /// Fraction of its outline on a matching edge (0-1), the weakest side's.
    pub support: f32,
}

impl Quad {
    /// Bounding box `[x, y, w, h]`.
    pub fn bounds(&self) -> [f32; 4] {
        let xs = self.corners.map(|c| c[0]);
        let ys = self.corners.map(|c| c[1]);
        let x0 = xs.iter().copied().fold(f32::MAX, f32::min);
        let x1 = xs.iter().copied().fold(f32::MIN, f32::max);
        let y0 = ys.iter().copied().fold(f32::MAX, f32::min);
        let y1 = ys.iter().copied().fold(f32::MIN, f32::max);
        [x0, y0, x1 - x0, y1 - y0]
    }

    /// Whether the point lies inside (a convex quad, corners in order).
    pub fn contains(&self, p: [f32; 2]) -> bool {
        let mut sign = 0.0f32;
        for i in 0..4 {
            let a = self.corners[i];
            let b = self.corners[(i + 1) % 4];
            let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
            if cross != 0.0 {
                if sign != 0.0 && cross.signum() != sign {
                    return false;
                }
                sign = cross.signum();
            }
        }
        true
    }
}

#[derive(Clone, Copy, Debug)]
struct Line {
    /// Normal angle, radians: `x cos(theta) + y sin(theta) = rho`.
    theta: f32,
    rho: f32,
    votes: u32,
}

impl Line {
    fn intersect(&self, o: &Line) -> Option<[f32; 2]> {
        let (a1, b1) = (self.theta.cos(), self.theta.sin());
        let (a2, b2) = (o.theta.cos(), o.theta.sin());
        let det = a1 * b2 - a2 * b1;
        if det.abs() < 1e-3 {
            return None;
        }
        Some([
            (self.rho * b2 - o.rho * b1) / det,
            (a1 * o.rho - a2 * self.rho) / det,
        ])
    }
}

struct Edges {
    w: usize,
    h: usize,
    mag: Vec<f32>,
    /// Gradient direction, radians.
    dir: Vec<f32>,
    threshold: f32,
}

impl Edges {
    fn of(g: &Gray) -> Self {
        let (gx, gy) = g.gradients();
        let mag: Vec<f32> = gx.iter().zip(&gy).map(|(x, y)| x.hypot(*y)).collect();
        let dir: Vec<f32> = gx.iter().zip(&gy).map(|(x, y)| y.atan2(*x)).collect();
        // Edges are the strongest fifth of gradients, and at least a real
        // step (a few levels over sensor noise).
        let mut sorted: Vec<f32> = mag.iter().copied().filter(|m| *m > 0.0).collect();
        let threshold = if sorted.is_empty() {
            f32::MAX
        } else {
            let k = sorted.len() * 4 / 5;
            let (_, v, _) = sorted.select_nth_unstable_by(k, f32::total_cmp);
            v.max(6.0)
        };
        Self {
            w: g.w,
            h: g.h,
            mag,
            dir,
            threshold,
        }
    }

    /// Whether `(x, y)` (or a pixel beside it) is an edge whose gradient is
    /// along `normal` (either sign).
    fn supports(&self, x: f32, y: f32, normal: f32) -> bool {
        let (xi, yi) = (x.round() as isize, y.round() as isize);
        let (nx, ny) = (normal.cos(), normal.sin());
        for d in -1..=1isize {
            let px = xi + (nx * d as f32).round() as isize;
            let py = yi + (ny * d as f32).round() as isize;
            if px < 1 || py < 1 || px >= self.w as isize - 1 || py >= self.h as isize - 1 {
                continue;
            }
            let i = py as usize * self.w + px as usize;
            if self.mag[i] < self.threshold {
                continue;
            }
            let diff = (self.dir[i] - normal).rem_euclid(std::f32::consts::PI);
            let diff = diff.min(std::f32::consts::PI - diff);
            if diff < 20f32.to_radians() {
                return true;
            }
        }
        false
    }

    /// Fraction of the segment `a`-`b` (its middle 90%) on supporting edges.
    fn side_support(&self, a: [f32; 2], b: [f32; 2]) -> f32 {
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = dx.hypot(dy);
        if len < 4.0 {
            return 0.0;
        }
        let normal = dx.atan2(-dy);
        let n = len as usize;
        let mut hits = 0;
        let mut total = 0;
        for i in 0..n {
            let t = 0.05 + 0.9 * (i as f32 + 0.5) / n as f32;
            total += 1;
            if self.supports(a[0] + dx * t, a[1] + dy * t, normal) {
                hits += 1;
            }
        }
        hits as f32 / total.max(1) as f32
    }

    fn hough(&self) -> (Vec<Line>, Vec<Line>) {
        let diag = ((self.w * self.w + self.h * self.h) as f32).sqrt().ceil() as usize;
        let n_rho = 2 * diag + 1;
        let mut acc = vec![0u32; 180 * n_rho];
        let trig: Vec<(f32, f32)> = (0..180)
            .map(|t| {
                let r = (t as f32).to_radians();
                (r.cos(), r.sin())
            })
            .collect();
        for y in 1..self.h - 1 {
            for x in 1..self.w - 1 {
                let i = y * self.w + x;
                if self.mag[i] < self.threshold {
                    continue;
                }
                let deg = self.dir[i].to_degrees().rem_euclid(180.0);
                let centre = deg.round() as i32;
                for t in centre - 3..=centre + 3 {
                    let t = t.rem_euclid(180) as usize;
                    let (c, s) = trig[t];
                    let rho = x as f32 * c + y as f32 * s;
                    let r = (rho.round() as isize + diag as isize) as usize;
                    acc[t * n_rho + r] += 1;
                }
            }
        }
        // Peaks: local maxima over +-4 degrees and +-4 px, long enough to be
        // a side of a document of useful size.
        let min_votes = (self.w.min(self.h) as u32) / 10;
        let mut peaks = Vec::new();
        for t in 0..180usize {
            let tilt = (t as f32)
                .min(180.0 - t as f32)
                .min((t as f32 - 90.0).abs());
            if tilt > MAX_TILT_DEG {
                continue;
            }
            for r in 0..n_rho {
                let v = acc[t * n_rho + r];
                if v < min_votes {
                    continue;
                }
                let mut is_max = true;
                'scan: for dt in -4..=4i32 {
                    let tt = (t as i32 + dt).rem_euclid(180) as usize;
                    // Across the 0/180 seam rho changes sign.
                    let wraps = (t as i32 + dt) < 0 || (t as i32 + dt) >= 180;
                    for dr in -4..=4i32 {
                        let rr = if wraps {
                            2 * diag as i32 - r as i32 + dr
                        } else {
                            r as i32 + dr
                        };
                        if rr < 0 || rr >= n_rho as i32 || (dt == 0 && dr == 0) {
                            continue;
                        }
                        let o = acc[tt * n_rho + rr as usize];
                        if o > v || (o == v && (tt, rr as usize) < (t, r)) {
                            is_max = false;
                            break 'scan;
                        }
                    }
                }
                if is_max {
                    peaks.push(Line {
                        theta: (t as f32).to_radians(),
                        rho: r as f32 - diag as f32,
                        votes: v,
                    });
                }
            }
        }
        peaks.sort_by_key(|l| std::cmp::Reverse(l.votes));
        let mut vertical = Vec::new();
        let mut horizontal = Vec::new();
        for mut l in peaks {
            let deg = l.theta.to_degrees();
            if (deg - 90.0).abs() <= MAX_TILT_DEG {
                if horizontal.len() < LINES_PER_AXIS {
                    horizontal.push(l);
                }
            } else {
                // Normal near 0 or 180: a near-vertical line; keep theta in
                // (-90, 90] so that rho is its x position.
                if deg > 90.0 {
                    l.theta -= std::f32::consts::PI;
                    l.rho = -l.rho;
                }
                if vertical.len() < LINES_PER_AXIS {
                    vertical.push(l);
                }
            }
        }
        (vertical, horizontal)
    }
}

fn polygon_area(c: &[[f32; 2]; 4]) -> f32 {
    let mut s = 0.0;
    for i in 0..4 {
        let a = c[i];
        let b = c[(i + 1) % 4];
        s += a[0] * b[1] - b[0] * a[1];
    }
    s.abs() / 2.0
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// The most likely document in the frame, if any four-sided shape of card
/// proportions covering at least 2% of the frame has edges on every side.
pub fn find_document(frame: &Frame) -> Option<Quad> {
    let g = Gray::frame(frame, WORK_W);
    if g.w < 16 || g.h < 16 {
        return None;
    }
    let edges = Edges::of(&g);
    let (mut vertical, mut horizontal) = edges.hough();
    let x_at = |l: &Line, y: f32| (l.rho - y * l.theta.sin()) / l.theta.cos();
    let y_at = |l: &Line, x: f32| (l.rho - x * l.theta.cos()) / l.theta.sin();
    let (mid_x, mid_y) = (g.w as f32 / 2.0, g.h as f32 / 2.0);
    vertical.sort_by(|a, b| x_at(a, mid_y).total_cmp(&x_at(b, mid_y)));
    horizontal.sort_by(|a, b| y_at(a, mid_x).total_cmp(&y_at(b, mid_x)));
    let frame_area = (g.w * g.h) as f32;
    let (wf, hf) = (g.w as f32, g.h as f32);
    let mut best: Option<(f32, Quad)> = None;
    let parallel = 10f32.to_radians();
    for (i, left) in vertical.iter().enumerate() {
        for right in &vertical[i + 1..] {
            if (left.theta - right.theta).abs() > parallel {
                continue;
            }
            for (j, top) in horizontal.iter().enumerate() {
                for bottom in &horizontal[j + 1..] {
                    if (top.theta - bottom.theta).abs() > parallel {
                        continue;
                    }
                    let corners = match (
                        left.intersect(top),
                        right.intersect(top),
                        right.intersect(bottom),
                        left.intersect(bottom),
                    ) {
                        (Some(a), Some(b), Some(c), Some(d)) => [a, b, c, d],
                        _ => continue,
                    };
                    let margin = 0.03;
                    if corners.iter().any(|c| {
                        c[0] < -margin * wf
                            || c[0] > (1.0 + margin) * wf
                            || c[1] < -margin * hf
                            || c[1] > (1.0 + margin) * hf
                    }) {
                        continue;
                    }
                    let width = (dist(corners[0], corners[1]) + dist(corners[3], corners[2])) / 2.0;
                    let height =
                        (dist(corners[0], corners[3]) + dist(corners[1], corners[2])) / 2.0;
                    let aspect = width.max(height) / width.min(height).max(1.0);
                    if !(MIN_ASPECT..=MAX_ASPECT).contains(&aspect) {
                        continue;
                    }
                    let area = polygon_area(&corners) / frame_area;
                    if area < 0.02 {
                        continue;
                    }
                    let sides = [
                        edges.side_support(corners[0], corners[1]),
                        edges.side_support(corners[1], corners[2]),
                        edges.side_support(corners[2], corners[3]),
                        edges.side_support(corners[3], corners[0]),
                    ];
                    let weakest = sides.iter().copied().fold(1.0, f32::min);
                    let mean = sides.iter().sum::<f32>() / 4.0;
                    if weakest < 0.45 || mean < 0.6 {
                        continue;
                    }
                    // Prefer the larger of nested shapes (a card over the
                    // photo printed on it) when both are well outlined.
                    let score = mean * area.sqrt();
                    if best.as_ref().is_none_or(|(s, _)| score > *s) {
                        let s = g.scale;
                        best = Some((
                            score,
                            Quad {
                                corners: corners.map(|c| [c[0] * s, c[1] * s]),
                                area,
                                aspect,
                                support: weakest,
                            },
                        ));
                    }
                }
            }
        }
    }
    best.map(|(_, q)| q)
}

/// Sharpness of a region `[x, y, w, h]` of the frame: the variance of the
/// Laplacian, measured at no more than 320 px across the region so that a
/// document held close is not judged sharper for being larger.
pub fn sharpness(frame: &Frame, region: [f32; 4]) -> f32 {
    let x = region[0].max(0.0) as usize;
    let y = region[1].max(0.0) as usize;
    let w = region[2].max(1.0) as usize;
    let h = region[3].max(1.0) as usize;
    Gray::of(frame, [x, y, w, h], 320).laplacian_variance()
}

#[cfg(test)]
mod tests;
