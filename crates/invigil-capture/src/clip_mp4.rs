//! Encoding a flagged clip: H.264 (OpenH264, constrained baseline, a
//! keyframe every ~2 s) in a fast-start MP4 that browsers play inline.

use invigil_core::clip::Clip;
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
    let (w, h) = (clip.width as usize, clip.height as usize);
    let pixels = (w * h) as f64;
    let bitrate = (BITRATE_640X480 * pixels / (640.0 * 480.0)).clamp(100_000.0, 2_000_000.0) as u32;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bitrate))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        // Rate control needs frame skipping; a skipped frame just lengthens
        // the previous one in the MP4.
        .skip_frames(true)
        .debug(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(
            (2.0 * fps).round().max(1.0) as u32,
        ));
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| ClipError::Encoder(e.to_string()))?;
    let mut muxer = muxide::api::MuxerBuilder::new(Vec::new())
        .video(muxide::api::VideoCodec::H264, clip.width, clip.height, fps)
        .with_fast_start(true)
        .build()
        .map_err(|e| ClipError::Muxer(e.to_string()))?;
    let mut keyframes = 0;
    let mut frames = 0;
    for frame in &clip.frames {
        let yuv = YUVBuffer::from_vec(frame.yuv.as_ref().clone(), w, h);
        let bitstream = encoder
            .encode(&yuv)
            .map_err(|e| ClipError::Encoder(e.to_string()))?;
        let keyframe = matches!(
            bitstream.frame_type(),
            openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
        );
        let data = bitstream.to_vec();
        if data.is_empty() {
            continue;
        }
        let pts = (frame.t_ms - first) as f64 / 1000.0;
        muxer
            .write_video(pts, &data, keyframe)
            .map_err(|e| ClipError::Muxer(e.to_string()))?;
        keyframes += usize::from(keyframe);
        frames += 1;
    }
    muxer
        .finish_in_place()
        .map_err(|e| ClipError::Muxer(e.to_string()))?;
    Ok(EncodedClip {
        mp4: muxer.into_writer(),
        keyframes,
        frames,
    })
}
