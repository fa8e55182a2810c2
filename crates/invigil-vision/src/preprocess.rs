//! Letterboxing a frame into the model's square input tensor.

/// Where the frame landed inside the square model input, to map detections
/// back to frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    /// Model input side, pixels.
    pub size: usize,
    /// Size of the resized frame inside the input.
    pub content_w: usize,
    pub content_h: usize,
    /// Offset of the resized frame inside the input.
    pub pad_x: usize,
    pub pad_y: usize,
    /// Original frame size.
    pub frame_w: u32,
    pub frame_h: u32,
}

impl Letterbox {
    /// Computes the placement of a `frame_w` x `frame_h` frame in a `size`
    /// square: aspect kept, centred, black bars.
    pub fn new(frame_w: u32, frame_h: u32, size: usize) -> Self {
        let scale = size as f64 / f64::from(frame_w.max(frame_h));
        let content_w = ((f64::from(frame_w) * scale).round() as usize).clamp(1, size);
        let content_h = ((f64::from(frame_h) * scale).round() as usize).clamp(1, size);
        Self {
            size,
            content_w,
            content_h,
            pad_x: (size - content_w) / 2,
            pad_y: (size - content_h) / 2,
            frame_w,
            frame_h,
        }
    }

    /// Maps a point in normalised model coordinates (0..1 of the input side)
    /// to frame pixels.
    pub fn frame_from_model(&self, x: f32, y: f32) -> [f32; 2] {
        let s = self.size as f32;
        let fx = (x * s - self.pad_x as f32) * self.frame_w as f32 / self.content_w as f32;
        let fy = (y * s - self.pad_y as f32) * self.frame_h as f32 / self.content_h as f32;
        [fx, fy]
    }

    /// Maps a length along x (normalised) to frame pixels.
    pub fn frame_len_x(&self, w: f32) -> f32 {
        w * self.size as f32 * self.frame_w as f32 / self.content_w as f32
    }

    /// Maps a length along y (normalised) to frame pixels.
    pub fn frame_len_y(&self, h: f32) -> f32 {
        h * self.size as f32 * self.frame_h as f32 / self.content_h as f32
    }
}

/// Filter taps for resampling one axis from `src` to `dst` samples with a
/// triangle (bilinear) filter widened to the scale when shrinking, so that
/// downscaling averages every source pixel instead of skipping most of them.
struct Taps {
    /// Per output sample: first source index and its weights.
    spans: Vec<(usize, Vec<f32>)>,
}

impl Taps {
    fn new(src: usize, dst: usize) -> Self {
        let inv = src as f64 / dst as f64;
        let support = inv.max(1.0);
        let spans = (0..dst)
            .map(|i| {
                let center = (i as f64 + 0.5) * inv;
                let lo = ((center - support).floor().max(0.0)) as usize;
                let hi = ((center + support).ceil() as usize).min(src);
                let mut weights: Vec<f32> = (lo..hi)
                    .map(|x| {
                        let d = ((x as f64 + 0.5 - center) / support).abs();
                        (1.0 - d).max(0.0) as f32
                    })
                    .collect();
                let sum: f32 = weights.iter().sum();
                if sum > 0.0 {
                    weights.iter_mut().for_each(|w| *w /= sum);
                } else {
                    // Degenerate: take the nearest pixel.
                    weights = vec![0.0; hi - lo];
                    let nearest = (center as usize).clamp(lo, hi - 1);
                    weights[nearest - lo] = 1.0;
                }
                (lo, weights)
            })
            .collect();
        Self { spans }
    }
}

/// Resizes an RGB8 frame into `out`, an NHWC `[size, size, 3]` f32 tensor in
/// `[-1, 1]`, letterboxed with black (-1) bars. `scratch` is reused between
/// calls to avoid allocation.
///
/// Large reductions (a 640x480 webcam frame into 128x96) first sum whole
/// `n x n` pixel blocks in integers, which is cheap and averages every source
/// pixel; a triangle filter then covers the remaining factor (2 to 4).
pub fn letterbox(
    rgb: &[u8],
    width: u32,
    height: u32,
    size: usize,
    out: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) -> Letterbox {
    let lb = Letterbox::new(width, height, size);
    let (w, h) = (width as usize, height as usize);
    out.clear();
    out.resize(size * size * 3, -1.0);

    // Integer block reduction by n in both directions, leaving a factor of at
    // least 2 to the triangle filter so the result stays close to a plain
    // bilinear (antialiased) resize.
    let n = ((w / lb.content_w).min(h / lb.content_h) / 2).max(1);
    let (bw, bh) = (w / n, h / n);
    // Pixels left over by whole blocks are dropped evenly from both sides,
    // which keeps the picture centred (at most n - 1 pixels go).
    let (off_x, off_y) = ((w - bw * n) / 2, (h - bh * n) / 2);
    let mut blocks = std::mem::take(scratch);
    blocks.clear();
    blocks.resize(bw * bh * 3 + lb.content_w * bh * 3, 0.0);
    let (reduced, horizontal) = blocks.split_at_mut(bw * bh * 3);
    if n == 1 {
        for (d, s) in reduced.iter_mut().zip(rgb) {
            *d = f32::from(*s);
        }
    } else {
        let mut row_sums = vec![0u32; bw * 3];
        let inv = 1.0 / (n * n) as f32;
        for by in 0..bh {
            row_sums.fill(0);
            for y in off_y + by * n..off_y + by * n + n {
                let start = (y * w + off_x) * 3;
                let row = &rgb[start..start + bw * n * 3];
                for (bx, block) in row.chunks_exact(n * 3).enumerate() {
                    let acc = &mut row_sums[bx * 3..bx * 3 + 3];
                    for px in block.chunks_exact(3) {
                        acc[0] += u32::from(px[0]);
                        acc[1] += u32::from(px[1]);
                        acc[2] += u32::from(px[2]);
                    }
                }
            }
            for (d, s) in reduced[by * bw * 3..(by + 1) * bw * 3]
                .iter_mut()
                .zip(&row_sums)
            {
                *d = *s as f32 * inv;
            }
        }
    }

    // Horizontal pass: bh rows x content_w columns.
    let xt = Taps::new(bw, lb.content_w);
    for y in 0..bh {
        let row = &reduced[y * bw * 3..(y + 1) * bw * 3];
        let dst = &mut horizontal[y * lb.content_w * 3..(y + 1) * lb.content_w * 3];
        for (ox, (lo, weights)) in xt.spans.iter().enumerate() {
            let (mut r, mut g, mut b) = (0.0f32, 0.0f32, 0.0f32);
            for (k, wgt) in weights.iter().enumerate() {
                let p = (lo + k) * 3;
                r += wgt * row[p];
                g += wgt * row[p + 1];
                b += wgt * row[p + 2];
            }
            dst[ox * 3] = r;
            dst[ox * 3 + 1] = g;
            dst[ox * 3 + 2] = b;
        }
    }

    // Vertical pass straight into the tensor, scaled to [-1, 1].
    let yt = Taps::new(bh, lb.content_h);
    let scale = 2.0 / 255.0;
    for (oy, (lo, weights)) in yt.spans.iter().enumerate() {
        let dst_row = (oy + lb.pad_y) * size * 3 + lb.pad_x * 3;
        let dst = &mut out[dst_row..dst_row + lb.content_w * 3];
        dst.fill(0.0);
        for (k, wgt) in weights.iter().enumerate() {
            let src_row = (lo + k) * lb.content_w * 3;
            let src = &horizontal[src_row..src_row + lb.content_w * 3];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wgt * s;
            }
        }
        for d in dst.iter_mut() {
            *d = *d * scale - 1.0;
        }
    }
    *scratch = blocks;
    lb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_places_4_3_frame_in_the_middle() {
        let lb = Letterbox::new(640, 480, 128);
        assert_eq!((lb.content_w, lb.content_h), (128, 96));
        assert_eq!((lb.pad_x, lb.pad_y), (0, 16));
        let [x, y] = lb.frame_from_model(0.5, 0.5);
        assert!((x - 320.0).abs() < 1e-3 && (y - 240.0).abs() < 1e-3);
        let [x, y] = lb.frame_from_model(0.0, 16.0 / 128.0);
        assert!(x.abs() < 1e-3 && y.abs() < 1e-3);
        assert!((lb.frame_len_x(0.5) - 320.0).abs() < 1e-3);
    }

    #[test]
    fn portrait_frames_get_side_bars() {
        let lb = Letterbox::new(480, 640, 128);
        assert_eq!((lb.content_w, lb.content_h), (96, 128));
        assert_eq!((lb.pad_x, lb.pad_y), (16, 0));
    }

    #[test]
    fn uniform_frame_stays_uniform_and_bars_are_black() {
        let rgb = vec![255u8; 64 * 48 * 3];
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        letterbox(&rgb, 64, 48, 16, &mut out, &mut scratch);
        assert_eq!(out.len(), 16 * 16 * 3);
        // Rows 2..14 hold the frame; the rest are bars.
        assert!((out[(8 * 16 + 8) * 3] - 1.0).abs() < 1e-5);
        assert_eq!(out[0], -1.0);
        assert_eq!(out[(15 * 16 + 15) * 3], -1.0);
    }

    #[test]
    fn tiny_frames_are_upscaled() {
        let rgb: Vec<u8> = (0..4 * 4 * 3).map(|i| (i * 5) as u8).collect();
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        let lb = letterbox(&rgb, 4, 4, 128, &mut out, &mut scratch);
        assert_eq!((lb.content_w, lb.content_h), (128, 128));
        assert!(out.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}
