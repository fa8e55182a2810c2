//! The per-frame analyzer: scene statistics on every frame, face detection
//! when it can tell us something new.

use invigil_core::{Analyzer, Face, Fingerprint, Frame, HeadPose, Observation, SeenObject};

use crate::identity::IdentityWatch;
use crate::scene::scene_stats;
use crate::{FaceDetector, FaceLandmarker, ObjectDetector, VisionError};

/// Measure the head pose this often (media time): the looking-away rule
/// works in seconds, and the landmark model costs ~5 ms.
pub const POSE_INTERVAL_MS: u64 = 200;

/// When the number of faces changes, look for objects at once, but not
/// more often than this.
pub const OBJECTS_SOON_MS: u64 = 500;

/// The object detector need not run again while no cell of the 64x48
/// luma fingerprint moved by more than this many levels since it last ran
/// (sensor noise moves a cell by ~1.5 at most; a phone or a book brought
/// into view, by tens)...
pub const OBJECTS_REUSE_MAX_CELL_CHANGE: f32 = 6.0;
/// ...for at most this long: its answer is then looked for afresh.
pub const OBJECTS_REUSE_MAX_AGE_MS: u64 = 10_000;

/// The face mesh need not run again while the detector's keypoints say the
/// head has not moved: the nose and mouth within this many eye distances
/// of where they were (BlazeFace's coarse yaw and pitch), the face within
/// a tenth of its width...
pub const POSE_REUSE_MAX_SHAPE_CHANGE: f32 = 0.04;
/// ...for at most this long.
pub const POSE_REUSE_MAX_AGE_MS: u64 = 1000;

/// The last face mesh measurement and the face it was measured on.
struct MeshedFace {
    t_ms: u64,
    shape: [f32; 4],
    center: [f32; 2],
    width: f32,
    pose: HeadPose,
}

impl MeshedFace {
    /// Whether `face` is the same head in the same pose, by its keypoints.
    fn still(&self, face: &Face, t: u64) -> bool {
        let Some(shape) = invigil_core::rules::face_shape(face) else {
            return false;
        };
        let c = face.center();
        t >= self.t_ms
            && t - self.t_ms < POSE_REUSE_MAX_AGE_MS
            && shape
                .iter()
                .zip(&self.shape)
                .all(|(a, b)| (a - b).abs() <= POSE_REUSE_MAX_SHAPE_CHANGE)
            && (c[0] - self.center[0]).hypot(c[1] - self.center[1]) <= 0.1 * self.width
    }
}

/// The conduct rules' models (docs/conduct.md) and when they run.
pub struct ConductWatch {
    landmarker: Option<FaceLandmarker>,
    objects: Option<ObjectDetector>,
    min_face_score: f32,
    pose_interval_ms: u64,
    objects_interval_ms: u64,
    last_pose: Option<u64>,
    meshed: Option<MeshedFace>,
    reuse_poses: bool,
    last_objects: Option<u64>,
    /// When the object detector last ran, on what picture, and its answer.
    objects_seen: Option<(u64, Fingerprint, Vec<SeenObject>)>,
    reuse_objects: bool,
    last_face_count: Option<usize>,
    poses: u64,
    object_runs: u64,
}

impl ConductWatch {
    /// Head pose with `landmarker` (none: the looking-away rule is off),
    /// objects with `objects` (none: the objects rule is off), at the
    /// policy's rates.
    pub fn new(
        landmarker: Option<FaceLandmarker>,
        objects: Option<ObjectDetector>,
        policy: &invigil_core::Policy,
    ) -> Self {
        Self {
            landmarker,
            objects,
            min_face_score: policy.min_face_score as f32,
            pose_interval_ms: POSE_INTERVAL_MS,
            objects_interval_ms: (policy.object_interval_s * 1000.0).round() as u64,
            last_pose: None,
            meshed: None,
            reuse_poses: true,
            last_objects: None,
            objects_seen: None,
            reuse_objects: true,
            last_face_count: None,
            poses: 0,
            object_runs: 0,
        }
    }

    /// The built-in models the policy's conduct rules need; `None` when
    /// both rules are off (`looking_away_flag_s = 0`, no flagged object).
    pub fn for_policy(policy: &invigil_core::Policy) -> Result<Option<Self>, VisionError> {
        let landmarker = if policy.looking_away_flag_s > 0.0 {
            Some(FaceLandmarker::new()?)
        } else {
            None
        };
        let any_object = invigil_core::ObjectLabel::ALL
            .into_iter()
            .any(|l| policy.flags_object(l));
        let objects = if any_object {
            Some(ObjectDetector::new()?)
        } else {
            None
        };
        Ok((landmarker.is_some() || objects.is_some())
            .then(|| Self::new(landmarker, objects, policy)))
    }

    /// Runs the face mesh at every pose measurement, even when the
    /// detector's keypoints say the head has not moved (benchmarks).
    pub fn always_mesh(mut self) -> Self {
        self.reuse_poses = false;
        self
    }

    /// Runs the object detector whenever due, even on an unchanged picture
    /// (benchmarks).
    pub fn always_detect_objects(mut self) -> Self {
        self.reuse_objects = false;
        self
    }

    /// Face mesh runs and object detector runs so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.poses, self.object_runs)
    }

    fn due(last: Option<u64>, t: u64, every: u64) -> bool {
        last.is_none_or(|l| t < l || t - l >= every)
    }

    /// The pose of the main face and the objects in view, when due.
    fn look(
        &mut self,
        frame: &Frame,
        faces: &[Face],
        fingerprint: &Fingerprint,
    ) -> Result<(Option<HeadPose>, Option<Vec<SeenObject>>), VisionError> {
        let t = frame.t_ms;
        let present: Vec<&Face> = faces
            .iter()
            .filter(|f| f.score >= self.min_face_score)
            .collect();
        let main = present
            .iter()
            .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])));
        let mut pose = None;
        if let (Some(landmarker), Some(main)) = (&self.landmarker, main) {
            if Self::due(self.last_pose, t, self.pose_interval_ms) {
                self.last_pose = Some(t);
                let reuse =
                    self.reuse_poses && self.meshed.as_ref().is_some_and(|m| m.still(main, t));
                if reuse {
                    pose = self.meshed.as_ref().map(|m| m.pose);
                } else {
                    pose = landmarker.pose(frame, main)?;
                    self.poses += 1;
                    self.meshed = match (pose, invigil_core::rules::face_shape(main)) {
                        (Some(pose), Some(shape)) => Some(MeshedFace {
                            t_ms: t,
                            shape,
                            center: main.center(),
                            width: main.bbox[2],
                            pose,
                        }),
                        _ => None,
                    };
                }
            }
        }
        let mut objects = None;
        if let Some(detector) = &self.objects {
            let changed = self.last_face_count.is_some_and(|n| n != present.len());
            self.last_face_count = Some(present.len());
            let due = Self::due(self.last_objects, t, self.objects_interval_ms)
                || (changed && Self::due(self.last_objects, t, OBJECTS_SOON_MS));
            if due {
                self.last_objects = Some(t);
                // The last answer still holds while the picture has not
                // changed anywhere (a still room, a still candidate); the
                // rule takes it as a fresh one.
                let unchanged = self.reuse_objects
                    && !changed
                    && self.objects_seen.as_ref().is_some_and(|(at, seen, _)| {
                        t >= *at
                            && t - at < OBJECTS_REUSE_MAX_AGE_MS
                            && seen
                                .max_difference(fingerprint)
                                .is_some_and(|d| d <= OBJECTS_REUSE_MAX_CELL_CHANGE)
                    });
                if unchanged {
                    objects = self.objects_seen.as_ref().map(|(_, _, o)| o.clone());
                } else {
                    self.object_runs += 1;
                    let seen = detector.detect(frame)?;
                    self.objects_seen = Some((t, fingerprint.clone(), seen.clone()));
                    objects = Some(seen);
                }
            }
        }
        Ok((pose, objects))
    }
}

/// When to run the (comparatively expensive) face detector.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyzerConfig {
    /// Run detection at most this often, in media time; 0 runs it on every
    /// frame. The rules work in tenths of seconds, so 100 ms (10 detections a
    /// second) loses nothing on a 30 fps camera and saves two thirds of the
    /// work.
    pub detect_interval_ms: u64,
    /// Reuse the last detection while the frame has changed by at most this
    /// many luma levels (mean over the fingerprint) since it ran...
    pub reuse_max_change: f32,
    /// ...but never for longer than this.
    pub reuse_max_age_ms: u64,
    /// With a fallback detector (the 256 px full-range model): run it when
    /// the primary finds no face scoring at least this...
    pub fallback_trigger_score: f32,
    /// ...and keep its faces scoring at least this. Higher than the primary's
    /// threshold: the full-range model also fires on animal faces and
    /// textures more readily.
    pub fallback_min_score: f32,
    /// While the primary finds nobody, run the fallback at most this often
    /// (media time); in between, its last answer stands. It costs ~4x the
    /// primary, and someone sitting far back does not come and go faster.
    pub fallback_interval_ms: u64,
    /// While the primary does find someone, still run the fallback this often
    /// to look for further, smaller faces (a second person further back);
    /// `None` never does, `Some(0)` on every detection. Faces it finds that
    /// do not overlap the primary's are added.
    pub extra_faces_interval_ms: Option<u64>,
    /// Score an extra face must reach (stricter again: it alone can raise
    /// `multiple_faces`).
    pub extra_faces_min_score: f32,
    /// Track instead of searching: while a face is known, the primary
    /// detector runs on a square crop this many times the face's size
    /// around it (where the face is large and the short-range model at its
    /// best), and the whole frame is searched only to find it again or to
    /// look for further faces. `None` searches the whole frame every time.
    pub track_crop_scale: Option<f32>,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            detect_interval_ms: 100,
            reuse_max_change: 0.75,
            reuse_max_age_ms: 1000,
            fallback_trigger_score: 0.6,
            fallback_min_score: 0.75,
            fallback_interval_ms: 500,
            extra_faces_interval_ms: Some(1000),
            extra_faces_min_score: 0.8,
            track_crop_scale: None,
        }
    }
}

impl AnalyzerConfig {
    /// Runs the detector on every frame (benchmarks, reference runs).
    pub fn every_frame() -> Self {
        Self {
            detect_interval_ms: 0,
            reuse_max_change: -1.0,
            reuse_max_age_ms: 0,
            fallback_interval_ms: 0,
            extra_faces_interval_ms: Some(0),
            ..Self::default()
        }
    }
}

struct LastDetection {
    t_ms: u64,
    fingerprint: Fingerprint,
    faces: Vec<Face>,
}

/// `Frame -> Observation` with BlazeFace and scene statistics.
pub struct VisionAnalyzer {
    detector: FaceDetector,
    fallback: Option<FaceDetector>,
    /// Media time and faces of the fallback's last run.
    last_fallback: Option<(u64, Vec<Face>)>,
    config: AnalyzerConfig,
    last: Option<LastDetection>,
    detections: u64,
    frames: u64,
    identity: Option<IdentityWatch>,
    conduct: Option<ConductWatch>,
}

impl VisionAnalyzer {
    pub fn new(detector: FaceDetector, config: AnalyzerConfig) -> Self {
        Self {
            detector,
            fallback: None,
            last_fallback: None,
            config,
            last: None,
            detections: 0,
            frames: 0,
            identity: None,
            conduct: None,
        }
    }

    /// Measures the head pose and looks for objects now and then
    /// (docs/conduct.md); both go into the observation.
    pub fn with_conduct(mut self, watch: ConductWatch) -> Self {
        self.conduct = Some(watch);
        self
    }

    /// Head poses measured and object detector runs so far.
    pub fn conduct_counts(&self) -> (u64, u64) {
        self.conduct.as_ref().map_or((0, 0), ConductWatch::counts)
    }

    /// Compares the face in view with a reference face now and then
    /// (docs/identity.md); the similarity goes into the observation.
    pub fn with_identity(mut self, watch: IdentityWatch) -> Self {
        self.identity = Some(watch);
        self
    }

    /// Identity comparisons made so far (0 without a reference).
    pub fn comparisons(&self) -> u64 {
        self.identity.as_ref().map_or(0, IdentityWatch::comparisons)
    }

    /// Adds a second detector run only when the first finds nobody: the
    /// full-range model catches candidates sitting further back, at the cost
    /// of a slower run on empty frames only.
    pub fn with_fallback(mut self, mut fallback: FaceDetector) -> Self {
        fallback.set_min_score(self.config.fallback_min_score);
        self.fallback = Some(fallback);
        self
    }

    /// Runs the detector(s) on one frame.
    pub fn detect(&mut self, frame: &Frame) -> Result<Vec<Face>, VisionError> {
        if let Some(scale) = self.config.track_crop_scale {
            return self.detect_tracking(frame, scale);
        }
        let faces = self.detector.detect(frame)?;
        let Some(fallback) = &mut self.fallback else {
            return Ok(faces);
        };
        let trigger = self.config.fallback_trigger_score;
        let someone = faces.iter().any(|f| f.score >= trigger);
        let interval = if someone {
            match self.config.extra_faces_interval_ms {
                Some(ms) => ms,
                None => return Ok(faces),
            }
        } else {
            self.config.fallback_interval_ms
        };
        let fresh = self
            .last_fallback
            .as_ref()
            .is_some_and(|(t, _)| frame.t_ms >= *t && frame.t_ms - t < interval);
        // The whole-frame answer no longer holds when the face in view is
        // not among its faces (the candidate moved, someone else sat down):
        // its faces would stand where nobody is now.
        let stale = someone
            && self.last_fallback.as_ref().is_some_and(|(_, far)| {
                !far.is_empty()
                    && !faces
                        .iter()
                        .filter(|f| f.score >= trigger)
                        .any(|p| far.iter().any(|f| overlaps(p, f)))
            });
        let fresh = fresh && !stale;
        if !fresh {
            let far = fallback.detect(frame)?;
            self.last_fallback = Some((frame.t_ms, far));
        }
        let far = self
            .last_fallback
            .as_ref()
            .map_or(&[][..], |(_, f)| f.as_slice());
        if !someone {
            return Ok(if far.is_empty() { faces } else { far.to_vec() });
        }
        Ok(self.with_extra_faces(faces))
    }

    /// Tracking (`track_crop_scale`): the face in view followed on a crop;
    /// the whole frame searched by the fallback (full-range) detector when
    /// there is no face to follow or it was lost, every
    /// `extra_faces_interval_ms` for further faces, and at once when the
    /// face followed is not among the last search's faces. A search's own
    /// answer is used as it is, as the full-range profile would.
    fn detect_tracking(&mut self, frame: &Frame, scale: f32) -> Result<Vec<Face>, VisionError> {
        let last = self.last.as_ref().map(|l| l.faces.clone());
        let tracked = match last {
            Some(last) => self.track(frame, &last, scale)?,
            None => None,
        };
        let interval = self.config.extra_faces_interval_ms.unwrap_or(u64::MAX);
        let search = |a: &mut Self| -> Result<Vec<Face>, VisionError> {
            let far = match &mut a.fallback {
                Some(fallback) => fallback.detect(frame)?,
                None => a.detector.detect(frame)?,
            };
            a.last_fallback = Some((frame.t_ms, far.clone()));
            Ok(far)
        };
        let Some(faces) = tracked else {
            // Nobody found last time: look again every
            // `fallback_interval_ms` (whoever comes back is found within
            // it; the absence is already known).
            let nobody = self.last_fallback.as_ref().is_some_and(|(t, far)| {
                far.is_empty()
                    && frame.t_ms >= *t
                    && frame.t_ms - t < self.config.fallback_interval_ms
            });
            return if nobody { Ok(Vec::new()) } else { search(self) };
        };
        let fresh = self.last_fallback.as_ref().is_some_and(|(t, far)| {
            frame.t_ms >= *t
                && frame.t_ms - t < interval
                && (far.is_empty() || faces.iter().any(|p| far.iter().any(|f| overlaps(p, f))))
        });
        if !fresh {
            // What the crop alone saw does not outvote the whole frame: a
            // face the followed one jumped away from leaves a crop of wall
            // that the short-range model may call a face.
            return search(self);
        }
        Ok(self.with_extra_faces(faces))
    }

    /// `faces` and the last whole-frame search's further faces: those
    /// scoring `extra_faces_min_score` that overlap none of `faces`.
    fn with_extra_faces(&self, mut faces: Vec<Face>) -> Vec<Face> {
        let far = self
            .last_fallback
            .as_ref()
            .map_or(&[][..], |(_, f)| f.as_slice());
        let extra_min = self.config.extra_faces_min_score;
        let extra: Vec<Face> = far
            .iter()
            .filter(|f| f.score >= extra_min && !faces.iter().any(|p| overlaps(p, f)))
            .cloned()
            .collect();
        faces.extend(extra);
        faces
    }

    /// The primary detector on a crop around the largest face of the last
    /// detection: the best face it finds there, in frame pixels; `None` when there was no face
    /// to follow or it was not found there (the caller searches the whole
    /// frame).
    fn track(
        &mut self,
        frame: &Frame,
        last: &[Face],
        scale: f32,
    ) -> Result<Option<Vec<Face>>, VisionError> {
        let trigger = self.config.fallback_trigger_score;
        let Some(main) = crate::identity::main_face(last).filter(|f| f.score >= trigger) else {
            return Ok(None);
        };
        let side = (scale * main.bbox[2].max(main.bbox[3])).round();
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        if !(side.is_finite() && side >= 32.0) || side >= fw.min(fh) {
            return Ok(None);
        }
        let [cx, cy] = main.center();
        let x0 = (cx - side / 2.0).clamp(0.0, fw - side) as u32;
        let y0 = (cy - side / 2.0).clamp(0.0, fh - side) as u32;
        let crop = crop_frame(frame, x0, y0, side as u32);
        // The face followed, alone: a crop cuts other people's faces in
        // part, so further faces are the whole-frame search's to find.
        let Some(mut f) = self
            .detector
            .detect(&crop)?
            .into_iter()
            .filter(|f| f.score >= trigger)
            .max_by(|a, b| a.score.total_cmp(&b.score))
        else {
            return Ok(None);
        };
        let (dx, dy) = (x0 as f32, y0 as f32);
        f.bbox[0] += dx;
        f.bbox[1] += dy;
        for k in &mut f.keypoints {
            k[0] += dx;
            k[1] += dy;
        }
        Ok(Some(vec![f]))
    }

    /// Frames analysed and detector runs so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.frames, self.detections)
    }

    fn reusable(&self, t_ms: u64, fingerprint: &Fingerprint) -> Option<&LastDetection> {
        let last = self.last.as_ref()?;
        let age = t_ms.saturating_sub(last.t_ms);
        if t_ms < last.t_ms {
            return None;
        }
        if age < self.config.detect_interval_ms {
            return Some(last);
        }
        let change = last.fingerprint.distance(fingerprint)?;
        (age < self.config.reuse_max_age_ms && change <= self.config.reuse_max_change)
            .then_some(last)
    }
}

impl Analyzer for VisionAnalyzer {
    type Error = VisionError;

    fn analyze(&mut self, frame: &Frame) -> Result<Observation, VisionError> {
        self.frames += 1;
        let scene = scene_stats(frame);
        if let Some(last) = self.reusable(frame.t_ms, &scene.fingerprint) {
            let faces = last.faces.clone();
            let (pose, objects) = match &mut self.conduct {
                Some(watch) => watch.look(frame, &faces, &scene.fingerprint)?,
                None => (None, None),
            };
            return Ok(Observation {
                t_ms: frame.t_ms,
                faces,
                detected: false,
                scene,
                identity: None,
                pose,
                objects,
            });
        }
        let faces = self.detect(frame)?;
        self.detections += 1;
        self.last = Some(LastDetection {
            t_ms: frame.t_ms,
            fingerprint: scene.fingerprint.clone(),
            faces: faces.clone(),
        });
        let identity = match &mut self.identity {
            Some(watch) => watch.check(frame, &faces)?,
            None => None,
        };
        let (pose, objects) = match &mut self.conduct {
            Some(watch) => watch.look(frame, &faces, &scene.fingerprint)?,
            None => (None, None),
        };
        Ok(Observation {
            identity,
            pose,
            objects,
            ..Observation::new(frame.t_ms, faces, scene)
        })
    }
}

/// The `side` x `side` square of `frame` at (`x0`, `y0`), which must lie
/// inside it.
fn crop_frame(frame: &Frame, x0: u32, y0: u32, side: u32) -> Frame {
    let w = frame.width as usize;
    let (x0, y0, n) = (x0 as usize, y0 as usize, side as usize);
    let mut rgb = Vec::with_capacity(n * n * 3);
    for y in y0..y0 + n {
        let start = (y * w + x0) * 3;
        rgb.extend_from_slice(&frame.rgb[start..start + n * 3]);
    }
    Frame {
        t_ms: frame.t_ms,
        width: side,
        height: side,
        rgb,
    }
}

/// Whether two face boxes cover the same face: either centre inside the
/// other box.
fn overlaps(a: &Face, b: &Face) -> bool {
    let inside = |p: [f32; 2], r: &Face| {
        let [x, y, w, h] = r.bbox;
        p[0] >= x && p[0] <= x + w && p[1] >= y && p[1] <= y + h
    };
    inside(a.center(), b) || inside(b.center(), a)
}

/// Which detectors an analyzer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DetectorProfile {
    /// The 256 px full-range model, up to 4 detections a second: finds
    /// faces from ~5% of the frame width at any usual webcam framing.
    FullRange,
    /// The 128 px short-range model up to 10 times a second, with the
    /// full-range one only when it finds nobody (and once a second for
    /// further faces).
    ShortRangeWithFallback,
    /// Track, don't search: the 128 px short-range model on a crop around
    /// the face found last, up to 4 times a second; the full-range model on
    /// the whole frame to find a face again and every 2 s for further
    /// faces. The default: it finds what `FullRange` finds
    /// (`tests/profiles.rs`) at ~60% of the CPU.
    #[default]
    Tracking,
}

/// The analyzer `watch`, `qa run` and the app use: `profile`'s detectors
/// (the main one from `model_file` when given), thresholds from `policy`.
pub fn analyzer_for(
    profile: DetectorProfile,
    model_file: Option<&std::path::Path>,
    policy: &invigil_core::Policy,
) -> Result<VisionAnalyzer, crate::VisionError> {
    use crate::{FaceDetector, ModelKind};
    let load = |kind: ModelKind, file: Option<&std::path::Path>| match file {
        Some(path) => FaceDetector::from_file(kind, path),
        None => FaceDetector::new(kind),
    };
    // Keep candidates a little below the rules' threshold, so the policy
    // alone decides what counts.
    let candidate_min = (policy.min_face_score as f32 - 0.1).clamp(0.05, 1.0);
    let (mut primary, fallback, config) = match profile {
        // The full-range model costs ~4x the short-range one; the rules work
        // in tenths of seconds, so 4 detections a second lose little.
        DetectorProfile::FullRange => (
            load(ModelKind::Back256, model_file)?,
            None,
            AnalyzerConfig {
                detect_interval_ms: 250,
                ..AnalyzerConfig::default()
            },
        ),
        DetectorProfile::ShortRangeWithFallback => (
            load(ModelKind::Front128, model_file)?,
            Some(load(ModelKind::Back256, None)?),
            AnalyzerConfig::default(),
        ),
        // The whole-frame search is the full-range profile's, thresholds
        // included (faint, small and second faces count as they do there);
        // only the frames in between follow the face on a crop.
        DetectorProfile::Tracking => (
            load(ModelKind::Front128, model_file)?,
            Some(load(ModelKind::Back256, None)?),
            AnalyzerConfig {
                detect_interval_ms: 250,
                fallback_interval_ms: 500,
                extra_faces_interval_ms: Some(2000),
                track_crop_scale: Some(2.5),
                fallback_min_score: candidate_min,
                extra_faces_min_score: candidate_min,
                ..AnalyzerConfig::default()
            },
        ),
    };
    primary.set_min_score(candidate_min);
    let analyzer = VisionAnalyzer::new(primary, config);
    Ok(match fallback {
        Some(f) => analyzer.with_fallback(f),
        None => analyzer,
    })
}
