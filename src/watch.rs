//! `invigil watch`: the whole pipeline on one source, optionally streamed
//! to a server; `invigil uplink send`: deliver what a journal still holds.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use invigil_capture::pipeline::Progress;
use invigil_capture::SourceInfo;
use invigil_core::Event;
use invigil_session::{Observer, Session, SessionOptions, StreamOptions};
use invigil_uplink::{Connection, SessionRequest, Uplink, UplinkStatus};

use crate::args::{StreamArgs, UplinkSendArgs, WatchArgs};
use crate::report::StatusLine;
use crate::setup::{detector_profile, load_policy};

/// Writes events as JSON lines and keeps the status line.
struct Output {
    out: Box<dyn Write>,
    /// Unflushed lines would be lost if the process were killed; streaming
    /// sessions and stdout are written through line by line.
    write_through: bool,
    status: StatusLine,
}

impl Observer for Output {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        writeln!(self.out, "{}", event.to_json_line())?;
        if self.write_through {
            self.out.flush()?;
        }
        Ok(())
    }

    fn progress(&mut self, p: &Progress, info: &SourceInfo, link: Option<&Uplink>) {
        let link = link.map(|u| link_text(&u.status()));
        self.status.update(p, info, link.as_deref());
    }
}

pub fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let mut options = SessionOptions::new(&args.source);
    options.fps = args.fps;
    options.realtime = args.realtime;
    options.policy = load_policy(args.policy.as_deref())?;
    options.detectors = detector_profile(args.model.model);
    options.model_file = args.model.model_file.clone();
    options.stream = stream_options(&args.stream)?;
    options.clips = args.stream.clips;
    options.drain = Duration::from_secs_f64(args.stream.drain_timeout.max(0.0));
    options.reference_face = args
        .reference_face
        .as_deref()
        .map(invigil_session::reference_from_image)
        .transpose()?;
    let session = Session::open(options).map_err(|e| match e {
        invigil_session::SessionError::Uplink(e) => anyhow::Error::new(e).context(format!(
            "cannot open the journal in {}",
            args.stream.journal.display()
        )),
        e => e.into(),
    })?;
    if let Some(next_seq) = session.resumes_at() {
        eprintln!(
            "invigil: continuing unfinished session {} from event {next_seq}",
            session.session_id().unwrap_or_default()
        );
    }
    if let Some(exam) = session.uplink().and_then(|u| u.exam()) {
        let c = exam.checkin;
        if c.face || c.id || c.room {
            eprintln!(
                "invigil: warning: exam {} asks for a check-in (photos); `invigil watch` takes none, and the server notes the session as checkin_missing. Candidates check in with the desktop app.",
                exam.id
            );
        }
    }

    let out: Box<dyn Write> = if args.events == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        let file = File::create(&args.events)
            .with_context(|| format!("cannot create events file {}", args.events))?;
        Box::new(BufWriter::new(file))
    };
    let mut output = Output {
        out,
        write_through: args.events == "-" || session.uplink().is_some(),
        status: StatusLine::new(!args.quiet && std::io::stderr().is_terminal()),
    };
    // Ctrl-C (or SIGTERM) ends the session cleanly: `session_ended` with
    // reason `stopped`, events flushed.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            tracing::warn!("cannot catch Ctrl-C: {e}");
        }
    }
    let outcome = session.run(&stop, &mut output);
    output.out.flush().context("cannot write events")?;
    let summary = outcome.result?;
    output.status.finish(&summary.progress);
    let (frames, detections) = outcome.analysed;
    tracing::info!("{frames} frames analysed, detector ran on {detections}");
    let mut code = ExitCode::SUCCESS;
    if let Some(s) = &outcome.uplink {
        if !report_uplink(s, &args.stream.journal) {
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

fn stream_options(args: &StreamArgs) -> anyhow::Result<Option<StreamOptions>> {
    if let Some(link) = &args.link {
        let link =
            invigil_session::parse_launch_link(link).map_err(|e| anyhow::anyhow!("--link: {e}"))?;
        let request = invigil_session::candidate_request(
            &link.server,
            Some(&link.code),
            link.session_id.as_deref(),
            None,
            None,
            link.ticket.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--link: {e}"))?;
        return Ok(Some(StreamOptions::new(request, args.journal.clone())));
    }
    let Some(server) = &args.server else {
        return Ok(None);
    };
    if let Some(code) = &args.code {
        let code = invigil_core::protocol::LaunchCode::parse(code)
            .map_err(|e| anyhow::anyhow!("--code: {e}"))?;
        return Ok(Some(StreamOptions::new(
            SessionRequest::Launch {
                server: server.clone(),
                code,
                ticket: None,
            },
            args.journal.clone(),
        )));
    }
    let request = match (&args.token, &args.exam, &args.candidate) {
        (Some(token), _, _) => SessionRequest::Token {
            server: server.clone(),
            token: invigil_core::protocol::CandidateToken::parse(token)
                .map_err(|e| anyhow::anyhow!("--token: {e}"))?,
            session_id: args.session.clone(),
        },
        (None, Some(exam), Some(candidate)) => SessionRequest::Enrol {
            server: server.clone(),
            exam_id: exam.clone(),
            candidate_id: candidate.clone(),
            // Session::open fills in the policy in force.
            policy: Default::default(),
        },
        _ => anyhow::bail!("--server needs --code (the candidate's launch code), --token, or --exam and --candidate"),
    };
    Ok(Some(StreamOptions::new(request, args.journal.clone())))
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
