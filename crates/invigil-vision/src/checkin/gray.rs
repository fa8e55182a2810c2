//! A small grey image and its gradients, for the check-in measures.

use invigil_core::Frame;

/// Luma (Rec. 601, 0..=255) on a grid of whole-pixel blocks.
#[derive(Clone, Debug)]
pub(crate) struct Gray {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
    /// Frame pixels per grey pixel.
    pub scale: f32,
}

impl Gray {
    /// The region `[x, y, w, h]` of `frame` (pixels, clamped to the frame),
    /// averaged over `step` x `step` blocks, where `step` is the smallest
    /// whole number that makes it at most `max_w` wide.
    pub fn of(frame: &Frame, region: [usize; 4], max_w: usize) -> Self {
        let fw = frame.width as usize;
        let fh = frame.height as usize;
        let x0 = region[0].min(fw.saturating_sub(1));
        let y0 = region[1].min(fh.saturating_sub(1));
        let rw = region[2].min(fw - x0).max(1);
        let rh = region[3].min(fh - y0).max(1);
        let step = rw.div_ceil(max_w.max(1)).max(1);
        let w = (rw / step).max(1);
        let h = (rh / step).max(1);
        let mut px = vec![0f32; w * h];
        let n = (step * step) as f32;
        for gy in 0..h {
            for gx in 0..w {
                let mut acc = 0u32;
                for dy in 0..step {
                    let y = (y0 + gy * step + dy).min(fh - 1);
                    let row = y * fw;
                    for dx in 0..step {
                        let x = (x0 + gx * step + dx).min(fw - 1);
                        let p = &frame.rgb[(row + x) * 3..(row + x) * 3 + 3];
                        acc += 77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]);
                    }
                }
                px[gy * w + gx] = acc as f32 / (256.0 * n);
            }
        }
        Self {
            w,
            h,
            px,
            scale: step as f32,
        }
    }

    /// The whole frame.
    pub fn frame(frame: &Frame, max_w: usize) -> Self {
        Self::of(
            frame,
            [0, 0, frame.width as usize, frame.height as usize],
            max_w,
        )
    }

    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.px[y * self.w + x]
    }

    /// Sobel gradients `(gx, gy)` per pixel, in luma levels per pixel (the
    /// border is zero).
    pub fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (self.w, self.h);
        let mut gx = vec![0f32; w * h];
        let mut gy = vec![0f32; w * h];
        if w < 3 || h < 3 {
            return (gx, gy);
        }
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let p = |dx: isize, dy: isize| {
                    self.px[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
                };
                gx[y * w + x] =
                    (p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1))
                        / 8.0;
                gy[y * w + x] =
                    (p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1))
                        / 8.0;
            }
        }
        (gx, gy)
    }

    /// Variance of the 4-neighbour Laplacian: high for sharp detail, low
    /// when blurred.
    pub fn laplacian_variance(&self) -> f32 {
        let (w, h) = (self.w, self.h);
        if w < 3 || h < 3 {
            return 0.0;
        }
        let mut sum = 0f64;
        let mut sq = 0f64;
        let mut n = 0f64;
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let l = f64::from(
                    self.at(x - 1, y) + self.at(x + 1, y) + self.at(x, y - 1) + self.at(x, y + 1)
                        - 4.0 * self.at(x, y),
                );
                sum += l;
                sq += l * l;
                n += 1.0;
            }
        }
        let mean = sum / n;
        (sq / n - mean * mean) as f32
    }

    pub fn mean(&self) -> f32 {
        self.px.iter().sum::<f32>() / self.px.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_blocks_and_keeps_the_region() {
        let mut f = Frame::solid(0, 8, 4, [0, 0, 0]);
        for y in 0..4 {
            for x in 4..8 {
                let i = (y * 8 + x) * 3;
                f.rgb[i..i + 3].copy_from_slice(&[255, 255, 255]);
            }
        }
        let g = Gray::of(&f, [0, 0, 8, 4], 4);
        assert_eq!((g.w, g.h, g.scale), (4, 2, 2.0));
        assert!(g.at(0, 0) < 1.0 && g.at(3, 1) > 254.0);
        let right = Gray::of(&f, [4, 0, 100, 100], 100);
        assert_eq!((right.w, right.h), (4, 4));
        assert!(right.mean() > 254.0);
    }

    #[test]
    fn a_step_has_a_gradient_and_a_flat_image_none() {
        let mut f = Frame::solid(0, 20, 20, [0, 0, 0]);
        for y in 0..20 {
            for x in 10..20 {
                let i = (y * 20 + x) * 3;
                f.rgb[i..i + 3].copy_from_slice(&[200, 200, 200]);
            }
        }
        let g = Gray::frame(&f, 20);
        let (gx, gy) = g.gradients();
        assert!(gx[5 * 20 + 10] > 90.0, "{}", gx[5 * 20 + 10]);
        assert_eq!(gy[5 * 20 + 10], 0.0);
        assert!(g.laplacian_variance() > 0.0);
        assert_eq!(
            Gray::frame(&Frame::solid(0, 20, 20, [9, 9, 9]), 20).laplacian_variance(),
            0.0
        );
    }
}
