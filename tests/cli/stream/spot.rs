//! Spot checks on a real session: `invigil watch --code` against a server
//! whose exam asks for a snapshot about every 5 s. The client answers each
//! request with a snapshot and a `snapshot_taken` event, the server agrees
//! with an honest client (also while the candidate is away: the client
//! admitted it), and the bandwidth per snapshot is measured
//! (docs/spot-checks.md, docs/performance.md).

use super::*;

#[test]
fn spot_checks_on_a_real_session() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let server = ServerProc::start_with(&data, free_port(), &[]);
    let base = server.base.clone();
    let policy = dir.path().join("exam.toml");
    std::fs::write(&policy, "spot_check_s = 5\n").unwrap();
    let run = |args: &[&str]| super::exams::ok(&super::exams::exams(&base, "qa", args));
    run(&[
        "create",
        "spot-1",
        "--title",
        "Spot",
        "--opens",
        "now",
        "--closes",
        "+1h",
        "--policy",
        policy.to_str().unwrap(),
        "--no-face-photo",
        "--no-id-photo",
        "--no-room-scan",
    ]);
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "candidate_id,name,email\nc-1,One,\n").unwrap();
    let csv = run(&["enrol", "spot-1", "--roster", roster.to_str().unwrap()]);
    let code = csv
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .nth(1) // candidate_id,name,email,code,link
        .unwrap()
        .to_owned();

    // 35 s in real time: present, away 10-25 s, back.
    let journal = dir.path().join("journal");
    let events = dir.path().join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .current_dir(root())
        .args([
            "watch",
            "--quiet",
            "--realtime",
            "--source",
            "tests/scenarios/leaves_and_returns.toml",
        ])
        .args(["--server", &base, "--code", &code, "--clips", "false"])
        .arg("--journal")
        .arg(&journal)
        .arg("--events")
        .arg(&events)
        .args(["--drain-timeout", "60"])
        .env_remove("INVIGIL_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = read_events(&events);
    let taken: Vec<&Value> = local
        .iter()
        .filter(|e| e["kind"] == "snapshot_taken")
        .collect();
    assert!(taken.len() >= 3, "snapshots taken: {}", taken.len());

    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("session.json")).unwrap())
            .unwrap();
    let session = meta["session_id"].as_str().unwrap().to_owned();
    // The server judges each off the request path: wait for the verdicts.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let t = loop {
        let t = timeline(&base, &session);
        let checks = t["spot_checks"].as_array().unwrap();
        let answered = checks.iter().filter(|c| !c["sha256"].is_null()).count();
        if answered >= taken.len()
            && checks
                .iter()
                .filter(|c| !c["sha256"].is_null())
                .all(|c| !c["verdict"].is_null() && c["verdict"] != "judging")
        {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:#}",
            t["spot_checks"]
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let checks = t["spot_checks"].as_array().unwrap();
    for c in checks.iter().filter(|c| !c["sha256"].is_null()) {
        assert_eq!(c["verdict"], "agree", "{:#}", t["spot_checks"]);
    }
    // Both a face and the empty room were checked.
    let faces: Vec<i64> = checks
        .iter()
        .filter_map(|c| c["server_faces"].as_i64())
        .collect();
    assert!(faces.contains(&1), "{faces:?}");
    assert!(
        t["notes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "analysis_disagreement"),
        "{:#}",
        t["notes"]
    );
    let media = t["media"].as_array().unwrap();
    let snaps: Vec<&Value> = media.iter().filter(|m| m["kind"] == "snapshot").collect();
    assert_eq!(snaps.len(), taken.len());
    let bytes: u64 = snaps.iter().map(|m| m["bytes"].as_u64().unwrap()).sum();
    let per = bytes / snaps.len() as u64;
    assert!(per < 40_000, "a snapshot is small: {per} bytes");
    // Per snapshot on the wire: the JPEG, its event (~450 bytes) and two
    // requests' headers (~700 bytes).
    let wire = per + 450 + 700;
    eprintln!(
        "spot checks: {} snapshots, {per} bytes each on average; at one a minute {:.4} Mbit/s",
        snaps.len(),
        wire as f64 * 8.0 / 60.0 / 1e6
    );
    assert!(wire as f64 * 8.0 / 60.0 / 1e6 < 0.05);
}
