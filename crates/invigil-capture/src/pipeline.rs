//! The watch pipeline: source -> analyzer -> rule engine -> event sink.
//!
//! File sources are read synchronously, every frame analysed, so a run is
//! deterministic. Live sources (cameras, or files with `realtime`) run on a
//! capture thread that never waits for the analysis: a one-slot mailbox
//! keeps only the newest frame, and overwritten frames are counted as
//! dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use invigil_core::{Analyzer, EndReason, Event, Frame, Observation, RuleEngine};

use crate::{CaptureError, FrameSource, SourceInfo};

/// How to drive the source.
#[derive(Clone, Debug, Default)]
pub struct PipelineOptions {
    /// Pace a file source like a camera (sleep until each frame's time) and
    /// drop frames when analysis falls behind.
    pub realtime: bool,
    /// Analyse at most one frame per this many ms of media time (0: every
    /// frame); frames in between are passed over, undecoded where the
    /// source allows, and counted as skipped (not dropped: nothing fell
    /// behind). The rules work in tenths of seconds.
    pub min_interval_ms: u64,
}

/// Counters reported while running and at the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub frames: u64,
    pub dropped: u64,
    /// Frames passed over by `min_interval_ms`.
    pub skipped: u64,
    pub events: u64,
    pub violations: u64,
    /// Media time of the last frame, ms.
    pub t_ms: u64,
    /// Faces in the last frame.
    pub faces: usize,
}

/// How the run ended.
#[derive(Debug)]
pub struct Summary {
    pub progress: Progress,
    /// The source failed (a corrupt file): the events are complete and end
    /// with `session_ended`, but the caller should report this and fail.
    pub source_error: Option<CaptureError>,
    pub camera_lost: bool,
}

/// A failure that stops the pipeline before the session could end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("analysis failed: {0}")]
    Analyzer(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot write events: {0}")]
    Sink(#[source] std::io::Error),
}

enum Delivery {
    Frame(Frame),
    End,
    Failed(CaptureError),
}

/// One-slot mailbox between the capture thread and the analysis: the newest
/// frame wins; the end of the stream waits until the last frame is taken.
struct Mailbox {
    slot: Mutex<MailboxState>,
    ready: Condvar,
}

#[derive(Default)]
struct MailboxState {
    frame: Option<Frame>,
    end: Option<Delivery>,
    dropped: u64,
    skipped: u64,
}

impl Mailbox {
    fn put(&self, d: Delivery, skipped: u64) {
        let mut state = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        state.skipped += skipped;
        match d {
            Delivery::Frame(f) => {
                if state.frame.replace(f).is_some() {
                    state.dropped += 1;
                }
            }
            end => state.end = Some(end),
        }
        self.ready.notify_one();
    }

    fn take(&self) -> (Delivery, u64, u64) {
        let mut state = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let dropped = std::mem::take(&mut state.dropped);
            let skipped = std::mem::take(&mut state.skipped);
            if let Some(f) = state.frame.take() {
                return (Delivery::Frame(f), dropped, skipped);
            }
            if let Some(end) = state.end.take() {
                return (end, dropped, skipped);
            }
            state.dropped += dropped;
            state.skipped += skipped;
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Where frames come from: straight from the source, or through the
/// mailbox of a capture thread.
enum Feed {
    Direct {
        source: Box<dyn FrameSource>,
        interval: u64,
        last_t: Option<u64>,
    },
    Threaded {
        mailbox: Arc<Mailbox>,
        stop: Arc<AtomicBool>,
        handle: Option<std::thread::JoinHandle<()>>,
    },
}

impl Feed {
    fn new(mut source: Box<dyn FrameSource>, live: bool, pace: bool, interval: u64) -> Self {
        if !live {
            return Feed::Direct {
                source,
                interval,
                last_t: None,
            };
        }
        let mailbox = Arc::new(Mailbox {
            slot: Mutex::new(MailboxState::default()),
            ready: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let mailbox = Arc::clone(&mailbox);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("invigil-capture".into())
                .spawn(move || capture_loop(source.as_mut(), &mailbox, &stop, pace, interval))
                .expect("spawn capture thread")
        };
        Feed::Threaded {
            mailbox,
            stop,
            handle: Some(handle),
        }
    }

    /// The next delivery, frames dropped (analysis behind) and frames
    /// skipped (`min_interval_ms`) before it.
    fn next(&mut self) -> (Delivery, u64, u64) {
        match self {
            Feed::Direct {
                source,
                interval,
                last_t,
            } => match source.next_frame_from(not_before(*last_t, *interval)) {
                Ok((Some(f), skipped)) => {
                    *last_t = Some(f.t_ms);
                    (Delivery::Frame(f), 0, skipped)
                }
                Ok((None, skipped)) => (Delivery::End, 0, skipped),
                Err(e) => (Delivery::Failed(e), 0, 0),
            },
            Feed::Threaded { mailbox, .. } => mailbox.take(),
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Feed::Threaded { stop, handle, .. } = self {
            stop.store(true, Ordering::Relaxed);
            if let Some(h) = handle.take() {
                // The capture thread notices the flag after its current frame.
                let _ = h.join();
            }
        }
    }
}

/// Runs a whole session: `session_started`, every frame, `session_ended`.
/// `sink` receives each event as it happens; `on_progress` is called after
/// every frame. Setting `stop` ends the session early (reason `stopped`).
pub fn run<A: Analyzer>(
    source: Box<dyn FrameSource>,
    analyzer: &mut A,
    engine: &mut RuleEngine,
    options: &PipelineOptions,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(&Event) -> std::io::Result<()>,
    on_progress: &mut dyn FnMut(&Progress, &SourceInfo),
) -> Result<Summary, PipelineError> {
    run_with_tap(
        source,
        analyzer,
        engine,
        options,
        stop,
        sink,
        on_progress,
        None,
    )
}

/// Sees every analysed frame with the events it caused, and may add events
/// of its own (the clip recorder adds `clip_saved`).
pub trait FrameTap {
    /// `frame` and `obs` are `None` for events that come without a frame
    /// (`camera_lost`). Returned notes are emitted as events right after.
    fn frame(
        &mut self,
        frame: Option<&Frame>,
        obs: Option<&Observation>,
        events: &[Event],
    ) -> Vec<Note>;
    /// The session is ending; called before `session_ended`.
    fn finish(&mut self) -> Vec<Note>;
}

/// An event a [`FrameTap`] wants emitted.
pub type Note = (
    invigil_core::EventKind,
    serde_json::Map<String, serde_json::Value>,
);

/// [`run`], with a [`FrameTap`].
#[allow(clippy::too_many_arguments)]
pub fn run_with_tap<A: Analyzer>(
    source: Box<dyn FrameSource>,
    analyzer: &mut A,
    engine: &mut RuleEngine,
    options: &PipelineOptions,
    stop: &AtomicBool,
    sink: &mut dyn FnMut(&Event) -> std::io::Result<()>,
    on_progress: &mut dyn FnMut(&Progress, &SourceInfo),
    mut tap: Option<&mut dyn FrameTap>,
) -> Result<Summary, PipelineError> {
    let info = source.info().clone();
    let mut progress = Progress::default();
    let mut emit = |events: Vec<Event>, progress: &mut Progress| -> Result<(), PipelineError> {
        for e in &events {
            progress.events += 1;
            if e.severity == invigil_core::Severity::Violation {
                progress.violations += 1;
            }
            sink(e).map_err(PipelineError::Sink)?;
        }
        Ok(())
    };
    emit(engine.start(), &mut progress)?;

    let live = info.live || options.realtime;
    let mut feed = Feed::new(
        source,
        live,
        options.realtime && !info.live,
        options.min_interval_ms,
    );
    let mut end = EndReason::EndOfStream;
    let mut source_error = None;
    let mut camera_lost = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            end = EndReason::Stopped;
            break;
        }
        let (delivery, dropped, skipped) = feed.next();
        progress.dropped += dropped;
        engine.add_dropped_frames(dropped);
        progress.skipped += skipped;
        engine.add_skipped_frames(skipped);
        match delivery {
            Delivery::Frame(frame) => {
                let obs = analyzer
                    .analyze(&frame)
                    .map_err(|e| PipelineError::Analyzer(Box::new(e)))?;
                progress.frames += 1;
                progress.faces = obs.faces.len();
                let events = engine.observe(&obs);
                progress.t_ms = engine.session_time_ms();
                let notes = tap
                    .as_mut()
                    .map(|t| t.frame(Some(&frame), Some(&obs), &events))
                    .unwrap_or_default();
                emit(events, &mut progress)?;
                let notes = notes
                    .into_iter()
                    .map(|(kind, data)| engine.note(kind, data))
                    .collect();
                emit(notes, &mut progress)?;
                on_progress(&progress, &info);
            }
            Delivery::End => break,
            Delivery::Failed(CaptureError::Disconnected(message)) => {
                let events = engine.camera_lost(&message);
                let notes = tap
                    .as_mut()
                    .map(|t| t.frame(None, None, &events))
                    .unwrap_or_default();
                emit(events, &mut progress)?;
                let notes = notes
                    .into_iter()
                    .map(|(kind, data)| engine.note(kind, data))
                    .collect();
                emit(notes, &mut progress)?;
                end = EndReason::CameraLost;
                camera_lost = true;
                break;
            }
            Delivery::Failed(e) => {
                end = EndReason::SourceError(e.to_string());
                source_error = Some(e);
                break;
            }
        }
    }
    drop(feed);
    if let Some(tap) = tap.as_mut() {
        let notes = tap
            .finish()
            .into_iter()
            .map(|(kind, data)| engine.note(kind, data))
            .collect();
        emit(notes, &mut progress)?;
    }
    emit(engine.finish(end), &mut progress)?;
    on_progress(&progress, &info);
    Ok(Summary {
        progress,
        source_error,
        camera_lost,
    })
}

/// The earliest media time of the next frame to analyse.
fn not_before(last_t: Option<u64>, interval: u64) -> u64 {
    last_t.map_or(0, |t| t.saturating_add(interval))
}

fn capture_loop(
    source: &mut dyn FrameSource,
    mailbox: &Mailbox,
    stop: &AtomicBool,
    pace: bool,
    interval: u64,
) {
    let start = Instant::now();
    let mut first_t: Option<u64> = None;
    let mut last_t: Option<u64> = None;
    while !stop.load(Ordering::Relaxed) {
        match source.next_frame_from(not_before(last_t, interval)) {
            Ok((Some(frame), skipped)) => {
                last_t = Some(frame.t_ms);
                if pace {
                    let t0 = *first_t.get_or_insert(frame.t_ms);
                    let due = Duration::from_millis(frame.t_ms.saturating_sub(t0));
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
                mailbox.put(Delivery::Frame(frame), skipped);
            }
            Ok((None, skipped)) => {
                mailbox.put(Delivery::End, skipped);
                return;
            }
            Err(e) => {
                mailbox.put(Delivery::Failed(e), 0);
                return;
            }
        }
    }
}
