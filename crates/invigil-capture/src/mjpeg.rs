//! MJPEG files: JPEG images back to back, as webcams send them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use invigil_core::Frame;

use crate::files::decode_jpeg;
use crate::{frame_time_ms, CaptureError, FrameSource, SourceInfo};

/// Upper bound on one JPEG frame, to fail cleanly on garbage.
const MAX_FRAME_BYTES: usize = 64 << 20;

/// Reads concatenated JPEGs, splitting on the JPEG marker structure (not on
/// a byte search, which EXIF thumbnails would fool).
pub struct MjpegSource {
    info: SourceInfo,
    path: PathBuf,
    reader: BufReader<File>,
    fps: f64,
    index: u64,
}

impl MjpegSource {
    pub fn open(path: &Path, fps: f64) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|e| CaptureError::io(path, e))?;
        Ok(Self {
            info: SourceInfo {
                name: path.display().to_string(),
                kind: "mjpeg",
                fps: Some(fps),
                frames: None,
                live: false,
            },
            path: path.to_owned(),
            reader: BufReader::new(file),
            fps,
            index: 0,
        })
    }

    fn byte(&mut self) -> Result<Option<u8>, CaptureError> {
        let mut b = [0u8; 1];
        match self.reader.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(b[0])),
            Err(e) => Err(CaptureError::io(&self.path, e)),
        }
    }

    fn truncated(&self) -> CaptureError {
        CaptureError::corrupt(
            &self.path,
            format!(
                "frame {}: JPEG data ends before its end marker (truncated file)",
                self.index
            ),
        )
    }

    /// Reads one whole JPEG (SOI..EOI) into `out`; `Ok(false)` at a clean end.
    fn read_jpeg(&mut self, out: &mut Vec<u8>) -> Result<bool, CaptureError> {
        // Skip padding between frames until SOI.
        loop {
            match self.byte()? {
                None => return Ok(false),
                Some(0xFF) => match self.byte()? {
                    Some(0xD8) => break,
                    None => return Err(self.truncated()),
                    Some(_) => {}
                },
                Some(b) if b.is_ascii_whitespace() || b == 0 => {}
                Some(_) => {
                    return Err(CaptureError::corrupt(
                        &self.path,
                        format!(
                            "frame {}: not JPEG data (no start-of-image marker)",
                            self.index
                        ),
                    ))
                }
            }
        }
        out.clear();
        out.extend_from_slice(&[0xFF, 0xD8]);
        let mut in_scan = false;
        loop {
            if out.len() > MAX_FRAME_BYTES {
                return Err(CaptureError::corrupt(
                    &self.path,
                    format!(
                        "frame {}: larger than 64 MiB, not a webcam frame",
                        self.index
                    ),
                ));
            }
            let b = self.byte()?.ok_or_else(|| self.truncated())?;
            if b != 0xFF {
                if in_scan {
                    out.push(b);
                    continue;
                }
                return Err(CaptureError::corrupt(
                    &self.path,
                    format!("frame {}: damaged JPEG (expected a marker)", self.index),
                ));
            }
            let mut marker = self.byte()?.ok_or_else(|| self.truncated())?;
            while marker == 0xFF {
                marker = self.byte()?.ok_or_else(|| self.truncated())?;
            }
            if in_scan && (marker == 0x00 || (0xD0..=0xD7).contains(&marker)) {
                out.extend_from_slice(&[0xFF, marker]);
                continue;
            }
            out.extend_from_slice(&[0xFF, marker]);
            match marker {
                0xD9 => return Ok(true),
                0x01 | 0xD0..=0xD7 => {}
                _ => {
                    let hi = self.byte()?.ok_or_else(|| self.truncated())?;
                    let lo = self.byte()?.ok_or_else(|| self.truncated())?;
                    let len = usize::from(hi) << 8 | usize::from(lo);
                    if len < 2 {
                        return Err(CaptureError::corrupt(
                            &self.path,
                            format!("frame {}: damaged JPEG segment length", self.index),
                        ));
                    }
                    out.extend_from_slice(&[hi, lo]);
                    let start = out.len();
                    out.resize(start + len - 2, 0);
                    self.reader.read_exact(&mut out[start..]).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            self.truncated()
                        } else {
                            CaptureError::io(&self.path, e)
                        }
                    })?;
                    in_scan = marker == 0xDA;
                }
            }
        }
    }
}

impl FrameSource for MjpegSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let mut jpeg = Vec::new();
        if !self.read_jpeg(&mut jpeg)? {
            return Ok(None);
        }
        let t_ms = frame_time_ms(self.index, self.fps);
        let frame = decode_jpeg(&jpeg, t_ms).map_err(|e| {
            CaptureError::corrupt(
                &self.path,
                format!("frame {}: cannot decode JPEG: {e}", self.index),
            )
        })?;
        self.index += 1;
        Ok(Some(frame))
    }
}
