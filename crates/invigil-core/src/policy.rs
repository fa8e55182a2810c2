//! The exam policy: rule timings and thresholds, read from TOML.

use serde::{Deserialize, Serialize};

use crate::ObjectLabel;

/// Exam rules and their thresholds. Every key is optional in the TOML file;
/// a missing key keeps its default. Unknown keys are an error, so a typo
/// never silently falls back to a default. See docs/policy.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// No face this long: `absence_warning`, shown to the candidate.
    pub absence_warn_s: f64,
    /// No face this long: `candidate_absent`.
    pub absence_flag_s: f64,
    /// A face back this long ends an absence: `candidate_returned`.
    pub return_confirm_s: f64,
    /// Two or more faces this long: `multiple_faces`.
    pub multiple_faces_flag_s: f64,
    /// Frame dark or featureless this long: `camera_blocked`.
    pub blocked_flag_s: f64,
    /// Frames unchanged this long: `camera_frozen`.
    pub frozen_flag_s: f64,
    /// A condition (two faces, blocked, frozen) must be gone this long before
    /// its `*_cleared` / `camera_un*` event; shorter gaps are bridged.
    pub clear_confirm_s: f64,
    /// Before anything is raised, a condition that lapses for this long ends
    /// its episode (a face seen again for 0.3 s ends a beginning absence);
    /// shorter lapses, single-frame detector misses or false detections, are
    /// bridged.
    pub debounce_s: f64,
    /// Faces scoring below this are ignored by the rules.
    pub min_face_score: f64,
    /// For `multiple_faces`, only faces scoring at least this count: a
    /// phantom face in a textured background must not flag a candidate.
    pub multiple_faces_min_score: f64,
    /// Mean luma (0-255) at or below which a frame counts as dark (blocked).
    pub blocked_max_luma: f64,
    /// Luma standard deviation at or below which a frame counts as
    /// featureless (blocked): a lens covered by tape, a finger, a lid.
    pub blocked_max_contrast: f64,
    /// Edge detail at or below which a frame counts as featureless (blocked).
    pub blocked_max_detail: f64,
    /// Largest change of any fingerprint cell between consecutive frames
    /// (luma levels) at or below which a frame counts as unchanged (frozen).
    /// Judging by the largest change, not the mean, keeps a still room
    /// behind a codec that repeats most of the picture from looking frozen
    /// as long as anything in it moves.
    pub frozen_max_change: f64,
    /// Seconds of video before a violation kept in its flagged clip.
    pub clip_pre_roll_s: f64,
    /// Seconds of video after a violation kept in its flagged clip; a
    /// further violation within it extends the clip.
    pub clip_post_roll_s: f64,
    /// Longest clip; a clip extended this far is closed and a later
    /// violation opens a new one.
    pub clip_max_s: f64,
    /// Frames per second kept for clips (the camera's rate is thinned).
    pub clip_fps: f64,
    /// Clips are scaled down to fit this size (aspect kept).
    pub clip_max_width: u32,
    pub clip_max_height: u32,
    /// Spot checks: the server asks for a small snapshot at random moments,
    /// on average this often (seconds), and checks the analysis on it. 0
    /// turns them off. See docs/spot-checks.md.
    pub spot_check_s: f64,
    /// Identity (with a reference face, docs/identity.md): the face in view
    /// is the candidate when its similarity to the reference is at least
    /// this.
    pub identity_min_similarity: f64,
    /// Compare the face in view with the reference this often (seconds);
    /// also at once after every return and every second while a mismatch is
    /// unresolved.
    pub identity_check_interval_s: f64,
    /// A face that has not matched the reference this long:
    /// `identity_mismatch`.
    pub identity_flag_s: f64,
    /// ...this long when the mismatch began with the first comparison after
    /// an absence (whoever sat down has never matched since).
    pub identity_return_flag_s: f64,
    /// A face whose shape has not changed for this long: `static_face` (a
    /// photograph); 0 turns it off.
    pub static_face_s: f64,
    /// Largest change of the face's shape (nose and mouth in units of the
    /// eye distance) that still counts as not moving.
    pub static_face_max_motion: f64,
    /// Looking away (docs/conduct.md): the head turned away from the
    /// candidate's own neutral pose this long: `looking_away_warning`,
    /// shown to the candidate.
    pub looking_away_warn_s: f64,
    /// ...this long: `looking_away`. 0 turns the rule off.
    pub looking_away_flag_s: f64,
    /// The head counts as turned away beyond this many degrees of yaw
    /// (to either side) from the neutral pose...
    pub looking_away_max_yaw_deg: f64,
    /// ...or this many degrees of pitch (up or down).
    pub looking_away_max_pitch_deg: f64,
    /// The neutral pose is the median of the head poses measured over the
    /// first this many seconds with a face in view.
    pub looking_away_calibrate_s: f64,
    /// Exam aid: paper on the desk. Looking down is never flagged.
    pub scratch_paper: bool,
    /// Exam aid: books on the desk. A book in view is never flagged.
    pub books: bool,
    /// Objects in view (docs/conduct.md): what is flagged. `person` is a
    /// second person whose face is not visible. Empty turns the rule off.
    pub object_labels: Vec<ObjectLabel>,
    /// An object seen this long: `object_detected`.
    pub object_flag_s: f64,
    /// Objects scoring below this are ignored.
    pub object_min_score: f64,
    /// Look for objects this often (seconds), and at once when the number
    /// of faces changes.
    pub object_interval_s: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            absence_warn_s: 2.0,
            absence_flag_s: 5.0,
            return_confirm_s: 1.0,
            multiple_faces_flag_s: 1.0,
            blocked_flag_s: 3.0,
            frozen_flag_s: 3.0,
            clear_confirm_s: 1.0,
            debounce_s: 0.3,
            min_face_score: 0.6,
            multiple_faces_min_score: 0.75,
            blocked_max_luma: 10.0,
            blocked_max_contrast: 4.0,
            blocked_max_detail: 0.6,
            frozen_max_change: 0.1,
            clip_pre_roll_s: 5.0,
            clip_post_roll_s: 5.0,
            clip_max_s: 30.0,
            clip_fps: 10.0,
            clip_max_width: 640,
            clip_max_height: 480,
            spot_check_s: 60.0,
            identity_min_similarity: 0.35,
            identity_check_interval_s: 10.0,
            identity_flag_s: 5.0,
            identity_return_flag_s: 2.0,
            static_face_s: 120.0,
            static_face_max_motion: 0.03,
            looking_away_warn_s: 5.0,
            looking_away_flag_s: 15.0,
            looking_away_max_yaw_deg: 30.0,
            looking_away_max_pitch_deg: 25.0,
            looking_away_calibrate_s: 10.0,
            scratch_paper: false,
            books: false,
            object_labels: vec![ObjectLabel::Person, ObjectLabel::Phone, ObjectLabel::Book],
            object_flag_s: 2.0,
            object_min_score: 0.55,
            object_interval_s: 2.0,
        }
    }
}

/// A policy that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: `{key}` {problem}")]
    Invalid {
        origin: String,
        key: &'static str,
        problem: String,
    },
}

impl Policy {
    /// Parses and validates a policy file's text. `origin` names the file in
    /// errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        policy.validate(origin)?;
        Ok(policy)
    }

    /// Reads policy keys given as a JSON object (an exam's policy, an
    /// accommodation) over the defaults, checked as a file is.
    pub fn from_json_keys(
        keys: &serde_json::Map<String, serde_json::Value>,
        origin: &str,
    ) -> Result<Self, PolicyError> {
        let policy: Policy = serde_json::from_value(serde_json::Value::Object(keys.clone()))
            .map_err(|e| PolicyError::Parse {
                origin: origin.to_owned(),
                message: e.to_string(),
            })?;
        policy.validate(origin)?;
        Ok(policy)
    }

    /// Applies overrides (e.g. a scenario's `[policy]` table) on top of this
    /// policy and validates the result.
    pub fn with_overrides(
        &self,
        overrides: &toml::Table,
        origin: &str,
    ) -> Result<Self, PolicyError> {
        let mut table = toml::Table::try_from(self).map_err(|e| PolicyError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        for (k, v) in overrides {
            table.insert(k.clone(), v.clone());
        }
        let policy: Policy = table
            .try_into()
            .map_err(|e: toml::de::Error| PolicyError::Parse {
                origin: origin.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        policy.validate(origin)?;
        Ok(policy)
    }

    /// Checks ranges and the relations between keys.
    pub fn validate(&self, origin: &str) -> Result<(), PolicyError> {
        let invalid = |key: &'static str, problem: String| PolicyError::Invalid {
            origin: origin.to_owned(),
            key,
            problem,
        };
        let durations = [
            ("absence_warn_s", self.absence_warn_s),
            ("absence_flag_s", self.absence_flag_s),
            ("return_confirm_s", self.return_confirm_s),
            ("multiple_faces_flag_s", self.multiple_faces_flag_s),
            ("blocked_flag_s", self.blocked_flag_s),
            ("frozen_flag_s", self.frozen_flag_s),
            ("clear_confirm_s", self.clear_confirm_s),
            ("debounce_s", self.debounce_s),
            ("clip_pre_roll_s", self.clip_pre_roll_s),
            ("clip_post_roll_s", self.clip_post_roll_s),
            ("clip_max_s", self.clip_max_s),
            ("identity_flag_s", self.identity_flag_s),
            ("identity_return_flag_s", self.identity_return_flag_s),
            ("static_face_s", self.static_face_s),
            ("looking_away_warn_s", self.looking_away_warn_s),
            ("looking_away_flag_s", self.looking_away_flag_s),
            ("looking_away_calibrate_s", self.looking_away_calibrate_s),
            ("object_flag_s", self.object_flag_s),
        ];
        for (key, value) in durations {
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(
                    key,
                    format!("must be a duration in seconds, 0 or more; got {value}"),
                ));
            }
            if value > 86_400.0 {
                return Err(invalid(key, format!("is longer than a day ({value} s)")));
            }
        }
        if self.absence_flag_s < self.absence_warn_s {
            return Err(invalid(
                "absence_flag_s",
                format!(
                    "({}) must not be shorter than absence_warn_s ({}): the warning comes first",
                    self.absence_flag_s, self.absence_warn_s
                ),
            ));
        }
        if self.looking_away_flag_s > 0.0 && self.looking_away_flag_s < self.looking_away_warn_s {
            return Err(invalid(
                "looking_away_flag_s",
                format!(
                    "({}) must not be shorter than looking_away_warn_s ({}): the warning comes first (0 turns the rule off)",
                    self.looking_away_flag_s, self.looking_away_warn_s
                ),
            ));
        }
        for (key, value, max) in [
            (
                "looking_away_max_yaw_deg",
                self.looking_away_max_yaw_deg,
                90.0,
            ),
            (
                "looking_away_max_pitch_deg",
                self.looking_away_max_pitch_deg,
                90.0,
            ),
        ] {
            if !(value.is_finite() && value >= 5.0 && value <= max) {
                return Err(invalid(
                    key,
                    format!("must be between 5 and {max} degrees; got {value}"),
                ));
            }
        }
        let every = self.object_interval_s;
        if !(every.is_finite() && (0.5..=60.0).contains(&every)) {
            return Err(invalid(
                "object_interval_s",
                format!("must be between 0.5 and 60 seconds; got {every}"),
            ));
        }
        if self.clip_max_s > 300.0 {
            return Err(invalid(
                "clip_max_s",
                format!(
                    "must be at most 300 s (clips are evidence, not recordings); got {}",
                    self.clip_max_s
                ),
            ));
        }
        if !(self.clip_fps.is_finite() && (1.0..=30.0).contains(&self.clip_fps)) {
            return Err(invalid(
                "clip_fps",
                format!(
                    "must be between 1 and 30 frames a second; got {}",
                    self.clip_fps
                ),
            ));
        }
        for (key, value) in [
            ("clip_max_width", self.clip_max_width),
            ("clip_max_height", self.clip_max_height),
        ] {
            if !(64..=1920).contains(&value) {
                return Err(invalid(
                    key,
                    format!("must be between 64 and 1920 pixels; got {value}"),
                ));
            }
        }
        let spot = self.spot_check_s;
        if !(spot == 0.0 || (spot.is_finite() && (5.0..=3600.0).contains(&spot))) {
            return Err(invalid(
                "spot_check_s",
                format!("must be 0 (off) or between 5 and 3600 seconds; got {spot}"),
            ));
        }
        let interval = self.identity_check_interval_s;
        if !(interval.is_finite() && (1.0..=600.0).contains(&interval)) {
            return Err(invalid(
                "identity_check_interval_s",
                format!("must be between 1 and 600 seconds; got {interval}"),
            ));
        }
        let sim = self.identity_min_similarity;
        if !(sim.is_finite() && (-1.0..=1.0).contains(&sim)) {
            return Err(invalid(
                "identity_min_similarity",
                format!("must be a cosine similarity between -1 and 1; got {sim}"),
            ));
        }
        let motion = self.static_face_max_motion;
        if !(motion.is_finite() && (0.0..=1.0).contains(&motion)) {
            return Err(invalid(
                "static_face_max_motion",
                format!("must be between 0 and 1 (eye distances); got {motion}"),
            ));
        }
        for (key, value) in [
            ("min_face_score", self.min_face_score),
            ("multiple_faces_min_score", self.multiple_faces_min_score),
            ("object_min_score", self.object_min_score),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(invalid(
                    key,
                    format!("must be between 0 and 1; got {value}"),
                ));
            }
        }
        let levels = [
            ("blocked_max_luma", self.blocked_max_luma),
            ("blocked_max_contrast", self.blocked_max_contrast),
            ("blocked_max_detail", self.blocked_max_detail),
            ("frozen_max_change", self.frozen_max_change),
        ];
        for (key, value) in levels {
            if !(0.0..=255.0).contains(&value) {
                return Err(invalid(
                    key,
                    format!("must be a luma level between 0 and 255; got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// Whether objects of this kind are flagged: listed in `object_labels`
    /// and not allowed by an aid (`books`).
    pub fn flags_object(&self, label: ObjectLabel) -> bool {
        self.object_labels.contains(&label) && !(label == ObjectLabel::Book && self.books)
    }

    /// Whether a frame with these statistics shows nothing usable: too dark,
    /// or so flat that the lens must be covered.
    pub fn is_featureless(&self, scene: &crate::SceneStats) -> bool {
        f64::from(scene.luma) <= self.blocked_max_luma
            || f64::from(scene.contrast) <= self.blocked_max_contrast
            || f64::from(scene.detail) <= self.blocked_max_detail
    }
}

/// Seconds to whole milliseconds.
pub(crate) fn ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_table() {
        let p = Policy::from_toml("", "empty.toml").unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.absence_warn_s, 2.0);
        assert_eq!(p.absence_flag_s, 5.0);
        assert_eq!(p.return_confirm_s, 1.0);
        assert_eq!(p.multiple_faces_flag_s, 1.0);
        assert_eq!(p.blocked_flag_s, 3.0);
        assert_eq!(p.frozen_flag_s, 3.0);
    }

    #[test]
    fn integers_are_accepted_for_seconds() {
        let p = Policy::from_toml("absence_flag_s = 8\nabsence_warn_s = 2.5", "p.toml").unwrap();
        assert_eq!(p.absence_flag_s, 8.0);
        assert_eq!(p.absence_warn_s, 2.5);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Policy::from_toml("absence_flag = 3", "exam.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("exam.toml"), "{err}");
        assert!(err.contains("absence_flag"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Policy::from_toml("blocked_flag_s = \"three\"", "exam.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("blocked_flag_s"), "{err}");
    }

    #[test]
    fn negative_duration_is_rejected() {
        let err = Policy::from_toml("frozen_flag_s = -1", "exam.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("frozen_flag_s"), "{err}");
        assert!(err.contains("0 or more"), "{err}");
    }

    #[test]
    fn flag_before_warning_is_rejected() {
        let err = Policy::from_toml("absence_warn_s = 6", "exam.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("absence_flag_s"), "{err}");
    }

    #[test]
    fn conduct_keys_are_checked() {
        let p = Policy::from_toml(
            "object_labels = [\"phone\"]\nbooks = true\nlooking_away_flag_s = 0",
            "exam.toml",
        )
        .unwrap();
        assert!(p.flags_object(ObjectLabel::Phone));
        assert!(!p.flags_object(ObjectLabel::Person));
        let books = Policy {
            books: true,
            ..Policy::default()
        };
        assert!(!books.flags_object(ObjectLabel::Book));
        assert!(Policy::default().flags_object(ObjectLabel::Book));
        for (text, key) in [
            ("object_labels = [\"cat\"]", "cat"),
            ("looking_away_warn_s = 20", "looking_away_flag_s"),
            ("looking_away_max_yaw_deg = 2", "looking_away_max_yaw_deg"),
            ("object_interval_s = 0", "object_interval_s"),
            ("object_min_score = 2", "object_min_score"),
        ] {
            let err = Policy::from_toml(text, "exam.toml")
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn overrides_apply_and_validate() {
        let mut t = toml::Table::new();
        t.insert("absence_flag_s".into(), toml::Value::Float(10.0));
        let p = Policy::default().with_overrides(&t, "s.toml").unwrap();
        assert_eq!(p.absence_flag_s, 10.0);
        t.insert("bogus".into(), toml::Value::Integer(1));
        let err = Policy::default().with_overrides(&t, "s.toml").unwrap_err();
        assert!(err.to_string().contains("bogus"));
    }
}
