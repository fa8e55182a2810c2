//! What the check-in screen shows, and the photos it keeps.

use invigil_core::protocol::{CheckinRequirements, MediaKind};
use invigil_vision::checkin::ViewSignature;
use invigil_vision::identity::SAME_PERSON_MIN_SIMILARITY;
use invigil_vision::Embedding;
use serde::{Deserialize, Serialize};

use super::live::LivenessView;
use crate::view::FaceBox;

/// The head-turn check's name among the check-in's steps.
pub const LIVENESS: &str = "liveness";

/// The sides of the room scan, in the order the candidate is asked for
/// them, with the words used for each.
pub const ROOM_SIDES: [(&str, &str); 5] = [
    ("front", "the wall in front of you"),
    ("right", "the wall to your right"),
    ("back", "the wall behind you"),
    ("left", "the wall to your left"),
    ("desk", "your desk"),
];

/// A check-in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Face,
    /// The head-turn liveness check (no photo), after the face photo.
    Liveness,
    Id,
    /// One side of the room scan (index into [`ROOM_SIDES`]).
    Room,
}

/// A failing condition, for the UI.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProblemView {
    pub code: String,
    pub message: String,
}

/// What the check-in screen shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckInView {
    pub step: Step,
    /// Room side being scanned (`front`...`desk`) and its words.
    pub side: Option<String>,
    pub side_words: Option<String>,
    /// The latest assessed frame may be captured.
    pub ready: bool,
    pub problems: Vec<ProblemView>,
    /// Faces found (face photo) or the portrait on the ID.
    pub faces: Vec<FaceBox>,
    /// Corners of the ID found, as fractions of the frame.
    pub document: Option<Vec<[f32; 2]>>,
    pub frames: u64,
    /// The camera failed (and is being retried).
    pub error: Option<String>,
    /// Photos taken so far.
    pub photos: Vec<PhotoView>,
    /// The steps this exam's check-in asks for, in order: `face`,
    /// `liveness` (the head-turn check, no photo), `id`, then the room
    /// sides.
    pub required: Vec<String>,
    /// The head-turn check, when the exam asks for it.
    pub liveness: Option<LivenessView>,
    /// Every photo the check-in needs is taken (and the head-turn check
    /// passed).
    pub complete: bool,
}

/// A photo taken, as the UI lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhotoView {
    /// `face`, `id`, or a room side.
    pub slot: String,
    pub label: String,
    /// Small JPEG as a `data:` URL.
    pub thumbnail: String,
    /// The ID photo: its portrait against the face photo (none for other
    /// photos, or without a face photo to compare with).
    pub identity: Option<IdentityView>,
}

/// ID photos whose portrait does not match the face photo before the
/// check-in stops asking for a retake and leaves it to proctors.
pub const MAX_ID_ATTEMPTS: u32 = 2;

/// The ID's portrait against the face photo, as the check-in shows it
/// (docs/identity.md). Never a refusal: a low result asks for a retake,
/// and after [`MAX_ID_ATTEMPTS`] the session goes on, flagged for proctors.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IdentityView {
    /// A portrait was found on the ID.
    pub id_face_found: bool,
    pub similarity: Option<f32>,
    pub same_person: bool,
    /// ID photos taken so far (retakes included).
    pub attempts: u32,
    /// Ask for another ID photo, with `hint`.
    pub retake: bool,
    /// No match after the last attempt: the exam goes on and proctors
    /// compare the photos themselves.
    pub for_review: bool,
    pub hint: Option<String>,
}

/// A photo taken, with what goes to the server.
#[derive(Clone, Debug)]
pub struct Photo {
    /// Media kind: `face_photo`, `id_photo` or `room_scan`.
    pub kind: MediaKind,
    pub slot: String,
    pub label: String,
    pub jpeg: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub signature: ViewSignature,
    pub measures: Vec<(String, f32)>,
    /// The face photo's face, or the ID's portrait, as an embedding (none
    /// when it could not be found or compared).
    pub embedding: Option<Embedding>,
    /// How many photos of this slot were taken, this one included.
    pub attempt: u32,
    /// The ID photo: the portrait compared, `[x, y, width, height]` as
    /// fractions of the photo (for proctors to see it beside the face).
    pub portrait: Option<[f32; 4]>,
}

/// The ID photo's portrait against the face photo, when both were taken.
pub fn identity_of(photos: &[Photo]) -> Option<IdentityView> {
    let face = photos
        .iter()
        .find(|p| p.slot == "face")?
        .embedding
        .as_ref()?;
    let id = photos.iter().find(|p| p.slot == "id")?;
    let similarity = id.embedding.as_ref().map(|e| e.similarity(face));
    let same_person = similarity.is_some_and(|s| s >= SAME_PERSON_MIN_SIMILARITY);
    let retake = !same_person && id.attempt < MAX_ID_ATTEMPTS;
    let hint = (!same_person).then(|| {
        let what = if similarity.is_none() {
            "The photo on your ID could not be made out."
        } else {
            "The photo on your ID does not look enough like your face photo."
        };
        if retake {
            format!("{what} Please take the ID photo again: hold the ID closer so its photo is larger and sharp, tilt it so no light reflects on the photo, and show the side with your photo.")
        } else {
            format!("{what} You can go on: a proctor will compare your photos.")
        }
    });
    Some(IdentityView {
        id_face_found: id.embedding.is_some(),
        similarity: similarity.map(|s| (s * 1e4).round() / 1e4),
        same_person,
        attempts: id.attempt,
        retake,
        for_review: !same_person && !retake,
        hint,
    })
}

/// Photos a full check-in holds: face, ID and every room side.
pub const CHECKIN_PHOTOS: usize = 2 + ROOM_SIDES.len();

/// The steps a check-in with these requirements asks for, in order: the
/// photo slots, and `liveness` for the head-turn check.
pub fn required_slots(requires: &CheckinRequirements) -> Vec<String> {
    let mut slots = Vec::new();
    if requires.face {
        slots.push("face".to_owned());
        if requires.liveness {
            slots.push(LIVENESS.to_owned());
        }
    }
    if requires.id {
        slots.push("id".to_owned());
    }
    if requires.room {
        slots.extend(ROOM_SIDES.iter().map(|(s, _)| (*s).to_owned()));
    }
    slots
}

/// How a photo is named to the candidate when a room view looks like it:
/// `face photo`, `view of the wall in front of you`, ...
pub fn photo_label(slot: &str) -> String {
    match slot {
        "face" => "face photo".to_owned(),
        side => format!(
            "view of {}",
            ROOM_SIDES
                .iter()
                .find(|(s, _)| *s == side)
                .map_or(side, |(_, w)| w)
        ),
    }
}

pub(super) fn slot_order(slot: &str) -> usize {
    match slot {
        "face" => 0,
        "id" => 1,
        side => 2 + ROOM_SIDES.iter().position(|(s, _)| *s == side).unwrap_or(9),
    }
}

pub(super) fn photo_view(p: &Photo, photos: &[Photo]) -> PhotoView {
    PhotoView {
        slot: p.slot.clone(),
        label: p.label.clone(),
        thumbnail: crate::picture::data_url(&p.thumbnail),
        identity: (p.slot == "id").then(|| identity_of(photos)).flatten(),
    }
}
