//! Real webcams through nokhwa. The camera lives on its own thread; frames
//! come out through a small channel so the camera never waits for anyone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use invigil_core::Frame;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};
use nokhwa::Camera;

use crate::{CaptureError, FrameSource, SourceInfo};

/// A camera that delivers nothing for this long is considered lost.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One attached camera, as listed by `invigil cameras`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDescription {
    pub index: String,
    pub name: String,
    pub description: String,
}

/// Lists attached cameras. An empty list is not an error.
pub fn list_cameras() -> Result<Vec<CameraDescription>, CaptureError> {
    let cameras = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| CaptureError::Camera(format!("cannot list cameras: {e}")))?;
    Ok(cameras
        .into_iter()
        .map(|c| CameraDescription {
            index: c.index().to_string(),
            name: c.human_name(),
            description: c.description().to_owned(),
        })
        .collect())
}

/// Transient camera errors (a corrupt MJPEG frame, a USB hiccup) are
/// skipped; the camera counts as lost only when nothing but errors has come
/// for this long.
const ERROR_GRACE: Duration = Duration::from_secs(2);

/// Consecutive failures of the camera.
#[derive(Default)]
struct Hiccups {
    since: Option<Instant>,
}

impl Hiccups {
    fn ok(&mut self) {
        self.since = None;
    }

    /// Records a failure at `now`; `true` when failures have lasted
    /// [`ERROR_GRACE`] and the camera should be given up.
    fn failed(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        now.duration_since(since) >= ERROR_GRACE
    }
}

/// The camera format to ask for, from those the camera offers: frames we
/// can decode, at least 15 fps when possible, the resolution nearest to
/// 640x480 (by pixel count, so 640x360 on a 16:9 camera), the frame rate
/// nearest to 30, and MJPEG before uncompressed formats (less USB
/// bandwidth).
pub(crate) fn choose_format(formats: &[CameraFormat]) -> Option<CameraFormat> {
    let rank = |f: &FrameFormat| match f {
        FrameFormat::MJPEG => Some(0),
        FrameFormat::YUYV | FrameFormat::NV12 => Some(1),
        FrameFormat::RAWRGB | FrameFormat::RAWBGR => Some(2),
        _ => None,
    };
    let target = 640.0 * 480.0;
    formats
        .iter()
        .filter(|f| rank(&f.format()).is_some() && f.width() > 0 && f.height() > 0)
        .min_by_key(|f| {
            let pixels = f64::from(f.width()) * f64::from(f.height());
            // Size in tenths of an octave away from 640x480.
            let size = ((pixels / target).log2().abs() * 10.0).round() as u32;
            let too_slow = f.frame_rate() < 15;
            let fps = f.frame_rate().abs_diff(30);
            (too_slow, size, fps, rank(&f.format()))
        })
        .copied()
}

enum Message {
    Frame(Frame),
    Failed(String),
}

/// A webcam as a live frame source.
pub struct CameraSource {
    info: SourceInfo,
    frames: Receiver<Message>,
    gate: Arc<Gate>,
    /// The time of the last frame handed to the reader.
    last_t: Option<u64>,
}

/// What the reader wants of the camera thread: frames captured before
/// `not_before_ms` are passed over without being decoded (the analysis
/// rate cap, `PipelineOptions::min_interval_ms`), and counted. Handing a
/// frame over moves the gate on by `interval_ms` at once, so the frames
/// captured while the reader analyses it are not decoded either.
/// Frames waiting for the reader; the camera thread does not decode a
/// frame that would find the queue full.
#[derive(Default)]
struct Gate {
    not_before_ms: AtomicU64,
    interval_ms: AtomicU64,
    skipped: AtomicU64,
    queued: AtomicU64,
    /// The reader is gone (the source was dropped).
    closed: AtomicBool,
}

/// Decoded frames waiting for the reader at most.
const QUEUE: usize = 2;

/// The camera thread's loop: takes a raw frame and its capture time from
/// `grab`, decodes it with `decode` unless the reader has no use for it
/// yet, and offers it to the reader without waiting. Ends when the reader
/// is gone or the camera has failed for [`ERROR_GRACE`].
fn deliver<B>(
    mut grab: impl FnMut() -> (u64, Result<B, String>),
    decode: impl Fn(B) -> Result<(u32, u32, Vec<u8>), String>,
    gate: &Gate,
    tx: &SyncSender<Message>,
) {
    let mut hiccups = Hiccups::default();
    while !gate.closed.load(Ordering::Relaxed) {
        let (t_ms, raw) = grab();
        if raw.is_ok() {
            if t_ms < gate.not_before_ms.load(Ordering::Relaxed) {
                hiccups.ok();
                gate.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // The reader is behind: this frame would be dropped anyway.
            if gate.queued.load(Ordering::Relaxed) >= QUEUE as u64 {
                hiccups.ok();
                continue;
            }
        }
        let frame = raw
            .and_then(&decode)
            .and_then(|(w, h, rgb)| Frame::new(t_ms, w, h, rgb).map_err(|e| e.to_string()));
        let msg = match frame {
            Ok(f) => {
                hiccups.ok();
                Message::Frame(f)
            }
            // A corrupt MJPEG frame or a USB hiccup: skip it.
            Err(e) if !hiccups.failed(Instant::now()) => {
                tracing::debug!("camera frame skipped: {e}");
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => Message::Failed(e),
        };
        let failed = matches!(msg, Message::Failed(_));
        // A full channel means the reader is busy: drop this frame rather
        // than wait (the camera never waits).
        match tx.try_send(msg) {
            Err(TrySendError::Disconnected(_)) => break,
            _ if failed => break,
            Ok(()) => {
                gate.queued.fetch_add(1, Ordering::Relaxed);
                let next = t_ms.saturating_add(gate.interval_ms.load(Ordering::Relaxed));
                gate.not_before_ms.fetch_max(next, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {}
        }
    }
}

impl CameraSource {
    /// Opens camera `index` in the format [`choose_format`] prefers (about
    /// 640x480 at up to 30 fps: enough for face detection, cheap to decode).
    pub fn open(index: u32, name: &str) -> Result<Self, CaptureError> {
        let (ready_tx, ready_rx) = sync_channel::<Result<(u32, u32, u32), String>>(1);
        let (tx, rx) = sync_channel::<Message>(QUEUE);
        let gate = Arc::new(Gate::default());
        let shared_gate = Arc::clone(&gate);
        std::thread::Builder::new()
            .name(format!("invigil-camera-{index}"))
            .spawn(move || {
                let gate = shared_gate;
                // Any format we can decode opens the camera; then the best
                // one for us is chosen from the full list (nokhwa's own
                // "closest" fails on cameras without MJPEG at exactly the
                // requested size).
                let any = RequestedFormat::new::<RgbFormat>(RequestedFormatType::None);
                let mut camera = match Camera::new(CameraIndex::Index(index), any) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                match camera.compatible_camera_formats() {
                    Ok(formats) => {
                        if let Some(best) = choose_format(&formats) {
                            let exact =
                                RequestedFormat::new::<RgbFormat>(RequestedFormatType::Exact(best));
                            if let Err(e) = camera.set_camera_requset(exact) {
                                tracing::warn!(
                                    "{best} refused ({e}); keeping {}",
                                    camera.camera_format()
                                );
                            }
                        }
                    }
                    Err(e) => tracing::warn!(
                        "cannot list the camera's formats ({e}); using {}",
                        camera.camera_format()
                    ),
                }
                if let Err(e) = camera.open_stream() {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
                let fmt = camera.camera_format();
                let _ = ready_tx.send(Ok((fmt.width(), fmt.height(), fmt.frame_rate())));
                let start = Instant::now();
                deliver(
                    || {
                        let raw = camera.frame().map_err(|e| e.to_string());
                        (start.elapsed().as_millis() as u64, raw)
                    },
                    |buffer| {
                        let img = buffer
                            .decode_image::<RgbFormat>()
                            .map_err(|e| e.to_string())?;
                        let (w, h) = img.dimensions();
                        Ok((w, h, img.into_raw()))
                    },
                    &gate,
                    &tx,
                );
                let _ = camera.stop_stream();
            })
            .map_err(|e| CaptureError::Camera(e.to_string()))?;
        let (w, h, fps) = ready_rx
            .recv()
            .map_err(|_| CaptureError::Camera("camera thread ended unexpectedly".into()))?
            .map_err(|e| CaptureError::NoCamera(format!("cannot open {name}: {e}")))?;
        tracing::info!("opened {name}: {w}x{h} at {fps} fps");
        Ok(Self {
            info: SourceInfo {
                name: name.to_owned(),
                kind: "camera",
                fps: Some(f64::from(fps)),
                frames: None,
                live: true,
            },
            frames: rx,
            gate,
            last_t: None,
        })
    }
}

impl FrameSource for CameraSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        self.next_frame_from(0).map(|(f, _)| f)
    }

    /// Frames captured before `not_before_ms` are not decoded: the camera
    /// thread passes over them (and counts them) as they arrive.
    fn next_frame_from(
        &mut self,
        not_before_ms: u64,
    ) -> Result<(Option<Frame>, u64), CaptureError> {
        // The reader's interval, from the frame it had last.
        let interval = match self.last_t {
            Some(last) if not_before_ms > last => not_before_ms - last,
            _ => 0,
        };
        self.gate.interval_ms.store(interval, Ordering::Relaxed);
        if not_before_ms == 0 {
            self.gate.not_before_ms.store(0, Ordering::Relaxed);
        } else {
            self.gate
                .not_before_ms
                .fetch_max(not_before_ms, Ordering::Relaxed);
        }
        let mut skipped = 0;
        loop {
            let frame = self.receive()?;
            // Decoded before the reader moved the gate on.
            if frame.t_ms < not_before_ms {
                skipped += 1;
                continue;
            }
            skipped += self.gate.skipped.swap(0, Ordering::Relaxed);
            self.last_t = Some(frame.t_ms);
            return Ok((Some(frame), skipped));
        }
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.gate.closed.store(true, Ordering::Relaxed);
    }
}

impl CameraSource {
    fn receive(&self) -> Result<Frame, CaptureError> {
        match self.frames.recv_timeout(STALL_TIMEOUT) {
            Ok(Message::Frame(f)) => {
                self.gate.queued.fetch_sub(1, Ordering::Relaxed);
                Ok(f)
            }
            Ok(Message::Failed(e)) => Err(CaptureError::Disconnected(e)),
            Err(RecvTimeoutError::Timeout) => Err(CaptureError::Disconnected(format!(
                "no frame for {} s",
                STALL_TIMEOUT.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(CaptureError::Disconnected("camera thread stopped".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nokhwa::utils::Resolution;

    fn fmt(w: u32, h: u32, format: FrameFormat, fps: u32) -> CameraFormat {
        CameraFormat::new(Resolution::new(w, h), format, fps)
    }

    #[test]
    fn formats_are_chosen_for_detection_and_bandwidth() {
        use FrameFormat::*;
        // A common laptop camera: MJPEG and YUYV at several sizes.
        let laptop = [
            fmt(1280, 720, MJPEG, 30),
            fmt(640, 480, MJPEG, 30),
            fmt(640, 480, YUYV, 30),
            fmt(1280, 720, YUYV, 10),
            fmt(320, 240, MJPEG, 30),
        ];
        assert_eq!(choose_format(&laptop), Some(fmt(640, 480, MJPEG, 30)));
        // No MJPEG at all (virtual cameras, some IR cameras).
        let yuyv_only = [fmt(1280, 720, YUYV, 10), fmt(640, 480, YUYV, 30)];
        assert_eq!(choose_format(&yuyv_only), Some(fmt(640, 480, YUYV, 30)));
        // 16:9 only, no 640x480 (nokhwa's "closest" fails on this one).
        let wide = [
            fmt(1920, 1080, MJPEG, 30),
            fmt(1280, 720, MJPEG, 30),
            fmt(640, 360, MJPEG, 30),
        ];
        assert_eq!(choose_format(&wide), Some(fmt(640, 360, MJPEG, 30)));
        // 640x480 only at 5 fps: a larger size at a usable rate wins.
        let slow = [fmt(640, 480, YUYV, 5), fmt(1280, 720, MJPEG, 30)];
        assert_eq!(choose_format(&slow), Some(fmt(1280, 720, MJPEG, 30)));
        // 60 fps is not needed; 30 is nearer.
        let fast = [fmt(640, 480, MJPEG, 60), fmt(640, 480, MJPEG, 30)];
        assert_eq!(choose_format(&fast), Some(fmt(640, 480, MJPEG, 30)));
        // Nothing we can decode.
        assert_eq!(choose_format(&[fmt(640, 480, GRAY, 30)]), None);
        assert_eq!(choose_format(&[]), None);
    }

    #[test]
    fn a_hiccup_is_forgiven_a_dead_camera_is_not() {
        let mut h = Hiccups::default();
        let t0 = Instant::now();
        assert!(!h.failed(t0));
        assert!(!h.failed(t0 + Duration::from_millis(500)));
        h.ok();
        assert!(
            !h.failed(t0 + Duration::from_millis(2400)),
            "counting starts again"
        );
        assert!(!h.failed(t0 + Duration::from_millis(4000)));
        assert!(
            h.failed(t0 + Duration::from_millis(4400)),
            "2 s of nothing but errors"
        );
    }

    /// A 30 fps camera read at most every 66 ms: the frames in between are
    /// passed over undecoded (counted as skipped), including those captured
    /// while the reader is busy with the last one.
    #[test]
    fn frames_the_reader_has_no_use_for_are_not_decoded() {
        use std::sync::atomic::AtomicUsize;
        let (tx, rx) = sync_channel::<Message>(QUEUE);
        let gate = Arc::new(Gate::default());
        let decoded = Arc::new(AtomicUsize::new(0));
        let camera = {
            let (gate, decoded) = (Arc::clone(&gate), Arc::clone(&decoded));
            std::thread::spawn(move || {
                let mut i = 0u64;
                deliver(
                    || {
                        // A frame every 33 ms of capture time, delivered
                        // faster than real time.
                        std::thread::sleep(Duration::from_millis(2));
                        i += 1;
                        ((i - 1) * 33, Ok(i - 1))
                    },
                    |_: u64| {
                        decoded.fetch_add(1, Ordering::Relaxed);
                        Ok((2, 2, vec![0; 12]))
                    },
                    &gate,
                    &tx,
                );
            })
        };
        let mut source = CameraSource {
            info: SourceInfo {
                name: "fake camera".into(),
                kind: "camera",
                fps: Some(30.0),
                frames: None,
                live: true,
            },
            frames: rx,
            gate,
            last_t: None,
        };
        let (first, _) = source.next_frame_from(0).unwrap();
        let mut last = first.unwrap().t_ms;
        let (mut delivered, mut skipped) = (1u64, 0u64);
        for _ in 0..20 {
            let (frame, s) = source.next_frame_from(last + 66).unwrap();
            let t = frame.unwrap().t_ms;
            assert!(t >= last + 66, "frame at {t} ms after one at {last} ms");
            // The reader takes its time over each frame.
            std::thread::sleep(Duration::from_millis(5));
            (last, delivered, skipped) = (t, delivered + 1, skipped + s);
        }
        drop(source);
        camera.join().unwrap();
        let decoded = decoded.load(Ordering::Relaxed) as u64;
        // Every other frame of 30 fps is wanted at 66 ms.
        assert!(
            skipped + 2 >= delivered,
            "{skipped} skipped for {delivered} delivered"
        );
        // Only the frames handed over (and the couple queued when the
        // reader stopped) were decoded.
        assert!(
            decoded <= delivered + 3,
            "{decoded} frames decoded for {delivered} delivered"
        );
    }
}
