//! One monitored session, wired once: source -> analyzer -> rules ->
//! uplink (journal, shipper) -> clips. `invigil watch`, `qa run`, `demo`
//! and the app's [`Monitor`](crate::Monitor) all run sessions through
//! [`Session`]; they differ only in what they do with the events.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use invigil_capture::pipeline::{self, FrameTap, Note, PipelineError, PipelineOptions, Progress};
use invigil_capture::{FrameSource, OpenOptions, Scenario, SourceInfo};
use invigil_core::{Event, Frame, Observation, Policy, RuleEngine};
use invigil_uplink::{ClipTap, SessionRequest, Start, Uplink, UplinkStatus};
use invigil_vision::{analyzer_for, ConductWatch, DetectorProfile, Embedding, VisionAnalyzer};

use crate::BreakDesk;

/// How long to ask the server for a token's session at start, unless the
/// caller says otherwise: a server that is still starting gets a minute.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which session to stream to, and through which journal.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    pub request: SessionRequest,
    /// Journal directory; an unfinished session there continues.
    pub journal: PathBuf,
    /// With a token and no session id: how long to ask the server for the
    /// token's session.
    pub resolve_timeout: Duration,
}

impl StreamOptions {
    pub fn new(request: SessionRequest, journal: PathBuf) -> Self {
        Self {
            request,
            journal,
            resolve_timeout: RESOLVE_TIMEOUT,
        }
    }

    /// Opens the journal and the session it streams (the shipper starts).
    pub fn open(&self) -> Result<Uplink, SessionError> {
        Ok(Uplink::open(
            &self.journal,
            self.request.clone(),
            self.resolve_timeout,
        )?)
    }
}

/// Analyse at most one frame per this many ms of media time (~15 a
/// second): the rules work in tenths of seconds and clips are kept at 10
/// fps, so a 30 fps camera's every other frame is passed over, undecoded
/// where the source allows (issue 18; `session_ended.skipped_frames`).
pub const ANALYSIS_MIN_INTERVAL_MS: u64 = 66;

/// What to monitor, and how.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// `camera`, `camera:N`, or a file (image folder, video, scenario
    /// `.toml`), as `invigil watch --source`.
    pub source: String,
    /// Frame rate for image folders and MJPEG files.
    pub fps: f64,
    /// Pace file sources like a camera, dropping frames when analysis is
    /// behind (cameras always run this way).
    pub realtime: bool,
    /// The exam policy; a scenario's `[policy]` applies on top.
    pub policy: Policy,
    pub detectors: DetectorProfile,
    /// The main detector from this ONNX file instead of the built-in copy.
    pub model_file: Option<PathBuf>,
    /// Stream to a server (opened by [`Session::open`]; a new session is
    /// created with the policy in force, whatever the request holds).
    pub stream: Option<StreamOptions>,
    /// When streaming: record flagged clips.
    pub clips: bool,
    /// When streaming: at the end, how long to wait for the server to take
    /// the rest.
    pub drain: Duration,
    /// Breaks the candidate may take; a launch code's exam sets them.
    pub breaks: Option<invigil_core::protocol::Breaks>,
    /// The candidate's reference face (the check-in's face photo): the face
    /// in view is compared with it now and then (docs/identity.md). A
    /// scenario's `reference_face` is used when this is `None`.
    pub reference_face: Option<Embedding>,
}

impl SessionOptions {
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            fps: 10.0,
            realtime: false,
            policy: Policy::default(),
            detectors: DetectorProfile::Tracking,
            model_file: None,
            stream: None,
            clips: true,
            drain: Duration::from_secs(15),
            breaks: None,
            reference_face: None,
        }
    }

    /// As a candidate's app runs a session: file sources paced like a
    /// camera, and at most 10 s at the end to deliver what is left (the
    /// journal keeps the rest for the next start).
    pub fn live(source: &str) -> Self {
        Self {
            realtime: true,
            drain: Duration::from_secs(10),
            ..Self::new(source)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot open the camera or fixture `{source_name}`: {message}")]
    Source {
        source_name: String,
        message: String,
    },
    #[error("cannot load the face detector: {0}")]
    Detector(String),
    #[error(transparent)]
    Uplink(#[from] invigil_uplink::UplinkError),
    #[error("invalid policy: {0}")]
    Policy(String),
    #[error("cannot use the reference face {path}: {message}")]
    Reference { path: String, message: String },
    /// A request that cannot be met as asked (e.g. a check-in for an exam
    /// that asks for no photos).
    #[error("{0}")]
    Usage(String),
}

/// What a caller does with a running session. Every method has a default
/// that does nothing.
pub trait Observer {
    /// Each event as it happens, already chained and journaled when
    /// streaming. An error ends the session (the events sink failed).
    fn event(&mut self, _event: &Event) -> std::io::Result<()> {
        Ok(())
    }
    /// After every frame, and once at the end.
    fn progress(&mut self, _progress: &Progress, _info: &SourceInfo, _link: Option<&Uplink>) {}
    /// Every analysed frame with what was seen in it.
    fn frame(&mut self, _frame: &Frame, _observation: &Observation) {}
}

/// An observer that ignores everything.
impl Observer for () {}

/// How a session ended.
#[derive(Debug)]
pub struct Outcome {
    /// The pipeline's summary, or why it stopped before the session could
    /// end cleanly.
    pub result: Result<pipeline::Summary, PipelineError>,
    /// Events emitted, and the last of them (`session_ended` normally).
    pub events: u64,
    pub last_event: Option<Event>,
    /// The shipper's final state, when streaming (after the drain).
    pub uplink: Option<UplinkStatus>,
    /// Frames analysed, and how many of them ran the detector.
    pub analysed: (u64, u64),
}

impl Outcome {
    /// `session_ended`'s reason (`stopped` when the session did not end).
    pub fn reason(&self) -> String {
        self.last_event
            .as_ref()
            .and_then(|e| e.data.get("reason"))
            .and_then(|r| r.as_str())
            .unwrap_or("stopped")
            .to_owned()
    }
}

/// The analyzer of `options` under `policy`, comparing with `reference`.
fn build_analyzer(
    options: &SessionOptions,
    policy: &Policy,
    reference: Option<&Embedding>,
) -> Result<VisionAnalyzer, SessionError> {
    let mut analyzer = analyzer_for(options.detectors, options.model_file.as_deref(), policy)
        .map_err(|e| SessionError::Detector(e.to_string()))?;
    if let Some(watch) =
        ConductWatch::for_policy(policy).map_err(|e| SessionError::Detector(e.to_string()))?
    {
        analyzer = analyzer.with_conduct(watch);
    }
    Ok(match reference {
        Some(r) => analyzer.with_identity(crate::identity::identity_watch(r, policy)?),
        None => analyzer,
    })
}

/// A session whose source, detector and (when streaming) uplink are open.
pub struct Session {
    source: Box<dyn FrameSource>,
    scenario: Option<Scenario>,
    analyzer: VisionAnalyzer,
    /// The reference face the analyzer compares with.
    reference: Option<Embedding>,
    policy: Policy,
    options: SessionOptions,
    uplink: Option<Uplink>,
    opening: Vec<Note>,
    breaks: Arc<BreakDesk>,
}

impl Session {
    /// Opens the source, the detector and, with `options.stream`, the
    /// uplink. Errors come back here, before anything runs.
    pub fn open(options: SessionOptions) -> Result<Self, SessionError> {
        let mut session = Self::prepare(options)?;
        if let Some(stream) = &session.options.stream {
            let mut stream = stream.clone();
            // A new session is created with the policy that judges it
            // (the scenario's overrides included), for the proctors.
            if let SessionRequest::Enrol { policy, .. } = &mut stream.request {
                if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(&session.policy) {
                    *policy = m;
                }
            }
            let uplink = stream.open()?;
            session.stream_through(uplink)?;
        }
        Ok(session)
    }

    /// A session the server set up (launch code, token) runs the policy
    /// the server holds for it, exactly: the exam's with the candidate's
    /// accommodations. The local policy (and a scenario's overrides) give
    /// way, and the detector is rebuilt when its thresholds change.
    fn adopt_server_policy(&mut self, uplink: &Uplink) -> Result<(), SessionError> {
        if let Some(exam) = uplink.exam() {
            self.breaks = Arc::new(BreakDesk::new(exam.aids.breaks));
        }
        let Some(keys) = uplink.server_policy() else {
            return Ok(());
        };
        let policy = Policy::from_json_keys(&keys, "the session's policy from the server")
            .map_err(|e| SessionError::Policy(e.to_string()))?;
        if policy == self.policy {
            return Ok(());
        }
        if self.scenario.is_some() {
            tracing::warn!(
                "the server sets this session's policy; the scenario's [policy] is not used"
            );
        }
        self.analyzer = build_analyzer(&self.options, &policy, self.reference.as_ref())?;
        self.policy = policy;
        Ok(())
    }

    /// Opens the source and the detector only (`options.stream` is not
    /// used), so a caller can find out whether the camera opens before it
    /// commits anything; [`stream_through`](Self::stream_through) adds an
    /// uplink opened elsewhere.
    pub fn prepare(options: SessionOptions) -> Result<Self, SessionError> {
        let opened = invigil_capture::open(&options.source, &OpenOptions { fps: options.fps })
            .map_err(|e| SessionError::Source {
                source_name: options.source.clone(),
                message: e.to_string(),
            })?;
        let policy = match &opened.scenario {
            Some(scenario) => scenario
                .policy(&options.policy)
                .map_err(|e| SessionError::Policy(e.to_string()))?,
            None => options.policy.clone(),
        };
        let reference = match (&options.reference_face, &opened.scenario) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(scenario)) => scenario
                .reference_face()
                .map(|p| crate::identity::reference_from_image(&p))
                .transpose()?,
            (None, None) => None,
        };
        let analyzer = build_analyzer(&options, &policy, reference.as_ref())?;
        Ok(Self {
            reference,
            source: opened.source,
            scenario: opened.scenario,
            analyzer,
            policy,
            breaks: Arc::new(BreakDesk::new(options.breaks)),
            options,
            uplink: None,
            opening: Vec::new(),
        })
    }

    /// Streams through `uplink` (the app opens it before the check-in,
    /// whose photos it carries).
    /// The policy becomes the server's when the server set it (see
    /// `adopt_server_policy`).
    pub fn stream_through(&mut self, uplink: Uplink) -> Result<(), SessionError> {
        self.adopt_server_policy(&uplink)?;
        self.uplink = Some(uplink);
        Ok(())
    }

    /// Events to emit right after `session_started` (e.g.
    /// `checkin_completed`).
    pub fn open_with(&mut self, notes: Vec<Note>) {
        self.opening = notes;
    }

    pub fn source_info(&self) -> &SourceInfo {
        self.source.info()
    }

    /// The scenario the source plays, when it is one.
    pub fn scenario(&self) -> Option<&Scenario> {
        self.scenario.as_ref()
    }

    /// The policy in force: the options' with the scenario's on top.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    pub fn uplink(&self) -> Option<&Uplink> {
        self.uplink.as_ref()
    }

    /// The candidate's breaks: ask for one here (from another thread while
    /// the session runs).
    pub fn breaks(&self) -> Arc<BreakDesk> {
        Arc::clone(&self.breaks)
    }

    /// The streamed session's id.
    pub fn session_id(&self) -> Option<String> {
        self.uplink.as_ref().map(Uplink::session_id)
    }

    /// When an unfinished session of an earlier run continues: its next
    /// event's seq.
    pub fn resumes_at(&self) -> Option<u64> {
        match self.uplink.as_ref().map(Uplink::start) {
            Some(Start::Resume { next_seq, .. }) => Some(*next_seq),
            _ => None,
        }
    }

    /// Runs the session to its end (end of the source, camera lost, or
    /// `stop` set), then lets the uplink deliver what it can within the
    /// drain time.
    pub fn run(self, stop: &AtomicBool, observer: &mut dyn Observer) -> Outcome {
        let Session {
            source,
            scenario: _,
            reference: _,
            mut analyzer,
            policy,
            options,
            uplink,
            opening,
            breaks,
        } = self;
        let mut engine = match uplink.as_ref().map(Uplink::start) {
            Some(Start::Resume {
                next_seq,
                after_t_ms,
            }) => RuleEngine::resuming(policy.clone(), *next_seq, *after_t_ms),
            _ => RuleEngine::new(policy.clone()),
        };
        let live = source.info().live;
        let mut events = 0u64;
        let mut last_event: Option<Event> = None;
        let result = {
            // The pipeline holds the tap while the sink and the progress
            // callback also reach the observer: all three go through one
            // `RefCell`, each borrowing it only for the length of a call
            // (the pipeline never nests them).
            let tap = RefCell::new(SessionTap {
                observer: &mut *observer,
                opening,
                breaks: &breaks,
                spot: uplink.as_ref().map(|u| SpotTap {
                    uplink: u,
                    min_face_score: policy.min_face_score as f32,
                }),
                clips: match &uplink {
                    // Live sources must not stall while a clip is encoded;
                    // file sources encode inline, so a fixture gives the
                    // same events on every run.
                    Some(u) if options.clips && (options.realtime || live) => {
                        Some(ClipTap::in_background(&policy, u))
                    }
                    Some(u) if options.clips => Some(ClipTap::new(&policy, u)),
                    _ => None,
                },
            });
            let mut sink = |e: &Event| -> std::io::Result<()> {
                let mut e = e.clone();
                if let Some(u) = &uplink {
                    u.record(&mut e);
                }
                breaks.saw(&e);
                tap.borrow_mut().observer.event(&e)?;
                events += 1;
                last_event = Some(e);
                Ok(())
            };
            let mut progress = |p: &Progress, info: &SourceInfo| {
                tap.borrow_mut().observer.progress(p, info, uplink.as_ref());
            };
            let mut tap_ref = TapRef(&tap);
            pipeline::run_with_tap(
                source,
                &mut analyzer,
                &mut engine,
                &PipelineOptions {
                    realtime: options.realtime,
                    min_interval_ms: ANALYSIS_MIN_INTERVAL_MS,
                },
                stop,
                &mut sink,
                &mut progress,
                Some(&mut tap_ref),
            )
        };
        let uplink = uplink.map(|u| u.finish(options.drain));
        Outcome {
            result,
            events,
            last_event,
            uplink,
            analysed: analyzer.counts(),
        }
    }
}

/// Emits the opening notes, records clips, and shows frames to the
/// observer.
struct SessionTap<'a, 'o> {
    observer: &'o mut dyn Observer,
    opening: Vec<Note>,
    breaks: &'a BreakDesk,
    spot: Option<SpotTap<'a>>,
    clips: Option<ClipTap<'a>>,
}

/// Serves the server's spot checks: the frame after a request becomes a
/// small JPEG (media kind `snapshot`) and a `snapshot_taken` event naming
/// it and the faces the rules counted on it (docs/spot-checks.md).
struct SpotTap<'a> {
    uplink: &'a Uplink,
    min_face_score: f32,
}

/// Width of a spot-check snapshot: the server's detector sees 256 pixels,
/// so 320 loses nothing it needs (~10 KB as JPEG).
const SNAPSHOT_WIDTH: u32 = 320;

impl SpotTap<'_> {
    fn frame(&self, frame: &Frame, obs: &Observation) -> Option<Note> {
        // Only a frame the detector ran on: between detections the faces
        // are the last detection's, which may not be in this picture.
        if !obs.detected {
            return None;
        }
        let request = self.uplink.take_snapshot_request()?;
        let jpeg = crate::picture::jpeg(frame, SNAPSHOT_WIDTH, 80)?;
        let sha256 = self.uplink.record_media(
            invigil_core::protocol::MediaKind::Snapshot,
            &format!("snapshot-{request}.jpg"),
            "image/jpeg",
            &jpeg,
        );
        let faces = obs
            .faces
            .iter()
            .filter(|f| f.score >= self.min_face_score)
            .count();
        let scale = f64::from(SNAPSHOT_WIDTH) / f64::from(frame.width.max(1));
        let mut data = serde_json::Map::new();
        data.insert("request".into(), request.into());
        data.insert("sha256".into(), sha256.into());
        data.insert("faces".into(), faces.into());
        data.insert(
            "width".into(),
            (f64::from(frame.width) * scale.min(1.0)).round().into(),
        );
        data.insert(
            "height".into(),
            (f64::from(frame.height) * scale.min(1.0)).round().into(),
        );
        Some((invigil_core::EventKind::SnapshotTaken, data))
    }
}

/// The pipeline's handle on the [`SessionTap`].
struct TapRef<'r, 'a, 'o>(&'r RefCell<SessionTap<'a, 'o>>);

impl FrameTap for TapRef<'_, '_, '_> {
    fn frame(
        &mut self,
        frame: Option<&Frame>,
        obs: Option<&Observation>,
        events: &[Event],
    ) -> Vec<Note> {
        let mut tap = self.0.borrow_mut();
        if let (Some(frame), Some(obs)) = (frame, obs) {
            tap.observer.frame(frame, obs);
        }
        let mut notes = std::mem::take(&mut tap.opening);
        notes.extend(tap.breaks.drain());
        if let (Some(spot), Some(frame), Some(obs)) = (&tap.spot, frame, obs) {
            notes.extend(spot.frame(frame, obs));
        }
        if let Some(c) = &mut tap.clips {
            notes.extend(c.frame(frame, obs, events));
        }
        notes
    }

    fn finish(&mut self) -> Vec<Note> {
        match &mut self.0.borrow_mut().clips {
            Some(c) => c.finish(),
            None => Vec::new(),
        }
    }
}
