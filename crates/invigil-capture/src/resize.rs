//! Fitting photographs into webcam-sized frames.

use invigil_core::Frame;

/// Scales `src` to cover `w` x `h` (aspect kept, centre cropped), as a
/// webcam's field of view would frame the scene. Area-averaging when
/// shrinking, bilinear when growing.
pub(crate) fn cover(src: &Frame, w: u32, h: u32) -> Frame {
    let scale = (f64::from(w) / f64::from(src.width)).max(f64::from(h) / f64::from(src.height));
    let (sw, sh) = (src.width as usize, src.height as usize);
    let (ow, oh) = (w as usize, h as usize);
    // Source offset so that the crop is centred.
    let off_x = (sw as f64 * scale - ow as f64) / 2.0;
    let off_y = (sh as f64 * scale - oh as f64) / 2.0;
    let radius = (1.0 / scale).max(1.0) / 2.0;
    let mut rgb = vec![0u8; ow * oh * 3];
    for oy in 0..oh {
        let cy = (oy as f64 + 0.5 + off_y) / scale;
        let (y0, y1) = span(cy, radius, sh);
        for ox in 0..ow {
            let cx = (ox as f64 + 0.5 + off_x) / scale;
            let (x0, x1) = span(cx, radius, sw);
            let mut acc = [0u32; 3];
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = (y * sw + x) * 3;
                    acc[0] += u32::from(src.rgb[i]);
                    acc[1] += u32::from(src.rgb[i + 1]);
                    acc[2] += u32::from(src.rgb[i + 2]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            let o = (oy * ow + ox) * 3;
            for c in 0..3 {
                rgb[o + c] = ((acc[c] + n / 2) / n) as u8;
            }
        }
    }
    Frame {
        t_ms: src.t_ms,
        width: w,
        height: h,
        rgb,
    }
}

fn span(center: f64, radius: f64, len: usize) -> (usize, usize) {
    let lo = ((center - radius).floor().max(0.0) as usize).min(len - 1);
    let hi = ((center + radius).ceil() as usize).clamp(lo + 1, len);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_keeps_colour_and_size() {
        let src = Frame::solid(0, 300, 100, [10, 20, 30]);
        let out = cover(&src, 64, 48);
        assert_eq!((out.width, out.height), (64, 48));
        assert_eq!(out.pixel(10, 10), [10, 20, 30]);
        let up = cover(&Frame::solid(0, 4, 3, [1, 2, 3]), 640, 480);
        assert_eq!(up.pixel(639, 479), [1, 2, 3]);
    }
}
