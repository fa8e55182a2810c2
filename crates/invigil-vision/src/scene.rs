//! Whole-frame statistics: brightness, contrast, detail and a fingerprint.

use invigil_core::{Fingerprint, Frame, SceneStats};

/// Fingerprint grid width, cells.
pub const GRID_W: usize = 64;
/// Fingerprint grid height, cells.
pub const GRID_H: usize = 48;

/// Computes [`SceneStats`] over a `GRID_W` x `GRID_H` grid of mean luma
/// (Rec. 601 weights). Cell means average out sensor noise, so contrast and
/// detail describe the scene rather than the noise. Frames larger than
/// 2x the grid are sampled on every other row and column: still dozens of
/// samples a cell, at a quarter of the work.
pub fn scene_stats(frame: &Frame) -> SceneStats {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let gw = GRID_W.min(w);
    let gh = GRID_H.min(h);
    let step = if w >= 4 * GRID_W && h >= 4 * GRID_H {
        2
    } else {
        1
    };
    let mut sums = vec![0u64; gw * gh];
    let mut counts = vec![0u32; gw * gh];
    // Cell column boundaries in pixels, computed once per frame.
    let bounds: Vec<usize> = (0..=gw).map(|c| (c * w).div_ceil(gw)).collect();
    for y in (0..h).step_by(step) {
        let row_cell = (y * gh / h) * gw;
        let row = &frame.rgb[y * w * 3..(y + 1) * w * 3];
        for c in 0..gw {
            let mut acc = 0u32;
            let mut n = 0u32;
            for x in (bounds[c]..bounds[c + 1]).step_by(step) {
                let px = &row[x * 3..x * 3 + 3];
                acc += 77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2]);
                n += 1;
            }
            sums[row_cell + c] += u64::from(acc);
            counts[row_cell + c] += n;
        }
    }
    let cells: Vec<f32> = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &n)| s as f32 / (256.0 * n.max(1) as f32))
        .collect();
    let n = cells.len() as f32;
    let luma = cells.iter().sum::<f32>() / n;
    let var = cells.iter().map(|c| (c - luma) * (c - luma)).sum::<f32>() / n;
    let mut steps = 0.0f32;
    let mut count = 0u32;
    for y in 0..gh {
        for x in 0..gw {
            let c = cells[y * gw + x];
            if x + 1 < gw {
                steps += (cells[y * gw + x + 1] - c).abs();
                count += 1;
            }
            if y + 1 < gh {
                steps += (cells[(y + 1) * gw + x] - c).abs();
                count += 1;
            }
        }
    }
    SceneStats {
        luma,
        contrast: var.sqrt(),
        detail: if count == 0 {
            0.0
        } else {
            steps / count as f32
        },
        fingerprint: Fingerprint { cells },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_frame_is_dark_and_flat() {
        let s = scene_stats(&Frame::solid(0, 640, 480, [0, 0, 0]));
        assert_eq!(s.luma, 0.0);
        assert_eq!(s.contrast, 0.0);
        assert_eq!(s.detail, 0.0);
        assert_eq!(s.fingerprint.cells.len(), GRID_W * GRID_H);
    }

    #[test]
    fn checkerboard_has_contrast_and_detail() {
        let mut f = Frame::solid(0, 640, 480, [0, 0, 0]);
        for y in 0..480 {
            for x in 0..640 {
                if (x / 40 + y / 40) % 2 == 0 {
                    let i = (y * 640 + x) * 3;
                    f.rgb[i..i + 3].copy_from_slice(&[200, 200, 200]);
                }
            }
        }
        let s = scene_stats(&f);
        assert!((s.luma - 100.0).abs() < 2.0, "{}", s.luma);
        assert!(s.contrast > 90.0);
        assert!(s.detail > 10.0);
    }

    #[test]
    fn small_frames_work() {
        let s = scene_stats(&Frame::solid(0, 3, 2, [255, 255, 255]));
        assert!((s.luma - 255.0).abs() < 1.0);
        assert_eq!(s.fingerprint.cells.len(), 6);
    }
}
