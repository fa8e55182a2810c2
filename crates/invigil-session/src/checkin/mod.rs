//! The check-in before the exam: a live camera (or fixture) with the
//! check-in measures of `invigil_vision::checkin` run on it, a preview, and
//! the photos taken.
//!
//! The UI sets the step ([`CheckIn::set_step`]), polls [`CheckIn::view`]
//! and [`CheckIn::preview`], calls [`CheckIn::capture`] when the view says
//! `ready`, and at the end takes the photos and the head-turn check's
//! result with [`CheckIn::finish`] to upload them through the uplink
//! journal. The head-turn step takes no photo: showing it starts an
//! attempt (again after a failed one), and its view says how it goes.

mod feed;
mod judge;
mod live;
mod view;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_core::protocol::{CheckinRequirements, MediaKind};
use invigil_core::sync::lock;
use invigil_core::{Face, Frame};
use invigil_vision::checkin::{
    assess_face_photo, assess_id_photo, assess_room_view, Assessment, CheckInPolicy, ViewSignature,
};
use invigil_vision::identity::reference_embedding;
use invigil_vision::{FaceDetector, FaceEmbedder};

pub use feed::CheckInFixture;
pub use judge::{checkin_detector, judge_identity, judge_photos, PhotoVerdict};
pub use live::{LivenessResult, LivenessView};
pub use view::{
    identity_of, photo_label, required_slots, CheckInView, IdentityView, Photo, PhotoView,
    ProblemView, Step, CHECKIN_PHOTOS, LIVENESS, MAX_ID_ATTEMPTS, ROOM_SIDES,
};

use crate::view::FaceBox;
use crate::SessionError;
use feed::Feed;
use live::LivenessCheck;
use view::{photo_view, slot_order};

/// Where the check-in's frames come from.
#[derive(Clone, Debug)]
pub struct CheckInOptions {
    /// `camera`, `camera:N` or a fixture source as for the exam; used when
    /// `fixture` is `None`.
    pub source: String,
    pub fixture: Option<PathBuf>,
    pub policy: CheckInPolicy,
    pub preview_width: u32,
    /// What the exam asks for (all of it unless it says otherwise).
    pub requires: CheckinRequirements,
}

impl CheckInOptions {
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            fixture: None,
            policy: CheckInPolicy::default(),
            preview_width: 480,
            requires: CheckinRequirements::default(),
        }
    }
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
    /// The steps the exam asks for.
    required: Vec<String>,
    liveness: LivenessCheck,
}

impl State {
    /// Every step the exam asks for is done.
    fn done(&self) -> bool {
        self.required.iter().all(|r| match r.as_str() {
            LIVENESS => self.liveness.passed(),
            slot => self.photos.iter().any(|p| p.slot == slot),
        })
    }
}

/// What a finished check-in hands on: its photos, in check-in order, and
/// the head-turn check's result when the exam asked for it.
#[derive(Clone, Debug, Default)]
pub struct CheckInRecord {
    pub photos: Vec<Photo>,
    pub liveness: Option<LivenessResult>,
}

struct Shared {
    state: Mutex<State>,
    preview: Mutex<Option<Vec<u8>>>,
}

/// A running check-in.
pub struct CheckIn {
    shared: Arc<Shared>,
    /// Embeds the face photo's face and the ID's portrait at capture.
    embedder: FaceEmbedder,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CheckIn {
    /// Opens the source and the detector (errors come back here) and starts
    /// the check-in thread at the first step the exam asks for.
    pub fn start(options: CheckInOptions) -> Result<Self, SessionError> {
        let required = required_slots(&options.requires);
        let first = match required.first().map(String::as_str) {
            None => {
                return Err(SessionError::Usage(
                    "this exam asks for no check-in photos".into(),
                ))
            }
            Some("face") => Step::Face,
            Some(LIVENESS) => Step::Liveness,
            Some("id") => Step::Id,
            Some(_) => Step::Room,
        };
        let feed = match &options.fixture {
            Some(path) => Feed::fixture(path).map_err(|message| SessionError::Source {
                source_name: path.display().to_string(),
                message,
            })?,
            None => Feed::source(&options.source)?,
        };
        let detector = checkin_detector(&options.policy)?;
        let embedder = FaceEmbedder::new().map_err(|e| SessionError::Detector(e.to_string()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                step: first,
                side: 0,
                latest: None,
                photos: Vec::new(),
                frames: 0,
                error: None,
                generation: 0,
                required,
                liveness: LivenessCheck::default(),
            }),
            preview: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            let embedder = embedder.clone();
            std::thread::Builder::new()
                .name("invigil-checkin".into())
                .spawn(move || run(feed, detector, &embedder, options, &shared, &stop))
                .expect("can spawn the check-in thread")
        };
        Ok(Self {
            shared,
            embedder,
            stop,
            thread: Some(thread),
        })
    }

    /// Moves to a step (`side` is the room side, ignored for the others).
    /// The head-turn step starts an attempt unless one is running or one
    /// passed: showing it again after a failure is the retry.
    pub fn set_step(&self, step: Step, side: usize) -> Result<(), String> {
        if step == Step::Room && side >= ROOM_SIDES.len() {
            return Err(format!(
                "room side {side} does not exist (0 to {})",
                ROOM_SIDES.len() - 1
            ));
        }
        let mut s = lock(&self.shared.state);
        let slot = match step {
            Step::Face => "face",
            Step::Liveness => LIVENESS,
            Step::Id => "id",
            Step::Room => ROOM_SIDES[side].0,
        };
        if !s.required.iter().any(|r| r == slot) {
            return Err(format!(
                "This exam's check-in does not ask for the {}.",
                match step {
                    Step::Face => "face photo",
                    Step::Liveness => "head-turn check",
                    Step::Id => "ID photo",
                    Step::Room => "room scan",
                }
            ));
        }
        if s.step != step || s.side != side {
            s.step = step;
            s.side = if step == Step::Room { side } else { 0 };
            s.latest = None;
            s.generation += 1;
        }
        if step == Step::Liveness {
            s.liveness.start();
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
            photos: s.photos.iter().map(|p| photo_view(p, &s.photos)).collect(),
            liveness: s
                .required
                .iter()
                .any(|r| r == LIVENESS)
                .then(|| s.liveness.view()),
            // A portrait that does not match asks for a retake first.
            complete: s.done() && !identity_of(&s.photos).is_some_and(|i| i.retake),
            required: s.required.clone(),
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
        if step == Step::Liveness {
            return Err("The head-turn check takes no photo.".into());
        }
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
            Step::Liveness => unreachable!("refused above"),
            Step::Face => (
                MediaKind::FacePhoto,
                "face".to_owned(),
                "Face photo".to_owned(),
            ),
            Step::Id => (MediaKind::IdPhoto, "id".to_owned(), "ID photo".to_owned()),
            Step::Room => (
                MediaKind::RoomScan,
                ROOM_SIDES[side].0.to_owned(),
                format!("Room: {}", ROOM_SIDES[side].1),
            ),
        };
        let jpeg = crate::picture::jpeg(&latest.frame, 1280, 88)
            .ok_or("The picture could not be encoded.")?;
        let thumbnail = crate::picture::jpeg(&latest.frame, 160, 75)
            .ok_or("The picture could not be encoded.")?;
        // The face photo's face (the exam's reference) and the ID's
        // portrait, for the comparison (docs/identity.md).
        let faces = &latest.assessment.faces;
        let embedding = match step {
            Step::Face => reference_embedding(&latest.frame, faces, &self.embedder).ok(),
            Step::Id => match faces.first() {
                Some(portrait) => self
                    .embedder
                    .embed(&latest.frame, portrait)
                    .map_err(|e| format!("The ID photo could not be compared: {e}"))?,
                None => None,
            },
            Step::Room | Step::Liveness => None,
        };
        let (fw, fh) = (latest.frame.width as f32, latest.frame.height as f32);
        let portrait = (step == Step::Id)
            .then(|| faces.first())
            .flatten()
            .map(|f| {
                [
                    f.bbox[0] / fw,
                    f.bbox[1] / fh,
                    f.bbox[2] / fw,
                    f.bbox[3] / fh,
                ]
            });
        let attempt = s
            .photos
            .iter()
            .find(|p| p.slot == slot)
            .map_or(1, |p| p.attempt + 1);
        let photo = Photo {
            kind,
            slot: slot.clone(),
            label,
            jpeg,
            thumbnail,
            signature: ViewSignature::of(&latest.frame),
            measures: latest.assessment.measures.clone(),
            embedding,
            attempt,
            portrait,
        };
        s.photos.retain(|p| p.slot != slot);
        s.photos.push(photo);
        if step == Step::Face {
            // The head-turn check was tied to the old face photo.
            s.liveness.forget();
        }
        let view = s
            .photos
            .iter()
            .find(|p| p.slot == slot)
            .map(|p| photo_view(p, &s.photos))
            .expect("just added");
        // Keep the photos in check-in order: face, ID, room sides.
        s.photos.sort_by_key(|p| slot_order(&p.slot));
        // The next frame is judged against the new photo too.
        s.latest = None;
        s.generation += 1;
        Ok(view)
    }

    /// Stops the camera and returns the photos, in check-in order, with
    /// the head-turn check's result.
    pub fn finish(mut self) -> CheckInRecord {
        self.halt();
        let mut s = lock(&self.shared.state);
        CheckInRecord {
            liveness: s
                .required
                .iter()
                .any(|r| r == LIVENESS)
                .then(|| s.liveness.result()),
            photos: std::mem::take(&mut s.photos),
        }
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

fn run(
    mut feed: Feed,
    mut detector: FaceDetector,
    embedder: &FaceEmbedder,
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
                .filter(|p| p.slot != ROOM_SIDES[side].0 && p.kind != MediaKind::IdPhoto)
                .map(|p| (photo_label(&p.slot), p.signature.clone()))
                .collect()
        } else {
            Vec::new()
        };
        if step == Step::Liveness {
            match detector.detect(&frame) {
                Ok(faces) => liveness_frame(frame, faces, generation, embedder, &options, shared),
                Err(e) => lock(&shared.state).error = Some(format!("face detection failed: {e}")),
            }
            continue;
        }
        let assessment = match step {
            Step::Liveness => unreachable!("judged above"),
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

/// One judged frame of the head-turn step: fed to the challenge, its face
/// compared with the face photo before the first turn and after the last.
fn liveness_frame(
    frame: Frame,
    faces: Vec<Face>,
    generation: u64,
    embedder: &FaceEmbedder,
    options: &CheckInOptions,
    shared: &Shared,
) {
    let mut assessment = assess_face_photo(&frame, &faces, &options.policy);
    // The view's instruction guides this step; of the photo's problems
    // only those that keep the turns from being measured apply.
    assessment.ready = false;
    assessment.problems.retain(|p| {
        matches!(
            p.code,
            "no_face" | "several_faces" | "face_too_small" | "face_too_dark"
        )
    });
    for p in &mut assessment.problems {
        if p.code == "several_faces" {
            p.message = "Someone else is in the picture: you must be alone for this check.".into();
        }
    }
    let faces = assessment.faces.clone();
    let (compare, reference) = {
        let mut s = lock(&shared.state);
        if s.generation != generation {
            return;
        }
        let compare = s.liveness.observe(frame.t_ms, &faces);
        let reference = s
            .photos
            .iter()
            .find(|p| p.slot == "face")
            .and_then(|p| p.embedding.clone());
        (compare, reference)
    };
    let similarity = match (compare, reference, faces.as_slice()) {
        (Some(_), Some(reference), [face]) => embedder
            .embed(&frame, face)
            .ok()
            .flatten()
            .map(|e| e.similarity(&reference)),
        _ => None,
    };
    let mut s = lock(&shared.state);
    if let Some(at) = compare {
        s.liveness.compared(at, similarity);
    }
    if s.generation == generation {
        s.latest = Some(Latest {
            frame,
            step: Step::Liveness,
            side: 0,
            assessment,
        });
    }
}
