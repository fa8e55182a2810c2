//! Real webcams through nokhwa. The camera lives on its own thread; frames
//! come out through a small channel so the camera never waits for anyone.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use invigil_core::Frame;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
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

enum Message {
    Frame(Frame),
    Failed(String),
}

/// A webcam as a live frame source.
pub struct CameraSource {
    info: SourceInfo,
    frames: Receiver<Message>,
}

impl CameraSource {
    /// Opens camera `index`, asking for 640x480 at 30 fps (or the closest the
    /// camera offers): enough for face detection, cheap to decode.
    pub fn open(index: u32, name: &str) -> Result<Self, CaptureError> {
        let (ready_tx, ready_rx) = sync_channel::<Result<(u32, u32, u32), String>>(1);
        let (tx, rx) = sync_channel::<Message>(2);
        std::thread::Builder::new()
            .name(format!("invigil-camera-{index}"))
            .spawn(move || {
                let requested = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(
                    CameraFormat::new(Resolution::new(640, 480), FrameFormat::MJPEG, 30),
                ));
                let mut camera = match Camera::new(CameraIndex::Index(index), requested)
                    .and_then(|mut c| c.open_stream().map(|()| c))
                {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let fmt = camera.camera_format();
                let _ = ready_tx.send(Ok((fmt.width(), fmt.height(), fmt.frame_rate())));
                let start = Instant::now();
                loop {
                    let msg = match camera.frame().and_then(|b| b.decode_image::<RgbFormat>()) {
                        Ok(img) => {
                            let (w, h) = img.dimensions();
                            let t_ms = start.elapsed().as_millis() as u64;
                            match Frame::new(t_ms, w, h, img.into_raw()) {
                                Ok(f) => Message::Frame(f),
                                Err(e) => Message::Failed(e.to_string()),
                            }
                        }
                        Err(e) => Message::Failed(e.to_string()),
                    };
                    let failed = matches!(msg, Message::Failed(_));
                    // A full channel means the reader is busy: drop this
                    // frame rather than wait (the camera never waits).
                    match tx.try_send(msg) {
                        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
                        _ if failed => break,
                        _ => {}
                    }
                }
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
        })
    }
}

impl FrameSource for CameraSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        match self.frames.recv_timeout(STALL_TIMEOUT) {
            Ok(Message::Frame(f)) => Ok(Some(f)),
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
