//! The reference face a session compares the face in view with (the
//! check-in's face photo; docs/identity.md).

use std::path::Path;

use invigil_core::Frame;
use invigil_vision::identity::reference_embedding;
use invigil_vision::{Embedding, FaceDetector, FaceEmbedder, IdentityWatch, ModelKind};

use crate::SessionError;

/// The reference face of a photograph file (`watch --reference-face`, a
/// scenario's `reference_face`).
pub fn reference_from_image(path: &Path) -> Result<Embedding, SessionError> {
    let bad = |message: String| SessionError::Reference {
        path: path.display().to_string(),
        message,
    };
    let frame = invigil_capture::load_image(path, 0).map_err(|e| bad(e.to_string()))?;
    reference_from_frame(&frame).map_err(bad)
}

/// The reference face of a picture: its largest face, which must face the
/// camera.
pub fn reference_from_frame(frame: &Frame) -> Result<Embedding, String> {
    let mut detector = FaceDetector::new(ModelKind::Back256).map_err(|e| e.to_string())?;
    let faces = detector.detect(frame).map_err(|e| e.to_string())?;
    let embedder = FaceEmbedder::new().map_err(|e| e.to_string())?;
    reference_embedding(frame, &faces, &embedder)
}

/// The analyzer's identity comparisons for a reference under `policy`.
pub(crate) fn identity_watch(
    reference: &Embedding,
    policy: &invigil_core::Policy,
) -> Result<IdentityWatch, SessionError> {
    let embedder = FaceEmbedder::new().map_err(|e| SessionError::Detector(e.to_string()))?;
    Ok(IdentityWatch::new(embedder, reference.clone(), policy))
}
