//! Errors of the capture crate; each names the file or device at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that is not what it claims, or is damaged.
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Unsupported { path: PathBuf, message: String },
    #[error("{0}: no images found (looked for .png, .jpg, .jpeg, .webp, .bmp, .gif)")]
    EmptyDirectory(PathBuf),
    #[error("{path}: {message}")]
    Scenario { path: PathBuf, message: String },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("no camera: {0}")]
    NoCamera(String),
    #[error("camera error: {0}")]
    Camera(String),
    /// The camera went away mid-stream (unplugged, taken by another app).
    #[error("camera lost: {0}")]
    Disconnected(String),
}

impl CaptureError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            CaptureError::NotFound(path.to_owned())
        } else {
            CaptureError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }

    pub(crate) fn corrupt(path: &std::path::Path, message: impl Into<String>) -> Self {
        CaptureError::Corrupt {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}
