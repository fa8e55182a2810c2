//! The check-in's camera: a real source, or a fixture that shows one
//! picture per step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use invigil_capture::{load_image, open_source, FrameSource, OpenOptions};
use invigil_core::Frame;
use serde::Deserialize;

use super::Step;
use crate::SessionError;

/// A check-in fixture for QA: which picture the "camera" shows at each
/// step (`INVIGIL_CHECKIN_SOURCE`). Paths are relative to the file.
///
/// ```toml
/// face = "face.jpg"
/// id = "id_card.jpg"
/// room = ["north.jpg", "east.jpg", "south.jpg", "west.jpg", "desk.jpg"]
/// # The head-turn step: these pictures in turn, each for `liveness_hold_ms`.
/// liveness = ["front.jpg", "left.jpg", "front.jpg", "right.jpg"]
/// liveness_hold_ms = 1000
/// ```
///
/// Room side `n` shows `room[n]` (wrapping when fewer are given, so a
/// fixture with one picture tests the "same view" guidance). Without
/// `liveness` the head-turn step shows the face picture, as a photo held
/// to the camera would.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInFixture {
    pub face: PathBuf,
    pub id: PathBuf,
    pub room: Vec<PathBuf>,
    #[serde(default)]
    pub liveness: Vec<PathBuf>,
    #[serde(default = "default_hold_ms")]
    pub liveness_hold_ms: u64,
}

fn default_hold_ms() -> u64 {
    1000
}

impl CheckInFixture {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the check-in fixture {}: {e}", path.display()))?;
        let mut f: CheckInFixture = toml::from_str(&text)
            .map_err(|e| format!("check-in fixture {}: {e}", path.display()))?;
        if f.room.is_empty() {
            return Err(format!(
                "check-in fixture {}: `room` lists no pictures",
                path.display()
            ));
        }
        if !(100..=60_000).contains(&f.liveness_hold_ms) {
            return Err(format!(
                "check-in fixture {}: `liveness_hold_ms` {} is not between 100 and 60000",
                path.display(),
                f.liveness_hold_ms
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if f.liveness.is_empty() {
            f.liveness.push(f.face.clone());
        }
        for p in std::iter::once(&mut f.face)
            .chain(std::iter::once(&mut f.id))
            .chain(f.room.iter_mut())
            .chain(f.liveness.iter_mut())
        {
            *p = base.join(&*p);
        }
        Ok(f)
    }
}

/// The check-in's camera.
pub(super) enum Feed {
    Source {
        name: String,
        source: Option<Box<dyn FrameSource>>,
        /// Files are paced like a camera from their frame times.
        paced: bool,
        started: Instant,
        t_offset: u64,
        last_t: u64,
    },
    Fixture {
        fixture: CheckInFixture,
        cache: HashMap<PathBuf, Frame>,
        n: u64,
        started: Instant,
    },
}

impl Feed {
    pub(super) fn source(name: &str) -> Result<Self, SessionError> {
        let source = open(name)?;
        Ok(Feed::Source {
            name: name.to_owned(),
            paced: source.info().kind != "camera",
            source: Some(source),
            started: Instant::now(),
            t_offset: 0,
            last_t: 0,
        })
    }

    pub(super) fn fixture(path: &Path) -> Result<Self, String> {
        let fixture = CheckInFixture::load(path)?;
        // Every picture must load now, not halfway through the check-in.
        let mut cache = HashMap::new();
        for p in std::iter::once(&fixture.face)
            .chain(std::iter::once(&fixture.id))
            .chain(&fixture.room)
            .chain(&fixture.liveness)
        {
            let frame = load_image(p, 0).map_err(|e| e.to_string())?;
            cache.insert(p.clone(), frame);
        }
        Ok(Feed::Fixture {
            fixture,
            cache,
            n: 0,
            started: Instant::now(),
        })
    }

    /// The next frame for `step`; `Err` when the camera failed (the caller
    /// retries).
    pub(super) fn next(&mut self, step: Step, side: usize) -> Result<Frame, String> {
        match self {
            Feed::Fixture {
                fixture,
                cache,
                n,
                started,
            } => {
                // 10 frames a second, with a little noise so that frames
                // differ as a camera's do.
                let due = *started + Duration::from_millis(*n * 100);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let path = match step {
                    Step::Face => &fixture.face,
                    Step::Liveness => {
                        let shown = *n * 100 / fixture.liveness_hold_ms;
                        &fixture.liveness[shown as usize % fixture.liveness.len()]
                    }
                    Step::Id => &fixture.id,
                    Step::Room => &fixture.room[side % fixture.room.len()],
                };
                let mut frame = cache[path].clone();
                frame.t_ms = *n * 100;
                let mut seed = (*n).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for v in frame.rgb.iter_mut().step_by(7) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *v = v.saturating_add((seed % 3) as u8);
                }
                *n += 1;
                Ok(frame)
            }
            Feed::Source {
                name,
                source,
                paced,
                started,
                t_offset,
                last_t,
            } => {
                if source.is_none() {
                    *source = Some(open(name).map_err(|e| e.to_string())?);
                }
                let src = source.as_mut().expect("opened above");
                match src.next_frame() {
                    Ok(Some(mut frame)) => {
                        frame.t_ms += *t_offset;
                        *last_t = frame.t_ms;
                        if *paced {
                            let due = *started + Duration::from_millis(frame.t_ms);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait.min(Duration::from_secs(1)));
                            }
                        }
                        Ok(frame)
                    }
                    // A fixture file ended: play it again.
                    Ok(None) => {
                        *t_offset = *last_t + 100;
                        *source = None;
                        Err(String::new())
                    }
                    Err(e) => {
                        *source = None;
                        Err(e.to_string())
                    }
                }
            }
        }
    }
}

fn open(name: &str) -> Result<Box<dyn FrameSource>, SessionError> {
    open_source(name, &OpenOptions { fps: 10.0 }).map_err(|e| SessionError::Source {
        source_name: name.to_owned(),
        message: e.to_string(),
    })
}
