//! Playing a scenario as a frame source: real pictures with jitter and
//! sensor noise, dark and frozen stretches, inner videos, a lost camera.

use invigil_core::Frame;

use super::format::{Scenario, Segment};
use crate::files::load_image;
use crate::resize::cover;
use crate::{frame_time_ms, CaptureError, FrameSource, OpenOptions, SourceInfo};

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
                    let path = self.scenario.resolve(&o.path);
                    let mut inset = load_image(&path, 0)?;
                    if let Some(area) = o.crop {
                        inset = crop(&inset, area).ok_or_else(|| CaptureError::Scenario {
                            path: self.scenario.path.clone(),
                            message: format!(
                                "the overlay `crop` {area:?} is not inside {} ({}x{})",
                                path.display(),
                                inset.width,
                                inset.height
                            ),
                        })?;
                    }
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

/// The part `[x, y, w, h]` of a frame; `None` unless it lies inside.
fn crop(src: &Frame, [x, y, w, h]: [u32; 4]) -> Option<Frame> {
    let inside = x.checked_add(w)? <= src.width && y.checked_add(h)? <= src.height;
    if !inside || w == 0 || h == 0 {
        return None;
    }
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for row in y..y + h {
        let start = ((row * src.width + x) * 3) as usize;
        rgb.extend_from_slice(&src.rgb[start..start + (w * 3) as usize]);
    }
    Frame::new(src.t_ms, w, h, rgb).ok()
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
