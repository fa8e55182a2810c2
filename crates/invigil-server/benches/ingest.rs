//! Backend benchmarks (figures in docs/performance.md):
//!
//! - ingest: chained events per second into a real server on loopback, for
//!   many concurrent sessions, batch sizes 1 and 20;
//! - alert latency: a violation appended -> delivered on the live alert
//!   stream to a connected proctor, p50/p99, under concurrent ingest.
//!
//! `cargo bench -p invigil-server --bench ingest` (SQLite); with
//! `INVIGIL_TEST_POSTGRES=postgres://...` also PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use invigil_core::chain::Chain;
use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use invigil_server::{Config, Server};
use serde_json::{json, Value};

fn event(seq: u64, kind: EventKind) -> Event {
    Event {
        v: EVENT_SCHEMA_VERSION,
        seq,
        t_ms: seq * 500,
        kind,
        severity: kind.severity(),
        data: json!({"absent_ms": seq * 10, "note": "benchmark"})
            .as_object()
            .unwrap()
            .clone(),
        prev: None,
    }
}

struct Session {
    id: String,
    token: String,
    chain: Chain,
    next: u64,
}

async fn create(http: &reqwest::Client, base: &str, n: usize) -> Session {
    let v: Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"exam_id": "bench", "candidate_id": format!("c{n}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["session_id"].as_str().unwrap().to_owned();
    Session {
        chain: Chain::new(&id),
        token: v["token"].as_str().unwrap().to_owned(),
        id,
        next: 0,
    }
}

async fn append(http: &reqwest::Client, base: &str, s: &mut Session, n: usize, kind: EventKind) {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        let mut e = event(s.next, kind);
        s.chain.link(&mut e);
        s.next += 1;
        events.push(e);
    }
    let r = http
        .post(format!("{base}/api/v1/sessions/{}/events", s.id))
        .bearer_auth(&s.token)
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn start(db: Option<&str>) -> (Server, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.database_url = db.map(str::to_owned);
    config.open_enrolment = true;
    let server = Server::start(config).await.unwrap();
    let base = format!("http://{}", server.addr());
    (server, base, dir)
}

async fn ingest(db: Option<&str>, sessions: usize, batch: usize, duration: Duration) -> f64 {
    let (server, base, _dir) = start(db).await;
    let http = reqwest::Client::new();
    let mut all = Vec::new();
    for n in 0..sessions {
        all.push(create(&http, &base, n).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = all
        .into_iter()
        .map(|mut s| {
            let (http, base, stop) = (http.clone(), base.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    append(&http, &base, &mut s, batch, EventKind::AbsenceWarning).await;
                }
                s.next
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    server.shutdown().await.unwrap();
    rate
}

/// Alert latency with `background` sessions each appending a batch of 5
/// info events every 100 ms (i.e. 50 events/s per session).
async fn alert_latency(db: Option<&str>, background: usize, samples: usize) -> (f64, f64, f64) {
    let (server, base, _dir) = start(db).await;
    invigil_server::set_proctor(server.state().db(), "bench", "bench password")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for n in 0..background {
        let mut s = create(&http, &base, 1000 + n).await;
        let (http, base, stop) = (http.clone(), base.clone(), Arc::clone(&stop));
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                append(&http, &base, &mut s, 5, EventKind::CandidateReturned).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    let r = http
        .get(format!("{base}/api/v1/alerts"))
        .basic_auth("bench", Some("bench password"))
        .send()
        .await
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut s = create(&http, &base, 0).await;
    let mut latencies = Vec::with_capacity(samples);
    let mut buffer = String::new();
    for _ in 0..samples {
        let sent = Instant::now();
        append(&http, &base, &mut s, 1, EventKind::CandidateAbsent).await;
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if block.contains("event: alert") {
                    break;
                }
                continue;
            }
            let chunk = stream.next().await.unwrap().unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    server.shutdown().await.unwrap();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    (pct(0.5), pct(0.99), *latencies.last().unwrap())
}

fn main() {
    // `cargo test --benches` runs this with --test-ish arguments; only a
    // real `cargo bench` (which passes --bench) measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ingest bench: run with `cargo bench -p invigil-server --bench ingest`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let postgres = std::env::var("INVIGIL_TEST_POSTGRES").ok();
    let mut dbs: Vec<(&str, Option<&str>)> = vec![("sqlite", None)];
    if let Some(url) = postgres.as_deref() {
        dbs.push(("postgres", Some(url)));
    }
    let secs = Duration::from_secs(5);
    println!("| database | sessions | events per request | events/s |");
    println!("|---|---:|---:|---:|");
    for (name, db) in &dbs {
        for (sessions, batch) in [(1, 1), (10, 1), (100, 1), (10, 20), (100, 20)] {
            let rate = rt.block_on(ingest(*db, sessions, batch, secs));
            println!("| {name} | {sessions} | {batch} | {rate:.0} |");
        }
    }
    println!();
    println!("| database | background sessions (50 events/s each) | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (name, db) in &dbs {
        for background in [0, 20, 100] {
            let (p50, p99, max) = rt.block_on(alert_latency(*db, background, 300));
            println!("| {name} | {background} | {p50:.2} | {p99:.2} | {max:.2} |");
        }
    }
}
