//! Encoding a flagged clip: H.264 (OpenH264, constrained baseline, a
//! keyframe every ~2 s) in a fast-start MP4 that browsers play inline.

use invigil_core::clip::{Clip, ClipFrame};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode,
};
use openh264::formats::YUVBuffer;
use openh264::OpenH264API;

/// Bits per second for a 640x480 clip; scaled with the pixel count.
const BITRATE_640X480: f64 = 300_000.0;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("the clip has no frames")]
    Empty,
    #[error("H.264 encoder: {0}")]
    Encoder(String),
    #[error("MP4 muxer: {0}")]
    Muxer(String),
}

/// The MP4 bytes of a clip, and its keyframe count (for tests and logs).
pub struct EncodedClip {
    pub mp4: Vec<u8>,
    pub keyframes: usize,
    pub frames: usize,
}

/// Encodes a clip at `fps` nominal frames per second (timestamps come from
/// the frames themselves).
pub fn encode_clip(clip: &Clip, fps: f64) -> Result<EncodedClip, ClipError> {
    let first = clip.frames.first().ok_or(ClipError::Empty)?.t_ms;
    let mut encoder = ClipEncoder::new(clip.width, clip.height, fps, first)?;
    for frame in &clip.frames {
        encoder.push(frame)?;
    }
    encoder.finish()
}

/// A clip encoded as its frames arrive, so that no more than one frame of
/// it is held raw (a 30 s clip is 138 MB of 640x480 I420, its MP4 ~1 MB).
pub struct ClipEncoder {
    encoder: Encoder,
    muxer: muxide::api::Muxer<Vec<u8>>,
    width: usize,
    height: usize,
    first_ms: u64,
    keyframes: usize,
    frames: usize,
}

impl ClipEncoder {
    /// An encoder for `width` x `height` frames at `fps` nominal frames per
    /// second, whose first frame is at source time `first_ms`.
    pub fn new(width: u32, height: u32, fps: f64, first_ms: u64) -> Result<Self, ClipError> {
        let pixels = f64::from(width) * f64::from(height);
        let bitrate =
            (BITRATE_640X480 * pixels / (640.0 * 480.0)).clamp(100_000.0, 2_000_000.0) as u32;
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            // Rate control needs frame skipping; a skipped frame just
            // lengthens the previous one in the MP4.
            .skip_frames(true)
            .debug(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                (2.0 * fps).round().max(1.0) as u32,
            ));
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| ClipError::Encoder(e.to_string()))?;
        let muxer = muxide::api::MuxerBuilder::new(Vec::new())
            .video(muxide::api::VideoCodec::H264, width, height, fps)
            .with_fast_start(true)
            .build()
            .map_err(|e| ClipError::Muxer(e.to_string()))?;
        Ok(Self {
            encoder,
            muxer,
            width: width as usize,
            height: height as usize,
            first_ms,
            keyframes: 0,
            frames: 0,
        })
    }

    /// Encodes the next frame (later than the one before, of the size
    /// given at the start).
    pub fn push(&mut self, frame: &ClipFrame) -> Result<(), ClipError> {
        let (w, h) = (self.width, self.height);
        if frame.yuv.len() != w * h * 3 / 2 {
            return Err(ClipError::Encoder(format!(
                "a frame of {} bytes in a {w}x{h} clip",
                frame.yuv.len()
            )));
        }
        let yuv = YUVBuffer::from_vec(frame.yuv.as_ref().clone(), w, h);
        let bitstream = self
            .encoder
            .encode(&yuv)
            .map_err(|e| ClipError::Encoder(e.to_string()))?;
        let keyframe = matches!(
            bitstream.frame_type(),
            openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
        );
        let data = bitstream.to_vec();
        if data.is_empty() {
            return Ok(());
        }
        let pts = frame.t_ms.saturating_sub(self.first_ms) as f64 / 1000.0;
        self.muxer
            .write_video(pts, &data, keyframe)
            .map_err(|e| ClipError::Muxer(e.to_string()))?;
        self.keyframes += usize::from(keyframe);
        self.frames += 1;
        Ok(())
    }

    /// The MP4 of the frames pushed.
    pub fn finish(mut self) -> Result<EncodedClip, ClipError> {
        if self.frames == 0 {
            return Err(ClipError::Empty);
        }
        self.muxer
            .finish_in_place()
            .map_err(|e| ClipError::Muxer(e.to_string()))?;
        Ok(EncodedClip {
            mp4: self.muxer.into_writer(),
            keyframes: self.keyframes,
            frames: self.frames,
        })
    }
}
