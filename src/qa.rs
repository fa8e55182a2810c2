//! `invigil qa run`: scripted scenarios with expected events.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use invigil_capture::{write_y4m, FrameSource, Scenario, ScenarioSource};
use invigil_core::{Event, Policy};
use invigil_session::{Observer, Session, SessionOptions};

use crate::args::{QaRenderArgs, QaRunArgs};
use crate::report::clock;
use crate::setup::{detector_profile, load_policy};

/// Keeps a scenario's events for its expectations.
struct Collect(Vec<Event>);

impl Observer for Collect {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.push(event.clone());
        Ok(())
    }
}

/// One scenario's verdict.
struct Outcome {
    name: String,
    file: PathBuf,
    seconds: f64,
    /// Failure reasons; empty when it passed.
    failures: Vec<String>,
    /// Every check, passed or not, for the report.
    checks: Vec<String>,
}

pub fn run(args: &QaRunArgs) -> anyhow::Result<ExitCode> {
    let base = load_policy(args.policy.as_deref())?;
    let files = expand(&args.scenarios)?;
    if let Some(dir) = &args.events_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut outcomes = Vec::new();
    for file in &files {
        let started = Instant::now();
        let outcome = match run_one(file, &base, args) {
            Ok(mut o) => {
                o.seconds = started.elapsed().as_secs_f64();
                o
            }
            Err(err) => Outcome {
                name: file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: file.clone(),
                seconds: started.elapsed().as_secs_f64(),
                failures: vec![format!("{err:#}")],
                checks: Vec::new(),
            },
        };
        let verdict = if outcome.failures.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        println!("{verdict}  {}  ({:.1} s)", outcome.name, outcome.seconds);
        for check in &outcome.checks {
            println!("      {check}");
        }
        for failure in outcome
            .failures
            .iter()
            .filter(|f| !outcome.checks.contains(f))
        {
            println!("      {failure}");
        }
        outcomes.push(outcome);
    }
    let failed = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    let passed = outcomes.len() - failed;
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&outcomes))
            .with_context(|| format!("cannot write JUnit report {}", path.display()))?;
    }
    println!("{passed} passed, {failed} failed");
    std::io::stdout().flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Scenario files from the arguments; directories contribute their *.toml.
fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot read {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                anyhow::bail!(
                    "{}: no scenario .toml files in this directory",
                    input.display()
                );
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn run_one(file: &Path, base: &Policy, args: &QaRunArgs) -> anyhow::Result<Outcome> {
    let mut options = SessionOptions::new(&file.display().to_string());
    options.policy = base.clone();
    options.detectors = detector_profile(args.model.model);
    options.model_file = args.model.model_file.clone();
    let session = Session::open(options)?;
    let scenario = session
        .scenario()
        .cloned()
        .with_context(|| format!("{}: not a scenario .toml file", file.display()))?;
    let mut events = Collect(Vec::new());
    let outcome = session.run(&AtomicBool::new(false), &mut events);
    let (summary, events) = (outcome.result?, events.0);
    if let Some(dir) = &args.events_dir {
        let mut text = String::new();
        for e in &events {
            text.push_str(&e.to_json_line());
            text.push('\n');
        }
        let path = dir.join(format!("{}.jsonl", scenario.name));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut failures = Vec::new();
    if let Some(err) = summary.source_error {
        failures.push(format!("source failed: {err}"));
    }
    let mut checks = Vec::new();
    for result in scenario.check(&events) {
        let line = format!(
            "{} {}",
            if result.passed { "ok  " } else { "FAIL" },
            result.message
        );
        if !result.passed {
            failures.push(line.clone());
        }
        checks.push(line);
    }
    let kinds: Vec<String> = events
        .iter()
        .filter(|e| !matches!(e.kind.as_str(), "session_started" | "session_ended"))
        .map(|e| format!("{}@{}", e.kind, clock(e.t_ms)))
        .collect();
    checks.push(format!(
        "events: {} ({} frames, {} of media)",
        if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(", ")
        },
        summary.progress.frames,
        clock(summary.progress.t_ms)
    ));
    Ok(Outcome {
        name: scenario.name.clone(),
        file: file.to_owned(),
        seconds: 0.0,
        failures,
        checks,
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(outcomes: &[Outcome]) -> String {
    let failures = outcomes.iter().filter(|o| !o.failures.is_empty()).count();
    let total: f64 = outcomes.iter().map(|o| o.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"invigil qa\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">",
        outcomes.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">",
        outcomes.len()
    );
    for o in outcomes {
        let _ = write!(
            xml,
            "    <testcase classname=\"scenarios\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            xml_escape(&o.name),
            xml_escape(&o.file.display().to_string()),
            o.seconds
        );
        if o.failures.is_empty() {
            xml.push_str(">\n");
        } else {
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\">{}</failure>",
                xml_escape(&o.failures[0]),
                xml_escape(&o.failures.join("\n"))
            );
        }
        let _ = writeln!(
            xml,
            "      <system-out>{}</system-out>\n    </testcase>",
            xml_escape(&o.checks.join("\n"))
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// `invigil qa render`: a scenario's frames as a Y4M file.
pub fn render(args: &QaRenderArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let fps = scenario.fps;
    if fps.fract() != 0.0 {
        anyhow::bail!(
            "{}: Y4M output needs a whole-number fps, got {fps}",
            args.scenario.display()
        );
    }
    let mut source = ScenarioSource::new(scenario)?;
    let file = std::fs::File::create(&args.y4m)
        .with_context(|| format!("cannot create {}", args.y4m.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut frames = 0u64;
    let mut size = None;
    loop {
        match source.next_frame() {
            Ok(Some(frame)) => {
                let dims = (frame.width, frame.height);
                if *size.get_or_insert(dims) != dims {
                    anyhow::bail!(
                        "{}: frame {frames} is {}x{}, but Y4M needs one size throughout",
                        args.scenario.display(),
                        dims.0,
                        dims.1
                    );
                }
                write_y4m(
                    &mut out,
                    std::slice::from_ref(&frame),
                    fps as u32,
                    frames == 0,
                )?;
                frames += 1;
            }
            Ok(None) => break,
            // A scripted camera loss ends the video there.
            Err(invigil_capture::CaptureError::Disconnected(_)) => break,
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    eprintln!("{}: {frames} frames at {fps} fps", args.y4m.display());
    Ok(ExitCode::SUCCESS)
}
