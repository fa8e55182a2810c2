//! Telling camera views apart: a coarse layout of brightness and colour,
//! enough to know the camera was turned to another side of the room, and
//! blind to noise, exposure drift and small movements.

use invigil_core::Frame;
use serde::{Deserialize, Serialize};

const GW: usize = 16;
const GH: usize = 12;
const CW: usize = 4;
const CH: usize = 3;

/// What a view looks like, in a few hundred numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewSignature {
    /// Mean luma per cell of a 16x12 grid, 0..=255.
    pub luma: Vec<f32>,
    /// Mean `r - g` and `b - g` per cell of a 4x3 grid.
    pub chroma: Vec<f32>,
}

impl ViewSignature {
    pub fn of(frame: &Frame) -> Self {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut luma = vec![0f64; GW * GH];
        let mut luma_n = vec![0u32; GW * GH];
        let mut chroma = [0f64; CW * CH * 2];
        let mut chroma_n = [0u32; CW * CH];
        let step = if w >= 4 * GW && h >= 4 * GH { 2 } else { 1 };
        for y in (0..h).step_by(step) {
            for x in (0..w).step_by(step) {
                let p = &frame.rgb[(y * w + x) * 3..(y * w + x) * 3 + 3];
                let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
                let l = (77.0 * r + 150.0 * g + 29.0 * b) / 256.0;
                let cell = (y * GH / h) * GW + x * GW / w;
                luma[cell] += l;
                luma_n[cell] += 1;
                let c = (y * CH / h) * CW + x * CW / w;
                chroma[2 * c] += r - g;
                chroma[2 * c + 1] += b - g;
                chroma_n[c] += 1;
            }
        }
        Self {
            luma: luma
                .iter()
                .zip(&luma_n)
                .map(|(s, n)| (s / f64::from((*n).max(1))) as f32)
                .collect(),
            chroma: chroma
                .iter()
                .enumerate()
                .map(|(i, s)| (s / f64::from(chroma_n[i / 2].max(1))) as f32)
                .collect(),
        }
    }

    /// How alike two views are, 0 (unrelated) to 1 (the same view): the
    /// correlation of their brightness layouts, lowered by differences in
    /// overall brightness and in colour.
    pub fn similarity(&self, other: &ViewSignature) -> f32 {
        if self.luma.len() != other.luma.len() || self.chroma.len() != other.chroma.len() {
            return 0.0;
        }
        let n = self.luma.len() as f32;
        let ma = self.luma.iter().sum::<f32>() / n;
        let mb = other.luma.iter().sum::<f32>() / n;
        let (mut cov, mut va, mut vb) = (0f32, 0f32, 0f32);
        for (a, b) in self.luma.iter().zip(&other.luma) {
            cov += (a - ma) * (b - mb);
            va += (a - ma) * (a - ma);
            vb += (b - mb) * (b - mb);
        }
        // Two flat views (plain walls) have no layout to compare: judge them
        // by brightness and colour alone.
        let structure = if va < n * 4.0 || vb < n * 4.0 {
            if va < n * 4.0 && vb < n * 4.0 {
                1.0
            } else {
                0.0
            }
        } else {
            (cov / (va.sqrt() * vb.sqrt())).max(0.0)
        };
        let brightness = 1.0 - ((ma - mb).abs() / 60.0).min(1.0);
        let colour = self
            .chroma
            .iter()
            .zip(&other.chroma)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / self.chroma.len() as f32;
        let colour = 1.0 - (colour / 30.0).min(1.0);
        structure * brightness * colour
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, flip: bool, tint: [u8; 3]) -> Frame {
        let mut f = Frame::solid(0, w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let v = if flip { w - 1 - x } else { x } * 200 / w;
                let i = ((y * w + x) * 3) as usize;
                f.rgb[i] = (v as u8).saturating_add(tint[0]);
                f.rgb[i + 1] = (v as u8).saturating_add(tint[1]);
                f.rgb[i + 2] = (v as u8).saturating_add(tint[2]);
            }
        }
        f
    }

    #[test]
    fn same_view_is_similar_and_a_turned_one_is_not() {
        let a = ViewSignature::of(&gradient(640, 480, false, [0, 0, 0]));
        let again = ViewSignature::of(&gradient(320, 240, false, [2, 2, 2]));
        let turned = ViewSignature::of(&gradient(640, 480, true, [0, 0, 0]));
        let tinted = ViewSignature::of(&gradient(640, 480, false, [40, 0, 0]));
        assert!(a.similarity(&again) > 0.9, "{}", a.similarity(&again));
        assert!(a.similarity(&turned) < 0.1);
        assert!(a.similarity(&tinted) < 0.7, "{}", a.similarity(&tinted));
        let wall = ViewSignature::of(&Frame::solid(0, 64, 48, [120, 120, 120]));
        let dark_wall = ViewSignature::of(&Frame::solid(0, 64, 48, [30, 30, 30]));
        assert!(wall.similarity(&wall) > 0.99);
        assert!(wall.similarity(&dark_wall) < 0.1);
    }
}
