//! The scenario file format (docs/scenarios.md): settings, the timeline of
//! segments and their checks.

use std::path::{Path, PathBuf};

use invigil_core::{Event, Policy};
use serde::Deserialize;

use super::expect::{Expectation, ExpectationResult};
use crate::CaptureError;

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
    /// The candidate's check-in face photo (relative to this file): with
    /// it, the face in view is compared with it during the run
    /// (docs/identity.md).
    #[serde(default)]
    pub reference_face: Option<PathBuf>,
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
    /// Only this part of the photo, `[x, y, width, height]` in its pixels
    /// (one person of a group photograph).
    #[serde(default)]
    pub crop: Option<[u32; 4]>,
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
                for o in &x.overlays {
                    if o.crop.is_some_and(|[_, _, w, h]| w == 0 || h == 0) {
                        return Err(err(format!(
                            "segment {n}: an overlay's `crop` must have a width and height of at least 1 pixel"
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
        if let Some(p) = s.reference_face() {
            if !p.is_file() {
                return Err(err(format!(
                    "reference_face {} does not exist",
                    p.display()
                )));
            }
        }
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

    /// `reference_face`, resolved against the scenario's folder.
    pub fn reference_face(&self) -> Option<PathBuf> {
        self.reference_face.as_deref().map(|p| self.resolve(p))
    }

    pub(super) fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    pub(super) fn expected_frames(&self) -> u64 {
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
