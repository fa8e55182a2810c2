//! Nothing lost or doubled: a streamed session against the local events,
//! with the server down at the start, killed mid-stream, or the client
//! killed and restarted on its journal; a session the server refuses.

use super::*;

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
