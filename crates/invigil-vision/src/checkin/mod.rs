//! Check-in measures: whether a frame makes a good face photo, ID photo or
//! room view, and what the candidate should change when it does not.
//!
//! Each assessment returns every failing condition with a code (stable, for
//! tests and logs) and a sentence for the candidate. Thresholds live in
//! [`CheckInPolicy`] (docs/checkin.md explains each).

mod document;
mod gray;
pub mod liveness;
mod view;

pub use document::{find_document, sharpness, Quad};
pub use view::ViewSignature;

use invigil_core::{Face, Frame};
use serde::Serialize;

use crate::{FaceDetector, VisionError};
use gray::Gray;

/// Thresholds of the check-in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckInPolicy {
    /// The check-in's detector keeps candidates from this score, so the
    /// thresholds below alone decide what counts.
    pub detector_min_score: f32,
    /// Faces below this detector score are not counted.
    pub min_face_score: f32,
    /// Face width as a fraction of the frame width: at least / at most.
    pub face_min_width: f32,
    pub face_max_width: f32,
    /// Largest distance of the face centre from the frame's middle, as a
    /// fraction of the frame's width.
    pub face_max_offset_x: f32,
    /// Band for the face centre's height in the frame (0 top, 1 bottom): a
    /// webcam portrait has the face in the upper half.
    pub face_min_centre_y: f32,
    pub face_max_centre_y: f32,
    /// Mean luma of the face, 0..=255: at least / at most.
    pub face_min_luma: f32,
    pub face_max_luma: f32,
    /// The document's area as a fraction of the frame, at least.
    pub id_min_area: f32,
    /// Variance of the Laplacian over the document, at least.
    pub id_min_sharpness: f32,
    /// Detector score for the portrait printed on the document.
    pub id_min_portrait_score: f32,
    /// Views more alike than this (0-1) are the same view.
    pub room_max_similarity: f32,
    /// Mean luma of a room view, at least.
    pub room_min_luma: f32,
    /// The system check before the check-in.
    pub system: SystemCheckPolicy,
}

/// Limits of the system check (camera, face, lighting, disk) before the
/// check-in: looser than the photos', it only tells the candidate what to
/// fix before starting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SystemCheckPolicy {
    /// Frames the camera check reads, at most, and for how long.
    pub frames: u64,
    pub seconds: f32,
    /// One face at or above this score passes the face check.
    pub min_face_score: f32,
    /// Mean luma of the picture, 0..=255: at least / at most.
    pub min_luma: f32,
    pub max_luma: f32,
    /// Free space the journal wants: clips of a long, eventful exam.
    pub min_free_bytes: u64,
}

impl Default for SystemCheckPolicy {
    fn default() -> Self {
        Self {
            frames: 30,
            seconds: 4.0,
            min_face_score: 0.7,
            min_luma: 35.0,
            max_luma: 225.0,
            min_free_bytes: 500 << 20,
        }
    }
}

impl Default for CheckInPolicy {
    fn default() -> Self {
        Self {
            detector_min_score: 0.5,
            min_face_score: 0.6,
            face_min_width: 0.14,
            face_max_width: 0.7,
            face_max_offset_x: 0.2,
            face_min_centre_y: 0.15,
            face_max_centre_y: 0.65,
            face_min_luma: 55.0,
            face_max_luma: 225.0,
            id_min_area: 0.1,
            id_min_sharpness: 60.0,
            id_min_portrait_score: 0.5,
            room_max_similarity: 0.6,
            room_min_luma: 30.0,
            system: SystemCheckPolicy::default(),
        }
    }
}

/// One failing condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// Stable code, e.g. `no_face`, `blurred`, `same_view`.
    pub code: &'static str,
    /// What to do, for the candidate.
    pub message: String,
}

impl Problem {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The verdict on one frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Assessment {
    /// No problems: the frame may be captured.
    pub ready: bool,
    pub problems: Vec<Problem>,
    /// Faces counted (face photo) or the portrait found on the document.
    pub faces: Vec<Face>,
    pub document: Option<Quad>,
    /// Measures behind the verdict (e.g. `sharpness`, `face_luma`,
    /// `similarity`), for logs and the proctor.
    pub measures: Vec<(String, f32)>,
}

impl Assessment {
    fn finish(mut self) -> Self {
        self.ready = self.problems.is_empty();
        self
    }

    pub fn measure(&self, name: &str) -> Option<f32> {
        self.measures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Mean luma (0-255) of the middle of a face's box: skin, not hair or
/// background.
pub fn face_luma(frame: &Frame, face: &Face) -> f32 {
    let [x, y, w, h] = face.bbox;
    let region = [
        (x + w * 0.2).max(0.0) as usize,
        (y + h * 0.2).max(0.0) as usize,
        (w * 0.6).max(1.0) as usize,
        (h * 0.6).max(1.0) as usize,
    ];
    Gray::of(frame, region, 64).mean()
}

/// Whether the frame makes a good face photo: exactly one face, centred,
/// large enough and well lit. `faces` are the detector's faces for it.
pub fn assess_face_photo(frame: &Frame, faces: &[Face], policy: &CheckInPolicy) -> Assessment {
    let counted: Vec<Face> = faces
        .iter()
        .filter(|f| f.score >= policy.min_face_score)
        .cloned()
        .collect();
    let mut a = Assessment {
        faces: counted.clone(),
        ..Assessment::default()
    };
    let (fw, fh) = (frame.width as f32, frame.height as f32);
    let frame_luma = Gray::frame(frame, 64).mean();
    a.measures.push(("frame_luma".into(), frame_luma));
    match counted.as_slice() {
        [] => {
            a.problems.push(Problem::new(
                "no_face",
                if frame_luma < policy.face_min_luma {
                    "No face found, and the picture is dark: turn on a light in front of you and face the camera."
                } else {
                    "No face found: sit in front of the camera and look at it."
                },
            ));
        }
        [face] => {
            let width = face.bbox[2] / fw;
            let [cx, cy] = face.center();
            let (dx, y) = (cx / fw - 0.5, cy / fh);
            let luma = face_luma(frame, face);
            a.measures.push(("face_width".into(), width));
            a.measures.push(("face_offset_x".into(), dx));
            a.measures.push(("face_centre_y".into(), y));
            a.measures.push(("face_luma".into(), luma));
            if width < policy.face_min_width {
                a.problems.push(Problem::new(
                    "face_too_small",
                    "Move closer to the camera: your face is too small in the picture.",
                ));
            } else if width > policy.face_max_width {
                a.problems.push(Problem::new(
                    "face_too_large",
                    "Move back a little: your whole face must be in the picture.",
                ));
            }
            if dx.abs() > policy.face_max_offset_x
                || !(policy.face_min_centre_y..=policy.face_max_centre_y).contains(&y)
            {
                a.problems.push(Problem::new(
                    "face_off_centre",
                    "Move so that your face is in the middle of the picture.",
                ));
            }
            if luma < policy.face_min_luma {
                a.problems.push(Problem::new(
                    "face_too_dark",
                    if frame_luma > luma + 50.0 {
                        "Your face is too dark: there is bright light behind you. Face the light, or close the curtains behind you."
                    } else {
                        "Your face is too dark: turn on a light in front of you."
                    },
                ));
            } else if luma > policy.face_max_luma {
                a.problems.push(Problem::new(
                    "face_too_bright",
                    "Your face is too bright: move away from the direct light.",
                ));
            }
        }
        _ => {
            a.problems.push(Problem::new(
                "several_faces",
                format!(
                    "{} faces are in the picture: only you may be in the face photo.",
                    counted.len()
                ),
            ));
        }
    }
    a.finish()
}

/// Cuts a region out of a frame.
fn crop(frame: &Frame, region: [f32; 4]) -> Option<Frame> {
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let x0 = (region[0].max(0.0) as usize).min(fw);
    let y0 = (region[1].max(0.0) as usize).min(fh);
    let x1 = ((region[0] + region[2]).ceil().max(0.0) as usize).min(fw);
    let y1 = ((region[1] + region[3]).ceil().max(0.0) as usize).min(fh);
    if x1 <= x0 + 8 || y1 <= y0 + 8 {
        return None;
    }
    let mut rgb = Vec::with_capacity((x1 - x0) * (y1 - y0) * 3);
    for y in y0..y1 {
        rgb.extend_from_slice(&frame.rgb[(y * fw + x0) * 3..(y * fw + x1) * 3]);
    }
    Frame::new(frame.t_ms, (x1 - x0) as u32, (y1 - y0) as u32, rgb).ok()
}

/// Whether the frame makes a good ID photo: a document fills enough of the
/// frame, is sharp, and its own portrait is found as a face. The detector
/// runs on the document alone, where the portrait is large enough to find.
pub fn assess_id_photo(
    frame: &Frame,
    detector: &mut FaceDetector,
    policy: &CheckInPolicy,
) -> Result<Assessment, VisionError> {
    let mut a = Assessment::default();
    let Some(doc) = find_document(frame) else {
        a.problems.push(Problem::new(
            "no_document",
            "Hold your ID up to the camera, photo side facing it, with all four edges in view.",
        ));
        return Ok(a.finish());
    };
    a.measures.push(("document_area".into(), doc.area));
    if doc.area < policy.id_min_area {
        a.problems.push(Problem::new(
            "document_too_small",
            "Hold your ID closer to the camera, so that it fills more of the picture.",
        ));
    }
    let b = doc.bounds();
    // The middle of the card: its print, not its edges against the room.
    let inner = [b[0] + b[2] * 0.1, b[1] + b[3] * 0.1, b[2] * 0.8, b[3] * 0.8];
    let sharp = sharpness(frame, inner);
    a.measures.push(("sharpness".into(), sharp));
    if sharp < policy.id_min_sharpness {
        a.problems.push(Problem::new(
            "blurred",
            "The ID is blurred: hold it still, and a little further from the camera if it cannot focus.",
        ));
    }
    let pad = 0.05 * b[2].max(b[3]);
    if let Some(card) = crop(
        frame,
        [b[0] - pad, b[1] - pad, b[2] + 2.0 * pad, b[3] + 2.0 * pad],
    ) {
        let (ox, oy) = ((b[0] - pad).max(0.0), (b[1] - pad).max(0.0));
        let mut portraits: Vec<Face> = detector
            .detect(&card)?
            .into_iter()
            .filter(|f| f.score >= policy.id_min_portrait_score)
            .map(|mut f| {
                f.bbox[0] += ox;
                f.bbox[1] += oy;
                for k in &mut f.keypoints {
                    k[0] += ox;
                    k[1] += oy;
                }
                f
            })
            .filter(|f| doc.contains(f.center()))
            .collect();
        // An ID carries one portrait, its face a fifth to two thirds of the
        // card's short side (a group photo or a window onto a room is not
        // an ID).
        let short = b[2].min(b[3]);
        if let [p] = portraits.as_slice() {
            let size = p.bbox[3] / short;
            a.measures.push(("portrait_score".into(), p.score));
            a.measures.push(("portrait_size".into(), size));
            if !(0.12..=0.7).contains(&size) {
                portraits.clear();
            }
        } else if portraits.len() > 1 {
            a.measures
                .push(("portraits".into(), portraits.len() as f32));
            a.problems.push(Problem::new(
                "several_portraits",
                "Show only your ID: more than one face is inside it.",
            ));
            portraits.clear();
        }
        a.faces = portraits;
    }
    // A blurred portrait is not reliably found: ask for sharpness first.
    if sharp < policy.id_min_sharpness {
        a.problems.retain(|p| p.code != "several_portraits");
    } else if a.faces.is_empty() && !a.problems.iter().any(|p| p.code == "several_portraits") {
        a.problems.push(Problem::new(
            "no_portrait",
            "The photo on your ID cannot be seen: turn the side with your photo to the camera and tilt it away from glare.",
        ));
    }
    a.document = Some(doc);
    Ok(a.finish())
}

/// Whether the frame makes a new room view: lit, and unlike every view in
/// `others` (`(label, signature)`, e.g. the face photo and the sides
/// captured so far).
pub fn assess_room_view(
    frame: &Frame,
    others: &[(String, ViewSignature)],
    policy: &CheckInPolicy,
) -> Assessment {
    let mut a = Assessment::default();
    let luma = Gray::frame(frame, 64).mean();
    a.measures.push(("luma".into(), luma));
    if luma < policy.room_min_luma {
        a.problems.push(Problem::new(
            "too_dark",
            "The room is too dark to see: turn on a light.",
        ));
    }
    let sig = ViewSignature::of(frame);
    let closest = others
        .iter()
        .map(|(label, s)| (label, sig.similarity(s)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((label, similarity)) = closest {
        a.measures.push(("similarity".into(), similarity));
        if similarity > policy.room_max_similarity {
            a.problems.push(Problem::new(
                "same_view",
                format!("This looks like the {label}: turn the camera to show another part of the room."),
            ));
        }
    }
    a.finish()
}
