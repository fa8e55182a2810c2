//! The check-in before the exam: a live camera (or fixture) with the
//! check-in measures of `invigil_vision::checkin` run on it, a preview, and
//! the photos taken.
//!
//! The UI sets the step ([`CheckIn::set_step`]), polls [`CheckIn::view`]
//! and [`CheckIn::preview`], calls [`CheckIn::capture`] when the view says
//! `ready`, and at the end takes the photos with [`CheckIn::finish`] to
//! upload them through the uplink journal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_capture::{load_image, open_source, FrameSource, OpenOptions};
use invigil_core::Frame;
use invigil_vision::checkin::{
    assess_face_photo, assess_id_photo, assess_room_view, Assessment, CheckInPolicy, ViewSignature,
};
use invigil_vision::{FaceDetector, ModelKind};
use serde::{Deserialize, Serialize};

use crate::view::FaceBox;
use crate::MonitorError;

/// The sides of the room scan, in the order the candidate is asked for
/// them, with the words used for each.
pub const ROOM_SIDES: [(&str, &str); 5] = [
    ("front", "the wall in front of you"),
    ("right", "the wall to your right"),
    ("back", "the wall behind you"),
    ("left", "the wall to your left"),
    ("desk", "your desk"),
];

/// A check-in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Face,
    Id,
    /// One side of the room scan (index into [`ROOM_SIDES`]).
    Room,
}

/// A check-in fixture for QA: which picture the "camera" shows at each
/// step (`INVIGIL_CHECKIN_SOURCE`). Paths are relative to the file.
///
/// ```toml
/// face = "face.jpg"
/// id = "id_card.jpg"
/// room = ["north.jpg", "east.jpg", "south.jpg", "west.jpg", "desk.jpg"]
/// ```
///
/// Room side `n` shows `room[n]` (wrapping when fewer are given, so a
/// fixture with one picture tests the "same view" guidance).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInFixture {
    pub face: PathBuf,
    pub id: PathBuf,
    pub room: Vec<PathBuf>,
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
        let base = path.parent().unwrap_or(Path::new("."));
        for p in std::iter::once(&mut f.face)
            .chain(std::iter::once(&mut f.id))
            .chain(f.room.iter_mut())
        {
            *p = base.join(&*p);
        }
        Ok(f)
    }
}

/// Where the check-in's frames come from.
#[derive(Clone, Debug)]
pub struct CheckInOptions {
    /// `camera`, `camera:N` or a fixture source as for the exam; used when
    /// `fixture` is `None`.
    pub source: String,
    pub fixture: Option<PathBuf>,
    pub policy: CheckInPolicy,
    pub preview_width: u32,
}

impl CheckInOptions {
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            fixture: None,
            policy: CheckInPolicy::default(),
            preview_width: 480,
        }
    }
}

/// A failing condition, for the UI.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemView {
    pub code: String,
    pub message: String,
}

/// What the check-in screen shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckInView {
    pub step: Step,
    /// Room side being scanned (`front`...`desk`) and its words.
    pub side: Option<String>,
    pub side_words: Option<String>,
    /// The latest assessed frame may be captured.
    pub ready: bool,
    pub problems: Vec<ProblemView>,
    /// Faces found (face photo) or the portrait on the ID.
    pub faces: Vec<FaceBox>,
    /// Corners of the ID found, as fractions of the frame.
    pub document: Option<Vec<[f32; 2]>>,
    pub frames: u64,
    /// The camera failed (and is being retried).
    pub error: Option<String>,
    /// Photos taken so far.
    pub photos: Vec<PhotoView>,
    /// Every photo the check-in needs is taken.
    pub complete: bool,
}

/// A photo taken, as the UI lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhotoView {
    /// `face`, `id`, or a room side.
    pub slot: String,
    pub label: String,
    /// Small JPEG as a `data:` URL.
    pub thumbnail: String,
}

/// A photo taken, with what goes to the server.
#[derive(Clone, Debug)]
pub struct Photo {
    /// Media kind: `face_photo`, `id_photo` or `room_scan`.
    pub kind: &'static str,
    pub slot: String,
    pub label: String,
    pub jpeg: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub signature: ViewSignature,
    pub measures: Vec<(String, f32)>,
}

struct Latest {
    frame: Frame,
    step: Step,
    side: usize,
    assessment: Assessment,
}

struct State {
    step: Step,
    side: usize,
    latest: Option<Latest>,
    photos: Vec<Photo>,
    frames: u64,
    error: Option<String>,
    /// Bumped by every step change and capture, so an assessment started
    /// before it is not shown after it.
    generation: u64,
}

struct Shared {
    state: Mutex<State>,
    preview: Mutex<Option<Vec<u8>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running check-in.
pub struct CheckIn {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Photos a complete check-in holds: face, ID and every room side.
pub const CHECKIN_PHOTOS: usize = 2 + ROOM_SIDES.len();

/// How a photo is named to the candidate when a room view looks like it:
/// `face photo`, `view of the wall in front of you`, ...
pub fn photo_label(slot: &str) -> String {
    match slot {
        "face" => "face photo".to_owned(),
        side => format!(
            "view of {}",
            ROOM_SIDES
                .iter()
                .find(|(s, _)| *s == side)
                .map_or(side, |(_, w)| w)
        ),
    }
}

impl CheckIn {
    /// Opens the source and the detector (errors come back here) and starts
    /// the check-in thread at the face photo step.
    pub fn start(options: CheckInOptions) -> Result<Self, MonitorError> {
        let feed = match &options.fixture {
            Some(path) => Feed::fixture(path).map_err(|message| MonitorError::Source {
                source_name: path.display().to_string(),
                message,
            })?,
            None => Feed::source(&options.source)?,
        };
        let mut detector = FaceDetector::new(ModelKind::Back256)
            .map_err(|e| MonitorError::Detector(e.to_string()))?;
        detector.set_min_score(0.5);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                step: Step::Face,
                side: 0,
                latest: None,
                photos: Vec::new(),
                frames: 0,
                error: None,
                generation: 0,
            }),
            preview: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("invigil-checkin".into())
                .spawn(move || run(feed, detector, options, &shared, &stop))
                .expect("can spawn the check-in thread")
        };
        Ok(Self {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Moves to a step (`side` is the room side, ignored for the others).
    pub fn set_step(&self, step: Step, side: usize) -> Result<(), String> {
        if step == Step::Room && side >= ROOM_SIDES.len() {
            return Err(format!(
                "room side {side} does not exist (0 to {})",
                ROOM_SIDES.len() - 1
            ));
        }
        let mut s = lock(&self.shared.state);
        if s.step != step || s.side != side {
            s.step = step;
            s.side = if step == Step::Room { side } else { 0 };
            s.latest = None;
            s.generation += 1;
        }
        Ok(())
    }

    pub fn view(&self) -> CheckInView {
        let s = lock(&self.shared.state);
        let latest = s
            .latest
            .as_ref()
            .filter(|l| l.step == s.step && l.side == s.side);
        let (fw, fh) = latest.map_or((1.0, 1.0), |l| {
            (l.frame.width as f32, l.frame.height as f32)
        });
        CheckInView {
            step: s.step,
            side: (s.step == Step::Room).then(|| ROOM_SIDES[s.side].0.to_owned()),
            side_words: (s.step == Step::Room).then(|| ROOM_SIDES[s.side].1.to_owned()),
            ready: latest.is_some_and(|l| l.assessment.ready),
            problems: latest.map_or_else(
                || {
                    vec![ProblemView {
                        code: "waiting".into(),
                        message: "Waiting for the camera…".into(),
                    }]
                },
                |l| {
                    l.assessment
                        .problems
                        .iter()
                        .map(|p| ProblemView {
                            code: p.code.to_owned(),
                            message: p.message.clone(),
                        })
                        .collect()
                },
            ),
            faces: latest.map_or_else(Vec::new, |l| {
                l.assessment
                    .faces
                    .iter()
                    .map(|f| FaceBox::of(f, fw, fh))
                    .collect()
            }),
            document: latest.and_then(|l| {
                l.assessment
                    .document
                    .as_ref()
                    .map(|d| d.corners.iter().map(|c| [c[0] / fw, c[1] / fh]).collect())
            }),
            frames: s.frames,
            error: s.error.clone(),
            photos: s.photos.iter().map(photo_view).collect(),
            complete: s.photos.len() == CHECKIN_PHOTOS,
        }
    }

    /// The latest frame as a small JPEG.
    pub fn preview(&self) -> Option<Vec<u8>> {
        lock(&self.shared.preview).clone()
    }

    /// Takes the photo of the current step from the latest assessed frame,
    /// replacing an earlier one of the same step (a retake).
    pub fn capture(&self) -> Result<PhotoView, String> {
        let mut s = lock(&self.shared.state);
        let (step, side) = (s.step, s.side);
        let Some(latest) = s
            .latest
            .as_ref()
            .filter(|l| l.step == step && l.side == side)
        else {
            return Err("The camera has not delivered a picture for this step yet.".into());
        };
        if !latest.assessment.ready {
            let why: Vec<&str> = latest
                .assessment
                .problems
                .iter()
                .map(|p| p.message.as_str())
                .collect();
            return Err(format!("Not yet: {}", why.join(" ")));
        }
        let (kind, slot, label) = match step {
            Step::Face => ("face_photo", "face".to_owned(), "Face photo".to_owned()),
            Step::Id => ("id_photo", "id".to_owned(), "ID photo".to_owned()),
            Step::Room => (
                "room_scan",
                ROOM_SIDES[side].0.to_owned(),
                format!("Room: {}", ROOM_SIDES[side].1),
            ),
        };
        let jpeg = crate::picture::jpeg(&latest.frame, 1280, 88)
            .ok_or("The picture could not be encoded.")?;
        let thumbnail = crate::picture::jpeg(&latest.frame, 160, 75)
            .ok_or("The picture could not be encoded.")?;
        let photo = Photo {
            kind,
            slot: slot.clone(),
            label,
            jpeg,
            thumbnail,
            signature: ViewSignature::of(&latest.frame),
            measures: latest.assessment.measures.clone(),
        };
        let view = photo_view(&photo);
        s.photos.retain(|p| p.slot != slot);
        s.photos.push(photo);
        // Keep the photos in check-in order: face, ID, room sides.
        s.photos.sort_by_key(|p| slot_order(&p.slot));
        // The next frame is judged against the new photo too.
        s.latest = None;
        s.generation += 1;
        Ok(view)
    }

    /// Stops the camera and returns the photos, in check-in order.
    pub fn finish(mut self) -> Vec<Photo> {
        self.halt();
        std::mem::take(&mut lock(&self.shared.state).photos)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for CheckIn {
    fn drop(&mut self) {
        self.halt();
    }
}

fn slot_order(slot: &str) -> usize {
    match slot {
        "face" => 0,
        "id" => 1,
        side => 2 + ROOM_SIDES.iter().position(|(s, _)| *s == side).unwrap_or(9),
    }
}

fn photo_view(p: &Photo) -> PhotoView {
    PhotoView {
        slot: p.slot.clone(),
        label: p.label.clone(),
        thumbnail: crate::picture::data_url(&p.thumbnail),
    }
}

/// The check-in's camera.
enum Feed {
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
    fn source(name: &str) -> Result<Self, MonitorError> {
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

    fn fixture(path: &Path) -> Result<Self, String> {
        let fixture = CheckInFixture::load(path)?;
        // Every picture must load now, not halfway through the check-in.
        let mut cache = HashMap::new();
        for p in std::iter::once(&fixture.face)
            .chain(std::iter::once(&fixture.id))
            .chain(&fixture.room)
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
    fn next(&mut self, step: Step, side: usize) -> Result<Frame, String> {
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

fn open(name: &str) -> Result<Box<dyn FrameSource>, MonitorError> {
    open_source(name, &OpenOptions { fps: 10.0 }).map_err(|e| MonitorError::Source {
        source_name: name.to_owned(),
        message: e.to_string(),
    })
}

fn run(
    mut feed: Feed,
    mut detector: FaceDetector,
    options: CheckInOptions,
    shared: &Shared,
    stop: &AtomicBool,
) {
    let mut last_assessed: Option<(Instant, u64)> = None;
    let mut last_preview: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let (step, side, generation) = {
            let s = lock(&shared.state);
            (s.step, s.side, s.generation)
        };
        let frame = match feed.next(step, side) {
            Ok(f) => f,
            Err(e) if e.is_empty() => continue,
            Err(e) => {
                lock(&shared.state).error = Some(format!(
                    "The camera stopped delivering pictures ({e}). Check that it is connected and not used by another program; retrying…"
                ));
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        {
            let mut s = lock(&shared.state);
            s.frames += 1;
            s.error = None;
        }
        if last_preview.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            last_preview = Some(Instant::now());
            if let Some(jpeg) = crate::picture::jpeg(&frame, options.preview_width, 75) {
                *lock(&shared.preview) = Some(jpeg);
            }
        }
        // Judge at most 5 frames a second, and at once after a change.
        let due = last_assessed
            .is_none_or(|(t, g)| g != generation || t.elapsed() >= Duration::from_millis(200));
        if !due {
            continue;
        }
        last_assessed = Some((Instant::now(), generation));
        let others: Vec<(String, ViewSignature)> = if step == Step::Room {
            let s = lock(&shared.state);
            s.photos
                .iter()
                .filter(|p| p.slot != ROOM_SIDES[side].0 && p.kind != "id_photo")
                .map(|p| (photo_label(&p.slot), p.signature.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let assessment = match step {
            Step::Face => match detector.detect(&frame) {
                Ok(faces) => assess_face_photo(&frame, &faces, &options.policy),
                Err(e) => {
                    lock(&shared.state).error = Some(format!("face detection failed: {e}"));
                    continue;
                }
            },
            Step::Id => match assess_id_photo(&frame, &mut detector, &options.policy) {
                Ok(a) => a,
                Err(e) => {
                    lock(&shared.state).error = Some(format!("face detection failed: {e}"));
                    continue;
                }
            },
            Step::Room => assess_room_view(&frame, &others, &options.policy),
        };
        let mut s = lock(&shared.state);
        if s.generation == generation {
            s.latest = Some(Latest {
                frame,
                step,
                side,
                assessment,
            });
        }
    }
}
