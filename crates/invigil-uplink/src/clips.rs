//! Flagged clips in a streamed session: the pipeline's [`FrameTap`] that
//! records the ring buffer, encodes a clip when one closes, journals it as
//! media and announces it with a `clip_saved` event.

use std::sync::mpsc;
use std::thread::JoinHandle;

use invigil_capture::clip_mp4::{ClipEncoder, ClipError, EncodedClip};
use invigil_capture::pipeline::{FrameTap, Note};
use invigil_core::clip::{Clip, ClipFrame, ClipRecorder};
use invigil_core::{Event, EventKind, Frame, Observation, Policy};
use serde_json::json;

use crate::Uplink;

/// A clip that has been encoded (or failed to), without its frames.
struct Encoded {
    clip: Clip,
    result: Result<EncodedClip, ClipError>,
    took: std::time::Duration,
}

/// Work for the encoder, in the order the recorder produced it.
enum Job {
    /// Frames of the open clip, kept since the last ones (and its size).
    Frames(u32, u32, Vec<ClipFrame>),
    /// The clip closed: its remaining frames and what it covers.
    Close(Clip),
}

/// Encodes the open clip as its frames come, so that a long clip is never
/// held raw in memory (30 s at 10 fps, 640x480, would be 138 MB).
struct Streamer {
    fps: f64,
    current: Option<Result<ClipEncoder, ClipError>>,
    took: std::time::Duration,
}

impl Streamer {
    fn new(fps: f64) -> Self {
        Self {
            fps,
            current: None,
            took: std::time::Duration::ZERO,
        }
    }

    /// Does one job; a closed clip comes back encoded.
    fn run(&mut self, job: Job) -> Option<Encoded> {
        match job {
            Job::Frames(w, h, frames) => {
                self.encode(w, h, frames);
                None
            }
            Job::Close(mut clip) => {
                let frames = std::mem::take(&mut clip.frames);
                self.encode(clip.width, clip.height, frames);
                let result = match self.current.take() {
                    Some(Ok(encoder)) => encoder.finish(),
                    Some(Err(e)) => Err(e),
                    None => Err(ClipError::Empty),
                };
                Some(Encoded {
                    clip,
                    result,
                    took: std::mem::take(&mut self.took),
                })
            }
        }
    }

    fn encode(&mut self, w: u32, h: u32, frames: Vec<ClipFrame>) {
        let started = std::time::Instant::now();
        for frame in frames {
            let fps = self.fps;
            let current = self
                .current
                .get_or_insert_with(|| ClipEncoder::new(w, h, fps, frame.t_ms));
            if let Ok(encoder) = current {
                if let Err(e) = encoder.push(&frame) {
                    *current = Err(e);
                }
            }
        }
        self.took += started.elapsed();
    }
}

/// Encodes clips on its own thread, so a live camera's frames keep being
/// analysed while a clip is encoded (0.2-0.3 s of a core for 10 s).
struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Encoded>,
    pending: usize,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(fps: f64) -> std::io::Result<Self> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("invigil-clips".into())
            .spawn(move || {
                let mut streamer = Streamer::new(fps);
                for job in inbox {
                    if let Some(encoded) = streamer.run(job) {
                        if outbox.send(encoded).is_err() {
                            break;
                        }
                    }
                }
            })?;
        Ok(Self {
            jobs: Some(jobs),
            done,
            pending: 0,
            thread: Some(thread),
        })
    }

    /// Queues a job; gives it back if the worker is gone (it panicked).
    fn submit(&mut self, job: Job) -> Result<(), Job> {
        let closes = matches!(job, Job::Close(_));
        match self.jobs.as_ref().map(|j| j.send(job)) {
            Some(Ok(())) => {
                self.pending += usize::from(closes);
                Ok(())
            }
            Some(Err(mpsc::SendError(job))) => {
                self.jobs = None;
                Err(job)
            }
            None => Ok(()),
        }
    }

    /// Clips finished so far; with `wait`, every clip submitted.
    fn collect(&mut self, wait: bool) -> Vec<Encoded> {
        let mut out = Vec::new();
        while self.pending > 0 {
            let next = if wait {
                self.done.recv().ok()
            } else {
                self.done.try_recv().ok()
            };
            match next {
                Some(e) => {
                    self.pending -= 1;
                    out.push(e);
                }
                None if wait => {
                    tracing::error!("the clip encoder stopped; {} clip(s) lost", self.pending);
                    self.pending = 0;
                }
                None => break,
            }
        }
        out
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Records clips of a session into its uplink.
pub struct ClipTap<'a> {
    recorder: ClipRecorder,
    uplink: &'a Uplink,
    saved: u64,
    worker: Option<Worker>,
    /// Encodes on the pipeline thread: without a worker, or after it died.
    inline: Streamer,
}

impl<'a> ClipTap<'a> {
    /// Encodes each clip on the pipeline thread as it closes: the
    /// `clip_saved` event comes right after the clip's last frame, the same
    /// on every run of a fixture.
    pub fn new(policy: &Policy, uplink: &'a Uplink) -> Self {
        let recorder = ClipRecorder::new(policy);
        let inline = Streamer::new(recorder.fps());
        Self {
            recorder,
            uplink,
            saved: 0,
            worker: None,
            inline,
        }
    }

    /// Encodes clips on a worker thread (for live sources, which must not
    /// stall): `clip_saved` comes with the first frame after the encoding
    /// finished. Falls back to [`new`](Self::new) if no thread can start.
    pub fn in_background(policy: &Policy, uplink: &'a Uplink) -> Self {
        let mut tap = Self::new(policy, uplink);
        match Worker::start(tap.recorder.fps()) {
            Ok(w) => tap.worker = Some(w),
            Err(e) => tracing::warn!("cannot start the clip encoder thread, encoding inline: {e}"),
        }
        tap
    }

    /// Clips saved so far.
    pub fn saved(&self) -> u64 {
        self.saved
    }

    /// Hands a closed clip, then the open clip's new frames, to the
    /// encoder; returns what is ready to save.
    fn advance(&mut self, closed: Option<Clip>, wait: bool) -> Vec<Note> {
        let mut ready = Vec::new();
        if let Some(clip) = closed {
            ready.extend(self.send(Job::Close(clip)));
        }
        if let Some((w, h, frames)) = self.recorder.take_open_frames() {
            if !frames.is_empty() {
                ready.extend(self.send(Job::Frames(w, h, frames)));
            }
        }
        if let Some(w) = &mut self.worker {
            ready.extend(w.collect(wait));
        }
        ready.into_iter().filter_map(|e| self.save(e)).collect()
    }

    fn send(&mut self, job: Job) -> Option<Encoded> {
        let job = match &mut self.worker {
            Some(w) => match w.submit(job) {
                Ok(()) => return None,
                Err(job) => {
                    // The frames it had of an open clip are lost with it.
                    tracing::error!("the clip encoder thread stopped; encoding inline");
                    job
                }
            },
            None => job,
        };
        self.inline.run(job)
    }

    fn save(&mut self, encoded: Encoded) -> Option<Note> {
        let Encoded { clip, result, took } = encoded;
        let encoded = match result {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("cannot encode the clip of event {:?}: {e}", clip.event_seqs);
                return None;
            }
        };
        let first = clip.event_seqs[0];
        let name = format!("clip-{first}.mp4");
        let sha256 = self.uplink.record_media(
            invigil_core::protocol::MediaKind::Clip,
            &name,
            "video/mp4",
            &encoded.mp4,
        );
        tracing::info!(
            "clip {name}: {} frames, {} bytes, encoded in {took:?}",
            encoded.frames,
            encoded.mp4.len(),
        );
        self.saved += 1;
        let data = json!({
            "event_seq": first,
            "event_seqs": clip.event_seqs,
            "sha256": sha256,
            "bytes": encoded.mp4.len(),
            "content_type": "video/mp4",
            "name": name,
            "start_ms": clip.start_ms,
            "end_ms": clip.end_ms,
            "width": clip.width,
            "height": clip.height,
            "frames": encoded.frames,
        });
        match data {
            serde_json::Value::Object(map) => Some((EventKind::ClipSaved, map)),
            _ => None,
        }
    }
}

impl FrameTap for ClipTap<'_> {
    fn frame(
        &mut self,
        frame: Option<&Frame>,
        _obs: Option<&Observation>,
        events: &[Event],
    ) -> Vec<Note> {
        let clip = self.recorder.push(frame, events);
        self.advance(clip, false)
    }

    fn finish(&mut self) -> Vec<Note> {
        let clip = self.recorder.finish();
        self.advance(clip, true)
    }
}
