//! A decoded video frame with its media timestamp.

/// One decoded frame: packed 8-bit RGB, row-major, no padding, and the media
/// time at which it was captured (milliseconds since the source started).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Media time in milliseconds. Never wall-clock time.
    pub t_ms: u64,
    pub width: u32,
    pub height: u32,
    /// `width * height * 3` bytes, RGB.
    pub rgb: Vec<u8>,
}

/// The latest media time a frame may carry: 2^53 - 1 ms (what every JSON
/// reader holds exactly; ~285,000 years). A later time means the source's
/// timing fields are damaged or hostile.
pub const MAX_T_MS: u64 = (1 << 53) - 1;

/// A frame whose buffer does not match its stated size, or whose time is
/// out of range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error(
        "frame time {t_ms} ms is out of range (at most {MAX_T_MS}): the source's timing is damaged"
    )]
    TimeOutOfRange { t_ms: u64 },
    #[error("frame size {width}x{height} is empty")]
    Empty { width: u32, height: u32 },
    #[error("frame {width}x{height} needs {expected} RGB bytes, got {actual}")]
    WrongLength {
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
}

impl Frame {
    /// Checks the buffer length against the dimensions.
    pub fn new(t_ms: u64, width: u32, height: u32, rgb: Vec<u8>) -> Result<Self, FrameError> {
        if t_ms > MAX_T_MS {
            return Err(FrameError::TimeOutOfRange { t_ms });
        }
        if width == 0 || height == 0 {
            return Err(FrameError::Empty { width, height });
        }
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected {
            return Err(FrameError::WrongLength {
                width,
                height,
                expected,
                actual: rgb.len(),
            });
        }
        Ok(Self {
            t_ms,
            width,
            height,
            rgb,
        })
    }

    /// A frame of one colour.
    pub fn solid(t_ms: u64, width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let pixels = width as usize * height as usize;
        let mut buf = Vec::with_capacity(pixels * 3);
        for _ in 0..pixels {
            buf.extend_from_slice(&rgb);
        }
        Self {
            t_ms,
            width,
            height,
            rgb: buf,
        }
    }

    /// The pixel at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_2_pow_53_are_refused() {
        assert!(Frame::new(MAX_T_MS, 1, 1, vec![0; 3]).is_ok());
        assert_eq!(
            Frame::new(MAX_T_MS + 1, 1, 1, vec![0; 3]),
            Err(FrameError::TimeOutOfRange { t_ms: MAX_T_MS + 1 })
        );
    }

    #[test]
    fn new_checks_length() {
        assert!(Frame::new(0, 2, 2, vec![0; 12]).is_ok());
        assert_eq!(
            Frame::new(0, 2, 2, vec![0; 11]),
            Err(FrameError::WrongLength {
                width: 2,
                height: 2,
                expected: 12,
                actual: 11
            })
        );
        assert!(matches!(
            Frame::new(0, 0, 2, vec![]),
            Err(FrameError::Empty { .. })
        ));
    }
}
