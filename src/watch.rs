//! `invigil watch`: the whole pipeline on one source.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use invigil_capture::pipeline::{self, PipelineOptions, Summary};
use invigil_capture::{open_source, OpenOptions, Scenario};
use invigil_core::{Event, RuleEngine};

use crate::args::WatchArgs;
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
    let mut engine = RuleEngine::new(policy);

    let mut out: Box<dyn Write> = if args.events == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        let file = File::create(&args.events)
            .with_context(|| format!("cannot create events file {}", args.events))?;
        Box::new(BufWriter::new(file))
    };
    let to_stdout = args.events == "-";
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
        writeln!(out, "{}", e.to_json_line())?;
        if to_stdout {
            out.flush()?;
        }
        Ok(())
    };
    let summary: Summary = pipeline::run(
        source,
        &mut analyzer,
        &mut engine,
        &PipelineOptions {
            realtime: args.realtime,
        },
        &stop,
        &mut sink,
        &mut |p, info| status.update(p, info),
    )?;
    out.flush().context("cannot write events")?;
    status.finish(&summary.progress);
    let (frames, detections) = analyzer.counts();
    tracing::info!("{frames} frames analysed, detector ran on {detections}");
    if let Some(err) = summary.source_error {
        eprintln!("invigil: error: {err}");
        return Ok(ExitCode::from(1));
    }
    if summary.camera_lost {
        eprintln!("invigil: the camera was lost; the session ended with camera_lost");
    }
    Ok(ExitCode::SUCCESS)
}
