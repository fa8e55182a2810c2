//! The session thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_capture::pipeline::{self, FrameTap, Note, PipelineOptions};
use invigil_capture::{open_source, OpenOptions};
use invigil_core::{Event, Frame, Observation, Policy, RuleEngine};
use invigil_uplink::{ClipTap, SessionRequest, Start, Uplink};
use invigil_vision::{analyzer_for, DetectorProfile};

use crate::view::{ConnectionView, FaceBox, Receipt, Snapshot};

/// Which session to stream to, for [`Monitor::start`].
#[derive(Clone, Debug)]
pub struct StreamOptions {
    pub request: SessionRequest,
    pub journal: PathBuf,
}

/// What to monitor, and how.
#[derive(Clone, Debug)]
pub struct MonitorOptions {
    /// `camera`, `camera:N`, or a fixture (image folder, Y4M, MJPEG, GIF,
    /// scenario `.toml`), as `invigil watch --source`.
    pub source: String,
    /// Frame rate for image folders and MJPEG files.
    pub fps: f64,
    /// Pace file sources like a camera (the app always does).
    pub realtime: bool,
    pub policy: Policy,
    pub detectors: DetectorProfile,
    pub stream: Option<StreamOptions>,
    /// When streaming: record flagged clips.
    pub clips: bool,
    /// When streaming: at the end, how long to wait for the server to take
    /// the rest.
    pub drain: Duration,
    /// Largest preview width, pixels; previews are made at most 5 times a
    /// second.
    pub preview_width: u32,
}

impl MonitorOptions {
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            fps: 10.0,
            realtime: true,
            policy: Policy::default(),
            detectors: DetectorProfile::FullRange,
            stream: None,
            clips: true,
            drain: Duration::from_secs(10),
            preview_width: 320,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
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
}

struct Shared {
    snapshot: Mutex<Snapshot>,
    preview: Mutex<Option<Vec<u8>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running session.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Opens everything (errors come back here, before anything runs) and
    /// starts the session thread.
    pub fn start(options: MonitorOptions) -> Result<Self, MonitorError> {
        let uplink = match &options.stream {
            Some(s) => Some(Uplink::open(
                &s.journal,
                s.request.clone(),
                Duration::from_secs(10),
            )?),
            None => None,
        };
        Self::start_with(options, uplink, Vec::new())
    }

    /// As [`start`](Self::start), streaming through an uplink opened
    /// earlier (the app opens it before the check-in, whose photos it
    /// carries), and emitting `notes` right after `session_started` (e.g.
    /// `checkin_completed`); `options.stream` is not used.
    pub fn start_with(
        options: MonitorOptions,
        uplink: Option<Uplink>,
        notes: Vec<Note>,
    ) -> Result<Self, MonitorError> {
        Ok(Self::prepare(options)?.start(uplink, notes))
    }

    /// Opens the source and the detector without starting anything, so a
    /// caller can find out whether the camera opens before it commits
    /// anything (the app keeps the check-in photos until it does).
    pub fn prepare(options: MonitorOptions) -> Result<Prepared, MonitorError> {
        let mut policy = options.policy.clone();
        let source =
            open_source(&options.source, &OpenOptions { fps: options.fps }).map_err(|e| {
                MonitorError::Source {
                    source_name: options.source.clone(),
                    message: e.to_string(),
                }
            })?;
        if source.info().kind == "scenario" {
            let scenario = invigil_capture::Scenario::load(std::path::Path::new(&options.source))
                .map_err(|e| MonitorError::Source {
                source_name: options.source.clone(),
                message: e.to_string(),
            })?;
            policy = scenario
                .policy(&policy)
                .map_err(|e| MonitorError::Policy(e.to_string()))?;
        }
        let analyzer = analyzer_for(options.detectors, None, &policy)
            .map_err(|e| MonitorError::Detector(e.to_string()))?;
        Ok(Prepared {
            source,
            analyzer,
            policy,
            options,
        })
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.shared.snapshot).clone()
    }

    /// The latest preview frame as JPEG, if any.
    pub fn preview(&self) -> Option<Vec<u8>> {
        lock(&self.shared.preview).clone()
    }

    /// Whether the session thread has finished (end of a fixture, camera
    /// lost).
    pub fn finished(&self) -> bool {
        lock(&self.shared.snapshot).receipt.is_some()
    }

    /// Ends the session (`session_ended`, reason `stopped` unless it had
    /// already ended) and returns the receipt.
    pub fn stop(mut self) -> Receipt {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = lock(&self.shared.snapshot);
        // A session thread that panicked leaves no receipt; say so rather
        // than take the UI down with it.
        s.receipt.clone().unwrap_or_else(|| Receipt {
            session_id: s.session_id.clone(),
            events: s.events,
            last_hash: None,
            reason: "failed".into(),
            connection: s.connection.clone(),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A session whose source and detector are open, ready to start.
pub struct Prepared {
    source: Box<dyn invigil_capture::FrameSource>,
    analyzer: invigil_vision::VisionAnalyzer,
    policy: Policy,
    options: MonitorOptions,
}

impl Prepared {
    /// Starts the session thread, streaming through `uplink` if given and
    /// emitting `notes` right after `session_started`.
    pub fn start(self, uplink: Option<Uplink>, notes: Vec<Note>) -> Monitor {
        let Prepared {
            source,
            analyzer,
            policy,
            options,
        } = self;
        let engine = match uplink.as_ref().map(Uplink::start) {
            Some(Start::Resume {
                next_seq,
                after_t_ms,
            }) => RuleEngine::resuming(policy.clone(), *next_seq, *after_t_ms),
            _ => RuleEngine::new(policy.clone()),
        };
        let mut snapshot = Snapshot::new(&options.source);
        snapshot.session_id = uplink.as_ref().map(Uplink::session_id);
        let shared = Arc::new(Shared {
            snapshot: Mutex::new(snapshot),
            preview: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("invigil-session".into())
                .spawn(move || {
                    run(
                        source, analyzer, engine, uplink, options, policy, notes, shared, stop,
                    )
                })
                .expect("can spawn the session thread")
        };
        Monitor {
            stop,
            shared,
            thread: Some(thread),
        }
    }
}

/// Keeps faces and the preview; records clips when streaming.
struct UiTap<'a> {
    shared: &'a Shared,
    /// Emitted with the first frame, right after `session_started`.
    opening: Vec<Note>,
    clips: Option<ClipTap<'a>>,
    preview_width: u32,
    last_preview: Option<Instant>,
}

impl FrameTap for UiTap<'_> {
    fn frame(
        &mut self,
        frame: Option<&Frame>,
        obs: Option<&Observation>,
        events: &[Event],
    ) -> Vec<Note> {
        if let (Some(frame), Some(obs)) = (frame, obs) {
            let (w, h) = (frame.width as f32, frame.height as f32);
            {
                let mut s = lock(&self.shared.snapshot);
                s.width = frame.width;
                s.height = frame.height;
                s.faces = obs
                    .faces
                    .iter()
                    .filter(|f| f.score >= 0.6)
                    .map(|f| FaceBox::of(f, w, h))
                    .collect();
            }
            if self
                .last_preview
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(200))
            {
                self.last_preview = Some(Instant::now());
                if let Some(jpeg) = crate::picture::jpeg(frame, self.preview_width, 70) {
                    *lock(&self.shared.preview) = Some(jpeg);
                }
            }
        }
        let mut notes = std::mem::take(&mut self.opening);
        if let Some(c) = &mut self.clips {
            notes.extend(c.frame(frame, obs, events));
        }
        notes
    }

    fn finish(&mut self) -> Vec<Note> {
        match &mut self.clips {
            Some(c) => c.finish(),
            None => Vec::new(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    source: Box<dyn invigil_capture::FrameSource>,
    mut analyzer: invigil_vision::VisionAnalyzer,
    mut engine: RuleEngine,
    uplink: Option<Uplink>,
    options: MonitorOptions,
    policy: Policy,
    notes: Vec<Note>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
) {
    let live = source.info().live;
    let mut last_event: Option<Event> = None;
    let mut count = 0u64;
    let mut tap = UiTap {
        shared: &shared,
        opening: notes,
        clips: match &uplink {
            // A live camera must not stall while a clip is encoded.
            Some(u) if options.clips && (options.realtime || live) => {
                Some(ClipTap::in_background(&policy, u))
            }
            Some(u) if options.clips => Some(ClipTap::new(&policy, u)),
            _ => None,
        },
        preview_width: options.preview_width,
        last_preview: None,
    };
    let mut sink = |e: &Event| -> std::io::Result<()> {
        let mut e = e.clone();
        if let Some(u) = &uplink {
            u.record(&mut e);
        }
        lock(&shared.snapshot).apply(&e);
        count += 1;
        last_event = Some(e);
        Ok(())
    };
    let result = pipeline::run_with_tap(
        source,
        &mut analyzer,
        &mut engine,
        &PipelineOptions {
            realtime: options.realtime,
        },
        &stop,
        &mut sink,
        &mut |p, _info| {
            let mut s = lock(&shared.snapshot);
            s.frames = p.frames;
            s.dropped = p.dropped;
            s.tick(p.t_ms);
            if let Some(u) = &uplink {
                s.connection = ConnectionView::of(&u.status());
            }
        },
        Some(&mut tap),
    );
    drop(tap);
    let reason = last_event
        .as_ref()
        .and_then(|e| e.data.get("reason"))
        .and_then(|r| r.as_str())
        .unwrap_or("stopped")
        .to_owned();
    let last_hash = last_event.as_ref().map(invigil_core::chain::event_hash);
    let error = match &result {
        Ok(summary) => summary.source_error.as_ref().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    let connection = match uplink {
        Some(u) => ConnectionView::of(&u.finish(options.drain)),
        None => ConnectionView::none(),
    };
    let mut s = lock(&shared.snapshot);
    s.running = false;
    s.error = error;
    s.countdown_ms = None;
    s.connection = connection.clone();
    s.receipt = Some(Receipt {
        session_id: s.session_id.clone(),
        events: count,
        last_hash: if s.session_id.is_some() {
            last_hash
        } else {
            None
        },
        reason,
        connection,
    });
}
