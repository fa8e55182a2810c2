//! What the check-in screen shows, and the photos it keeps.

use invigil_core::protocol::{CheckinRequirements, MediaKind};
use invigil_vision::checkin::ViewSignature;
use serde::{Deserialize, Serialize};

use crate::view::FaceBox;

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
    /// The photos this exam's check-in asks for, in order: `face`, `id`,
    /// then the room sides.
    pub required: Vec<String>,
    /// Every photo the check-in needs is taken.
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
}

/// Photos a full check-in holds: face, ID and every room side.
pub const CHECKIN_PHOTOS: usize = 2 + ROOM_SIDES.len();

/// The photo slots a check-in with these requirements asks for, in order.
pub fn required_slots(requires: &CheckinRequirements) -> Vec<String> {
    let mut slots = Vec::new();
    if requires.face {
        slots.push("face".to_owned());
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

pub(super) fn photo_view(p: &Photo) -> PhotoView {
    PhotoView {
        slot: p.slot.clone(),
        label: p.label.clone(),
        thumbnail: crate::picture::data_url(&p.thumbnail),
    }
}
