//! Errors of the vision crate.

use std::path::PathBuf;

/// Anything that stops a frame from being analysed.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("cannot read model file {path}: {source}")]
    ModelRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model {name} is not a usable BlazeFace ONNX model: {message}")]
    ModelInvalid { name: String, message: String },
    #[error("model {name} is not a usable face embedding (SFace) ONNX model: {message}")]
    EmbedderInvalid { name: String, message: String },
    #[error("model {name} is not a usable {what} ONNX model: {message}")]
    Unusable {
        what: &'static str,
        name: String,
        message: String,
    },
    #[error("face detection failed: {0}")]
    Inference(String),
    #[error("frame {width}x{height} has {actual} bytes, expected {expected} (RGB)")]
    BadFrame {
        width: u32,
        height: u32,
        expected: usize,
        actual: usize,
    },
}
