//! MP4 and QuickTime files with H.264 video (`.mp4`, `.m4v`, `.mov`): what
//! phones, screen recorders, OBS and browsers' MediaRecorder write. The
//! container is read with the `mp4` crate, the video decoded with OpenH264
//! (the same library that encodes our clips), and each frame stamped with
//! its presentation time from the file, so variable frame rates and B-frames
//! keep their real timing. A rotation in the track header (a phone held
//! upright) is applied, so the candidate is upright for the detector.

use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use invigil_core::Frame;
use mp4::{Mp4Reader, TrackType};
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use crate::{CaptureError, FrameSource, SourceInfo};

/// Why a file could not be opened natively; `Codec` files may still play
/// through FFmpeg.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// The video is not H.264 (HEVC, VP9, AV1, ...) or not a profile
    /// OpenH264 decodes.
    Codec(String),
    /// Not an MP4, damaged, or no video track at all.
    Other(CaptureError),
}

/// Reads the first H.264 video track of an MP4/QuickTime file.
pub struct Mp4Source {
    info: SourceInfo,
    path: PathBuf,
    reader: Mp4Reader<boxes::Budgeted<BufReader<File>>>,
    track_id: u32,
    sample_count: u32,
    /// 1-based, as the `mp4` crate counts.
    next_sample: u32,
    /// Bytes of each NAL unit's length prefix (avcC).
    length_size: usize,
    /// SPS and PPS as Annex B, sent before every sync sample.
    parameter_sets: Vec<u8>,
    decoder: Decoder,
    /// Presentation times (track timescale) of samples sent to the decoder
    /// whose pictures have not come out yet; pictures come out in
    /// presentation order, so each takes the smallest.
    waiting_pts: BinaryHeap<std::cmp::Reverse<i64>>,
    first_pts: i64,
    timescale: u64,
    quarter_turns: u8,
    ready: VecDeque<Frame>,
    flushed: bool,
    last_t_ms: Option<u64>,
    frames_out: u64,
    bad_in_a_row: u32,
    /// Samples that could not be decoded and were skipped.
    skipped: u64,
}

/// Damaged samples skipped in a row before the file is given up on (10 s
/// at 30 fps: longer than the usual distance between keyframes).
const MAX_BAD_SAMPLES_IN_A_ROW: u32 = 300;
/// Samples without any picture after which a stream is deemed undecodable.
const NO_PICTURE_LIMIT: u32 = 120;

impl Mp4Source {
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::try_open(path).map_err(|f| match f {
            OpenFailure::Codec(message) => CaptureError::Unsupported {
                path: path.to_owned(),
                message,
            },
            OpenFailure::Other(e) => e,
        })
    }

    pub(crate) fn try_open(path: &Path) -> Result<Self, OpenFailure> {
        let corrupt = |m: String| OpenFailure::Other(CaptureError::corrupt(path, m));
        let file = File::open(path).map_err(|e| OpenFailure::Other(CaptureError::io(path, e)))?;
        let size = file
            .metadata()
            .map_err(|e| OpenFailure::Other(CaptureError::io(path, e)))?
            .len();
        let mut reader = BufReader::new(file);
        boxes::check_boxes(&mut reader, size)
            .and_then(|()| reader.rewind().map_err(|e| e.to_string()))
            .map_err(|m| corrupt(format!("not a readable MP4/QuickTime file ({m})")))?;
        let (budgeted, budget) = boxes::Budgeted::new(reader, size);
        let reader = guard(|| Mp4Reader::read_header(budgeted, size))
            .map_err(|m| corrupt(format!("not a readable MP4/QuickTime file ({m})")))?
            .map_err(|e| corrupt(format!("not a readable MP4/QuickTime file ({e})")))?;
        boxes::Budgeted::<()>::unlimit(&budget);
        let track = reader
            .tracks()
            .values()
            .filter(|t| matches!(t.track_type(), Ok(TrackType::Video)))
            .min_by_key(|t| t.track_id())
            .ok_or_else(|| corrupt("has no video track".into()))?;
        let stsd = &track.trak.mdia.minf.stbl.stsd;
        let Some(avc1) = stsd.avc1.as_ref() else {
            let codec = if stsd.hev1.is_some() {
                "HEVC (H.265)"
            } else if stsd.vp09.is_some() {
                "VP9"
            } else {
                "not H.264"
            };
            return Err(OpenFailure::Codec(format!(
                "the video is {codec}; H.264 is read directly, other codecs need FFmpeg \
                 (`ffmpeg` on PATH), or convert it: ffmpeg -i IN -pix_fmt yuv420p OUT.y4m"
            )));
        };
        let avcc = &avc1.avcc;
        let profile = avcc.avc_profile_indication;
        let mut parameter_sets = Vec::new();
        for nal in avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avcc.picture_parameter_sets)
        {
            parameter_sets.extend_from_slice(&[0, 0, 0, 1]);
            parameter_sets.extend_from_slice(&nal.bytes);
        }
        if avcc.sequence_parameter_sets.is_empty() || avcc.picture_parameter_sets.is_empty() {
            return Err(corrupt(
                "the H.264 track has no parameter sets (SPS/PPS)".into(),
            ));
        }
        let track_id = track.track_id();
        let sample_count = track.sample_count();
        // Every sample takes at least a byte of the file.
        if u64::from(sample_count) > size {
            return Err(corrupt(format!(
                "the video track claims {sample_count} samples in a file of {size} bytes"
            )));
        }
        let timescale = u64::from(track.timescale()).max(1);
        // Not `track.duration()`: it divides by a timescale that may be 0
        // and overflows on a large duration (both panics, found by fuzzing).
        let duration_s = track.trak.mdia.mdhd.duration as f64 / timescale as f64;
        let fps = (duration_s > 0.0).then(|| f64::from(sample_count) / duration_s);
        let m = &track.trak.tkhd.matrix;
        let quarter_turns = quarter_turns(m.c, m.d);
        let length_size = usize::from(avcc.length_size_minus_one & 3) + 1;
        let api = OpenH264API::from_source();
        let decoder =
            Decoder::with_api_config(api, DecoderConfig::new().flush_after_decode(Flush::NoFlush))
                .map_err(|e| corrupt(format!("H.264 decoder: {e}")))?;
        let mut source = Self {
            info: SourceInfo {
                name: path.display().to_string(),
                kind: "mp4",
                fps,
                frames: Some(u64::from(sample_count)),
                live: false,
            },
            path: path.to_owned(),
            reader,
            track_id,
            sample_count,
            next_sample: 1,
            length_size,
            parameter_sets,
            decoder,
            waiting_pts: BinaryHeap::new(),
            first_pts: 0,
            timescale,
            quarter_turns,
            ready: VecDeque::new(),
            flushed: false,
            last_t_ms: None,
            frames_out: 0,
            bad_in_a_row: 0,
            skipped: 0,
        };
        source.first_pts = source
            .first_presentation_time()
            .map_err(OpenFailure::Other)?;
        // Decode the first picture now, so that a profile OpenH264 cannot
        // decode is known at open time (and can go to FFmpeg instead).
        match source.fill() {
            Ok(()) if !source.ready.is_empty() || sample_count == 0 => Ok(source),
            Ok(()) => Err(OpenFailure::Codec(format!(
                "OpenH264 decoded no picture from this H.264 stream (profile {profile})"
            ))),
            Err(e) => Err(OpenFailure::Codec(format!(
                "{} (H.264 profile {profile})",
                strip_path(&e, path)
            ))),
        }
    }

    /// The smallest presentation time of the first few samples (B-frames
    /// can put a later sample first on screen).
    fn first_presentation_time(&mut self) -> Result<i64, CaptureError> {
        let mut first = i64::MAX;
        for id in 1..=self.sample_count.min(16) {
            if let Some(s) = self.read_sample(id)? {
                first = first.min(pts_of(s.start_time, s.rendering_offset));
            }
        }
        Ok(if first == i64::MAX { 0 } else { first })
    }

    fn read_sample(&mut self, id: u32) -> Result<Option<mp4::Mp4Sample>, CaptureError> {
        let (reader, track) = (&mut self.reader, self.track_id);
        guard(|| reader.read_sample(track, id))
            .map_err(|m| CaptureError::corrupt(&self.path, format!("sample {id}: {m}")))?
            .map_err(|e| CaptureError::corrupt(&self.path, format!("sample {id}: {e}")))
    }

    /// Feeds samples to the decoder until a picture comes out or the
    /// track ends (then flushes what the decoder holds back).
    fn fill(&mut self) -> Result<(), CaptureError> {
        while self.ready.is_empty() && self.next_sample <= self.sample_count {
            let id = self.next_sample;
            self.next_sample += 1;
            if self.frames_out == 0 && id > NO_PICTURE_LIMIT {
                return Err(CaptureError::corrupt(
                    &self.path,
                    format!("no picture decoded from the first {NO_PICTURE_LIMIT} samples"),
                ));
            }
            let Some(sample) = self.read_sample(id)? else {
                // A sample the tables do not locate: as damaged as one that
                // does not decode (a file claiming billions of them must not
                // spin through them all; found by fuzzing).
                self.bad_in_a_row += 1;
                self.skipped += 1;
                if self.bad_in_a_row > MAX_BAD_SAMPLES_IN_A_ROW {
                    return Err(CaptureError::corrupt(
                        &self.path,
                        format!("samples up to {id} cannot be found in the file"),
                    ));
                }
                continue;
            };
            let decoded =
                self.annex_b(&sample, id)
                    .and_then(|annex_b| match self.decoder.decode(&annex_b) {
                        Ok(decoded) => Ok(decoded.as_ref().map(picture)),
                        Err(e) => Err(CaptureError::corrupt(
                            &self.path,
                            format!("sample {id}: H.264 decoding failed: {e}"),
                        )),
                    });
            let picture = match decoded {
                Ok(picture) => {
                    self.bad_in_a_row = 0;
                    picture
                }
                // A damaged stretch of a long recording must not cost the
                // rest of it: skip to where decoding works again (the next
                // keyframe, at the latest), within reason.
                Err(e) if self.frames_out > 0 && self.bad_in_a_row < MAX_BAD_SAMPLES_IN_A_ROW => {
                    if self.bad_in_a_row == 0 {
                        tracing::warn!("{e}; skipping to where decoding works again");
                    } else {
                        tracing::debug!("{e}; skipped");
                    }
                    self.bad_in_a_row += 1;
                    self.skipped += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.waiting_pts.push(std::cmp::Reverse(pts_of(
                sample.start_time,
                sample.rendering_offset,
            )));
            if let Some((w, h, rgb)) = picture {
                let frame = self.stamp(w, h, rgb)?;
                self.ready.push_back(frame);
            }
        }
        if self.ready.is_empty() && self.next_sample > self.sample_count && !self.flushed {
            self.flushed = true;
            if self.skipped > 0 {
                tracing::warn!(
                    "{}: {} damaged sample{} skipped",
                    self.path.display(),
                    self.skipped,
                    if self.skipped == 1 { "" } else { "s" }
                );
            }
            let rest = self.decoder.flush_remaining().map_err(|e| {
                CaptureError::corrupt(&self.path, format!("H.264 decoding failed at the end: {e}"))
            })?;
            let mut frames = Vec::with_capacity(rest.len());
            for yuv in &rest {
                frames.push(picture(yuv));
            }
            for (w, h, rgb) in frames {
                let frame = self.stamp(w, h, rgb)?;
                self.ready.push_back(frame);
            }
        }
        Ok(())
    }

    /// A sample's NAL units with start codes instead of length prefixes,
    /// after the parameter sets when it is a sync sample.
    fn annex_b(&self, sample: &mp4::Mp4Sample, id: u32) -> Result<Vec<u8>, CaptureError> {
        let bytes = &sample.bytes[..];
        let mut out = Vec::with_capacity(bytes.len() + self.parameter_sets.len() + 16);
        if sample.is_sync || id == 1 {
            out.extend_from_slice(&self.parameter_sets);
        }
        let mut at = 0;
        while at < bytes.len() {
            if at + self.length_size > bytes.len() {
                return Err(CaptureError::corrupt(
                    &self.path,
                    format!("sample {id}: truncated NAL unit length"),
                ));
            }
            let len = bytes[at..at + self.length_size]
                .iter()
                .fold(0usize, |n, b| (n << 8) | usize::from(*b));
            at += self.length_size;
            if len > bytes.len() - at {
                return Err(CaptureError::corrupt(
                    &self.path,
                    format!("sample {id}: NAL unit of {len} bytes overruns the sample"),
                ));
            }
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&bytes[at..at + len]);
            at += len;
        }
        Ok(out)
    }

    /// Gives a decoded picture its presentation time and turns it upright.
    fn stamp(&mut self, w: u32, h: u32, rgb: Vec<u8>) -> Result<Frame, CaptureError> {
        let pts = self
            .waiting_pts
            .pop()
            .map(|std::cmp::Reverse(p)| p)
            .unwrap_or(self.first_pts);
        // In i128: no time the file states can overflow; Frame::new
        // refuses one beyond MAX_T_MS.
        let since = (i128::from(pts) - i128::from(self.first_pts)).max(0);
        let t_ms = (since * 1000 + i128::from(self.timescale / 2)) / i128::from(self.timescale);
        let mut t_ms = u64::try_from(t_ms).unwrap_or(u64::MAX);
        // Frames must not go back in time, whatever the file says.
        if let Some(last) = self.last_t_ms {
            t_ms = t_ms.max(last.saturating_add(1));
        }
        self.last_t_ms = Some(t_ms);
        self.frames_out += 1;
        let frame = Frame::new(t_ms, w, h, rgb)
            .map_err(|e| CaptureError::corrupt(&self.path, e.to_string()))?;
        Ok(rotate_quarters(frame, self.quarter_turns))
    }
}

impl FrameSource for Mp4Source {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        self.fill()?;
        Ok(self.ready.pop_front())
    }
}

fn picture(yuv: &DecodedYUV<'_>) -> (u32, u32, Vec<u8>) {
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    (w as u32, h as u32, rgb)
}

/// Clockwise quarter turns that show the track upright, from the track
/// header's display matrix `[a b u; c d v; x y w]` (16.16 fixed point). The
/// turn is read from where the picture's vertical axis goes, `(c, d)`: a
/// rotation by θ puts it at (−sin θ, cos θ), and a left-right mirror (some
/// front cameras) leaves it alone, so a mirrored picture is not turned
/// upside down. Mirroring itself is not undone: it does not matter to the
/// detector.
fn quarter_turns(c: i32, d: i32) -> u8 {
    let (c, d) = (f64::from(c), f64::from(d));
    if c == 0.0 && d == 0.0 {
        return 0;
    }
    let degrees = (-c).atan2(d).to_degrees();
    (((degrees / 90.0).round() as i64).rem_euclid(4)) as u8
}

/// The frame turned clockwise by `quarters` quarter turns.
fn rotate_quarters(frame: Frame, quarters: u8) -> Frame {
    if quarters % 4 == 0 {
        return frame;
    }
    let (w, h) = (frame.width as usize, frame.height as usize);
    let (nw, nh) = if quarters % 2 == 1 { (h, w) } else { (w, h) };
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..nh {
        for x in 0..nw {
            // The source pixel that lands at (x, y).
            let (sx, sy) = match quarters % 4 {
                1 => (y, h - 1 - x),
                2 => (w - 1 - x, h - 1 - y),
                _ => (w - 1 - y, x),
            };
            let s = (sy * w + sx) * 3;
            let d = (y * nw + x) * 3;
            rgb[d..d + 3].copy_from_slice(&frame.rgb[s..s + 3]);
        }
    }
    Frame::new(frame.t_ms, nw as u32, nh as u32, rgb).expect("same pixel count")
}

/// Runs a parser step, turning a panic on malformed input into an error:
/// a damaged file must be reported, never crash the session.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| "malformed container structure".to_owned())
}

fn strip_path(e: &CaptureError, path: &Path) -> String {
    let text = e.to_string();
    text.strip_prefix(&format!("{}: ", path.display()))
        .map(str::to_owned)
        .unwrap_or(text)
}

/// A sample's presentation time (track timescale), saturating: the file's
/// start time is a u64 and its offset may be negative.
fn pts_of(start_time: u64, rendering_offset: i32) -> i64 {
    i64::try_from(start_time)
        .unwrap_or(i64::MAX)
        .saturating_add(i64::from(rendering_offset))
}

mod boxes;
#[cfg(test)]
mod tests;
