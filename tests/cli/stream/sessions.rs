//! `watch --server` flags, sessions created beforehand with a token, what
//! `invigil uplink send` delivers later, and idle clients checking in.

use super::*;

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
