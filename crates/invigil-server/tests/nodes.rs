//! Several server nodes on one PostgreSQL database: alerts reach a
//! proctor whichever node stored the events, each once and in order per
//! session, and a batch sent to two nodes at once is stored once
//! (docs/deploy.md). Skipped (loudly) without `INVIGIL_TEST_POSTGRES`.

mod common;
#[path = "../examples/load/generator.rs"]
mod generator;

use std::collections::HashMap;
use std::time::Duration;

use common::{chained, Db, TestServer};
use futures_util::StreamExt;
use serde_json::Value;

/// The `alert` events of an SSE text about `sessions` (other tests share
/// the database, and every node relays every session's alerts).
fn parse_alerts(text: &str, sessions: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut is_alert = false;
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix("event: ") {
            is_alert = kind == "alert";
        } else if let Some(data) = line.strip_prefix("data: ") {
            let alert: Value = match serde_json::from_str(data) {
                Ok(v) if is_alert => v,
                _ => continue,
            };
            if sessions.contains(&alert["session_id"].as_str().unwrap_or_default()) {
                out.push(alert);
            }
        }
    }
    out
}

/// Reads alerts about `sessions` from an SSE stream until `want` have
/// come (or the deadline), then a little longer to catch any doubles.
async fn alerts(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    sessions: &[&str],
    want: usize,
) -> Vec<Value> {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // Whole SSE events only: cut at the last blank line.
    let count = |t: &str| parse_alerts(&t[..t.rfind("\n\n").map_or(0, |i| i + 2)], sessions).len();
    common::read_sse_until(
        stream,
        &mut text,
        deadline,
        &format!("{want} alerts"),
        |t| count(t) >= want,
    )
    .await;
    // Doubles would come right behind.
    let settle = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(settle, stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let whole = &text[..text.rfind("\n\n").map_or(0, |i| i + 2)];
    parse_alerts(whole, sessions)
}

/// The seqs of each session's alerts, in the order they came.
fn seqs_by_session(alerts: &[Value]) -> HashMap<String, Vec<u64>> {
    let mut out: HashMap<String, Vec<u64>> = HashMap::new();
    for alert in alerts {
        out.entry(alert["session_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(alert["event"]["seq"].as_u64().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_every_node_once_and_in_order() {
    let Some(a) = TestServer::start(Db::Postgres).await else {
        return;
    };
    let b = TestServer::start(Db::Postgres).await.unwrap();
    let proctor = b.proctor("nodes-proctor").await;
    let r = b
        .http
        .get(b.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();

    // Two candidates: one streams through node a, one through a and b
    // alternately (a load balancer's round robin).
    let exam = common::unique("exam-nodes");
    let (one, one_token) = a.session(&exam, "cand-one").await;
    let (two, two_token) = b.session(&exam, "cand-two").await;
    let one_events = chained(&one, 8);
    let two_events = chained(&two, 8);
    for i in 0..8 {
        assert_eq!(a.append(&one, &one_token, &one_events[i..=i]).await.0, 200);
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            node.append(&two, &two_token, &two_events[i..=i]).await.0,
            200
        );
    }
    let warned = |events: &[invigil_core::Event]| {
        events
            .iter()
            .filter(|e| e.severity >= invigil_core::Severity::Warning)
            .count()
    };
    let want = warned(&one_events) + warned(&two_events);
    assert!(want >= 4, "the fixture has alerts ({want})");
    let got = alerts(&mut stream, &[&one, &two], want).await;
    assert_eq!(got.len(), want, "each alert once: {got:#?}");
    let by_session = seqs_by_session(&got);
    for (id, events) in [(&one, &one_events), (&two, &two_events)] {
        let expected: Vec<u64> = events
            .iter()
            .filter(|e| e.severity >= invigil_core::Severity::Warning)
            .map(|e| e.seq)
            .collect();
        assert_eq!(by_session[id.as_str()], expected, "session {id} in order");
    }
    assert!(got.iter().all(|a| a["candidate_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("cand-"))));

    // The console's connection to b drops; it resumes on node a from the
    // first alert it saw and gets them all again, per session in order
    // (it drops the repeats itself).
    let first = &got[0];
    let last_id = format!(
        "{}:{}:{}",
        first["received_ms"],
        first["session_id"].as_str().unwrap(),
        first["event"]["seq"]
    );
    let r = a
        .http
        .get(a.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .header("last-event-id", last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut resumed = r.bytes_stream();
    let again = alerts(&mut resumed, &[&one, &two], want).await;
    assert_eq!(seqs_by_session(&again), by_session);

    // A decision made on node a reaches the console on node b; the same
    // sign-in works on both (tokens are in the database).
    let seq = by_session[one.as_str()][0];
    let (status, v) = a
        .post(
            &format!("/api/v1/sessions/{one}/decisions"),
            Some(&proctor),
            &serde_json::json!({"action": "dismiss", "event_seq": seq, "note": "a reflection"})
                .to_string(),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let decided = |t: &str| {
        common::sse_data(t, "decision")
            .into_iter()
            .find(|d| d["session"]["session_id"] == one.as_str())
    };
    common::read_sse_until(
        &mut stream,
        &mut text,
        deadline,
        "the decision on node b",
        |t| decided(t).is_some(),
    )
    .await;
    let d = decided(&text).unwrap();
    assert_eq!(d["decision"]["note"], "a reflection");
    assert_eq!(d["decision"]["event_seq"], seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_sent_to_two_nodes_at_once_is_stored_once() {
    let Some(a) = TestServer::start(Db::Postgres).await else {
        return;
    };
    let b = TestServer::start(Db::Postgres).await.unwrap();
    let proctor = a.proctor("nodes-proctor-2").await;
    for round in 0..5 {
        let exam = common::unique("exam-retry");
        let (id, token) = a.session(&exam, &format!("cand-{round}")).await;
        let events = chained(&id, 6);
        // The client's request and its retry through the other node.
        let (ra, rb) = tokio::join!(
            a.append(&id, &token, &events),
            b.append(&id, &token, &events)
        );
        assert_eq!((ra.0, rb.0), (200, 200), "{ra:?} {rb:?}");
        let stored = ra.1["accepted"].as_u64().unwrap() + rb.1["accepted"].as_u64().unwrap();
        let doubled = ra.1["duplicates"].as_u64().unwrap() + rb.1["duplicates"].as_u64().unwrap();
        assert_eq!((stored, doubled), (6, 6), "{ra:?} {rb:?}");
        let timeline = a.timeline(&id, &proctor).await;
        assert_eq!(timeline["events"].as_array().unwrap().len(), 6);
    }
}

/// Spot checks follow one schedule per session however its contacts are
/// balanced: heartbeats alternating between two nodes get one request,
/// which neither node repeats while it waits for its snapshot (with a
/// schedule per node, each node asked on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_checks_follow_one_schedule_across_nodes() {
    let Some(a) = TestServer::start(Db::Postgres).await else {
        return;
    };
    let b = TestServer::start(Db::Postgres).await.unwrap();
    let proctor = a.proctor("nodes-proctor-3").await;
    let policy = serde_json::json!({"spot_check_s": 5.0});
    let r = a
        .http
        .post(a.url("/api/v1/sessions"))
        .json(&serde_json::json!({"exam_id": common::unique("exam-spot"), "candidate_id": "cand", "policy": policy}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let (id, token) = (
        v["session_id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(b.append(&id, &token, &chained(&id, 1)).await.0, 200);

    // The first request comes within 7.5 s (half to one and a half times
    // the mean); then 10 s more of contacts, through both nodes.
    let mut asked = Vec::new();
    let start = tokio::time::Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(17) {
        let node = if n % 2 == 0 { &a } else { &b };
        n += 1;
        let r = node
            .http
            .head(node.url(&format!("/api/v1/sessions/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        if let Some(request) = r.headers().get("invigil-snapshot") {
            asked.push(request.to_str().unwrap().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(asked.len(), 1, "one request, by one node: {asked:?}");
    let timeline = b.timeline(&id, &proctor).await;
    let checks = timeline["spot_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["id"], asked[0].as_str());
}

/// The load benchmark's short pass (scripts/bench-nodes runs the long
/// one): 24 simulated candidates for 8 s through two nodes in turn, with
/// clips and answered spot checks, and a proctor on a third: every event
/// stored, every alert once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_candidates_through_two_nodes_short_pass() {
    let no_limit = |c: &mut invigil_server::Config| c.sessions_per_minute = 0;
    let Some(a) = TestServer::start_with(Db::Postgres, no_limit).await else {
        return;
    };
    let b = TestServer::start_with(Db::Postgres, no_limit)
        .await
        .unwrap();
    let c = TestServer::start_with(Db::Postgres, no_limit)
        .await
        .unwrap();
    c.proctor("nodes-load").await;
    let snapshot = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/images/obama.jpg"),
    )
    .unwrap();
    let exam = common::unique("exam-load");
    let cfg = generator::LoadConfig {
        candidate_urls: vec![a.base.clone(), b.base.clone()],
        proctor_url: c.base.clone(),
        proctor_user: "nodes-load".into(),
        proctor_password: "correct horse battery".into(),
        candidates: 24,
        duration: Duration::from_secs(8),
        ramp: Duration::from_secs(2),
        events_per_min: 60.0,
        clip_every_s: 4.0,
        clip_bytes: 64 * 1024,
        spot_check_s: 5.0,
        snapshot: Some(snapshot),
        exam: exam.clone(),
    };
    let mut report = generator::run(cfg, |line| eprintln!("{line}"))
        .await
        .unwrap();
    eprintln!("{}", report.summary());
    assert_eq!(report.sessions, 24);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.clips >= 24, "{}", report.clips);
    assert!(report.alerts_expected >= 24, "{}", report.alerts_expected);
    assert_eq!(report.alerts_received, report.alerts_expected);
    assert_eq!((report.alerts_doubled, report.alerts_out_of_order), (0, 0));
    // Each session ended, holding every event it sent.
    let (ended, events): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(next_seq) AS BIGINT) FROM sessions WHERE exam_id = $1 AND state = 'ended'",
    )
    .bind(&exam)
    .fetch_one(&a.server.state().db().pool)
    .await
    .unwrap();
    assert_eq!((ended, events), (24, report.events_stored as i64));
}
