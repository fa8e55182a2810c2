//! `invigil sessions list|delete|purge`: an operator's view of the sessions a
//! server's database holds, and their deletion (retention periods, a
//! candidate's request to erase their data). Works on the database and media
//! store directly, beside a running server or without one.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use invigil_server::retention::{self, Purged, Reason, SessionSummary};
use invigil_server::{AppState, Config};
use serde_json::json;

use crate::args::{
    DatabaseArgs, DeletionArgs, SessionsDeleteArgs, SessionsExportArgs, SessionsListArgs,
    SessionsPurgeArgs, SessionsVerifyArgs,
};
use crate::serve::runtime;

const DAY_MS: i64 = 86_400_000;

/// Opens an existing server's database and media store; never creates an
/// empty one (a mistyped --data must not look like "no sessions").
async fn open(db: &DatabaseArgs) -> anyhow::Result<AppState> {
    if db.database.is_none() {
        let file = db.data.join("invigil.db");
        anyhow::ensure!(
            file.is_file(),
            "--data {}: no invigil database there (expected {}); give the server's data directory or --database URL",
            db.data.display(),
            file.display()
        );
    }
    let mut config = Config::new(&db.data, "127.0.0.1:0".parse().expect("valid address"));
    config.database_url = db.database.clone();
    config.media = db.media.clone();
    config.s3 = db.s3_options();
    AppState::open(config)
        .await
        .with_context(|| format!("cannot open the server data in {}", db.data.display()))
}

fn inactive_cutoff(days: u32) -> i64 {
    invigil_server::now_ms() - i64::from(days) * DAY_MS
}

pub fn list(args: &SessionsListArgs) -> anyhow::Result<ExitCode> {
    let cutoff = args.inactive_days.map_or(i64::MAX, inactive_cutoff);
    let sessions = runtime()?.block_on(async {
        let state = open(&args.db).await?;
        anyhow::Ok(retention::inactive_since(&state, cutoff).await?)
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &sessions {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        }
    } else {
        print_table(&mut out, &sessions)?;
        writeln!(out, "{} session{}", sessions.len(), plural(sessions.len()))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn delete(args: &SessionsDeleteArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let state = open(&args.how.db).await?;
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for id in &args.ids {
            match retention::find(&state, id).await? {
                Some(s) if !found.contains(&s) => found.push(s),
                Some(_) => {}
                None => missing.push(id.as_str()),
            }
        }
        anyhow::ensure!(
            missing.is_empty(),
            "no session {} in this database; nothing was deleted",
            missing.join(", ")
        );
        finish(&state, found, &args.how).await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn purge(args: &SessionsPurgeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let state = open(&args.how.db).await?;
        let expired = retention::inactive_since(&state, inactive_cutoff(args.inactive_days))
            .await?
            .into_iter()
            // "0 days" must not cut off a session that is running now.
            .filter(|s| s.state != "live" || args.inactive_days > 0)
            .collect();
        finish(&state, expired, &args.how).await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn export(args: &SessionsExportArgs) -> anyhow::Result<ExitCode> {
    let exported = runtime()?.block_on(async {
        let state = open(&args.db).await?;
        invigil_server::export::export_session(&state, &args.id, &args.out).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&exported)?);
    } else {
        println!(
            "exported session {} to {}: {} events (hash chain {}), {} media file{} ({} bytes)",
            args.id,
            exported.dir.display(),
            exported.events,
            if exported.chain_verified {
                "verified"
            } else {
                "BROKEN"
            },
            exported.media_files,
            plural(exported.media_files),
            exported.bytes
        );
        for problem in &exported.problems {
            println!("  problem: {problem}");
        }
    }
    // A copy whose evidence does not check out is written, but says so.
    Ok(if exported.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The public key named by `--key`: hex digits, or a file with them or
/// with the server-key JSON.
fn read_key(key: &str) -> anyhow::Result<Vec<u8>> {
    let text = if std::path::Path::new(key).is_file() {
        std::fs::read_to_string(key).with_context(|| format!("cannot read --key {key}"))?
    } else {
        key.to_owned()
    };
    let text = text.trim();
    let hex = if text.starts_with('{') {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["public_key"].as_str().map(str::to_owned))
            .with_context(|| format!("--key {key}: JSON without `public_key`"))?
    } else {
        text.to_owned()
    };
    let bytes = invigil_server::unhex(&hex)
        .filter(|b| b.len() == 32)
        .with_context(|| {
            format!("--key {key}: an Ed25519 public key is 64 hex digits (GET /api/v1/server-key)")
        })?;
    Ok(bytes)
}

pub fn verify(args: &SessionsVerifyArgs) -> anyhow::Result<ExitCode> {
    let key = read_key(&args.key)?;
    let v = invigil_server::export::verify_export(&args.dir, &key, args.receipts.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!(
            "session {}: {} events, {} media file{}, {} server receipt{}{} checked with key {}: {}",
            v.session_id,
            v.events,
            v.media_files,
            plural(v.media_files),
            v.receipts,
            plural(v.receipts),
            if args.receipts.is_some() {
                format!(", {} of the candidate's", v.candidate_receipts)
            } else {
                String::new()
            },
            invigil_server::key_id(&key),
            if v.problems.is_empty() {
                "intact"
            } else {
                "PROBLEMS"
            }
        );
        for problem in &v.problems {
            println!("  problem: {problem}");
        }
    }
    Ok(if v.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Prints the sessions, deletes them unless `dry_run`, prints the totals.
async fn finish(
    state: &AppState,
    sessions: Vec<SessionSummary>,
    how: &DeletionArgs,
) -> anyhow::Result<()> {
    let (dry_run, as_json) = (how.dry_run, how.json);
    let mut out = std::io::stdout().lock();
    if as_json {
        for s in &sessions {
            writeln!(out, "{}", serde_json::to_string(s)?)?;
        }
    } else {
        print_table(&mut out, &sessions)?;
    }
    let ids: Vec<String> = sessions.iter().map(|s| s.id.clone()).collect();
    let purged = if dry_run || ids.is_empty() {
        Purged {
            sessions: ids.len() as u64,
            events: sessions.iter().map(|s| s.events.max(0) as u64).sum(),
            media: sessions.iter().map(|s| s.media.max(0) as u64).sum(),
            bytes: sessions.iter().map(|s| s.bytes.max(0) as u64).sum(),
            files_deleted: 0,
        }
    } else {
        retention::purge(state, &ids, Reason::Operator).await?
    };
    if as_json {
        writeln!(out, "{}", json!({ "dry_run": dry_run, "deleted": purged }))?;
    } else {
        let verb = if dry_run { "would delete" } else { "deleted" };
        writeln!(
            out,
            "{verb} {} session{} ({} events, {} media items, {} bytes)",
            purged.sessions,
            plural(purged.sessions as usize),
            purged.events,
            purged.media,
            purged.bytes
        )?;
    }
    Ok(())
}

fn print_table(out: &mut impl Write, sessions: &[SessionSummary]) -> std::io::Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<16}  {:<16}  {:<5}  {:>9}  {:>6}  {:>5}  {:>10}",
        "session", "exam", "candidate", "state", "inactive", "events", "media", "bytes"
    )?;
    let now = invigil_server::now_ms();
    for s in sessions {
        let days = (now - s.last_activity_ms).max(0) as f64 / DAY_MS as f64;
        writeln!(
            out,
            "{:<36}  {:<16}  {:<16}  {:<5}  {:>8.1}d  {:>6}  {:>5}  {:>10}",
            s.id, s.exam_id, s.candidate_id, s.state, days, s.events, s.media, s.bytes
        )?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
