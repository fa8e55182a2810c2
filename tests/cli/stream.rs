//! Sessions streamed to a real `invigil serve` on loopback: the server's
//! timeline equals what `watch` wrote locally, clips arrive intact, and
//! nothing is lost or doubled when the server is down at the start, when
//! the server is killed mid-stream, or when the client is.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

const SCENARIO: &str = "tests/scenarios/exam_with_incidents.toml";
const PASSWORD: &str = "proctor password 1";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `invigil serve` as a child process.
struct ServerProc {
    child: Child,
    base: String,
}

impl ServerProc {
    fn start(data: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_invigil"))
            .args(["serve", "--data"])
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start invigil serve");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::blocking::get(format!("{base}/healthz")).is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, base }
    }

    /// SIGKILL: no chance to flush or shut down.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_proctor(data: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["proctor", "add", "qa", "--password-stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn watch_cmd(base: &str, journal: &Path, events: &Path, realtime: bool) -> Command {
    watch_cmd_drain(base, journal, events, realtime, "60")
}

fn watch_cmd_drain(
    base: &str,
    journal: &Path,
    events: &Path,
    realtime: bool,
    drain: &str,
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_invigil"));
    cmd.current_dir(root())
        .args(["watch", "--quiet", "--source", SCENARIO, "--server", base])
        .args(["--exam", "exam-e2e", "--candidate", "cand-e2e", "--journal"])
        .arg(journal)
        .arg("--events")
        .arg(events)
        .args(["--drain-timeout", drain])
        .env_remove("INVIGIL_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if realtime {
        cmd.arg("--realtime");
    }
    cmd
}

fn session_id(journal: &Path) -> String {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("session.json")).unwrap())
            .unwrap();
    meta["session_id"].as_str().unwrap().to_owned()
}

fn get(base: &str, path: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth("qa", Some(PASSWORD))
        .send()
        .unwrap()
}

fn timeline(base: &str, session: &str) -> Value {
    let r = get(base, &format!("/api/v1/sessions/{session}/timeline"));
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

fn read_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A killed writer may leave a torn last line; it was journaled anyway.
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The server holds one unbroken chain, seq 0..n, ending the session, and
/// every event any local run wrote is in it exactly as written.
fn assert_delivered_once(timeline: &Value, session: &str, local_runs: &[Vec<Value>]) -> Vec<Value> {
    let server: Vec<Value> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("hash");
            o.remove("received_ms");
            e
        })
        .collect();
    let mut head = invigil_core::chain::origin(session);
    for (i, e) in server.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "no gaps, no duplicates");
        assert_eq!(e["prev"], head.as_str(), "chain unbroken at {i}");
        let event: invigil_core::Event = serde_json::from_value(e.clone()).unwrap();
        head = invigil_core::chain::event_hash(&event);
    }
    assert_eq!(server.last().unwrap()["kind"], "session_ended");
    for run in local_runs {
        for e in run {
            let seq = e["seq"].as_u64().unwrap() as usize;
            assert_eq!(&server[seq], e, "event {seq} as written locally");
        }
    }
    assert_eq!(timeline["session"]["state"], "ended");
    assert_eq!(timeline["session"]["rejected_batches"], 0);
    server
}

fn kinds_of(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

/// Whether headless Chromium plays an MP4 file: `Some(description)` or
/// `None` when no Chromium is installed.
fn chromium_plays(mp4: &Path) -> Option<String> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let page = mp4.with_extension("html");
    std::fs::write(
        &page,
        format!(
            r#"<!doctype html><title>pending</title><video id="v" muted src="{}"></video>
<script>
const v = document.getElementById('v');
v.addEventListener('loadeddata', () => {{ document.title = 'played ' + v.videoWidth + 'x' + v.videoHeight + ' ' + v.duration.toFixed(1) + 's'; }});
v.addEventListener('error', () => {{ document.title = 'error ' + v.error.code; }});
</script>"#,
            mp4.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--autoplay-policy=no-user-gesture-required",
        ])
        .args([
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let title = dom
        .split("<title>")
        .nth(1)?
        .split("</title>")
        .next()?
        .to_owned();
    Some(title)
}

#[test]
fn streamed_session_matches_local_events_and_clips_play() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start(&data, free_port());
    let journal = dir.path().join("journal");
    let events_file = dir.path().join("events.jsonl");
    let out = watch_cmd(&server.base, &journal, &events_file, false)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let local = read_events(&events_file);
    let session = session_id(&journal);
    let tl = timeline(&server.base, &session);
    let server_events = assert_delivered_once(&tl, &session, std::slice::from_ref(&local));
    assert_eq!(
        server_events, local,
        "the server's timeline is exactly the local events"
    );
    assert_eq!(
        kinds_of(&local)
            .iter()
            .filter(|k| **k == "clip_saved")
            .count(),
        3,
        "a clip per violation: {:?}",
        kinds_of(&local)
    );

    // Each clip: linked from its violation, stored intact, playable.
    let media = tl["media"].as_array().unwrap();
    assert_eq!(media.len(), 3);
    for saved in local.iter().filter(|e| e["kind"] == "clip_saved") {
        let d = &saved["data"];
        let violation = &local[d["event_seq"].as_u64().unwrap() as usize];
        assert_eq!(violation["severity"], "violation");
        let start = d["start_ms"].as_u64().unwrap();
        let end = d["end_ms"].as_u64().unwrap();
        let at = violation["t_ms"].as_u64().unwrap();
        assert!(
            start + 4500 <= at && at + 4000 <= end,
            "clip {start}..{end} around {at}"
        );
        let sha = d["sha256"].as_str().unwrap();
        let r = get(
            &server.base,
            &format!("/api/v1/sessions/{session}/media/{sha}"),
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "video/mp4");
        let body = r.bytes().unwrap();
        assert_eq!(invigil_core::chain::hex(&Sha256::digest(&body)), sha);
        assert_eq!(body.len() as u64, d["bytes"].as_u64().unwrap());
        assert_eq!(&body[4..8], b"ftyp");
        let clip_path = dir.path().join(format!("{sha}.mp4"));
        std::fs::write(&clip_path, &body).unwrap();
        match chromium_plays(&clip_path) {
            Some(title) => assert!(
                title.starts_with(&format!("played {}x{}", d["width"], d["height"])),
                "Chromium: {title}"
            ),
            None if std::env::var_os("INVIGIL_REQUIRE_CHROMIUM").is_some() => {
                panic!("INVIGIL_REQUIRE_CHROMIUM is set but no Chromium is installed")
            }
            None => eprintln!("SKIPPED: Chromium playback check (no /usr/bin/chromium)"),
        }
    }
    // The journal is empty once everything is acknowledged.
    let j = invigil_uplink::Journal::open(&journal).unwrap();
    assert!(j.pending().unwrap().is_empty());
}

#[test]
fn server_down_at_start_comes_up_30_s_later() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let journal = dir.path().join("journal");
    let events_file = dir.path().join("events.jsonl");
    let started = Instant::now();
    let client = watch_cmd(&base, &journal, &events_file, true)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(30));
    // Events so far exist only on the client.
    assert!(
        read_events(&events_file).len() >= 3,
        "events were raised while the server was down"
    );
    let server = ServerProc::start(&data, port);
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(44),
        "the session ran in real time"
    );
    let session = session_id(&journal);
    let local = read_events(&events_file);
    let server_events = assert_delivered_once(
        &timeline(&server.base, &session),
        &session,
        std::slice::from_ref(&local),
    );
    assert_eq!(server_events, local);
}

#[test]
fn server_killed_mid_stream_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let port = free_port();
    let mut server = ServerProc::start(&data, port);
    let journal = dir.path().join("journal");
    let events_file = dir.path().join("events.jsonl");
    let client = watch_cmd(&server.base, &journal, &events_file, true)
        .spawn()
        .unwrap();
    // The absence (8-15 s) has been streamed; kill the server during it.
    std::thread::sleep(Duration::from_secs(13));
    let session = session_id(&journal);
    let before = timeline(&server.base, &session)["events"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        before >= 3,
        "events reached the server before the kill ({before})"
    );
    server.kill();
    std::thread::sleep(Duration::from_secs(8));
    let server = ServerProc::start(&data, port);
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let local = read_events(&events_file);
    let tl = timeline(&server.base, &session);
    let server_events = assert_delivered_once(&tl, &session, std::slice::from_ref(&local));
    assert_eq!(server_events, local);
    // Live runs encode clips on a worker thread: each still follows its
    // violation, names the media, and the media arrived.
    let saved: Vec<&Value> = local.iter().filter(|e| e["kind"] == "clip_saved").collect();
    assert_eq!(saved.len(), 3, "{:?}", kinds_of(&local));
    let media: Vec<&str> = tl["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sha256"].as_str().unwrap())
        .collect();
    for e in saved {
        let violation = e["data"]["event_seq"].as_u64().unwrap();
        assert!(violation < e["seq"].as_u64().unwrap());
        assert!(media.contains(&e["data"]["sha256"].as_str().unwrap()));
    }
}

#[test]
fn client_killed_mid_stream_and_restarted_on_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start(&data, free_port());
    let journal = dir.path().join("journal");
    let first_run = dir.path().join("events-1.jsonl");
    let mut client = watch_cmd(&server.base, &journal, &first_run, true)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(13));
    client.kill().unwrap(); // SIGKILL
    client.wait().unwrap();
    let first = read_events(&first_run);
    assert!(
        first.len() >= 3,
        "the first run raised events before it was killed"
    );
    assert!(first.iter().all(|e| e["kind"] != "session_ended"));

    let second_run = dir.path().join("events-2.jsonl");
    let out = watch_cmd(&server.base, &journal, &second_run, false)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("continuing unfinished session"),
        "{}",
        stderr(&out)
    );
    let second = read_events(&second_run);
    assert_eq!(second[0]["kind"], "session_resumed");

    let session = session_id(&journal);
    let server_events = assert_delivered_once(
        &timeline(&server.base, &session),
        &session,
        &[first.clone(), second.clone()],
    );
    // Everything of both runs, and nothing else, apart from events the first
    // run journaled in its last instant without writing them locally.
    assert!(server_events.len() >= first.len() + second.len());
    assert!(server_events.len() <= first.len() + second.len() + 1);
    assert_eq!(server_events[0]["kind"], "session_started");
}

#[test]
fn a_rejected_session_is_reported_and_kept() {
    // A journal whose chain was tampered with after the fact: the server
    // refuses it, watch says so and exits non-zero, and the journal keeps
    // the items.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start(&data, free_port());
    let journal = dir.path().join("journal");
    // The server already holds a different session under this id and token.
    let out = watch_cmd(&server.base, &journal, &dir.path().join("e1.jsonl"), false)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("session.json")).unwrap())
            .unwrap();
    let other_journal = dir.path().join("journal2");
    std::fs::create_dir_all(&other_journal).unwrap();
    meta["candidate_id"] = "someone-else".into();
    meta["created"] = false.into();
    meta["ended"] = false.into();
    meta["next_seq"] = 0.into();
    meta["head"] = invigil_core::chain::origin(meta["session_id"].as_str().unwrap()).into();
    std::fs::write(other_journal.join("session.json"), meta.to_string()).unwrap();
    let out = watch_cmd(
        &server.base,
        &other_journal,
        &dir.path().join("e2.jsonl"),
        false,
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused this session"),
        "{}",
        stderr(&out)
    );
    let status = invigil(&[
        "uplink",
        "status",
        "--journal",
        other_journal.to_str().unwrap(),
        "--json",
    ]);
    let s: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert!(s["pending_events"].as_u64().unwrap() > 5, "items kept: {s}");
}

#[test]
fn watch_server_flags_are_checked() {
    let o = invigil(&[
        "watch",
        "--source",
        SCENARIO,
        "--server",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--token, or --exam and --candidate"),
        "{}",
        stderr(&o)
    );
    let o = invigil(&[
        "watch",
        "--source",
        SCENARIO,
        "--server",
        "ftp://x",
        "--exam",
        "e",
        "--candidate",
        "c",
        "--journal",
        "/tmp/invigil-test-bad-url",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("http://"), "{}", stderr(&o));
    let o = invigil(&[
        "watch",
        "--source",
        SCENARIO,
        "--exam",
        "e",
        "--candidate",
        "c",
    ]);
    assert_eq!(o.status.code(), Some(2), "--exam without --server");
}

#[test]
fn a_session_created_beforehand_streams_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start(&data, free_port());
    // The exam platform creates the session and hands out the token.
    let created: Value = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/sessions", server.base))
        .json(&serde_json::json!({"exam_id": "exam-7", "candidate_id": "cand-7"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = created["token"].as_str().unwrap();
    let session = created["session_id"].as_str().unwrap();
    let journal = dir.path().join("journal");
    let events_file = dir.path().join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .current_dir(root())
        .args([
            "watch",
            "--quiet",
            "--source",
            "tests/scenarios/glance_away.toml",
            "--server",
            &server.base,
            "--token",
            token,
            "--journal",
        ])
        .arg(&journal)
        .arg("--events")
        .arg(&events_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let local = read_events(&events_file);
    let tl = timeline(&server.base, session);
    assert_eq!(
        assert_delivered_once(&tl, session, std::slice::from_ref(&local)),
        local
    );
    assert_eq!(tl["session"]["candidate_id"], "cand-7");

    // A token the server does not know: a clear error before anything runs.
    let o = invigil(&[
        "watch",
        "--source",
        "tests/scenarios/glance_away.toml",
        "--server",
        &server.base,
        "--token",
        &format!("ivc_{}", "0".repeat(64)),
        "--journal",
        dir.path().join("j2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("401") && stderr(&o).contains("token"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn uplink_send_delivers_what_an_offline_run_left() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let journal = dir.path().join("journal");
    let events_file = dir.path().join("events.jsonl");
    // The whole session runs with the server down.
    let out = watch_cmd_drain(&base, &journal, &events_file, false, "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("uplink send"), "{}", stderr(&out));
    let status = invigil(&["uplink", "status", "--journal", journal.to_str().unwrap()]);
    assert!(
        stdout(&status).contains("not yet created on the server"),
        "{}",
        stdout(&status)
    );
    // Nothing to send to: exit 1, items kept.
    let o = invigil(&[
        "uplink",
        "send",
        "--journal",
        journal.to_str().unwrap(),
        "--timeout",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let server = ServerProc::start(&data, port);
    let o = invigil(&[
        "uplink",
        "send",
        "--journal",
        journal.to_str().unwrap(),
        "--timeout",
        "30",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let session = session_id(&journal);
    let local = read_events(&events_file);
    let tl = timeline(&server.base, &session);
    assert_eq!(
        assert_delivered_once(&tl, &session, std::slice::from_ref(&local)),
        local
    );
    assert_eq!(tl["media"].as_array().unwrap().len(), 3, "the clips too");
    let o = invigil(&["uplink", "send", "--journal", "/nonexistent/journal"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/journal"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_idle_client_checks_in_so_proctors_see_it_connected() {
    use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
    use invigil_uplink::{SessionRequest, Uplink};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let mut server = ServerProc::start(&data, free_port());
    let uplink = Uplink::open(
        &dir.path().join("journal"),
        SessionRequest::Enrol {
            server: server.base.clone(),
            exam_id: "exam-idle".into(),
            candidate_id: "cand-idle".into(),
            policy: Default::default(),
        },
        Duration::from_secs(10),
    )
    .unwrap();
    let mut started = Event {
        v: EVENT_SCHEMA_VERSION,
        seq: 0,
        t_ms: 0,
        kind: EventKind::SessionStarted,
        severity: EventKind::SessionStarted.severity(),
        data: Default::default(),
        prev: None,
    };
    uplink.record(&mut started);
    let deadline = Instant::now() + Duration::from_secs(30);
    while uplink.status().sent_events < 1 {
        assert!(Instant::now() < deadline, "the event was sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    let session = uplink.session_id();
    let seen = |what: &str| -> (i64, i64) {
        let v: Value = get(&server.base, &format!("/api/v1/sessions/{session}"))
            .json()
            .unwrap();
        (
            v["last_seen_ms"]
                .as_i64()
                .unwrap_or_else(|| panic!("{what}: {v}")),
            v["last_event_ms"].as_i64().unwrap(),
        )
    };
    let (first_seen, last_event) = seen("after the event");
    assert!(first_seen >= last_event - 1000);
    let requests = uplink.status().requests;
    // Nothing more to send: the heartbeat (every 30 s) still reaches the
    // server and refreshes what proctors see.
    std::thread::sleep(invigil_uplink::HEARTBEAT + Duration::from_secs(2));
    let status = uplink.status();
    assert!(status.requests > requests, "{status:?}");
    assert_eq!(status.connection, invigil_uplink::Connection::Online);
    let (later_seen, _) = seen("after the heartbeat");
    assert!(
        later_seen >= first_seen + 25_000,
        "last seen {first_seen} -> {later_seen}"
    );

    // The server goes away with everything delivered: the client notices
    // (the next heartbeat fails), and finishing does not wait out the
    // drain time trying to check in.
    server.kill();
    let deadline = Instant::now() + invigil_uplink::HEARTBEAT + Duration::from_secs(10);
    while uplink.status().connection != invigil_uplink::Connection::Offline {
        assert!(Instant::now() < deadline, "the lost server was noticed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();
    let status = uplink.finish(Duration::from_secs(20));
    assert_eq!(status.pending, 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "finish took {:?}",
        started.elapsed()
    );
}

fn sessions_cmd(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_invigil"))
        .arg("sessions")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn operators_list_and_delete_sessions_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start(&data, free_port());
    let mut ids = Vec::new();
    for n in 0..2 {
        let journal = dir.path().join(format!("journal-{n}"));
        let out = watch_cmd(
            &server.base,
            &journal,
            &dir.path().join(format!("ev-{n}")),
            false,
        )
        .output()
        .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        ids.push(session_id(&journal));
    }
    let media_files = || {
        walk(&data.join("media"))
            .into_iter()
            .filter(|p| !p.starts_with(data.join("media/tmp")))
            .count()
    };
    let files_before = media_files();
    // The same scenario gives byte-identical clips: stored once, listed by
    // both sessions.
    assert_eq!(files_before, 3, "3 clips, shared");

    let out = sessions_cmd(&data, &["list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = events(&stdout(&out));
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|s| s["media"] == 3 && s["events"].as_i64() > Some(5)));

    // An export: the events as the server holds them, chain verified, and
    // the clips.
    let out_dir = dir.path().join("export");
    let out = sessions_cmd(
        &data,
        &[
            "export",
            &ids[1],
            "--json",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["chain_verified"], true, "{result}");
    assert_eq!(result["media_files"], 3);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("session.json")).unwrap()).unwrap();
    assert_eq!(doc["events"], timeline(&server.base, &ids[1])["events"]);
    for m in doc["media"].as_array().unwrap() {
        let body = std::fs::read(out_dir.join(m["file"].as_str().unwrap())).unwrap();
        assert_eq!(
            invigil_core::chain::hex(&Sha256::digest(&body)),
            m["sha256"]
        );
    }
    let out = sessions_cmd(
        &data,
        &["export", &ids[1], "--out", out_dir.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "an export never overwrites");

    // A dry run and an unknown id change nothing.
    let out = sessions_cmd(&data, &["delete", "--dry-run", &ids[0]]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would delete 1 session"),
        "{}",
        stdout(&out)
    );
    let out = sessions_cmd(&data, &["delete", &ids[0], "not-a-session"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no session not-a-session")
            && stderr(&out).contains("nothing was deleted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        get(&server.base, &format!("/api/v1/sessions/{}", ids[0])).status(),
        200
    );
    assert_eq!(media_files(), files_before);

    // Deleted: gone from the running server and from disk; the other stays.
    let out = sessions_cmd(&data, &["delete", "--json", &ids[0]]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = events(&stdout(&out));
    assert_eq!(lines.last().unwrap()["deleted"]["sessions"], 1);
    assert_eq!(lines.last().unwrap()["deleted"]["media"], 3);
    assert_eq!(
        lines.last().unwrap()["deleted"]["files_deleted"],
        0,
        "the other session still lists the clips"
    );
    assert_eq!(
        get(&server.base, &format!("/api/v1/sessions/{}", ids[0])).status(),
        404
    );
    assert_eq!(
        get(&server.base, &format!("/api/v1/sessions/{}", ids[1])).status(),
        200
    );
    let clips = &timeline(&server.base, &ids[1])["media"];
    for clip in clips.as_array().unwrap() {
        let sha = clip["sha256"].as_str().unwrap();
        let r = get(
            &server.base,
            &format!("/api/v1/sessions/{}/media/{sha}", ids[1]),
        );
        assert_eq!(r.status(), 200, "{sha}");
    }
    assert_eq!(media_files(), 3);

    // Nothing has been inactive for a day; everything ended for 0 days.
    let out = sessions_cmd(&data, &["purge", "--inactive-days", "1"]);
    assert!(
        stdout(&out).contains("deleted 0 sessions"),
        "{}",
        stdout(&out)
    );
    let out = sessions_cmd(&data, &["purge", "--inactive-days", "0"]);
    assert!(
        stdout(&out).contains("deleted 1 session "),
        "{}",
        stdout(&out)
    );
    assert_eq!(media_files(), 0);
    let out = sessions_cmd(&data, &["list"]);
    assert!(stdout(&out).contains("0 sessions"), "{}", stdout(&out));

    // Bad input: a data directory without a database, a bad period.
    let out = sessions_cmd(&dir.path().join("nowhere"), &["list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no invigil database"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("nowhere").exists(),
        "no empty database made"
    );
    let out = sessions_cmd(&data, &["purge", "--inactive-days", "-3"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["serve", "--retention-days", "0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--retention-days"),
        "{}",
        stderr(&out)
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
