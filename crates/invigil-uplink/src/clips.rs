//! Flagged clips in a streamed session: the pipeline's [`FrameTap`] that
//! records the ring buffer, encodes a clip when one closes, journals it as
//! media and announces it with a `clip_saved` event.

use invigil_capture::clip_mp4::encode_clip;
use invigil_capture::pipeline::{FrameTap, Note};
use invigil_core::clip::{Clip, ClipRecorder};
use invigil_core::{Event, EventKind, Frame, Observation, Policy};
use serde_json::json;

use crate::Uplink;

/// Records clips of a session into its uplink.
pub struct ClipTap<'a> {
    recorder: ClipRecorder,
    uplink: &'a Uplink,
    saved: u64,
}

impl<'a> ClipTap<'a> {
    pub fn new(policy: &Policy, uplink: &'a Uplink) -> Self {
        Self {
            recorder: ClipRecorder::new(policy),
            uplink,
            saved: 0,
        }
    }

    /// Clips saved so far.
    pub fn saved(&self) -> u64 {
        self.saved
    }

    fn save(&mut self, clip: Clip) -> Option<Note> {
        let started = std::time::Instant::now();
        let encoded = match encode_clip(&clip, self.recorder.fps()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("cannot encode the clip of event {:?}: {e}", clip.event_seqs);
                return None;
            }
        };
        let first = clip.event_seqs[0];
        let name = format!("clip-{first}.mp4");
        let sha256 = self
            .uplink
            .record_media("clip", &name, "video/mp4", &encoded.mp4);
        tracing::info!(
            "clip {name}: {} frames, {} bytes, encoded in {:?}",
            encoded.frames,
            encoded.mp4.len(),
            started.elapsed()
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
        match self.recorder.push(frame, events) {
            Some(clip) => self.save(clip).into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn finish(&mut self) -> Vec<Note> {
        match self.recorder.finish() {
            Some(clip) => self.save(clip).into_iter().collect(),
            None => Vec::new(),
        }
    }
}
