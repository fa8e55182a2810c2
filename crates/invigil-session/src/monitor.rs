//! A [`Session`] on its own thread, with what a UI shows of it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_capture::pipeline::Progress;
use invigil_capture::SourceInfo;
use invigil_core::{Event, Frame, Observation};
use invigil_uplink::Uplink;

use crate::session::{Observer, Session, SessionError, SessionOptions};
use crate::view::{ConnectionView, FaceBox, Receipt, Snapshot};
use invigil_core::sync::lock;

/// Largest preview width, pixels; previews are made at most 4 times a
/// second, as often as the exam screen asks for one.
const PREVIEW_WIDTH: u32 = 320;
const PREVIEW_EVERY: Duration = Duration::from_millis(250);

struct Shared {
    snapshot: Mutex<Snapshot>,
    preview: Mutex<Option<Vec<u8>>>,
}

/// A running session.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    breaks: Arc<crate::BreakDesk>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Opens everything (errors come back here, before anything runs) and
    /// starts the session thread.
    pub fn start(options: SessionOptions) -> Result<Self, SessionError> {
        Ok(Self::run(Session::open(options)?))
    }

    /// Runs an opened session on its own thread.
    pub fn run(session: Session) -> Self {
        let mut snapshot = Snapshot::new(&session.options().source);
        snapshot.session_id = session.session_id();
        let shared = Arc::new(Shared {
            snapshot: Mutex::new(snapshot),
            preview: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let breaks = session.breaks();
        let thread = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("invigil-session".into())
                .spawn(move || run(session, &shared, &stop))
                .expect("can spawn the session thread")
        };
        Monitor {
            stop,
            breaks,
            shared,
            thread: Some(thread),
        }
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = lock(&self.shared.snapshot).clone();
        s.breaks = self.breaks.view();
        s
    }

    /// Starts a break the exam allows (`break_started` at the next frame);
    /// errors are sentences for the candidate.
    pub fn take_break(&self) -> Result<u32, String> {
        self.breaks.take()
    }

    /// Ends the break in progress (`break_ended`).
    pub fn end_break(&self) -> Result<(), String> {
        self.breaks.end()
    }

    /// Where the session's breaks stand.
    pub fn breaks(&self) -> crate::BreakView {
        self.breaks.view()
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
        self.halt();
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

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Keeps the snapshot and the preview up to date.
struct UiObserver<'a> {
    shared: &'a Shared,
    min_face_score: f32,
    last_preview: Option<Instant>,
}

impl Observer for UiObserver<'_> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        lock(&self.shared.snapshot).apply(event);
        Ok(())
    }

    fn progress(&mut self, p: &Progress, _info: &SourceInfo, link: Option<&Uplink>) {
        let mut s = lock(&self.shared.snapshot);
        s.frames = p.frames;
        s.dropped = p.dropped;
        s.tick(p.t_ms);
        if let Some(u) = link {
            s.connection = ConnectionView::of(&u.status());
        }
    }

    fn frame(&mut self, frame: &Frame, obs: &Observation) {
        let (w, h) = (frame.width as f32, frame.height as f32);
        {
            let mut s = lock(&self.shared.snapshot);
            s.width = frame.width;
            s.height = frame.height;
            // The faces the rules count.
            s.faces = obs
                .faces
                .iter()
                .filter(|f| f.score >= self.min_face_score)
                .map(|f| FaceBox::of(f, w, h))
                .collect();
        }
        if self
            .last_preview
            .is_none_or(|t| t.elapsed() >= PREVIEW_EVERY)
        {
            self.last_preview = Some(Instant::now());
            if let Some(jpeg) = crate::picture::jpeg(frame, PREVIEW_WIDTH, 70) {
                *lock(&self.shared.preview) = Some(jpeg);
            }
        }
    }
}

fn run(session: Session, shared: &Shared, stop: &AtomicBool) {
    let streaming = session.uplink().is_some();
    let mut observer = UiObserver {
        shared,
        min_face_score: session.policy().min_face_score as f32,
        last_preview: None,
    };
    let outcome = session.run(stop, &mut observer);
    let error = match &outcome.result {
        Ok(summary) => summary.source_error.as_ref().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    let connection = match &outcome.uplink {
        Some(status) => ConnectionView::of(status),
        None => ConnectionView::none(),
    };
    let mut s = lock(&shared.snapshot);
    s.running = false;
    s.error = error;
    s.countdown_ms = None;
    s.look_back_ms = None;
    s.connection = connection.clone();
    s.receipt = Some(Receipt {
        session_id: s.session_id.clone(),
        events: outcome.events,
        last_hash: outcome
            .last_event
            .as_ref()
            .filter(|_| streaming)
            .map(invigil_core::chain::event_hash),
        reason: outcome.reason(),
        connection,
    });
}
