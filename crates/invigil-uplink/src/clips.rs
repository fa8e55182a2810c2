//! Flagged clips in a streamed session: the pipeline's [`FrameTap`] that
//! records the ring buffer, encodes a clip when one closes, journals it as
//! media and announces it with a `clip_saved` event.

use std::sync::mpsc;
use std::thread::JoinHandle;

use invigil_capture::clip_mp4::{encode_clip, ClipError, EncodedClip};
use invigil_capture::pipeline::{FrameTap, Note};
use invigil_core::clip::{Clip, ClipRecorder};
use invigil_core::{Event, EventKind, Frame, Observation, Policy};
use serde_json::json;

use crate::Uplink;

/// A clip that has been encoded (or failed to), without its frames.
struct Encoded {
    clip: Clip,
    result: Result<EncodedClip, ClipError>,
    took: std::time::Duration,
}

fn encode(mut clip: Clip, fps: f64) -> Encoded {
    let started = std::time::Instant::now();
    let result = encode_clip(&clip, fps);
    clip.frames = Vec::new();
    Encoded {
        clip,
        result,
        took: started.elapsed(),
    }
}

/// Encodes clips on its own thread, so a live camera's frames keep being
/// analysed while a clip is encoded (0.2-0.3 s of a core for 10 s).
struct Worker {
    jobs: Option<mpsc::Sender<Clip>>,
    done: mpsc::Receiver<Encoded>,
    pending: usize,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(fps: f64) -> std::io::Result<Self> {
        let (jobs, inbox) = mpsc::channel::<Clip>();
        let (outbox, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("invigil-clips".into())
            .spawn(move || {
                for clip in inbox {
                    if outbox.send(encode(clip, fps)).is_err() {
                        break;
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

    fn submit(&mut self, clip: Clip, fps: f64) -> Option<Encoded> {
        match self.jobs.as_ref().map(|j| j.send(clip)) {
            Some(Ok(())) => {
                self.pending += 1;
                None
            }
            // The worker is gone (it panicked): encode here rather than
            // lose the clip.
            Some(Err(mpsc::SendError(clip))) => Some(encode(clip, fps)),
            None => None,
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
}

impl<'a> ClipTap<'a> {
    /// Encodes each clip on the pipeline thread as it closes: the
    /// `clip_saved` event comes right after the clip's last frame, the same
    /// on every run of a fixture.
    pub fn new(policy: &Policy, uplink: &'a Uplink) -> Self {
        Self {
            recorder: ClipRecorder::new(policy),
            uplink,
            saved: 0,
            worker: None,
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

    /// Hands a closed clip to the encoder; returns what is ready to save.
    fn close(&mut self, clip: Option<Clip>, wait: bool) -> Vec<Note> {
        let fps = self.recorder.fps();
        let mut ready = Vec::new();
        if let Some(clip) = clip {
            match &mut self.worker {
                Some(w) => ready.extend(w.submit(clip, fps)),
                None => ready.push(encode(clip, fps)),
            }
        }
        if let Some(w) = &mut self.worker {
            ready.extend(w.collect(wait));
        }
        ready.into_iter().filter_map(|e| self.save(e)).collect()
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
        self.close(clip, false)
    }

    fn finish(&mut self) -> Vec<Note> {
        let clip = self.recorder.finish();
        self.close(clip, true)
    }
}
