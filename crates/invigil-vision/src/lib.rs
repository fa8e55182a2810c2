//! invigil-vision: on-device face detection (MediaPipe BlazeFace on tract-onnx)
//! and whole-frame scene statistics: `Frame -> Observation`.
//!
//! ```no_run
//! use invigil_vision::{FaceDetector, ModelKind};
//! let mut detector = FaceDetector::new(ModelKind::Front128)?;
//! let frame = invigil_core::Frame::solid(0, 640, 480, [90, 90, 90]);
//! let faces = detector.detect(&frame)?;
//! assert!(faces.is_empty());
//! # Ok::<(), invigil_vision::VisionError>(())
//! ```

mod analyzer;
pub mod checkin;
mod decode;
mod detector;
mod error;
pub mod identity;
pub mod memory;
pub mod objects;
pub mod pose;
mod preprocess;
mod scene;

pub use analyzer::{
    analyzer_for, AnalyzerConfig, ConductWatch, DetectorProfile, VisionAnalyzer, OBJECTS_SOON_MS,
    POSE_INTERVAL_MS,
};
pub use decode::{decode_anchors, weighted_blend, Candidate};
pub use detector::{FaceDetector, ModelKind, RawOutputs, DEFAULT_MIN_SCORE};
pub use error::VisionError;
pub use identity::{Alignment, Embedding, FaceEmbedder, IdentityCheck, IdentityWatch};
pub use objects::ObjectDetector;
pub use pose::FaceLandmarker;
pub use preprocess::{letterbox, Letterbox};
pub use scene::{scene_stats, GRID_H, GRID_W};
