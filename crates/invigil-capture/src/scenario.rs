//! Scripted webcam scenarios: a timeline of segments built from real
//! photographs and videos, policy overrides, and the events the run must
//! produce. The format is documented in docs/scenarios.md.

use std::path::{Path, PathBuf};

use invigil_core::{Event, EventKind, Frame, Policy, Severity};
use serde::Deserialize;

use crate::files::load_image;
use crate::resize::cover;
use crate::{frame_time_ms, CaptureError, FrameSource, OpenOptions, SourceInfo};

/// A parsed scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports; defaults to the file name.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Frame rate of generated segments.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frame size `[width, height]` of generated segments.
    #[serde(default = "default_size")]
    pub size: [u32; 2],
    /// Seed for jitter and noise; the same seed gives the same frames.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Policy keys to override for this scenario.
    #[serde(default)]
    pub policy: toml::Table,
    #[serde(rename = "segment", default)]
    pub segments: Vec<Segment>,
    #[serde(rename = "expect", default)]
    pub expectations: Vec<Expectation>,
    /// The file it was read from; paths in segments are relative to it.
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_fps() -> f64 {
    10.0
}
fn default_size() -> [u32; 2] {
    [640, 480]
}
fn default_seed() -> u64 {
    1
}
fn default_jitter() -> f64 {
    2.0
}
fn default_noise() -> f64 {
    2.0
}
fn one() -> f64 {
    1.0
}
fn default_dark_level() -> f64 {
    4.0
}

/// One piece of the timeline.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Segment {
    /// A photograph held for `duration_s`, with per-frame jitter (camera
    /// shake, breathing) and sensor noise so consecutive frames differ as a
    /// live camera's do.
    Image(ImageSegment),
    /// A folder of images, one frame each, at the scenario's fps.
    Images(PathSegment),
    /// A video file (`.y4m`, `.mp4`, `.mjpeg`/`.mjpg`, `.gif`, or what FFmpeg
    /// reads) at its own timing.
    Video(PathSegment),
    /// A covered lens: near-black frames with sensor noise.
    Dark(DarkSegment),
    /// The last frame repeated exactly: a stuck or virtual camera.
    Frozen(DurationSegment),
    /// The camera disappears here; the source fails as an unplugged one does.
    Lost(LostSegment),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSegment {
    pub path: PathBuf,
    pub duration_s: f64,
    /// Largest shift per frame, pixels.
    #[serde(default = "default_jitter")]
    pub jitter_px: f64,
    /// Sensor noise, standard deviation in grey levels.
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Light level: 1 as photographed, 0.2 a dim room.
    #[serde(default = "one")]
    pub brightness: f64,
    /// Photographs pasted into the frame, in order: the candidate in front
    /// of an empty-room background, someone walking in behind them.
    #[serde(default)]
    pub overlays: Vec<Overlay>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub path: PathBuf,
    /// Top-left corner in the frame, pixels.
    pub x: u32,
    pub y: u32,
    /// Width in the frame, pixels; height keeps the photo's aspect.
    pub width: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSegment {
    pub path: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DarkSegment {
    pub duration_s: f64,
    /// Mean grey level of the covered lens.
    #[serde(default = "default_dark_level")]
    pub level: f64,
    #[serde(default = "one")]
    pub noise: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationSegment {
    pub duration_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostSegment {
    /// The error the camera reports.
    #[serde(default = "default_lost_message")]
    pub message: String,
}

fn default_lost_message() -> String {
    "device disconnected (scripted)".into()
}

/// Events a scenario must produce.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Event kind to count; or
    #[serde(default)]
    pub kind: Option<EventKind>,
    /// every event of a severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Exactly this many.
    #[serde(default)]
    pub count: Option<u64>,
    /// At least (default 1 when neither `count` nor `max` is given).
    #[serde(default)]
    pub min: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
    /// Window start, session seconds (inclusive).
    #[serde(default)]
    pub after_s: Option<f64>,
    /// Window end, session seconds (inclusive).
    #[serde(default)]
    pub before_s: Option<f64>,
}

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectationResult {
    pub passed: bool,
    /// e.g. `candidate_absent in 5.0..12.0 s: expected 1, got 1`.
    pub message: String,
}

impl Expectation {
    fn describe(&self) -> String {
        let what = match (&self.kind, &self.severity) {
            (Some(k), _) => k.as_str().to_owned(),
            (None, Some(s)) => format!("{} events", s.as_str()),
            (None, None) => "events".to_owned(),
        };
        let window = match (self.after_s, self.before_s) {
            (None, None) => String::new(),
            (a, b) => format!(
                " in {}..{} s",
                a.map_or("start".into(), |a| a.to_string()),
                b.map_or("end".into(), |b| b.to_string())
            ),
        };
        format!("{what}{window}")
    }

    fn bounds(&self) -> (u64, u64) {
        match (self.count, self.min, self.max) {
            (Some(c), _, _) => (c, c),
            (None, None, None) => (1, u64::MAX),
            (None, min, max) => (min.unwrap_or(0), max.unwrap_or(u64::MAX)),
        }
    }

    /// Checks this expectation against a run's events.
    pub fn check(&self, events: &[Event]) -> ExpectationResult {
        let lo_ms = self.after_s.map_or(0, |s| (s * 1000.0).round() as u64);
        let hi_ms = self
            .before_s
            .map_or(u64::MAX, |s| (s * 1000.0).round() as u64);
        let got = events
            .iter()
            .filter(|e| self.kind.is_none_or(|k| e.kind == k))
            .filter(|e| self.severity.is_none_or(|s| e.severity == s))
            .filter(|e| (lo_ms..=hi_ms).contains(&e.t_ms))
            .count() as u64;
        let (lo, hi) = self.bounds();
        let expected = if lo == hi {
            format!("{lo}")
        } else if hi == u64::MAX {
            format!("at least {lo}")
        } else {
            format!("{lo} to {hi}")
        };
        ExpectationResult {
            passed: (lo..=hi).contains(&got),
            message: format!("{}: expected {expected}, got {got}", self.describe()),
        }
    }
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, CaptureError> {
        let text = std::fs::read_to_string(path).map_err(|e| CaptureError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses scenario text; `path` locates relative segment paths and names
    /// the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, CaptureError> {
        let err = |message: String| CaptureError::Scenario {
            path: path.to_owned(),
            message,
        };
        let mut s: Scenario =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
        s.path = path.to_owned();
        if s.name.is_empty() {
            s.name = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if !(s.fps.is_finite() && s.fps > 0.0 && s.fps <= 240.0) {
            return Err(err(format!(
                "`fps` must be between 0 and 240, got {}",
                s.fps
            )));
        }
        if s.size[0] < 16 || s.size[1] < 16 || s.size[0] > 4096 || s.size[1] > 4096 {
            return Err(err(format!(
                "`size` must be between 16 and 4096 pixels a side, got {:?}",
                s.size
            )));
        }
        if s.segments.is_empty() {
            return Err(err("has no [[segment]]: nothing to play".into()));
        }
        for (i, seg) in s.segments.iter().enumerate() {
            let n = i + 1;
            let duration = match seg {
                Segment::Image(x) => Some(x.duration_s),
                Segment::Dark(x) => Some(x.duration_s),
                Segment::Frozen(x) => Some(x.duration_s),
                _ => None,
            };
            if let Some(d) = duration {
                if !(d.is_finite() && d >= 0.0) {
                    return Err(err(format!(
                        "segment {n}: `duration_s` must be 0 or more seconds, got {d}"
                    )));
                }
            }
            if let Segment::Image(x) = seg {
                for (key, v) in [
                    ("jitter_px", x.jitter_px),
                    ("noise", x.noise),
                    ("brightness", x.brightness),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(err(format!(
                            "segment {n}: `{key}` must be 0 or more, got {v}"
                        )));
                    }
                }
            }
            if matches!(seg, Segment::Frozen(_)) && i == 0 {
                return Err(err(
                    "segment 1: `frozen` repeats the previous frame, so it cannot come first"
                        .into(),
                ));
            }
            if matches!(seg, Segment::Lost(_)) && i + 1 != s.segments.len() {
                return Err(err(format!(
                    "segment {n}: `lost` ends the stream, so it must be the last segment"
                )));
            }
        }
        for (i, e) in s.expectations.iter().enumerate() {
            let n = i + 1;
            if e.kind.is_none() && e.severity.is_none() {
                return Err(err(format!(
                    "expect {n}: give a `kind` or a `severity` to count"
                )));
            }
            for (key, v) in [("after_s", e.after_s), ("before_s", e.before_s)] {
                if let Some(v) = v {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(err(format!(
                            "expect {n}: `{key}` must be 0 or more seconds, got {v}"
                        )));
                    }
                }
            }
            if e.count.is_some() && (e.min.is_some() || e.max.is_some()) {
                return Err(err(format!(
                    "expect {n}: give `count`, or `min`/`max`, not both"
                )));
            }
        }
        // The policy overrides must make a valid policy on their own.
        s.policy(&Policy::default())?;
        // Every referenced file must exist, so a typo fails before the run.
        for seg in &s.segments {
            for p in seg.paths() {
                let full = s.resolve(p);
                if !full.exists() {
                    return Err(err(format!(
                        "segment file {} does not exist",
                        full.display()
                    )));
                }
            }
        }
        Ok(s)
    }

    /// The base policy with this scenario's overrides.
    pub fn policy(&self, base: &Policy) -> Result<Policy, CaptureError> {
        base.with_overrides(&self.policy, &self.path.display().to_string())
            .map_err(|e| CaptureError::Scenario {
                path: self.path.clone(),
                message: format!("[policy]: {e}"),
            })
    }

    /// Checks every expectation against a run's events.
    pub fn check(&self, events: &[Event]) -> Vec<ExpectationResult> {
        self.expectations.iter().map(|e| e.check(events)).collect()
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    fn expected_frames(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Image(x) => (x.duration_s * self.fps).round() as u64,
                Segment::Dark(x) => (x.duration_s * self.fps).round() as u64,
                Segment::Frozen(x) => (x.duration_s * self.fps).round() as u64,
                _ => 0,
            })
            .sum()
    }
}

impl Segment {
    fn paths(&self) -> Vec<&Path> {
        match self {
            Segment::Image(x) => {
                let mut v = vec![x.path.as_path()];
                v.extend(x.overlays.iter().map(|o| o.path.as_path()));
                v
            }
            Segment::Images(x) | Segment::Video(x) => vec![x.path.as_path()],
            _ => Vec::new(),
        }
    }
}

/// A small deterministic random generator (xorshift64*), so scenarios replay
/// bit for bit on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal, mean 0, standard deviation 1 (Irwin-Hall of 4).
    fn normal(&mut self) -> f64 {
        let x = self.next_u64();
        let sum: u32 = (0..4).map(|i| ((x >> (i * 16)) & 0xFFFF) as u32).sum();
        (f64::from(sum) / 65535.0 - 2.0) * 3.0f64.sqrt()
    }
}

/// What the current segment is producing.
enum Playing {
    Generated {
        /// Shared so each frame borrows it without copying the picture.
        base: std::sync::Arc<Frame>,
        frames: u64,
        jitter: f64,
        noise: f64,
    },
    Dark {
        frames: u64,
        level: f64,
        noise: f64,
    },
    Frozen {
        frames: u64,
    },
    Inner(Box<dyn FrameSource>),
    Lost(String),
}

/// Plays a [`Scenario`] as a frame source.
pub struct ScenarioSource {
    scenario: Scenario,
    info: SourceInfo,
    next_segment: usize,
    playing: Option<(Playing, u64)>,
    /// Media time of the next frame.
    t_next: u64,
    index: u64,
    last: Option<Frame>,
    rng: Rng,
    /// Unit-variance noise, drawn once; each frame reads it from a random
    /// offset, which is as good as fresh noise for the analysis and ~50x
    /// cheaper than drawing a number per byte.
    noise: Vec<f32>,
}

/// Random offsets into the noise table go up to this.
const NOISE_SLACK: usize = 1 << 16;

impl ScenarioSource {
    pub fn new(scenario: Scenario) -> Result<Self, CaptureError> {
        let info = SourceInfo {
            name: scenario.path.display().to_string(),
            kind: "scenario",
            fps: Some(scenario.fps),
            frames: Some(scenario.expected_frames()).filter(|&n| n > 0),
            live: false,
        };
        let seed = scenario.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Ok(Self {
            scenario,
            info,
            next_segment: 0,
            playing: None,
            t_next: 0,
            index: 0,
            last: None,
            rng: Rng(seed),
            noise: Vec::new(),
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    fn frames_for(&self, seconds: f64) -> u64 {
        (seconds * self.scenario.fps).round() as u64
    }

    fn start_segment(&mut self, seg: &Segment) -> Result<Playing, CaptureError> {
        let [w, h] = self.scenario.size;
        Ok(match seg {
            Segment::Image(x) => {
                let photo = load_image(&self.scenario.resolve(&x.path), 0)?;
                let mut base = cover(&photo, w, h);
                for o in &x.overlays {
                    let inset = load_image(&self.scenario.resolve(&o.path), 0)?;
                    let oh = (u64::from(o.width) * u64::from(inset.height) / u64::from(inset.width))
                        .max(1) as u32;
                    let inset = cover(&inset, o.width.max(1), oh);
                    paste(&mut base, &inset, o.x, o.y);
                }
                if x.brightness != 1.0 {
                    for v in &mut base.rgb {
                        *v = (f64::from(*v) * x.brightness).round().clamp(0.0, 255.0) as u8;
                    }
                }
                Playing::Generated {
                    base: std::sync::Arc::new(base),
                    frames: self.frames_for(x.duration_s),
                    jitter: x.jitter_px,
                    noise: x.noise,
                }
            }
            Segment::Images(x) => Playing::Inner(crate::open_source(
                &self.scenario.resolve(&x.path).display().to_string(),
                &OpenOptions {
                    fps: self.scenario.fps,
                },
            )?),
            Segment::Video(x) => Playing::Inner(crate::open_source(
                &self.scenario.resolve(&x.path).display().to_string(),
                &OpenOptions {
                    fps: self.scenario.fps,
                },
            )?),
            Segment::Dark(x) => Playing::Dark {
                frames: self.frames_for(x.duration_s),
                level: x.level,
                noise: x.noise,
            },
            Segment::Frozen(x) => Playing::Frozen {
                frames: self.frames_for(x.duration_s),
            },
            Segment::Lost(x) => Playing::Lost(x.message.clone()),
        })
    }

    fn generated(&mut self, base: &Frame, jitter: f64, noise: f64) -> Frame {
        let (w, h) = (base.width as i64, base.height as i64);
        let dx = ((self.rng.unit() * 2.0 - 1.0) * jitter).round() as i64;
        let dy = ((self.rng.unit() * 2.0 - 1.0) * jitter).round() as i64;
        let mut rgb = vec![0u8; base.rgb.len()];
        for y in 0..h {
            let sy = (y + dy).clamp(0, h - 1);
            for x in 0..w {
                let sx = (x + dx).clamp(0, w - 1);
                let s = ((sy * w + sx) * 3) as usize;
                let d = ((y * w + x) * 3) as usize;
                rgb[d..d + 3].copy_from_slice(&base.rgb[s..s + 3]);
            }
        }
        self.add_noise(&mut rgb, noise);
        Frame {
            t_ms: 0,
            width: base.width,
            height: base.height,
            rgb,
        }
    }
}

impl ScenarioSource {
    fn add_noise(&mut self, bytes: &mut [u8], sigma: f64) {
        if sigma <= 0.0 {
            return;
        }
        if self.noise.len() < bytes.len() + NOISE_SLACK {
            let n = bytes.len() + NOISE_SLACK;
            self.noise = (0..n).map(|_| self.rng.normal() as f32).collect();
        }
        let offset = (self.rng.next_u64() % NOISE_SLACK as u64) as usize;
        let sigma = sigma as f32;
        for (v, z) in bytes.iter_mut().zip(&self.noise[offset..]) {
            // Float-to-int `as` saturates, so this rounds and clamps.
            *v = (f32::from(*v) + z * sigma + 0.5) as u8;
        }
    }
}

fn paste(dst: &mut Frame, src: &Frame, x0: u32, y0: u32) {
    for y in 0..src.height {
        let dy = y0 + y;
        if dy >= dst.height {
            break;
        }
        for x in 0..src.width {
            let dx = x0 + x;
            if dx >= dst.width {
                break;
            }
            let s = ((y * src.width + x) * 3) as usize;
            let d = ((dy * dst.width + dx) * 3) as usize;
            dst.rgb[d..d + 3].copy_from_slice(&src.rgb[s..s + 3]);
        }
    }
}

impl FrameSource for ScenarioSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        loop {
            if self.playing.is_none() {
                let Some(seg) = self.scenario.segments.get(self.next_segment).cloned() else {
                    return Ok(None);
                };
                self.next_segment += 1;
                let playing = self.start_segment(&seg)?;
                self.playing = Some((playing, self.t_next));
            }
            let (playing, seg_start) = self.playing.as_mut().expect("set above");
            let seg_start = *seg_start;
            let step = 1000.0 / self.scenario.fps;
            let frame = match playing {
                Playing::Lost(message) => return Err(CaptureError::Disconnected(message.clone())),
                Playing::Inner(source) => match source.next_frame()? {
                    Some(mut f) => {
                        f.t_ms += seg_start;
                        // The next segment starts one frame interval later.
                        let interval = source.info().fps.map_or(step, |fps| 1000.0 / fps);
                        self.t_next = f.t_ms + interval.round() as u64;
                        Some(f)
                    }
                    None => None,
                },
                Playing::Generated { frames: 0, .. }
                | Playing::Dark { frames: 0, .. }
                | Playing::Frozen { frames: 0 } => None,
                Playing::Generated {
                    base,
                    frames,
                    jitter,
                    noise,
                } => {
                    *frames -= 1;
                    let (base, jitter, noise) = (std::sync::Arc::clone(base), *jitter, *noise);
                    Some(self.generated(&base, jitter, noise))
                }
                Playing::Dark {
                    frames,
                    level,
                    noise,
                } => {
                    *frames -= 1;
                    let (level, noise) = (*level, *noise);
                    let [w, h] = self.scenario.size;
                    let grey = level.round().clamp(0.0, 255.0) as u8;
                    let mut f = Frame::solid(0, w, h, [grey, grey, grey]);
                    self.add_noise(&mut f.rgb, noise);
                    Some(f)
                }
                Playing::Frozen { frames } => {
                    *frames -= 1;
                    let [w, h] = self.scenario.size;
                    Some(
                        self.last
                            .clone()
                            .unwrap_or_else(|| Frame::solid(0, w, h, [0, 0, 0])),
                    )
                }
            };
            let Some(mut frame) = frame else {
                self.playing = None;
                continue;
            };
            if !matches!(self.playing, Some((Playing::Inner(_), _))) {
                frame.t_ms = frame_time_ms(self.index, self.scenario.fps);
                self.t_next = frame.t_ms + step.round() as u64;
            }
            self.index = ((self.t_next as f64) * self.scenario.fps / 1000.0).round() as u64;
            self.last = Some(frame.clone());
            return Ok(Some(frame));
        }
    }
}

#[cfg(test)]
mod tests;
