//! `invigil watch`: the whole pipeline on one source, optionally streamed
//! to a server; `invigil uplink send`: deliver what a journal still holds.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use invigil_capture::pipeline::{self, PipelineOptions, Summary};
use invigil_capture::{open_source, OpenOptions, Scenario};
use invigil_core::{Event, Policy, RuleEngine};
use invigil_uplink::{ClipTap, Connection, SessionRequest, Start, Uplink, UplinkStatus};

use crate::args::{StreamArgs, UplinkSendArgs, WatchArgs};
use crate::engine::{analyzer, load_policy};
use crate::report::StatusLine;

pub fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let mut policy = load_policy(args.policy.as_deref())?;
    let source = open_source(&args.source, &OpenOptions { fps: args.fps })?;
    if source.info().kind == "scenario" {
        // A scenario carries its own policy overrides.
        let scenario = Scenario::load(std::path::Path::new(&args.source))?;
        policy = scenario.policy(&policy)?;
    }
    let mut analyzer = analyzer(&args.model, &policy)?;
    let uplink = open_uplink(&args.stream, &policy)?;
    let mut engine = match uplink.as_ref().map(Uplink::start) {
        Some(Start::Resume {
            next_seq,
            after_t_ms,
        }) => {
            eprintln!(
                "invigil: continuing unfinished session {} from event {next_seq}",
                uplink.as_ref().map(Uplink::session_id).unwrap_or_default()
            );
            RuleEngine::resuming(policy, *next_seq, *after_t_ms)
        }
        _ => RuleEngine::new(policy),
    };

    let mut out: Box<dyn Write> = if args.events == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        let file = File::create(&args.events)
            .with_context(|| format!("cannot create events file {}", args.events))?;
        Box::new(BufWriter::new(file))
    };
    // Unflushed lines would be lost if the process were killed; streaming
    // sessions and stdout are written through line by line.
    let write_through = args.events == "-" || uplink.is_some();
    // Ctrl-C (or SIGTERM) ends the session cleanly: `session_ended` with
    // reason `stopped`, events flushed.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            tracing::warn!("cannot catch Ctrl-C: {e}");
        }
    }
    let mut status = StatusLine::new(!args.quiet && std::io::stderr().is_terminal());
    let mut sink = |e: &Event| -> std::io::Result<()> {
        let mut e = e.clone();
        if let Some(uplink) = &uplink {
            uplink.record(&mut e);
        }
        writeln!(out, "{}", e.to_json_line())?;
        if write_through {
            out.flush()?;
        }
        Ok(())
    };
    let mut clips = match &uplink {
        // Live sources must not stall while a clip is encoded; file sources
        // encode inline, so a fixture gives the same events on every run.
        Some(u) if args.stream.clips && (args.realtime || source.info().live) => {
            Some(ClipTap::in_background(engine.policy(), u))
        }
        Some(u) if args.stream.clips => Some(ClipTap::new(engine.policy(), u)),
        _ => None,
    };
    let summary: Summary = pipeline::run_with_tap(
        source,
        &mut analyzer,
        &mut engine,
        &PipelineOptions {
            realtime: args.realtime,
        },
        &stop,
        &mut sink,
        &mut |p, info| {
            let link = uplink.as_ref().map(|u| link_text(&u.status()));
            status.update(p, info, link.as_deref());
        },
        clips.as_mut().map(|c| c as &mut dyn pipeline::FrameTap),
    )?;
    drop(clips);
    out.flush().context("cannot write events")?;
    status.finish(&summary.progress);
    let (frames, detections) = analyzer.counts();
    tracing::info!("{frames} frames analysed, detector ran on {detections}");
    let mut code = ExitCode::SUCCESS;
    if let Some(uplink) = uplink {
        let drain = Duration::from_secs_f64(args.stream.drain_timeout.max(0.0));
        let s = uplink.finish(drain);
        if !report_uplink(&s, &args.stream.journal) {
            code = ExitCode::from(1);
        }
    }
    if let Some(err) = summary.source_error {
        eprintln!("invigil: error: {err}");
        return Ok(ExitCode::from(1));
    }
    if summary.camera_lost {
        eprintln!("invigil: the camera was lost; the session ended with camera_lost");
    }
    Ok(code)
}

fn open_uplink(args: &StreamArgs, policy: &Policy) -> anyhow::Result<Option<Uplink>> {
    let Some(server) = &args.server else {
        return Ok(None);
    };
    let request = match (&args.token, &args.exam, &args.candidate) {
        (Some(token), _, _) => SessionRequest::Token {
            server: server.clone(),
            token: token.clone(),
            session_id: args.session.clone(),
        },
        (None, Some(exam), Some(candidate)) => SessionRequest::Enrol {
            server: server.clone(),
            exam_id: exam.clone(),
            candidate_id: candidate.clone(),
            policy: match serde_json::to_value(policy)? {
                serde_json::Value::Object(m) => m,
                _ => Default::default(),
            },
        },
        _ => anyhow::bail!("--server needs --token, or --exam and --candidate"),
    };
    let uplink = Uplink::open(&args.journal, request, Duration::from_secs(60))
        .with_context(|| format!("cannot open the journal in {}", args.journal.display()))?;
    Ok(Some(uplink))
}

fn link_text(s: &UplinkStatus) -> String {
    let state = match s.connection {
        Connection::Connecting => "connecting",
        Connection::Online => "online",
        Connection::Offline => "offline",
        Connection::Refused => "REFUSED",
    };
    let mut text = format!("{state}, {} waiting", s.pending);
    if s.journal_error.is_some() {
        text.push_str(", JOURNAL FAILING");
    }
    text
}

/// Prints what the shipper did; false when the server refused the session.
fn report_uplink(s: &UplinkStatus, journal: &std::path::Path) -> bool {
    eprintln!(
        "invigil: session {}: sent {} events and {} media ({} bytes up, {} requests)",
        s.session_id, s.sent_events, s.sent_media, s.bytes_sent, s.requests
    );
    if let Some(e) = &s.journal_error {
        eprintln!("invigil: warning: the journal failed: {e}");
    }
    if s.pending > 0 {
        eprintln!(
            "invigil: {} item(s) not yet delivered wait in {}; they are sent by the next run \
             on this journal, or by `invigil uplink send --journal {}`{}",
            s.pending,
            journal.display(),
            journal.display(),
            s.last_error
                .as_ref()
                .map(|e| format!(" (last problem: {e})"))
                .unwrap_or_default()
        );
    }
    if s.held_in_memory > 0 {
        eprintln!(
            "invigil: error: {} event(s) could not be journaled (the journal failed) and will not reach the server; \
             they are in the local events output",
            s.held_in_memory
        );
        return false;
    }
    if let Some(reason) = &s.refused {
        eprintln!("invigil: error: the server refused this session: {reason}");
        return false;
    }
    true
}

pub fn uplink_send(args: &UplinkSendArgs) -> anyhow::Result<ExitCode> {
    if !invigil_uplink::SessionMeta::path(&args.journal).is_file() {
        anyhow::bail!(
            "{}: no streamed session here (no session.json)",
            args.journal.display()
        );
    }
    let uplink = Uplink::open_existing(&args.journal)?;
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(args.timeout.max(0.0));
    // Wait until the shipper has sent everything (or gives up).
    loop {
        let s = uplink.status();
        let done = s.connection == Connection::Online && s.pending == 0;
        if done || s.connection == Connection::Refused || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = uplink.finish(Duration::ZERO);
    let ok = report_uplink(&s, &args.journal);
    Ok(if ok && s.pending == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
