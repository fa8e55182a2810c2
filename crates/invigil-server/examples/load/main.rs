//! The load benchmark's candidates and proctor (docs/performance.md,
//! "Several nodes"); `scripts/bench-nodes` starts the servers and runs it.
//!
//! ```sh
//! cargo run --release -p invigil-server --example load -- \
//!   --nodes http://127.0.0.1:8081,http://127.0.0.1:8082 --proctor-node http://127.0.0.1:8083 \
//!   --user qa --candidates 500 --seconds 120
//! ```
//!
//! The proctor's password is read from `INVIGIL_LOAD_PASSWORD`. The
//! servers need `--open-enrolment` and `--sessions-per-minute 0` (every
//! simulated candidate comes from one address). Prints progress every 5 s
//! to stderr, then a summary, and with `--json` one JSON line on stdout.

mod generator;

use std::time::Duration;

use generator::{quantile, LoadConfig};

const USAGE: &str = "usage: load --nodes URL[,URL...] [--proctor-node URL] [--user NAME] \
[--candidates N] [--seconds S] [--ramp-seconds S] [--events-per-min R] \
[--clip-every-s S] [--clip-bytes B] [--spot-check-s S] [--snapshot JPEG] [--exam ID] [--json]
(the proctor's password in INVIGIL_LOAD_PASSWORD)";

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let value = value.ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))?;
    value
        .parse()
        .map_err(|e| anyhow::anyhow!("{flag} {value}: {e}\n{USAGE}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cfg = LoadConfig {
        candidate_urls: Vec::new(),
        proctor_url: String::new(),
        proctor_user: "qa".into(),
        proctor_password: std::env::var("INVIGIL_LOAD_PASSWORD").unwrap_or_default(),
        candidates: 100,
        duration: Duration::from_secs(60),
        ramp: Duration::from_secs(10),
        events_per_min: 2.0,
        clip_every_s: 300.0,
        clip_bytes: 1_000_000,
        spot_check_s: 60.0,
        snapshot: None,
        exam: format!("load-{}", std::process::id()),
    };
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--nodes" => {
                cfg.candidate_urls = parse::<String>(&flag, args.next())?
                    .split(',')
                    .map(|u| u.trim_end_matches('/').to_owned())
                    .collect()
            }
            "--proctor-node" => cfg.proctor_url = parse(&flag, args.next())?,
            "--user" => cfg.proctor_user = parse(&flag, args.next())?,
            "--candidates" => cfg.candidates = parse(&flag, args.next())?,
            "--seconds" => cfg.duration = Duration::from_secs_f64(parse(&flag, args.next())?),
            "--ramp-seconds" => cfg.ramp = Duration::from_secs_f64(parse(&flag, args.next())?),
            "--events-per-min" => cfg.events_per_min = parse(&flag, args.next())?,
            "--clip-every-s" => cfg.clip_every_s = parse(&flag, args.next())?,
            "--clip-bytes" => cfg.clip_bytes = parse(&flag, args.next())?,
            "--spot-check-s" => cfg.spot_check_s = parse(&flag, args.next())?,
            "--snapshot" => {
                let path: String = parse(&flag, args.next())?;
                let body =
                    std::fs::read(&path).map_err(|e| anyhow::anyhow!("--snapshot {path}: {e}"))?;
                anyhow::ensure!(
                    body.starts_with(&[0xff, 0xd8, 0xff]),
                    "--snapshot {path}: not a JPEG"
                );
                cfg.snapshot = Some(body);
            }
            "--exam" => cfg.exam = parse(&flag, args.next())?,
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    anyhow::ensure!(
        !cfg.candidate_urls.is_empty(),
        "--nodes is required\n{USAGE}"
    );
    if cfg.proctor_url.is_empty() {
        cfg.proctor_url = cfg.candidate_urls.last().unwrap().clone();
    }
    eprintln!(
        "load: {} candidates for {:.0} s on {} node(s), {} events/min each, a {} kB clip every {} s, spot checks every {} s{}",
        cfg.candidates,
        cfg.duration.as_secs_f64(),
        cfg.candidate_urls.len(),
        cfg.events_per_min,
        cfg.clip_bytes / 1000,
        cfg.clip_every_s,
        cfg.spot_check_s,
        if cfg.snapshot.is_some() { " (answered)" } else { " (not answered)" },
    );
    let mut report = generator::run(cfg.clone(), |line| eprintln!("load: {line}")).await?;
    eprintln!("{}", report.summary());
    if json {
        let secs = report.sending.as_secs_f64();
        let line = serde_json::json!({
            "nodes": cfg.candidate_urls.len(),
            "candidates": cfg.candidates,
            "seconds": secs,
            "sessions": report.sessions,
            "events": report.events_stored,
            "events_per_s": report.events_stored as f64 / secs,
            "heartbeats": report.heartbeats,
            "clips": report.clips,
            "snapshots": report.snapshots,
            "ingest_p50_ms": quantile(&mut report.ingest_ms, 0.5),
            "ingest_p99_ms": quantile(&mut report.ingest_ms, 0.99),
            "end_p50_ms": quantile(&mut report.end_ms, 0.5),
            "end_max_ms": quantile(&mut report.end_ms, 1.0),
            "alerts_expected": report.alerts_expected,
            "alerts_received": report.alerts_received,
            "alerts_doubled": report.alerts_doubled,
            "alerts_out_of_order": report.alerts_out_of_order,
            "alert_p50_ms": quantile(&mut report.alert_ms, 0.5),
            "alert_p99_ms": quantile(&mut report.alert_ms, 0.99),
            "errors": report.errors,
        });
        println!("{line}");
    }
    if report.alerts_received < report.alerts_expected || report.alerts_doubled > 0 {
        anyhow::bail!("alerts were lost or doubled");
    }
    Ok(())
}
