//! What the analyzer saw in one frame.

use serde::{Deserialize, Serialize};

use crate::Frame;

/// One detected face, in the original frame's pixel coordinates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Detector confidence in `[0, 1]`.
    pub score: f32,
    /// `[x, y, width, height]`, top-left origin.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Six keypoints `[x, y]`: right eye, left eye, nose tip, mouth centre,
    /// right ear tragion, left ear tragion (the subject's right and left).
    pub keypoints: [[f32; 2]; 6],
}

impl Face {
    /// Centre of the box.
    pub fn center(&self) -> [f32; 2] {
        [
            self.bbox[0] + self.bbox[2] / 2.0,
            self.bbox[1] + self.bbox[3] / 2.0,
        ]
    }
}

/// Where a face points, in degrees, measured from its landmarks (the
/// analyzer's face mesh; docs/conduct.md). Absolute: the looking-away rule
/// compares it with the candidate's own neutral pose, not with zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    /// Turn about the vertical axis: positive towards the candidate's
    /// left (the right of an unmirrored camera picture).
    pub yaw: f32,
    /// Nod: positive up.
    pub pitch: f32,
    /// Tilt of the eye line in the picture: positive clockwise.
    pub roll: f32,
}

/// What the object detector can name (a subset of COCO's classes, with
/// the names the events use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectLabel {
    Person,
    Phone,
    Book,
    Laptop,
    /// A television or computer monitor.
    Screen,
}

impl ObjectLabel {
    pub const ALL: [ObjectLabel; 5] = [
        ObjectLabel::Person,
        ObjectLabel::Phone,
        ObjectLabel::Book,
        ObjectLabel::Laptop,
        ObjectLabel::Screen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectLabel::Person => "person",
            ObjectLabel::Phone => "phone",
            ObjectLabel::Book => "book",
            ObjectLabel::Laptop => "laptop",
            ObjectLabel::Screen => "screen",
        }
    }
}

impl std::str::FromStr for ObjectLabel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ObjectLabel::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("unknown object `{s}` (known: person, phone, book, laptop, screen)")
            })
    }
}

/// One object found in a frame, in the frame's pixel coordinates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeenObject {
    pub label: ObjectLabel,
    /// Detector confidence in `[0, 1]`.
    pub score: f32,
    /// `[x, y, width, height]`, top-left origin.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

impl SeenObject {
    /// Whether a point lies in the box.
    pub fn contains(&self, p: [f32; 2]) -> bool {
        let [x, y, w, h] = self.bbox;
        p[0] >= x && p[0] <= x + w && p[1] >= y && p[1] <= y + h
    }
}

/// A small luminance thumbnail of a frame, used to tell whether consecutive
/// frames differ (a frozen camera) without keeping the frame itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fingerprint {
    /// Mean luma (0..=255) of each cell of a fixed grid, row-major.
    pub cells: Vec<f32>,
}

impl Fingerprint {
    /// Mean absolute difference between two fingerprints in luma levels
    /// (0..=255); `None` when they come from different grids.
    pub fn distance(&self, other: &Fingerprint) -> Option<f32> {
        if self.cells.len() != other.cells.len() || self.cells.is_empty() {
            return None;
        }
        let sum: f32 = self
            .cells
            .iter()
            .zip(&other.cells)
            .map(|(a, b)| (a - b).abs())
            .sum();
        Some(sum / self.cells.len() as f32)
    }

    /// Largest absolute difference of any one cell, in luma levels; `None`
    /// when the fingerprints come from different grids. Zero for a repeated
    /// frame; a live camera's noise or any movement moves some cell by more
    /// than a fraction of a level.
    pub fn max_difference(&self, other: &Fingerprint) -> Option<f32> {
        if self.cells.len() != other.cells.len() || self.cells.is_empty() {
            return None;
        }
        Some(
            self.cells
                .iter()
                .zip(&other.cells)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max),
        )
    }
}

/// Whole-frame statistics, computed on every frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SceneStats {
    /// Mean luma, 0..=255.
    pub luma: f32,
    /// Standard deviation of luma across the frame, in luma levels.
    pub contrast: f32,
    /// Mean absolute luma step between neighbouring thumbnail cells: edges and
    /// texture. A lens covered by a finger or tape has almost none.
    pub detail: f32,
    pub fingerprint: Fingerprint,
}

impl SceneStats {
    /// Statistics of an ordinary, lit, changing scene; for tests and examples.
    /// `n` varies the fingerprint so consecutive frames differ.
    pub fn test_pattern(n: u64) -> Self {
        Self {
            luma: 110.0,
            contrast: 45.0,
            detail: 12.0,
            fingerprint: Fingerprint {
                cells: vec![(n % 7) as f32; 4],
            },
        }
    }
}

/// Everything the rule engine learns about one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// Media time of the frame, milliseconds.
    pub t_ms: u64,
    /// Faces found, best first. When the detector skipped this frame (nothing
    /// changed, or the detection rate cap), these are the last frame's faces.
    pub faces: Vec<Face>,
    /// Whether the detector ran on this frame.
    pub detected: bool,
    pub scene: SceneStats,
    /// Cosine similarity between the reference face (the check-in's) and
    /// the best-matching face in view, when the analyzer compared them on
    /// this frame (now and then, not every frame; docs/identity.md).
    pub identity: Option<f32>,
    /// The head pose of the main face (the largest), when the analyzer
    /// measured it on this frame (a few times a second).
    pub pose: Option<HeadPose>,
    /// Objects in view, when the object detector ran on this frame (every
    /// few seconds); `None` on the frames in between.
    pub objects: Option<Vec<SeenObject>>,
}

impl Observation {
    pub fn new(t_ms: u64, faces: Vec<Face>, scene: SceneStats) -> Self {
        Self {
            t_ms,
            faces,
            detected: true,
            scene,
            identity: None,
            pose: None,
            objects: None,
        }
    }
}

/// Turns frames into observations. Implemented by `invigil-vision`; tests use
/// scripted analyzers.
pub trait Analyzer {
    type Error: std::error::Error + Send + Sync + 'static;

    fn analyze(&mut self, frame: &Frame) -> Result<Observation, Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_distance() {
        let a = Fingerprint {
            cells: vec![0.0, 10.0],
        };
        let b = Fingerprint {
            cells: vec![2.0, 10.0],
        };
        assert_eq!(a.distance(&b), Some(1.0));
        assert_eq!(a.distance(&Fingerprint::default()), None);
        assert_eq!(a.max_difference(&b), Some(2.0));
        assert_eq!(a.max_difference(&a), Some(0.0));
    }

    #[test]
    fn face_serialises_box_key() {
        let face = Face {
            score: 0.9,
            bbox: [1.0, 2.0, 3.0, 4.0],
            keypoints: [[0.0; 2]; 6],
        };
        let json = serde_json::to_value(&face).unwrap();
        assert_eq!(json["box"], serde_json::json!([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(face.center(), [2.5, 4.0]);
    }
}
