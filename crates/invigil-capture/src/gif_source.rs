//! Animated GIFs, played with their own frame delays.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use gif::{Decoder, DisposalMethod};
use invigil_core::Frame;

use crate::{CaptureError, FrameSource, SourceInfo};

/// Delays shorter than this are played at 100 ms, as browsers do.
const MIN_DELAY_MS: u64 = 20;

/// Plays an animated GIF; each frame is the full composited canvas.
pub struct GifSource {
    info: SourceInfo,
    path: PathBuf,
    decoder: Decoder<BufReader<File>>,
    /// RGBA canvas of the logical screen.
    canvas: Vec<u8>,
    width: usize,
    height: usize,
    /// How to clean up after the previous frame.
    pending_disposal: Option<(DisposalMethod, [usize; 4], Vec<u8>)>,
    t_ms: u64,
    index: u64,
}

/// The largest GIF screen taken: 4096x4096 (a webcam GIF is 640x480).
const MAX_SCREEN_PIXELS: usize = 4096 * 4096;

impl GifSource {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|e| CaptureError::io(path, e))?;
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let decoder = options
            .read_info(BufReader::new(file))
            .map_err(|e| CaptureError::corrupt(path, format!("not a readable GIF: {e}")))?;
        let (width, height) = (usize::from(decoder.width()), usize::from(decoder.height()));
        if width == 0 || height == 0 {
            return Err(CaptureError::corrupt(
                path,
                "GIF has an empty logical screen",
            ));
        }
        // Every frame is composed on the whole screen: a 300-byte file
        // declaring 65535x65535 would cost 17 GB and minutes per frame
        // (found by fuzzing).
        if width * height > MAX_SCREEN_PIXELS {
            return Err(CaptureError::Unsupported {
                path: path.to_owned(),
                message: format!(
                    "GIF screen {width}x{height} is larger than the {MAX_SCREEN_PIXELS} pixels supported (e.g. 4096x4096)"
                ),
            });
        }
        Ok(Self {
            info: SourceInfo {
                name: path.display().to_string(),
                kind: "gif",
                fps: None,
                frames: None,
                live: false,
            },
            path: path.to_owned(),
            decoder,
            canvas: vec![0; width * height * 4],
            width,
            height,
            pending_disposal: None,
            t_ms: 0,
            index: 0,
        })
    }
}

impl FrameSource for GifSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let index = self.index;
        let frame = self.decoder.read_next_frame().map_err(|e| {
            CaptureError::corrupt(
                &self.path,
                format!("frame {index}: cannot decode GIF frame (damaged or truncated): {e}"),
            )
        })?;
        let Some(frame) = frame else {
            return Ok(None);
        };
        // Undo the previous frame as its disposal method says.
        if let Some((method, [left, top, w, h], saved)) = self.pending_disposal.take() {
            for y in top..(top + h).min(self.height) {
                for x in left..(left + w).min(self.width) {
                    let c = (y * self.width + x) * 4;
                    match method {
                        DisposalMethod::Background => self.canvas[c..c + 4].fill(0),
                        DisposalMethod::Previous => {
                            let s = ((y - top) * w + (x - left)) * 4;
                            self.canvas[c..c + 4].copy_from_slice(&saved[s..s + 4]);
                        }
                        _ => {}
                    }
                }
            }
        }
        let (left, top) = (usize::from(frame.left), usize::from(frame.top));
        let (w, h) = (usize::from(frame.width), usize::from(frame.height));
        let rect = [left, top, w, h];
        let saved = if frame.dispose == DisposalMethod::Previous {
            let mut saved = vec![0u8; w * h * 4];
            for y in 0..h {
                for x in 0..w {
                    let (cx, cy) = (left + x, top + y);
                    if cx < self.width && cy < self.height {
                        let c = (cy * self.width + cx) * 4;
                        saved[(y * w + x) * 4..(y * w + x) * 4 + 4]
                            .copy_from_slice(&self.canvas[c..c + 4]);
                    }
                }
            }
            saved
        } else {
            Vec::new()
        };
        for y in 0..h {
            for x in 0..w {
                let (cx, cy) = (left + x, top + y);
                let s = (y * w + x) * 4;
                if cx < self.width
                    && cy < self.height
                    && frame.buffer.get(s + 3).is_some_and(|&a| a > 0)
                {
                    let c = (cy * self.width + cx) * 4;
                    self.canvas[c..c + 4].copy_from_slice(&frame.buffer[s..s + 4]);
                }
            }
        }
        self.pending_disposal = Some((frame.dispose, rect, saved));
        let mut delay = u64::from(frame.delay) * 10;
        if delay < MIN_DELAY_MS {
            delay = 100;
        }
        let rgb: Vec<u8> = self
            .canvas
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let t_ms = self.t_ms;
        self.t_ms = self.t_ms.saturating_add(delay);
        self.index += 1;
        Frame::new(t_ms, self.width as u32, self.height as u32, rgb)
            .map(Some)
            .map_err(|e| CaptureError::corrupt(&self.path, e.to_string()))
    }
}
