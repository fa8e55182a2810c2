//! Judging photographs as the check-in judges camera frames: the same
//! detector settings, thresholds and room-view comparisons, for
//! `invigil checkin` (QA and support looking at a real photo).

use invigil_core::Frame;
use invigil_vision::checkin::{
    assess_face_photo, assess_id_photo, assess_room_view, Assessment, CheckInPolicy, ViewSignature,
};
use invigil_vision::identity::main_face;
use invigil_vision::{FaceDetector, FaceEmbedder, IdentityCheck, ModelKind};

use super::{photo_label, ROOM_SIDES};
use crate::SessionError;

/// The check-in's face detector: the full-range model, keeping candidates
/// from the policy's `detector_min_score` so its thresholds alone decide.
pub fn checkin_detector(policy: &CheckInPolicy) -> Result<FaceDetector, SessionError> {
    let mut detector =
        FaceDetector::new(ModelKind::Back256).map_err(|e| SessionError::Detector(e.to_string()))?;
    detector.set_min_score(policy.detector_min_score);
    Ok(detector)
}

/// The face photo's face against the ID photo's portrait (issue 14): the
/// largest face counted on the face photo, the portrait the ID check found.
/// `None` when either photo was not judged.
pub fn judge_identity(
    verdicts: &[PhotoVerdict],
    face: Option<&Frame>,
    id: Option<&Frame>,
) -> Result<Option<IdentityCheck>, SessionError> {
    let (Some(face_frame), Some(id_frame)) = (face, id) else {
        return Ok(None);
    };
    let of = |slot: &str| {
        verdicts
            .iter()
            .find(|v| v.slot == slot)
            .map(|v| &v.assessment)
    };
    let face = of("face")
        .and_then(|a| main_face(&a.faces))
        .map(|f| (face_frame, f));
    let portrait = of("id")
        .and_then(|a| a.faces.first())
        .map(|f| (id_frame, f));
    let embedder = FaceEmbedder::new().map_err(|e| SessionError::Detector(e.to_string()))?;
    IdentityCheck::compare(&embedder, face, portrait)
        .map(Some)
        .map_err(|e| SessionError::Detector(e.to_string()))
}

/// One photograph's verdict.
#[derive(Clone, Debug)]
pub struct PhotoVerdict {
    /// `face`, `id`, or a room side (`front`...`desk`).
    pub slot: String,
    pub assessment: Assessment,
}

/// Judges a face photo, an ID photo and room views (in [`ROOM_SIDES`]
/// order, at most five), each room view against the face photo and the
/// views before it, as the check-in does.
pub fn judge_photos(
    face: Option<&Frame>,
    id: Option<&Frame>,
    rooms: &[Frame],
    policy: &CheckInPolicy,
) -> Result<Vec<PhotoVerdict>, SessionError> {
    let mut detector = checkin_detector(policy)?;
    let mut verdicts = Vec::new();
    let mut seen: Vec<(String, ViewSignature)> = Vec::new();
    let detection = |e: invigil_vision::VisionError| SessionError::Detector(e.to_string());
    if let Some(frame) = face {
        let faces = detector.detect(frame).map_err(detection)?;
        verdicts.push(PhotoVerdict {
            slot: "face".into(),
            assessment: assess_face_photo(frame, &faces, policy),
        });
        seen.push((photo_label("face"), ViewSignature::of(frame)));
    }
    if let Some(frame) = id {
        verdicts.push(PhotoVerdict {
            slot: "id".into(),
            assessment: assess_id_photo(frame, &mut detector, policy).map_err(detection)?,
        });
    }
    for (frame, (side, _)) in rooms.iter().zip(ROOM_SIDES) {
        verdicts.push(PhotoVerdict {
            slot: side.to_owned(),
            assessment: assess_room_view(frame, &seen, policy),
        });
        seen.push((photo_label(side), ViewSignature::of(frame)));
    }
    Ok(verdicts)
}
