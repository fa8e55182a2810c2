//! Flagged clips: a ring buffer of the last seconds of (thinned, scaled
//! down) frames; a violation opens a clip of pre-roll plus post-roll.
//!
//! Frames are kept as I420 (4:2:0 YUV, BT.601 limited range), ready for a
//! video encoder, at 1.5 bytes a pixel: 5 s at 10 fps and 640x480 is 23 MB.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::policy::ms;
use crate::{Event, Frame, Policy, Severity};

/// One kept frame: I420 planes, Y then U then V.
#[derive(Clone, Debug)]
pub struct ClipFrame {
    /// Source media time.
    pub t_ms: u64,
    pub yuv: Arc<Vec<u8>>,
}

/// A closed clip, ready to encode.
#[derive(Clone, Debug)]
pub struct Clip {
    pub width: u32,
    pub height: u32,
    /// Its frames, less those already handed out by
    /// [`ClipRecorder::take_open_frames`] while it was open.
    pub frames: Vec<ClipFrame>,
    /// The violations it covers (the first opened it).
    pub event_seqs: Vec<u64>,
    /// Session time (the events' `t_ms` clock) of the first and last frame.
    pub start_ms: u64,
    pub end_ms: u64,
}

struct Open {
    /// Frames not yet taken by `take_open_frames`.
    frames: Vec<ClipFrame>,
    /// Source time of its first and last frame.
    first_t: Option<u64>,
    last_t: Option<u64>,
    event_seqs: Vec<u64>,
    /// Source time at which the clip closes.
    close_at: u64,
    /// Source time at which the clip reaches its longest.
    limit: u64,
    /// Session time minus source time.
    offset: i64,
}

/// Keeps the ring buffer and cuts clips around violations.
pub struct ClipRecorder {
    pre_ms: u64,
    post_ms: u64,
    max_ms: u64,
    interval_ms: f64,
    max_w: u32,
    max_h: u32,
    size: Option<(u32, u32)>,
    ring: VecDeque<ClipFrame>,
    last_kept: Option<u64>,
    open: Option<Open>,
}

impl ClipRecorder {
    pub fn new(policy: &Policy) -> Self {
        Self {
            pre_ms: ms(policy.clip_pre_roll_s),
            post_ms: ms(policy.clip_post_roll_s),
            max_ms: ms(policy.clip_max_s).max(1),
            interval_ms: 1000.0 / policy.clip_fps.clamp(1.0, 60.0),
            max_w: policy.clip_max_width,
            max_h: policy.clip_max_height,
            size: None,
            ring: VecDeque::new(),
            last_kept: None,
            open: None,
        }
    }

    /// Frames per second kept.
    pub fn fps(&self) -> f64 {
        1000.0 / self.interval_ms
    }

    /// Feeds one analysed frame (or `None` for events without a frame, such
    /// as `camera_lost`) with the events it caused. Returns a clip when one
    /// closes.
    pub fn push(&mut self, frame: Option<&Frame>, events: &[Event]) -> Option<Clip> {
        let mut closed = None;
        if let Some(frame) = frame {
            closed = self.keep(frame);
        }
        let now = frame.map(|f| f.t_ms).or(self.last_kept);
        for e in events.iter().filter(|e| e.severity == Severity::Violation) {
            let Some(now) = now else { continue };
            match &mut self.open {
                Some(open) => {
                    open.event_seqs.push(e.seq);
                    open.close_at = (now + self.post_ms).min(open.limit).max(open.close_at);
                }
                None => {
                    let from = now.saturating_sub(self.pre_ms);
                    let frames: Vec<ClipFrame> = self
                        .ring
                        .iter()
                        .filter(|f| f.t_ms >= from)
                        .cloned()
                        .collect();
                    let first = frames.first().map_or(now, |f| f.t_ms);
                    self.open = Some(Open {
                        first_t: frames.first().map(|f| f.t_ms),
                        last_t: frames.last().map(|f| f.t_ms),
                        frames,
                        event_seqs: vec![e.seq],
                        close_at: (now + self.post_ms).min(first + self.max_ms),
                        limit: first + self.max_ms,
                        offset: e.t_ms as i64 - now as i64,
                    });
                }
            }
        }
        if closed.is_none() {
            if let (Some(open), Some(now)) = (&self.open, frame.map(|f| f.t_ms)) {
                if now >= open.close_at {
                    closed = self.close();
                }
            }
        }
        closed
    }

    /// Closes the open clip, if any, with the frames it has (session end).
    pub fn finish(&mut self) -> Option<Clip> {
        self.close()
    }

    /// The open clip's frames kept since the last call (and its size), so
    /// that a long clip can be encoded as it grows instead of held whole:
    /// the clip that closes then carries only the frames not taken.
    pub fn take_open_frames(&mut self) -> Option<(u32, u32, Vec<ClipFrame>)> {
        let open = self.open.as_mut()?;
        let (w, h) = self.size?;
        Some((w, h, std::mem::take(&mut open.frames)))
    }

    fn close(&mut self) -> Option<Clip> {
        let open = self.open.take()?;
        let (width, height) = self.size?;
        let first = open.first_t?;
        let last = open.last_t?;
        let session = |t: u64| (t as i64 + open.offset).max(0) as u64;
        Some(Clip {
            width,
            height,
            start_ms: session(first),
            end_ms: session(last),
            frames: open.frames,
            event_seqs: open.event_seqs,
        })
    }

    /// Thins, scales and converts a frame into the ring (and the open
    /// clip). A change of frame size closes the open clip.
    fn keep(&mut self, frame: &Frame) -> Option<Clip> {
        if let Some(last) = self.last_kept {
            // 10% slack so a 30 fps camera thinned to 10 fps keeps every
            // third frame despite timestamp jitter.
            if (frame.t_ms as f64) < last as f64 + self.interval_ms * 0.9 && frame.t_ms >= last {
                return None;
            }
        }
        let (w, h) = fit(frame.width, frame.height, self.max_w, self.max_h);
        let mut closed = None;
        if self.size != Some((w, h)) {
            closed = self.close();
            self.ring.clear();
            self.size = Some((w, h));
        }
        let kept = ClipFrame {
            t_ms: frame.t_ms,
            yuv: Arc::new(to_i420(frame, w, h)),
        };
        self.last_kept = Some(frame.t_ms);
        let from = frame.t_ms.saturating_sub(self.pre_ms);
        while self
            .ring
            .front()
            .is_some_and(|f| f.t_ms < from || f.t_ms > frame.t_ms)
        {
            self.ring.pop_front();
        }
        if let Some(open) = &mut self.open {
            if open.last_t.is_none_or(|t| t < kept.t_ms) {
                open.first_t.get_or_insert(kept.t_ms);
                open.last_t = Some(kept.t_ms);
                open.frames.push(kept.clone());
            }
        }
        self.ring.push_back(kept);
        closed
    }
}

/// The largest even size within `max_w` x `max_h` with the frame's aspect.
fn fit(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let scale = (f64::from(max_w) / f64::from(w))
        .min(f64::from(max_h) / f64::from(h))
        .min(1.0);
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(f64::from(w) * scale), even(f64::from(h) * scale))
}

/// Area-average scaling to `w` x `h` and conversion to I420 (BT.601,
/// limited range).
pub fn to_i420(frame: &Frame, w: u32, h: u32) -> Vec<u8> {
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let (w, h) = (w as usize, h as usize);
    let scaled;
    let rgb: &[u8] = if (w, h) == (sw, sh) {
        &frame.rgb
    } else if sw % w == 0 && sh % h == 0 && sw / w == sh / h {
        scaled = shrink_by(frame, sw / w);
        &scaled
    } else {
        scaled = shrink_area(frame, w, h);
        &scaled
    };
    let mut out = vec![0u8; w * h * 3 / 2];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
    for (y, px) in luma.iter_mut().zip(rgb.chunks_exact(3)) {
        let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
        *y = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
    }
    let row = w * 3;
    for cy in 0..h / 2 {
        let top = &rgb[cy * 2 * row..(cy * 2 + 1) * row];
        let bottom = &rgb[(cy * 2 + 1) * row..(cy * 2 + 2) * row];
        for cx in 0..w / 2 {
            let o = cx * 6;
            let sum = |c: usize| {
                i32::from(top[o + c])
                    + i32::from(top[o + 3 + c])
                    + i32::from(bottom[o + c])
                    + i32::from(bottom[o + 3 + c])
            };
            let (r, g, b) = ((sum(0) + 2) >> 2, (sum(1) + 2) >> 2, (sum(2) + 2) >> 2);
            let i = cy * (w / 2) + cx;
            u_plane[i] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
            v_plane[i] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
        }
    }
    out
}

/// Averages `k` x `k` blocks (the common webcam case: 1280x720 -> 640x360).
fn shrink_by(frame: &Frame, k: usize) -> Vec<u8> {
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let (w, h) = (sw / k, sh / k);
    let mut sums = vec![0u32; w * 3];
    let mut out = Vec::with_capacity(w * h * 3);
    let n = (k * k) as u32;
    for y in 0..h {
        sums.fill(0);
        for sy in y * k..(y + 1) * k {
            let src = &frame.rgb[sy * sw * 3..(sy + 1) * sw * 3];
            for (x, block) in src.chunks_exact(3 * k).enumerate() {
                for px in block.chunks_exact(3) {
                    sums[x * 3] += u32::from(px[0]);
                    sums[x * 3 + 1] += u32::from(px[1]);
                    sums[x * 3 + 2] += u32::from(px[2]);
                }
            }
        }
        out.extend(sums.iter().map(|&s| ((s + n / 2) / n) as u8));
    }
    out
}

/// Box filter over the source span of each output pixel (any ratio).
fn shrink_area(frame: &Frame, w: usize, h: usize) -> Vec<u8> {
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let xs: Vec<(usize, usize)> = (0..w).map(|x| span(x, w, sw)).collect();
    for y in 0..h {
        let (y0, y1) = span(y, h, sh);
        for (x, &(x0, x1)) in xs.iter().enumerate() {
            let mut acc = [0u32; 3];
            for sy in y0..y1 {
                let row = &frame.rgb[(sy * sw + x0) * 3..(sy * sw + x1) * 3];
                for px in row.chunks_exact(3) {
                    acc[0] += u32::from(px[0]);
                    acc[1] += u32::from(px[1]);
                    acc[2] += u32::from(px[2]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            let o = (y * w + x) * 3;
            for c in 0..3 {
                rgb[o + c] = ((acc[c] + n / 2) / n) as u8;
            }
        }
    }
    rgb
}

/// Source range `[a, b)` covered by output pixel `i` of `n` over `len`.
fn span(i: usize, n: usize, len: usize) -> (usize, usize) {
    let a = i * len / n;
    let b = ((i + 1) * len / n).max(a + 1).min(len);
    (a.min(len - 1), b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, EVENT_SCHEMA_VERSION};

    fn violation(seq: u64, t_ms: u64) -> Event {
        Event {
            v: EVENT_SCHEMA_VERSION,
            seq,
            t_ms,
            kind: EventKind::CandidateAbsent,
            severity: Severity::Violation,
            data: Default::default(),
            prev: None,
        }
    }

    fn frame(t: u64) -> Frame {
        Frame::solid(t, 1280, 720, [(t / 100 % 256) as u8, 100, 50])
    }

    #[test]
    fn clip_spans_pre_and_post_roll() {
        let mut rec = ClipRecorder::new(&Policy::default());
        let mut clips = Vec::new();
        // 30 fps for 20 s; a violation at 8 s.
        for i in 0..600u64 {
            let t = i * 1000 / 30;
            let events = if t == 8000 {
                vec![violation(4, t + 500)]
            } else {
                vec![]
            };
            clips.extend(rec.push(Some(&frame(t)), &events));
        }
        assert!(rec.finish().is_none());
        assert_eq!(clips.len(), 1);
        let c = &clips[0];
        assert_eq!((c.width, c.height), (640, 360));
        assert_eq!(c.event_seqs, [4]);
        let first = c.frames.first().unwrap().t_ms;
        let last = c.frames.last().unwrap().t_ms;
        assert!((3000..=3100).contains(&first), "{first}");
        assert!((13000..=13100).contains(&last), "{last}");
        // ~10 fps over 10 s.
        assert!((95..=105).contains(&c.frames.len()), "{}", c.frames.len());
        // Session clock: the event said 8500 at source time 8000.
        assert_eq!(c.start_ms, first + 500);
        assert_eq!(c.frames[0].yuv.len(), 640 * 360 * 3 / 2);
    }

    #[test]
    fn later_violations_extend_up_to_the_limit() {
        let policy = Policy {
            clip_max_s: 12.0,
            ..Policy::default()
        };
        let mut rec = ClipRecorder::new(&policy);
        let mut clips = Vec::new();
        for i in 0..400u64 {
            let t = i * 100;
            let events = match t {
                6000 => vec![violation(1, t)],
                9000 => vec![violation(2, t)],
                14000 => vec![violation(3, t)],
                _ => vec![],
            };
            clips.extend(rec.push(Some(&frame(t)), &events));
        }
        assert_eq!(clips.len(), 2);
        assert_eq!(clips[0].event_seqs, [1, 2]);
        assert_eq!(clips[1].event_seqs, [3]);
        // Opened at 1 s (pre-roll), capped at 12 s long.
        assert_eq!(clips[0].frames.first().unwrap().t_ms, 1000);
        assert_eq!(clips[0].frames.last().unwrap().t_ms, 13000);
    }

    #[test]
    fn session_end_closes_an_open_clip() {
        let mut rec = ClipRecorder::new(&Policy::default());
        for i in 0..30u64 {
            rec.push(Some(&frame(i * 100)), &[]);
        }
        // Camera lost: an event without a frame.
        assert!(rec.push(None, &[violation(9, 2900)]).is_none());
        let clip = rec.finish().expect("the open clip");
        assert_eq!(clip.event_seqs, [9]);
        assert_eq!(clip.frames.len(), 30);
        assert!(rec.finish().is_none());
    }

    #[test]
    fn an_open_clip_can_be_taken_as_it_grows() {
        let mut rec = ClipRecorder::new(&Policy::default());
        let (mut taken, mut clips) = (Vec::new(), Vec::new());
        for i in 0..200u64 {
            let t = i * 100;
            let events = if t == 8000 {
                vec![violation(4, t)]
            } else {
                vec![]
            };
            clips.extend(rec.push(Some(&frame(t)), &events));
            if let Some((w, h, frames)) = rec.take_open_frames() {
                assert_eq!((w, h), (640, 360));
                taken.extend(frames);
            }
        }
        assert!(rec.take_open_frames().is_none(), "no clip is open");
        let [clip] = &clips[..] else {
            panic!("{} clips", clips.len())
        };
        // The pre-roll and every frame after were handed out in order; the
        // clip brings the frame that closed it.
        assert_eq!(clip.frames.len(), 1);
        taken.extend(clip.frames.iter().cloned());
        let times: Vec<u64> = taken.iter().map(|f| f.t_ms).collect();
        assert_eq!(times, (30..=130).map(|i| i * 100).collect::<Vec<_>>());
        assert_eq!((clip.start_ms, clip.end_ms), (3000, 13000));
    }

    #[test]
    fn i420_of_known_colours() {
        let white = Frame::solid(0, 4, 2, [255, 255, 255]);
        let yuv = to_i420(&white, 4, 2);
        assert_eq!(&yuv[..8], &[235; 8]);
        assert_eq!(&yuv[8..], &[128; 4]);
        let red = Frame::solid(0, 2, 2, [255, 0, 0]);
        let yuv = to_i420(&red, 2, 2);
        assert_eq!((yuv[0], yuv[4], yuv[5]), (82, 90, 240));
        assert_eq!(fit(1920, 1080, 640, 480), (640, 360));
        assert_eq!(fit(320, 240, 640, 480), (320, 240));
        assert_eq!(fit(641, 481, 640, 480), (640, 480));
    }

    #[test]
    fn the_fast_paths_agree_with_the_general_one() {
        let mut f = Frame::solid(0, 1280, 720, [0, 0, 0]);
        for (i, v) in f.rgb.iter_mut().enumerate() {
            *v = (i * 7 % 251) as u8;
        }
        assert_eq!(shrink_by(&f, 2), shrink_area(&f, 640, 360));
        assert_eq!(to_i420(&f, 640, 360).len(), 640 * 360 * 3 / 2);
        let odd = shrink_area(&f, 500, 300);
        assert_eq!(odd.len(), 500 * 300 * 3);
    }
}
