//! `invigil forensics analyze`: data forensics on an exam delivery's
//! item-level results (docs/forensics.md).

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use invigil_forensics::analyze::{analyze as run_analysis, Options};
use invigil_forensics::{html, read_candidates, read_items, read_responses};
use serde_json::json;

use crate::args::ForensicsAnalyzeArgs;

/// Exit status when a result meets the invalidation conditions.
pub const INVALIDATION: u8 = 3;

pub fn analyze(args: &ForensicsAnalyzeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.budget > 0.0 && args.budget < args.review && args.review < 1.0,
        "--budget ({}) must be above 0 and below --review ({}), itself below 1",
        args.budget,
        args.review
    );
    let started = Instant::now();
    let responses = read_responses(&args.responses)?;
    let items = args.items.as_deref().map(read_items).transpose()?;
    let candidates = args
        .candidates
        .as_deref()
        .map(read_candidates)
        .transpose()?;
    eprintln!(
        "invigil: {} candidates, {} items; fitting the models and comparing {} pairs...",
        responses.candidates.len(),
        responses.items.len(),
        responses.candidates.len() * responses.candidates.len().saturating_sub(1) / 2
    );
    let options = Options {
        budget: args.budget,
        review: args.review,
        ..Options::default()
    };
    let report = run_analysis(
        &responses,
        items.as_deref(),
        candidates.as_deref(),
        &options,
    )
    .with_context(|| format!("{}", args.responses.display()))?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json_path = args.out.join("report.json");
    let html_path = args.out.join("report.html");
    std::fs::write(&json_path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let title = format!(
        "Data forensics: {}",
        args.responses
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    std::fs::write(&html_path, html::render(&report, &title))
        .with_context(|| format!("writing {}", html_path.display()))?;
    eprintln!("invigil: analyzed in {:.1?}", started.elapsed());

    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            json!({
                "candidates": report.candidates,
                "items": report.items,
                "flags": report.flags,
                "invalidations": report.invalidations,
                "levels": report.levels,
                "models": report.models,
                "notes": report.notes,
                "report": { "json": json_path, "html": html_path },
            })
        )?;
    } else {
        writeln!(
            out,
            "{} candidates, {} items: {} flagged for review, {} meeting the invalidation conditions",
            report.candidates,
            report.items,
            report.flags.len(),
            report.invalidations
        )?;
        for f in &report.flags {
            writeln!(
                out,
                "  {:<12} {:<22} p {:.2e}{}  {}",
                f.index,
                f.candidates.join(" + "),
                f.p,
                if f.invalidation { "  INVALIDATION" } else { "" },
                f.detail
            )?;
        }
        for note in &report.notes {
            writeln!(out, "note: {note}")?;
        }
        writeln!(
            out,
            "report: {} and {}",
            html_path.display(),
            json_path.display()
        )?;
    }
    Ok(if report.invalidations > 0 {
        ExitCode::from(INVALIDATION)
    } else {
        ExitCode::SUCCESS
    })
}
