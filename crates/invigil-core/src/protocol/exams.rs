//! Exams, enrolments and launch codes (docs/exams.md): an institution
//! defines the exam and its rules, enrols its candidates, and a candidate
//! starts with a launch code instead of choosing an exam and a policy.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Policy;

// ---------------------------------------------------------------- launch codes

/// The characters of a launch code: digits 2-9 and the letters without I
/// and O (32 symbols, 5 bits each), so nothing reads as another character.
pub const LAUNCH_CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Symbols in a launch code: 16 x 5 = 80 random bits.
pub const LAUNCH_CODE_SYMBOLS: usize = 16;

/// A launch code, e.g. `K7QF-3MZC-T9XA-HW4P`: single use, valid only in
/// its exam's window. Typed in any case, with or without the dashes or
/// spaces. Its `Debug` form hides it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
#[cfg_attr(feature = "openapi", derive(ToSchema), schema(value_type = String, example = "K7QF-3MZC-T9XA-HW4P"))]
pub struct LaunchCode(String);

impl LaunchCode {
    /// What a valid code looks like, for error messages.
    pub const SHAPE: &'static str = "a launch code is 16 characters (digits 2-9 and letters other than I and O) in four groups of four, e.g. K7QF-3MZC-T9XA-HW4P";

    /// Reads a code as a person types it: case, dashes and spaces do not
    /// matter; anything else outside the alphabet is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut symbols = String::with_capacity(LAUNCH_CODE_SYMBOLS);
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = c.to_ascii_uppercase();
            if !c.is_ascii() || !LAUNCH_CODE_ALPHABET.contains(&(c as u8)) {
                return Err(format!("`{c}` is not in a launch code; {}", Self::SHAPE));
            }
            symbols.push(c);
            if symbols.len() > LAUNCH_CODE_SYMBOLS {
                break;
            }
        }
        if symbols.len() != LAUNCH_CODE_SYMBOLS {
            return Err(Self::SHAPE.to_owned());
        }
        Ok(Self(symbols))
    }

    /// A code from 10 random bytes (80 bits; the caller draws them).
    pub fn from_random(bytes: [u8; 10]) -> Self {
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | u128::from(b);
        }
        let symbols = (0..LAUNCH_CODE_SYMBOLS)
            .map(|i| {
                let shift = 5 * (LAUNCH_CODE_SYMBOLS - 1 - i);
                LAUNCH_CODE_ALPHABET[((bits >> shift) & 31) as usize] as char
            })
            .collect();
        Self(symbols)
    }

    /// The 16 symbols without dashes: what is hashed and stored.
    pub fn canonical(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LaunchCode {
    /// Four groups of four, joined by dashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for LaunchCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LaunchCode(…)")
    }
}

impl TryFrom<String> for LaunchCode {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<LaunchCode> for String {
    fn from(c: LaunchCode) -> String {
        c.to_string()
    }
}

// ---------------------------------------------------------------- exams

/// What the check-in before the exam asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CheckinRequirements {
    /// A face photo.
    pub face: bool,
    /// A photo of an identity document.
    pub id: bool,
    /// A scan of the room.
    pub room: bool,
    /// With the face photo, a head-turn liveness check (docs/identity.md):
    /// a printed photo or a screen held to the camera does not pass. Turn
    /// it off for a candidate who cannot turn their head (an
    /// accommodation); without `face` it asks for nothing.
    pub liveness: bool,
}

impl Default for CheckinRequirements {
    fn default() -> Self {
        Self {
            face: true,
            id: true,
            room: true,
            liveness: true,
        }
    }
}

/// Whether the exam clock runs during a break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum BreakClock {
    /// The exam time stops during a break (the window still closes on time).
    #[default]
    Paused,
    /// Breaks come out of the exam time.
    Running,
}

/// Breaks the candidate may take.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Breaks {
    /// How many (1-20).
    pub count: u32,
    /// How long each may last, in minutes (more than 0, at most 240).
    pub minutes: f64,
    #[serde(default)]
    pub clock: BreakClock,
}

/// The aids an exam allows; the rules honour them.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Aids {
    /// Paper on the desk: looking down at it is not a violation (the
    /// policy key `scratch_paper`).
    pub scratch_paper: bool,
    /// Books on the desk: a book in view is not a violation (the policy
    /// key `books`).
    pub books: bool,
    /// Breaks: `null` allows none.
    #[cfg_attr(feature = "ts", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks: Option<Breaks>,
}

impl Aids {
    /// Checks the numbers; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(b) = &self.breaks {
            if !(1..=20).contains(&b.count) {
                return Err((
                    "aids.breaks.count".into(),
                    format!("must be between 1 and 20; got {}", b.count),
                ));
            }
            if !(b.minutes.is_finite() && b.minutes > 0.0 && b.minutes <= 240.0) {
                return Err((
                    "aids.breaks.minutes".into(),
                    format!("must be more than 0 and at most 240; got {}", b.minutes),
                ));
            }
        }
        Ok(())
    }
}

/// `POST /api/v1/exams` (admins) and `PUT /api/v1/exams/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewExam {
    /// 1-64 of A-Z a-z 0-9 . _ : -; generated when absent (on PUT, the same
    /// id or none).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id: Option<String>,
    pub title: String,
    /// Launch codes work from this time (ms since the Unix epoch) ...
    pub opens_ms: i64,
    /// ... until this one.
    pub closes_ms: i64,
    /// Policy keys (docs/policy.md) set for this exam; the others keep
    /// their defaults. Checked as `invigil policy --check` checks a file.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: Map<String, Value>,
    #[serde(default)]
    pub checkin: CheckinRequirements,
    #[serde(default)]
    pub aids: Aids,
}

/// An exam as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Exam {
    pub id: String,
    pub title: String,
    pub opens_ms: i64,
    pub closes_ms: i64,
    /// The policy keys set for the exam (the rest are defaults).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub policy: Map<String, Value>,
    pub checkin: CheckinRequirements,
    pub aids: Aids,
    /// The admin who created it.
    pub created_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Candidates enrolled.
    pub enrolled: i64,
    /// Sessions started (the exam can no longer be changed once one has).
    pub started: i64,
    /// When its results were last analysed (`GET .../forensics` has the
    /// report); none: never uploaded.
    #[serde(default)]
    pub results_analysed_ms: Option<i64>,
}

/// `GET /api/v1/exams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExamList {
    pub exams: Vec<Exam>,
}

// ---------------------------------------------------------------- enrolments

/// One candidate to enrol.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewEnrolment {
    /// The institution's id of the candidate (1-200 of A-Z a-z 0-9 . _ : - @).
    pub candidate_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// Accommodations: policy keys that differ for this candidate (e.g. a
    /// longer `absence_flag_s` for a documented medical need).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub overrides: Map<String, Value>,
}

/// `POST /api/v1/exams/{id}/enrolments` (admins): enrols candidates, all or
/// none. A CSV roster (`candidate_id,name,email`) goes to `.../roster`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Enrol {
    pub candidates: Vec<NewEnrolment>,
}

/// `POST /api/v1/exams/{id}/roster` as JSON (what the console sends): the
/// CSV file's text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RosterUpload {
    pub csv: String,
}

/// An enrolment as the server holds it (never its code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Enrolment {
    pub exam_id: String,
    pub candidate_id: String,
    pub name: String,
    pub email: String,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub overrides: Map<String, Value>,
    pub created_ms: i64,
    /// The session its launch code started; `null` while unused.
    pub session_id: Option<String>,
    pub redeemed_ms: Option<i64>,
}

/// `GET /api/v1/exams/{id}/enrolments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolmentList {
    pub enrolments: Vec<Enrolment>,
}

/// A launch code, shown once: the server keeps only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IssuedCode {
    pub candidate_id: String,
    pub name: String,
    pub email: String,
    pub code: LaunchCode,
    /// The offline ticket for this code (docs/exams.md): a launch link with
    /// it lets the candidate's client begin before it reaches the server.
    pub ticket: String,
}

/// Codes issued by an enrolment or a reissue, for mailing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Issued {
    pub exam_id: String,
    pub codes: Vec<IssuedCode>,
}

/// `POST /api/v1/exams/{id}/codes` (admins): new codes for unused
/// enrolments (their old codes stop working).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Reissue {
    /// These candidates; absent: every enrolment whose code is unused.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub candidates: Option<Vec<String>>,
}

/// `PUT /api/v1/exams/{id}/enrolments/{candidate}` (admins): a candidate's
/// accommodations, replacing the earlier ones (until the session starts).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Accommodations {
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub overrides: Map<String, Value>,
    /// Why (e.g. "medical: documented, ref 2026-114"); kept in the audit trail.
    #[serde(default)]
    pub reason: String,
}

/// What a launch code started: the exam as the candidate's client runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExamBrief {
    pub id: String,
    pub title: String,
    pub opens_ms: i64,
    pub closes_ms: i64,
    pub checkin: CheckinRequirements,
    pub aids: Aids,
    /// Policy keys changed for this candidate (accommodations).
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub accommodations: Map<String, Value>,
}

/// "3 h 20 min", "12 min", "40 s" (minutes rounded up).
pub fn wait_words(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 60 {
        return format!("{s} s");
    }
    let m = (s + 59) / 60;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) if h < 48 => format!("{h} h"),
        (h, m) if h < 48 => format!("{h} h {m} min"),
        _ => format!("{} days", m / 1440),
    }
}

/// The policy in force for a candidate: the defaults, the exam's keys, the
/// aids it allows (`scratch_paper`, `books`), then the candidate's
/// accommodations; checked as a policy file is. The error is the message
/// of the first problem.
pub fn effective_policy(
    exam: &Map<String, Value>,
    aids: &Aids,
    overrides: &Map<String, Value>,
) -> Result<Policy, String> {
    let mut keys = exam.clone();
    for (key, allowed) in [("scratch_paper", aids.scratch_paper), ("books", aids.books)] {
        if allowed {
            keys.insert(key.into(), Value::Bool(true));
        }
    }
    for (k, v) in overrides {
        keys.insert(k.clone(), v.clone());
    }
    Policy::from_json_keys(&keys, "policy").map_err(|e| e.to_string())
}

/// Keys whose values differ between two policies, each as (key, a, b).
pub fn policy_differences(a: &Policy, b: &Policy) -> Vec<(String, Value, Value)> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    a.iter()
        .filter_map(|(k, va)| {
            let vb = b.get(k).cloned().unwrap_or(Value::Null);
            (*va != vb).then(|| (k.clone(), va.clone(), vb))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn launch_codes_are_80_bits_in_four_groups_without_ambiguous_characters() {
        let code = LaunchCode::from_random([0xff; 10]);
        assert_eq!(code.to_string(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ");
        let code = LaunchCode::from_random([0; 10]);
        assert_eq!(code.to_string(), "2222-2222-2222-2222");
        let code = LaunchCode::from_random([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let shown = code.to_string();
        assert_eq!(shown.len(), 19);
        for c in ['0', '1', 'I', 'O'] {
            assert!(!LAUNCH_CODE_ALPHABET.contains(&(c as u8)));
        }
        // Typed back in any case and spacing.
        let typed = shown.to_lowercase().replace('-', " ");
        assert_eq!(LaunchCode::parse(&typed).unwrap(), code);
        assert_eq!(LaunchCode::parse(&shown.replace('-', "")).unwrap(), code);
        // Every bit reaches the code: distinct inputs, distinct codes.
        let mut seen = std::collections::HashSet::new();
        for i in 0..80 {
            let mut b = [0u8; 10];
            b[i / 8] = 1 << (i % 8);
            assert!(seen.insert(LaunchCode::from_random(b).canonical().to_owned()));
        }
    }

    #[test]
    fn malformed_codes_say_what_a_code_is() {
        for bad in [
            "",
            "ABCD",
            "ABCD-EFGH-JKMN-PQR0",
            "ABCD-EFGH-JKMN-PQRSX",
            "ÄBCD-EFGH-JKMN-PQRS",
        ] {
            let e = LaunchCode::parse(bad).unwrap_err();
            assert!(e.contains("16 characters"), "{bad}: {e}");
        }
        assert!(format!("{:?}", LaunchCode::from_random([7; 10])).contains('…'));
    }

    #[test]
    fn the_effective_policy_layers_exam_and_accommodations() {
        let exam = json!({"absence_flag_s": 8.0, "absence_warn_s": 3.0});
        let over = json!({"absence_flag_s": 30.0});
        let p = effective_policy(
            exam.as_object().unwrap(),
            &Aids::default(),
            over.as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(p.absence_flag_s, 30.0);
        assert_eq!(p.absence_warn_s, 3.0);
        assert_eq!(p.blocked_flag_s, Policy::default().blocked_flag_s);
        let diff = policy_differences(&p, &Policy::default());
        let keys: Vec<_> = diff.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(keys, ["absence_flag_s", "absence_warn_s"]);

        let e = effective_policy(
            json!({"absence_flag_z": 1}).as_object().unwrap(),
            &Aids::default(),
            &Map::new(),
        )
        .unwrap_err();
        assert!(e.contains("absence_flag_z"), "{e}");
        let e = effective_policy(
            &Map::new(),
            &Aids::default(),
            json!({"absence_flag_s": 0.5}).as_object().unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("absence_flag_s"), "{e}");
    }

    #[test]
    fn the_aids_allow_what_they_name_and_an_accommodation_can_too() {
        let aids = Aids {
            scratch_paper: true,
            books: true,
            breaks: None,
        };
        let p = effective_policy(&Map::new(), &aids, &Map::new()).unwrap();
        assert!(p.scratch_paper && p.books);
        let p = effective_policy(&Map::new(), &Aids::default(), &Map::new()).unwrap();
        assert!(!p.scratch_paper && !p.books);
        let over = json!({"scratch_paper": true});
        let p = effective_policy(&Map::new(), &Aids::default(), over.as_object().unwrap()).unwrap();
        assert!(p.scratch_paper && !p.books);
    }
}
