//! Exams, enrolments and launch codes: the checks on what admins write, the
//! CSV roster, issuing codes and redeeming them (docs/exams.md).

use invigil_core::protocol::{
    effective_policy, Aids, CheckinRequirements, ExamBrief, LaunchCode, NewEnrolment, NewExam,
    OfflineTicket,
};
use invigil_core::Policy;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::validate::validate_label;
use crate::MAX_JSON_FIELD_BYTES;

/// Most candidates enrolled in one request (a roster file).
pub const MAX_ROSTER_ROWS: usize = 10_000;
/// Longest exam window: a year.
const MAX_WINDOW_MS: i64 = 366 * 24 * 3600 * 1000;

/// An exam id: 1-64 of A-Z a-z 0-9 . _ : - (it appears in URLs).
pub(crate) fn validate_exam_id(value: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "id",
            "an exam id is 1 to 64 characters of A-Z, a-z, 0-9, `.`, `_`, `:` and `-`",
        ))
    }
}

/// Checks an exam as an admin wrote it; the error names the field.
pub(crate) fn check_exam(exam: &NewExam) -> ApiResult<()> {
    if let Some(id) = &exam.id {
        validate_exam_id(id)?;
    }
    validate_label("title", &exam.title, 200)?;
    if exam.opens_ms < 0 || exam.closes_ms <= exam.opens_ms {
        return Err(ApiError::invalid_field(
            "closes_ms",
            format!(
                "the exam must close after it opens (opens_ms {}, closes_ms {})",
                exam.opens_ms, exam.closes_ms
            ),
        ));
    }
    if exam.closes_ms - exam.opens_ms > MAX_WINDOW_MS {
        return Err(ApiError::invalid_field(
            "closes_ms",
            "the exam's window is longer than a year",
        ));
    }
    check_keys("policy", &exam.policy)?;
    effective_policy(&exam.policy, &exam.aids, &Map::new())
        .map_err(|e| ApiError::invalid_field("policy", e))?;
    exam.aids.validate().map_err(|(field, problem)| {
        ApiError::invalid_field(field.clone(), format!("`{field}` {problem}"))
    })?;
    Ok(())
}

/// Size of a JSON object field (a policy, an accommodation).
fn check_keys(field: &str, keys: &Map<String, Value>) -> ApiResult<()> {
    let len = Value::Object(keys.clone()).to_string().len();
    if len > MAX_JSON_FIELD_BYTES {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` is {len} bytes as JSON; at most {MAX_JSON_FIELD_BYTES} are taken"),
        ));
    }
    Ok(())
}

/// Checks a candidate's accommodations against the exam's policy.
pub(crate) fn check_overrides(
    field: &str,
    exam_policy: &Map<String, Value>,
    overrides: &Map<String, Value>,
) -> ApiResult<Policy> {
    check_keys(field, overrides)?;
    effective_policy(exam_policy, &Aids::default(), overrides)
        .map_err(|e| ApiError::invalid_field(field, e))
}

/// Checks one enrolment's fields; `at` names it in errors (`candidates[3]`,
/// `roster line 4`).
pub(crate) fn check_enrolment(at: &str, e: &NewEnrolment) -> ApiResult<()> {
    let field = |f: &str| format!("{at}.{f}");
    validate_label(&field("candidate_id"), &e.candidate_id, 200)?;
    if e.candidate_id.trim() != e.candidate_id {
        return Err(ApiError::invalid_field(
            field("candidate_id"),
            format!("`{}` starts or ends with spaces", field("candidate_id")),
        ));
    }
    if e.name.chars().count() > 200 || e.name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field("name"),
            format!(
                "`{}` must be at most 200 characters, none of them control characters",
                field("name")
            ),
        ));
    }
    let email_ok = e.email.is_empty()
        || (e.email.len() <= 254
            && e.email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.starts_with('.')
            })
            && !e.email.chars().any(|c| c.is_whitespace() || c.is_control()));
    if !email_ok {
        return Err(ApiError::invalid_field(
            field("email"),
            format!(
                "`{}` is not an e-mail address: `{}`",
                field("email"),
                e.email
            ),
        ));
    }
    Ok(())
}

/// Reads a CSV roster: `candidate_id,name,email` (name and email may be
/// empty or missing), an optional header line naming the columns, RFC 4180
/// quoting (`"Smith, Jane"`), LF or CRLF lines, an optional UTF-8 BOM.
pub fn parse_roster(text: &str) -> Result<Vec<NewEnrolment>, ApiError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = csv_rows(text)?;
    let mut out = Vec::new();
    for (line, fields) in rows {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let at = format!("roster line {line}");
        if out.is_empty()
            && fields
                .first()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("candidate_id"))
        {
            continue;
        }
        if fields.len() > 3 {
            return Err(ApiError::invalid_field(
                at.clone(),
                format!(
                    "{at} has {} columns; a roster has candidate_id,name,email",
                    fields.len()
                ),
            ));
        }
        let mut fields = fields.into_iter();
        let e = NewEnrolment {
            candidate_id: fields.next().unwrap_or_default().trim().to_owned(),
            name: fields.next().unwrap_or_default().trim().to_owned(),
            email: fields.next().unwrap_or_default().trim().to_owned(),
            overrides: Map::new(),
        };
        check_enrolment(&at, &e)?;
        out.push(e);
        if out.len() > MAX_ROSTER_ROWS {
            return Err(ApiError::invalid_field(
                "roster",
                format!("a roster holds at most {MAX_ROSTER_ROWS} candidates; split it"),
            ));
        }
    }
    if out.is_empty() {
        return Err(ApiError::invalid_field(
            "roster",
            "the roster holds no candidates; expected lines of candidate_id,name,email",
        ));
    }
    Ok(out)
}

/// CSV records with the line each starts on.
pub(crate) fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, ApiError> {
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start = 1usize;
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(ApiError::invalid_field(
                    format!("roster line {line}"),
                    format!("roster line {line}: a quote inside a field that is not quoted"),
                ))
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                rows.push((start, std::mem::take(&mut fields)));
                was_quoted = false;
                line += 1;
                start = line;
            }
            _ if was_quoted => {
                return Err(ApiError::invalid_field(
                    format!("roster line {line}"),
                    format!("roster line {line}: text after a quoted field"),
                ))
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(ApiError::invalid_field(
            format!("roster line {start}"),
            format!("roster line {start}: a quoted field is not closed"),
        ));
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        rows.push((start, fields));
    }
    Ok(rows)
}

/// A fresh launch code from the OS random source.
/// The offline ticket for one enrolment's new code (docs/exams.md): a
/// session id set aside for it, the exam and the effective policy, signed.
pub(crate) fn ticket_for(
    signer: &crate::signing::Signer,
    exam: &ExamRow,
    candidate_id: &str,
    overrides: &Map<String, Value>,
    now_ms: i64,
) -> ApiResult<String> {
    let policy = effective_policy(&exam.policy(), &exam.aids(), overrides)
        .map_err(|e| ApiError::internal(format!("exam {}: the policy is invalid: {e}", exam.id)))?;
    let policy = match serde_json::to_value(&policy) {
        Ok(Value::Object(map)) => map,
        _ => return Err(ApiError::internal("a policy serialises to an object")),
    };
    Ok(signer.seal_ticket(&OfflineTicket {
        session_id: crate::auth::new_id(),
        candidate_id: candidate_id.to_owned(),
        exam: exam.brief(overrides.clone()),
        policy,
        issued_ms: now_ms,
        key_id: signer.public().key_id.clone(),
    }))
}

pub(crate) fn new_code() -> LaunchCode {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    LaunchCode::from_random(bytes)
}

/// What the database keeps of a code: its SHA-256 (80 random bits make a
/// slow hash unnecessary).
pub(crate) fn code_hash(code: &LaunchCode) -> String {
    crate::auth::token_hash(code.canonical())
}

/// An exam row, as its JSON columns are read.
#[derive(sqlx::FromRow)]
pub(crate) struct ExamRow {
    pub id: String,
    pub title: String,
    pub opens_ms: i64,
    pub closes_ms: i64,
    pub policy: String,
    pub checkin: String,
    pub aids: String,
    pub created_by: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl ExamRow {
    pub fn policy(&self) -> Map<String, Value> {
        serde_json::from_str(&self.policy).unwrap_or_default()
    }
    pub fn checkin(&self) -> CheckinRequirements {
        serde_json::from_str(&self.checkin).unwrap_or_default()
    }
    pub fn aids(&self) -> Aids {
        serde_json::from_str(&self.aids).unwrap_or_default()
    }
    pub fn brief(&self, accommodations: Map<String, Value>) -> ExamBrief {
        ExamBrief {
            id: self.id.clone(),
            title: self.title.clone(),
            opens_ms: self.opens_ms,
            closes_ms: self.closes_ms,
            checkin: self.checkin(),
            aids: self.aids(),
            accommodations,
        }
    }
}

/// The columns of [`ExamRow`] over `exams x`.
pub(crate) const EXAM_COLUMNS: &str = "x.id, x.title, x.opens_ms, x.closes_ms, x.policy, x.checkin, x.aids, x.created_by, x.created_ms, x.updated_ms";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosters_read_as_spreadsheets_write_them() {
        let text = "\u{feff}candidate_id,name,email\r\nc-1,\"Smith, Jane\",jane@example.org\r\n\r\nc-2,Åsa Öberg,\nc-3\n\"c-4\",\"Say \"\"hi\"\"\",x@y.z";
        let r = parse_roster(text).unwrap();
        let ids: Vec<_> = r.iter().map(|e| e.candidate_id.as_str()).collect();
        assert_eq!(ids, ["c-1", "c-2", "c-3", "c-4"]);
        assert_eq!(r[0].name, "Smith, Jane");
        assert_eq!(r[0].email, "jane@example.org");
        assert_eq!(r[1].name, "Åsa Öberg");
        assert_eq!(r[1].email, "");
        assert_eq!(r[3].name, "Say \"hi\"");
    }

    #[test]
    fn roster_errors_name_the_line() {
        for (text, line, what) in [
            ("a,b,c@d.e\nd,e,f@g.h,g\n", "roster line 2", "columns"),
            ("a,b,not-an-email\n", "roster line 1", "e-mail"),
            ("a,b,c@d.e\n\"d,e\n", "roster line 2", "not closed"),
            ("a,b\"c,d\n", "roster line 1", "quote"),
            ("a,b,c@d.e\n,name,x@y.z\n", "roster line 2", "empty"),
            ("candidate_id,name,email\n", "roster", "no candidates"),
        ] {
            let e = parse_roster(text).unwrap_err();
            assert_eq!(
                e.field.as_deref().map(|f| f.split('.').next().unwrap()),
                Some(line),
                "{text:?}: {}",
                e.message
            );
            assert!(e.message.contains(what), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn exams_are_checked_field_by_field() {
        let good = NewExam {
            id: Some("bio-101".into()),
            title: "Biology".into(),
            opens_ms: 1_000,
            closes_ms: 2_000,
            policy: serde_json::json!({"absence_flag_s": 8})
                .as_object()
                .unwrap()
                .clone(),
            checkin: CheckinRequirements::default(),
            aids: Aids::default(),
        };
        check_exam(&good).unwrap();
        let bad = |f: &dyn Fn(&mut NewExam)| {
            let mut e = good.clone();
            f(&mut e);
            check_exam(&e).unwrap_err().field.unwrap()
        };
        assert_eq!(bad(&|e| e.id = Some("a/b".into())), "id");
        assert_eq!(bad(&|e| e.title = " ".into()), "title");
        assert_eq!(bad(&|e| e.closes_ms = 1_000), "closes_ms");
        assert_eq!(
            bad(&|e| e
                .policy
                .insert("absence_flag_s".into(), (-1).into())
                .map(drop)
                .unwrap_or(())),
            "policy"
        );
        assert_eq!(
            bad(&|e| e.aids.breaks = Some(invigil_core::protocol::Breaks {
                count: 0,
                minutes: 5.0,
                clock: Default::default()
            })),
            "aids.breaks.count"
        );
    }
}
