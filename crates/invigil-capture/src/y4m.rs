//! YUV4MPEG2 (`.y4m`) files: the format Chromium's fake webcam reads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use invigil_core::Frame;

use crate::{CaptureError, FrameSource, SourceInfo};

/// Chroma layouts we read (8-bit only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chroma {
    C420,
    C422,
    C444,
    Mono,
}

/// Reads a Y4M file frame by frame; BT.601 limited-range YUV to RGB.
pub struct Y4mSource {
    info: SourceInfo,
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    width: usize,
    height: usize,
    chroma: Chroma,
    fps_num: u64,
    fps_den: u64,
    index: u64,
    buf: Vec<u8>,
}

impl Y4mSource {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|e| CaptureError::io(path, e))?;
        let file_len = file.metadata().map(|m| m.len()).ok();
        Self::from_reader(path, Box::new(BufReader::new(file)), file_len)
    }

    /// Reads Y4M from any stream (a pipe from FFmpeg); `path` names it in
    /// messages, `stream_len` (when known) gives the frame count.
    pub(crate) fn from_reader(
        path: &Path,
        mut reader: Box<dyn BufRead + Send>,
        stream_len: Option<u64>,
    ) -> Result<Self, CaptureError> {
        let mut header = Vec::new();
        reader
            .by_ref()
            .take(4096)
            .read_until(b'\n', &mut header)
            .map_err(|e| CaptureError::io(path, e))?;
        let header = std::str::from_utf8(&header)
            .ok()
            .filter(|h| h.ends_with('\n'))
            .ok_or_else(|| {
                CaptureError::corrupt(path, "not a Y4M file (no YUV4MPEG2 header line)")
            })?;
        let mut fields = header.trim_end().split(' ');
        if fields.next() != Some("YUV4MPEG2") {
            return Err(CaptureError::corrupt(
                path,
                "not a Y4M file (missing YUV4MPEG2 signature)",
            ));
        }
        let (mut width, mut height) = (0usize, 0usize);
        let (mut fps_num, mut fps_den) = (30u64, 1u64);
        let mut chroma = Chroma::C420;
        for field in fields.filter(|f| !f.is_empty()) {
            // The tag is the first character, which may be several bytes.
            let tag_len = field.chars().next().map_or(0, char::len_utf8);
            let (tag, value) = field.split_at(tag_len);
            let bad = |what: &str| {
                CaptureError::corrupt(path, format!("bad {what} `{field}` in Y4M header"))
            };
            match tag {
                "W" => width = value.parse().map_err(|_| bad("width"))?,
                "H" => height = value.parse().map_err(|_| bad("height"))?,
                "F" => {
                    let (n, d) = value.split_once(':').ok_or_else(|| bad("frame rate"))?;
                    fps_num = n.parse().map_err(|_| bad("frame rate"))?;
                    fps_den = d.parse().map_err(|_| bad("frame rate"))?;
                    // As scenarios: 0 < fps <= 240.
                    if fps_num == 0 || fps_den == 0 || fps_num > fps_den.saturating_mul(240) {
                        return Err(bad("frame rate (0 < fps <= 240)"));
                    }
                }
                "C" => {
                    chroma = match value {
                        "420" | "420jpeg" | "420paldv" | "420mpeg2" => Chroma::C420,
                        "422" => Chroma::C422,
                        "444" => Chroma::C444,
                        "mono" => Chroma::Mono,
                        other => {
                            return Err(CaptureError::Unsupported {
                                path: path.to_owned(),
                                message: format!(
                                    "Y4M colour space C{other} is not supported \
                                     (8-bit 420, 422, 444 and mono are)"
                                ),
                            })
                        }
                    }
                }
                "I" if value != "p" && value != "?" => {
                    tracing::warn!(
                        "{}: interlaced Y4M (I{value}), read as progressive",
                        path.display()
                    );
                }
                _ => {}
            }
        }
        if width == 0 || height == 0 || width > 16384 || height > 16384 {
            return Err(CaptureError::corrupt(
                path,
                format!("Y4M header has no usable frame size (W{width} H{height})"),
            ));
        }
        let mut source = Self {
            info: SourceInfo {
                name: path.display().to_string(),
                kind: "y4m",
                fps: Some(fps_num as f64 / fps_den as f64),
                frames: None,
                live: false,
            },
            path: path.to_owned(),
            reader,
            width,
            height,
            chroma,
            fps_num,
            fps_den,
            index: 0,
            buf: Vec::new(),
        };
        if let Some(len) = stream_len {
            let per_frame = (source.frame_bytes() + 6) as u64;
            source.info.frames = Some(len.saturating_sub(header.len() as u64) / per_frame);
        }
        Ok(source)
    }

    fn frame_bytes(&self) -> usize {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        w * h
            + match self.chroma {
                Chroma::C420 => 2 * cw * ch,
                Chroma::C422 => 2 * cw * h,
                Chroma::C444 => 2 * w * h,
                Chroma::Mono => 0,
            }
    }

    fn to_rgb(&self) -> Vec<u8> {
        let (w, h) = (self.width, self.height);
        let y_plane = &self.buf[..w * h];
        let (cw, chroma_rows) = match self.chroma {
            Chroma::C420 => (w.div_ceil(2), h.div_ceil(2)),
            Chroma::C422 => (w.div_ceil(2), h),
            Chroma::C444 => (w, h),
            Chroma::Mono => (0, 0),
        };
        let plane = cw * chroma_rows;
        let u_plane = &self.buf[w * h..w * h + plane];
        let v_plane = &self.buf[w * h + plane..w * h + 2 * plane];
        let mut rgb = Vec::with_capacity(w * h * 3);
        for (y, luma) in y_plane.chunks_exact(w).enumerate() {
            let cy = if self.chroma == Chroma::C420 {
                y / 2
            } else {
                y
            };
            match self.chroma {
                Chroma::Mono => row_to_rgb(luma, &[], &[], 0, &mut rgb),
                Chroma::C444 => row_to_rgb(
                    luma,
                    &u_plane[cy * cw..][..cw],
                    &v_plane[cy * cw..][..cw],
                    1,
                    &mut rgb,
                ),
                Chroma::C420 | Chroma::C422 => row_to_rgb(
                    luma,
                    &u_plane[cy * cw..][..cw],
                    &v_plane[cy * cw..][..cw],
                    2,
                    &mut rgb,
                ),
            }
        }
        rgb
    }
}

/// One row of luma and its chroma (`per` luma samples per chroma sample: 1,
/// 2, or 0 for grey) appended to `out` as RGB. The chroma terms are worked
/// out once per chroma sample; no per-pixel branches, so the loop
/// vectorises (issue 18: this conversion was half of `watch`'s time on a
/// Y4M file).
fn row_to_rgb(luma: &[u8], u: &[u8], v: &[u8], per: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + luma.len() * 3, 0);
    let out = &mut out[start..];
    #[inline(always)]
    fn px(out: &mut [u8], y: u8, [r, g, b]: [i32; 3]) {
        let c = (i32::from(y) - 16).max(0) * 298 + 128;
        out[0] = ((c + r) >> 8).clamp(0, 255) as u8;
        out[1] = ((c + g) >> 8).clamp(0, 255) as u8;
        out[2] = ((c + b) >> 8).clamp(0, 255) as u8;
    }
    let terms = |u: u8, v: u8| {
        let (d, e) = (i32::from(u) - 128, i32::from(v) - 128);
        [409 * e, -100 * d - 208 * e, 516 * d]
    };
    match per {
        0 => {
            for (o, &y) in out.chunks_exact_mut(3).zip(luma) {
                px(o, y, [0; 3]);
            }
        }
        1 => {
            for ((o, &y), (&u, &v)) in out.chunks_exact_mut(3).zip(luma).zip(u.iter().zip(v)) {
                px(o, y, terms(u, v));
            }
        }
        _ => {
            let pairs = luma.len() / 2;
            for (((o, ys), &u), &v) in out
                .chunks_exact_mut(6)
                .zip(luma.chunks_exact(2))
                .zip(u)
                .zip(v)
                .take(pairs)
            {
                let t = terms(u, v);
                px(&mut o[..3], ys[0], t);
                px(&mut o[3..], ys[1], t);
            }
            if luma.len() % 2 == 1 {
                let i = luma.len() - 1;
                px(&mut out[3 * i..], luma[i], terms(u[i / 2], v[i / 2]));
            }
        }
    }
}

impl FrameSource for Y4mSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        self.next_frame_from(0).map(|(f, _)| f)
    }

    /// Frames before `not_before_ms` are read and checked, not converted.
    fn next_frame_from(
        &mut self,
        not_before_ms: u64,
    ) -> Result<(Option<Frame>, u64), CaptureError> {
        let mut skipped = 0;
        loop {
            if !self.read_frame()? {
                return Ok((None, skipped));
            }
            let t_ms = self.t_ms(self.index);
            self.index += 1;
            if t_ms < not_before_ms {
                skipped += 1;
                continue;
            }
            let rgb = self.to_rgb();
            return Frame::new(t_ms, self.width as u32, self.height as u32, rgb)
                .map(|f| (Some(f), skipped))
                .map_err(|e| CaptureError::corrupt(&self.path, e.to_string()));
        }
    }
}

impl Y4mSource {
    /// Media time of frame `index`. In u128: index * 1000 * den cannot
    /// overflow; Frame::new refuses a time beyond MAX_T_MS.
    fn t_ms(&self, index: u64) -> u64 {
        let t_ms = (u128::from(index) * 1000 * u128::from(self.fps_den)
            + u128::from(self.fps_num / 2))
            / u128::from(self.fps_num);
        u64::try_from(t_ms).unwrap_or(u64::MAX)
    }

    /// Reads the next frame's picture into `buf`; `false` at the end.
    fn read_frame(&mut self) -> Result<bool, CaptureError> {
        let mut line = Vec::new();
        let n = self
            .reader
            .by_ref()
            .take(1024)
            .read_until(b'\n', &mut line)
            .map_err(|e| CaptureError::io(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        if !line.starts_with(b"FRAME") || !line.ends_with(b"\n") {
            return Err(CaptureError::corrupt(
                &self.path,
                format!(
                    "frame {}: expected a FRAME header, file is damaged or truncated",
                    self.index
                ),
            ));
        }
        let size = self.frame_bytes();
        // Read what is there rather than allocating what the header
        // promises: a 40-byte file claiming W16384 H16384 costs nothing.
        self.buf.clear();
        let got = (&mut self.reader)
            .take(size as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| CaptureError::io(&self.path, e))?;
        if got < size {
            return Err(CaptureError::corrupt(
                &self.path,
                format!(
                    "frame {}: truncated (expected {size} bytes of picture)",
                    self.index
                ),
            ));
        }
        Ok(true)
    }
}

/// Writes frames as 4:2:0 Y4M (BT.601 limited range), with the stream header
/// first when `header` is set; frames must all have the first one's size.
pub fn write_y4m(
    out: &mut impl std::io::Write,
    frames: &[Frame],
    fps: u32,
    header: bool,
) -> std::io::Result<()> {
    let Some(first) = frames.first() else {
        return Ok(());
    };
    let (w, h) = (first.width as usize, first.height as usize);
    if header {
        writeln!(out, "YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg")?;
    }
    for f in frames {
        out.write_all(b"FRAME\n")?;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut yp = vec![0u8; w * h];
        let mut up = vec![0u8; cw * ch];
        let mut vp = vec![0u8; cw * ch];
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = f.pixel(x as u32, y as u32).map(i32::from);
                yp[y * w + x] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8;
                if y % 2 == 0 && x % 2 == 0 {
                    up[(y / 2) * cw + x / 2] =
                        (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                    vp[(y / 2) * cw + x / 2] =
                        (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                }
            }
        }
        out.write_all(&yp)?;
        out.write_all(&up)?;
        out.write_all(&vp)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::row_to_rgb;

    /// BT.601 limited range, fixed point (8 fractional bits).
    fn yuv_to_rgb(y: i32, u: i32, v: i32) -> [u8; 3] {
        let c = (y - 16).max(0) * 298;
        let d = u - 128;
        let e = v - 128;
        let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
        [
            clamp(c + 409 * e),
            clamp(c - 100 * d - 208 * e),
            clamp(c + 516 * d),
        ]
    }

    /// The row converter gives what the per-pixel formula gives, for every
    /// chroma layout and odd widths.
    #[test]
    fn rows_convert_as_the_formula_does() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        for (per, w) in [(0usize, 5usize), (1, 7), (2, 9), (2, 640)] {
            let luma: Vec<u8> = (0..w).map(|_| next()).collect();
            let cw = if per == 0 { 0 } else { w.div_ceil(per) };
            let u: Vec<u8> = (0..cw).map(|_| next()).collect();
            let v: Vec<u8> = (0..cw).map(|_| next()).collect();
            let mut got = Vec::new();
            row_to_rgb(&luma, &u, &v, per, &mut got);
            let want: Vec<u8> = (0..w)
                .flat_map(|x| {
                    let (cu, cv) = match x.checked_div(per) {
                        Some(c) => (u[c], v[c]),
                        None => (128, 128),
                    };
                    yuv_to_rgb(i32::from(luma[x]), i32::from(cu), i32::from(cv))
                })
                .collect();
            assert_eq!(got, want, "per {per}, width {w}");
        }
    }
}
