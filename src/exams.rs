//! `invigil exams`: an admin's exams on a running server, through its API
//! (the server checks and audits everything; this is a client).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use invigil_core::protocol::{
    Accommodations, Aids, BreakClock, Breaks, CheckinRequirements, Enrol, EnrolmentList, ErrorBody,
    Exam, ExamList, Issued, NewEnrolment, NewExam, Reissue,
};
use invigil_core::Policy;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::args::{
    ExamAccommodateArgs, ExamAchievementArgs, ExamArgs, ExamBadgeStatusArgs, ExamEnrolArgs,
    ExamPassArgs, ExamShowArgs, ExamsCommand, JsonArg, ServerLogin,
};

pub fn run(login: &ServerLogin, command: &ExamsCommand) -> anyhow::Result<ExitCode> {
    let api = Api::new(login)?;
    match command {
        ExamsCommand::Create(a) => {
            let exam: Exam = api.send(api.post("/api/v1/exams").json(&new_exam(a)?))?;
            println!("created exam {} ({})", exam.id, exam.title);
            print_exam(&exam);
        }
        ExamsCommand::Update(a) => {
            let exam: Exam = api.send(
                api.http
                    .put(api.url(&format!("/api/v1/exams/{}", seg(&a.id))))
                    .json(&new_exam(a)?),
            )?;
            println!("updated exam {}", exam.id);
            print_exam(&exam);
        }
        ExamsCommand::List(a) => list(&api, a)?,
        ExamsCommand::Show(a) => show(&api, a)?,
        ExamsCommand::Enrol(a) => enrol(&api, a)?,
        ExamsCommand::Codes(a) => {
            let body = Reissue {
                candidates: (!a.candidates.is_empty()).then(|| a.candidates.clone()),
            };
            let issued: Issued = api.send(
                api.post(&format!("/api/v1/exams/{}/codes", seg(&a.id)))
                    .json(&body),
            )?;
            write_codes(&api.base, &issued, a.codes_out.as_deref())?;
        }
        ExamsCommand::Accommodate(a) => accommodate(&api, a)?,
        ExamsCommand::Achievement(a) => achievement(&api, a)?,
        ExamsCommand::Pass(a) => pass(&api, a)?,
        ExamsCommand::Badges(a) => badges(&api, a)?,
        ExamsCommand::BadgeStatus(a) => badge_status(&api, a)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) struct Api {
    http: reqwest::blocking::Client,
    base: String,
    user: String,
    password: String,
}

impl Api {
    fn new(login: &ServerLogin) -> anyhow::Result<Self> {
        let base = login.server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {base}: must start with http:// or https://");
        }
        let user = login
            .user
            .clone()
            .context("--user: say which account signs in (or set INVIGIL_USER)")?;
        let password = if login.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        } else {
            std::env::var("INVIGIL_PASSWORD").map_err(|_| {
                anyhow::anyhow!("no password: set INVIGIL_PASSWORD or pass --password-stdin")
            })?
        };
        Self::signed_in(&base, &user, &password)
    }

    /// A client of `base` signing in as `user`.
    pub(crate) fn signed_in(base: &str, user: &str, password: &str) -> anyhow::Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }

    pub(crate) fn create_exam(&self, exam: &NewExam) -> anyhow::Result<Exam> {
        self.send(self.post("/api/v1/exams").json(exam))
    }

    pub(crate) fn enrol(
        &self,
        exam_id: &str,
        candidates: Vec<NewEnrolment>,
    ) -> anyhow::Result<Issued> {
        self.send(
            self.post(&format!("/api/v1/exams/{}/enrolments", seg(exam_id)))
                .json(&Enrol { candidates }),
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.get(self.url(path))
    }

    fn post(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.post(self.url(path))
    }

    /// Sends with the account's credentials; a refusal becomes an error
    /// carrying the server's message.
    fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<T> {
        let r = req
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = r.status();
        let bytes = r.bytes().context("the server's reply was cut off")?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("the server refused ({status}): {message}");
        }
        serde_json::from_slice(&bytes)
            .context("the server's reply is not what this version of invigil reads")
    }
}

/// Percent-encoded for a URL path segment or query value.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn new_exam(a: &ExamArgs) -> anyhow::Result<NewExam> {
    let now = invigil_server::now_ms();
    let opens_ms = parse_time("--opens", &a.opens, now)?;
    let closes_ms = parse_time("--closes", &a.closes, now)?;
    let policy = match &a.policy {
        Some(path) => policy_keys(path)?,
        None => Map::new(),
    };
    let clock = match a.break_clock.as_str() {
        "paused" => BreakClock::Paused,
        "running" => BreakClock::Running,
        other => bail!("--break-clock {other}: say `paused` or `running`"),
    };
    Ok(NewExam {
        id: Some(a.id.clone()),
        title: a.title.clone(),
        opens_ms,
        closes_ms,
        policy,
        checkin: CheckinRequirements {
            face: !a.no_face_photo,
            id: !a.no_id_photo,
            room: !a.no_room_scan,
            liveness: !a.no_liveness,
        },
        aids: Aids {
            scratch_paper: a.scratch_paper,
            books: a.books,
            breaks: (a.breaks > 0).then_some(Breaks {
                count: a.breaks,
                minutes: a.break_minutes,
                clock,
            }),
        },
    })
}

/// The keys a policy file sets, checked as `invigil policy --check` does.
fn policy_keys(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--policy {}: cannot read it", path.display()))?;
    Policy::from_toml(&text, &path.display().to_string())?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("--policy {}: not TOML", path.display()))?;
    match serde_json::to_value(table)? {
        Value::Object(m) => Ok(m),
        _ => bail!("--policy {}: not a table of keys", path.display()),
    }
}

/// RFC 3339, `now`, or `+N` with `m`, `h` or `d` from now; ms since the epoch.
pub(crate) fn parse_time(flag: &str, text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let t = text.trim();
    if t == "now" {
        return Ok(now_ms);
    }
    if let Some(rel) = t.strip_prefix('+') {
        let (n, unit) = rel.split_at(rel.len().saturating_sub(1));
        let per = match unit {
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => bail!("{flag} {text}: a time from now ends in m, h or d (e.g. +90m)"),
        };
        let n: f64 = n
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite() && *n >= 0.0 && *n <= 3660.0)
            .with_context(|| format!("{flag} {text}: not a number of minutes, hours or days"))?;
        return Ok(now_ms + (n * per as f64) as i64);
    }
    let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .with_context(|| {
            format!("{flag} {text}: not a time; give RFC 3339 (2026-12-01T09:00:00Z), `now` or +2h")
        })?;
    Ok((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A time for people: RFC 3339 in UTC, to the second.
pub(crate) fn show_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

fn print_exam(e: &Exam) {
    println!("  title:    {}", e.title);
    println!(
        "  window:   {} to {}",
        show_time(e.opens_ms),
        show_time(e.closes_ms)
    );
    let keys: Vec<String> = e.policy.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    println!(
        "  policy:   {}",
        if keys.is_empty() {
            "the defaults".to_owned()
        } else {
            keys.join(", ")
        }
    );
    let c = e.checkin;
    let on = |b: bool| if b { "yes" } else { "no" };
    println!(
        "  check-in: face {}, head-turn check {}, ID {}, room scan {}",
        on(c.face),
        on(c.face && c.liveness),
        on(c.id),
        on(c.room)
    );
    let breaks = match e.aids.breaks {
        Some(b) => format!(
            "{} of {} min (clock {})",
            b.count,
            b.minutes,
            match b.clock {
                BreakClock::Paused => "paused",
                BreakClock::Running => "running",
            }
        ),
        None => "none".into(),
    };
    println!(
        "  aids:     scratch paper {}, books {}, breaks {breaks}",
        on(e.aids.scratch_paper),
        on(e.aids.books)
    );
    println!(
        "  enrolled: {}, sessions started: {}",
        e.enrolled, e.started
    );
}

fn list(api: &Api, a: &JsonArg) -> anyhow::Result<()> {
    let list: ExamList = api.send(api.get("/api/v1/exams"))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        for e in &list.exams {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:<21} {:<21} {:>8} {:>8}  title",
        "exam", "opens", "closes", "enrolled", "started"
    )?;
    for e in &list.exams {
        writeln!(
            out,
            "{:<24} {:<21} {:<21} {:>8} {:>8}  {}",
            e.id,
            show_time(e.opens_ms),
            show_time(e.closes_ms),
            e.enrolled,
            e.started,
            e.title
        )?;
    }
    writeln!(
        out,
        "{} exam{}",
        list.exams.len(),
        if list.exams.len() == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn show(api: &Api, a: &ExamShowArgs) -> anyhow::Result<()> {
    let exam: Exam = api.send(api.get(&format!("/api/v1/exams/{}", seg(&a.id))))?;
    let enrolments: EnrolmentList =
        api.send(api.get(&format!("/api/v1/exams/{}/enrolments", seg(&a.id))))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"exam": exam, "enrolments": enrolments.enrolments})
        );
        return Ok(());
    }
    println!("exam {}", exam.id);
    print_exam(&exam);
    for e in &enrolments.enrolments {
        let state = match (&e.session_id, e.redeemed_ms) {
            (Some(s), Some(at)) => format!("started {} (session {s})", show_time(at)),
            _ => "code unused".into(),
        };
        let acc = if e.overrides.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> = e
                .overrides
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            format!("  accommodations: {}", keys.join(", "))
        };
        println!(
            "  - {} {} <{}>: {state}{acc}",
            e.candidate_id, e.name, e.email
        );
    }
    Ok(())
}

/// `KEY=VALUE` pairs as policy keys (values read as TOML: 30, 2.5, true).
fn settings(flag: &str, pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("{flag} {pair}: give KEY=VALUE, e.g. absence_flag_s=30");
        };
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .with_context(|| {
                format!("{flag} {pair}: the value is not a number, true/false or a quoted string")
            })?;
        out.insert(k.trim().to_owned(), serde_json::to_value(value)?);
    }
    Ok(out)
}

fn enrol(api: &Api, a: &ExamEnrolArgs) -> anyhow::Result<()> {
    let path = format!("/api/v1/exams/{}", seg(&a.id));
    let issued: Issued = match (&a.roster, &a.candidate) {
        (Some(file), None) => {
            let text = std::fs::read(file)
                .with_context(|| format!("--roster {}: cannot read it", file.display()))?;
            api.send(
                api.post(&format!("{path}/roster"))
                    .header("content-type", "text/csv; charset=utf-8")
                    .body(text),
            )
            .with_context(|| format!("--roster {}", file.display()))?
        }
        (None, Some(candidate)) => {
            api.send(api.post(&format!("{path}/enrolments")).json(&Enrol {
                candidates: vec![NewEnrolment {
                    candidate_id: candidate.clone(),
                    name: a.name.clone().unwrap_or_default(),
                    email: a.email.clone().unwrap_or_default(),
                    overrides: settings("--set", &a.set)?,
                }],
            }))?
        }
        _ => bail!("say whom to enrol: --roster FILE or --candidate ID"),
    };
    write_codes(&api.base, &issued, a.codes_out.as_deref())?;
    Ok(())
}

fn accommodate(api: &Api, a: &ExamAccommodateArgs) -> anyhow::Result<()> {
    let body = Accommodations {
        overrides: settings("--set", &a.set)?,
        reason: a.reason.clone(),
    };
    let e: invigil_core::protocol::Enrolment = api.send(
        api.http
            .put(api.url(&format!(
                "/api/v1/exams/{}/enrolments/{}",
                seg(&a.id),
                seg(&a.candidate)
            )))
            .json(&body),
    )?;
    println!(
        "{} in {}: accommodations {}",
        e.candidate_id,
        e.exam_id,
        Value::Object(e.overrides)
    );
    Ok(())
}

fn achievement(api: &Api, a: &ExamAchievementArgs) -> anyhow::Result<()> {
    use base64::Engine;
    let image = match &a.image {
        Some(file) => {
            let bytes = std::fs::read(file)
                .with_context(|| format!("--image {}: cannot read it", file.display()))?;
            Some(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        None => None,
    };
    let body = invigil_core::protocol::NewAchievement {
        name: a.name.clone(),
        description: a.description.clone(),
        criteria: a.criteria.clone(),
        image_png_base64: image,
        valid_months: a.valid_months,
    };
    let done: invigil_core::protocol::Achievement = api.send(
        api.http
            .put(api.url(&format!("/api/v1/exams/{}/achievement", seg(&a.id))))
            .json(&body),
    )?;
    println!("{}: badge \"{}\" ({})", done.exam_id, done.name, done.url);
    Ok(())
}

fn pass(api: &Api, a: &ExamPassArgs) -> anyhow::Result<()> {
    let path = format!("/api/v1/exams/{}/passes", seg(&a.id));
    let done: invigil_core::protocol::PassesRecorded = match &a.results {
        Some(file) => {
            let text = std::fs::read(file)
                .with_context(|| format!("--results {}: cannot read it", file.display()))?;
            api.send(
                api.post(&path)
                    .header("content-type", "text/csv; charset=utf-8")
                    .body(text),
            )
            .with_context(|| format!("--results {}", file.display()))?
        }
        None if !a.candidates.is_empty() => {
            api.send(api.post(&path).json(&invigil_core::protocol::Passes {
                candidate_ids: a.candidates.clone(),
            }))?
        }
        None => bail!("say who passed: --results FILE or --candidate ID"),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "candidate_id,status,url")?;
    for (b, how) in done
        .issued
        .iter()
        .map(|b| (b, "issued"))
        .chain(done.already.iter().map(|b| (b, "already issued")))
    {
        writeln!(out, "{},{how},{}", csv_field(&b.candidate_id), b.url)?;
    }
    eprintln!(
        "invigil: {} badges issued, {} already had one, {} rows not passed",
        done.issued.len(),
        done.already.len(),
        done.not_passed
    );
    Ok(())
}

fn badges(api: &Api, a: &ExamShowArgs) -> anyhow::Result<()> {
    let list: invigil_core::protocol::BadgeList =
        api.send(api.get(&format!("/api/v1/exams/{}/badges", seg(&a.id))))?;
    if a.json {
        for b in &list.badges {
            println!("{}", serde_json::to_string(b)?);
        }
        return Ok(());
    }
    match &list.achievement {
        Some(ach) => println!("{}: badge \"{}\"", a.id, ach.name),
        None => println!("{}: no badge defined (invigil exams achievement)", a.id),
    }
    for b in &list.badges {
        println!(
            "  {:<20} {:<9} issued {}  {}{}",
            b.candidate_id,
            b.status.as_str(),
            show_time(b.issued_ms),
            b.url,
            b.status_reason
                .as_deref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn badge_status(api: &Api, a: &ExamBadgeStatusArgs) -> anyhow::Result<()> {
    let status = invigil_core::protocol::BadgeStatus::parse(&a.status)
        .context("--status: suspended, valid or revoked")?;
    let b: invigil_core::protocol::Badge = api.send(
        api.post(&format!("/api/v1/badges/{}/status", seg(&a.badge)))
            .json(&invigil_core::protocol::NewBadgeStatus {
                status,
                reason: a.reason.clone(),
            }),
    )?;
    println!("{} ({}): {}", b.id, b.candidate_id, b.status.as_str());
    Ok(())
}

/// The codes as CSV (candidate_id,name,email,code,link: the launch link
/// with the offline ticket), to a new owner-only file or standard output;
/// the count on standard error.
fn write_codes(server: &str, issued: &Issued, to: Option<&Path>) -> anyhow::Result<()> {
    let mut text = String::from("candidate_id,name,email,code,link\n");
    for c in &issued.codes {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_field(&c.candidate_id),
            csv_field(&c.name),
            csv_field(&c.email),
            c.code,
            crate::demo::launch_link(server, &c.code, Some(&c.ticket))
        ));
    }
    match to {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(path).with_context(|| {
                format!(
                    "--codes-out {}: cannot create it (it must not exist)",
                    path.display()
                )
            })?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            eprintln!(
                "{} launch code(s) for exam {} written to {}",
                issued.codes.len(),
                issued.exam_id,
                path.display()
            );
        }
        None => {
            std::io::stdout().lock().write_all(text.as_bytes())?;
            eprintln!(
                "{} launch code(s) for exam {}",
                issued.codes.len(),
                issued.exam_id
            );
        }
    }
    Ok(())
}

/// Quoted when it holds a comma, quote or line break; a leading = + - @
/// is prefixed with ' so a spreadsheet does not run it as a formula.
pub(crate) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_now_or_from_now() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time("--opens", "now", now).unwrap(), now);
        assert_eq!(parse_time("--opens", "+2h", now).unwrap(), now + 7_200_000);
        assert_eq!(parse_time("--opens", "+90m", now).unwrap(), now + 5_400_000);
        assert_eq!(
            parse_time("--opens", "2026-12-01T09:00:00Z", now).unwrap(),
            1_796_115_600_000
        );
        assert_eq!(show_time(1_796_115_600_000), "2026-12-01T09:00:00Z");
        for bad in ["tomorrow", "+2y", "+xh", "2026-13-01T00:00:00Z"] {
            let e = parse_time("--opens", bad, now).unwrap_err().to_string();
            assert!(e.contains("--opens"), "{bad}: {e}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("Smith, Jane"), "\"Smith, Jane\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn settings_read_values_as_toml() {
        let s = settings(
            "--set",
            &["absence_flag_s=30".into(), "clip_fps = 5".into()],
        )
        .unwrap();
        assert_eq!(s["absence_flag_s"], 30);
        assert!(settings("--set", &["nokey".into()]).is_err());
        assert!(settings("--set", &["k=not a value".into()]).is_err());
    }
}
