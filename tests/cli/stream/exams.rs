//! `invigil exams` and `invigil watch --code` against a real server
//! without open enrolment: an admin creates an exam from a policy file and
//! enrols a roster; a candidate's client starts with a launch code and runs
//! the exam's policy, not its own; codes work once.

use super::*;

pub(super) fn exams(base: &str, user: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_invigil"))
        .arg("exams")
        .args(args)
        .args(["--server", base, "--user", user])
        .env("INVIGIL_PASSWORD", PASSWORD)
        .env_remove("INVIGIL_LOG")
        .output()
        .unwrap()
}

pub(super) fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: &std::process::Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should have failed: {err}");
    assert!(err.contains(says), "expected `{says}` in: {err}");
}

fn watch_with(base: &str, journal: &Path, events: &Path, who: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_invigil"))
        .current_dir(root())
        .args(["watch", "--quiet", "--source", SCENARIO, "--server", base])
        .args(who)
        .arg("--journal")
        .arg(journal)
        .arg("--events")
        .arg(events)
        .args(["--drain-timeout", "60"])
        .env_remove("INVIGIL_LOG")
        .output()
        .unwrap()
}

#[test]
fn an_admin_enrols_a_roster_and_candidates_start_with_launch_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data); // `qa`, the first account: an admin
    let server = ServerProc::start_with(&data, free_port(), &[]);
    let base = server.base.clone();

    let policy = dir.path().join("exam.toml");
    std::fs::write(&policy, "absence_warn_s = 1.5\nabsence_flag_s = 4.0\n").unwrap();
    let bad_policy = dir.path().join("bad.toml");
    std::fs::write(&bad_policy, "absence_flag_s = -4.0\n").unwrap();
    let create = |id: &str, policy: &Path| {
        exams(
            &base,
            "qa",
            &[
                "create",
                id,
                "--title",
                "Biology 101",
                "--opens",
                "now",
                "--closes",
                "+2h",
                "--policy",
                policy.to_str().unwrap(),
                "--breaks",
                "1",
                "--break-minutes",
                "5",
                "--scratch-paper",
                "--no-id-photo",
            ],
        )
    };
    refused(&create("bio-101", &bad_policy), "absence_flag_s");
    let out = ok(&create("bio-101", &policy));
    assert!(out.contains("created exam bio-101"), "{out}");
    assert!(out.contains("absence_flag_s = 4.0"), "{out}");
    assert!(out.contains("breaks 1 of 5 min (clock paused)"), "{out}");
    refused(&create("bio-101", &policy), "exists already");
    refused(
        &exams(
            &base,
            "qa",
            &[
                "create", "x", "--title", "t", "--opens", "tomorrow", "--closes", "+1h",
            ],
        ),
        "--opens tomorrow",
    );

    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "candidate_id,name,email\nc-1,\"Smith, Jane\",jane@example.org\nc-2,Ola Nordmann,ola@example.org\n").unwrap();
    let csv = ok(&exams(
        &base,
        "qa",
        &["enrol", "bio-101", "--roster", roster.to_str().unwrap()],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "candidate_id,name,email,code,link");
    assert!(
        lines[1].starts_with("c-1,\"Smith, Jane\",jane@example.org,"),
        "{csv}"
    );
    let code = |line: &str| line.rsplit(',').nth(1).unwrap().to_owned();
    let link = lines[1].rsplit(',').next().unwrap();
    assert!(
        link.starts_with(&format!(
            "invigil://launch?server=http%3A%2F%2F127.0.0.1%3A{}&code={}&ticket=v1.",
            base.rsplit(':').next().unwrap(),
            code(lines[1])
        )),
        "{link}"
    );
    let (code1, code2) = (code(lines[1]), code(lines[2]));
    assert_eq!(code1.len(), 19);
    refused(
        &exams(
            &base,
            "qa",
            &["enrol", "bio-101", "--roster", roster.to_str().unwrap()],
        ),
        "enrolled in exam bio-101 already",
    );

    let list = ok(&exams(&base, "qa", &["list"]));
    assert!(
        list.contains("bio-101") && list.contains("Biology 101"),
        "{list}"
    );

    // A proctor (not an admin) reads but does not write.
    let mut child = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args([
            "proctor",
            "add",
            "reader",
            "--role",
            "proctor",
            "--password-stdin",
            "--data",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success());
    ok(&exams(&base, "reader", &["show", "bio-101"]));
    refused(&exams(&base, "reader", &["codes", "bio-101"]), "admin");

    // Without a code this server starts nothing.
    let out = watch_with(
        &base,
        &dir.path().join("j0"),
        &dir.path().join("e0.jsonl"),
        &["--exam", "bio-101", "--candidate", "c-1"],
    );
    refused(&out, "launch code");

    // With one: the exam's policy runs, whatever the client's default.
    let journal = dir.path().join("j1");
    let events = dir.path().join("e1.jsonl");
    let out = watch_with(&base, &journal, &events, &["--code", &code1.to_lowercase()]);
    ok(&out);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("session.json")).unwrap())
            .unwrap();
    assert_eq!(meta["exam_id"], "bio-101");
    assert_eq!(meta["candidate_id"], "c-1");
    assert_eq!(meta["exam"]["checkin"]["id"], false);
    let local = read_events(&events);
    assert_eq!(local[0]["kind"], "session_started");
    assert_eq!(local[0]["data"]["policy"]["absence_flag_s"], 4.0);
    assert_eq!(local[0]["data"]["policy"]["absence_warn_s"], 1.5);
    let session = meta["session_id"].as_str().unwrap();
    let t = timeline(&base, session);
    assert_delivered_once(&t, session, &[local]);
    assert!(
        t["notes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "policy_mismatch"),
        "{}",
        t["notes"]
    );

    // The code is spent.
    let out = watch_with(
        &base,
        &dir.path().join("j2"),
        &dir.path().join("e2.jsonl"),
        &["--code", &code1],
    );
    refused(&out, "started a session already");
    let bad = watch_with(
        &base,
        &dir.path().join("j3"),
        &dir.path().join("e3.jsonl"),
        &["--code", "ABCD-EFGH"],
    );
    refused(&bad, "--code");

    let shown = ok(&exams(&base, "qa", &["show", "bio-101"]));
    assert!(
        shown.contains("c-1 Smith, Jane <jane@example.org>: started"),
        "{shown}"
    );
    assert!(
        shown.contains("c-2 Ola Nordmann <ola@example.org>: code unused"),
        "{shown}"
    );

    // A new code for c-2: the mailed one stops working.
    let codes_file = dir.path().join("codes.csv");
    ok(&exams(
        &base,
        "qa",
        &[
            "codes",
            "bio-101",
            "--codes-out",
            codes_file.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&codes_file).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains(&code2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&codes_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "codes are for the admin's eyes");
    }
    let out = watch_with(
        &base,
        &dir.path().join("j4"),
        &dir.path().join("e4.jsonl"),
        &["--code", &code2],
    );
    refused(&out, "not valid");
}

/// A launch link's offline ticket (docs/exams.md): the candidate's client
/// begins the exam while the server is down, with the policy the server
/// signed into the link; when the server is back, the code is redeemed and
/// the session delivered as it was recorded.
#[test]
fn a_launch_link_starts_the_exam_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let port = free_port();
    let mut server = ServerProc::start_with(&data, port, &[]);
    let base = server.base.clone();
    let policy = dir.path().join("exam.toml");
    std::fs::write(&policy, "absence_warn_s = 1.5\nabsence_flag_s = 4.0\n").unwrap();
    ok(&exams(
        &base,
        "qa",
        &[
            "create",
            "offline-1",
            "--title",
            "Offline start",
            "--opens",
            "now",
            "--closes",
            "+2h",
            "--policy",
            policy.to_str().unwrap(),
            // `invigil watch` takes no check-in photos.
            "--no-face-photo",
            "--no-id-photo",
            "--no-room-scan",
        ],
    ));
    let csv = ok(&exams(
        &base,
        "qa",
        &["enrol", "offline-1", "--candidate", "c-1"],
    ));
    let link = csv
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .to_owned();
    server.kill();

    let journal = dir.path().join("journal");
    let events = dir.path().join("events.jsonl");
    let run = |link: &str, journal: &Path, events: &Path| {
        Command::new(env!("CARGO_BIN_EXE_invigil"))
            .current_dir(root())
            .args(["watch", "--quiet", "--source", SCENARIO, "--link", link])
            .arg("--journal")
            .arg(journal)
            .arg("--events")
            .arg(events)
            .args(["--drain-timeout", "1"])
            .env_remove("INVIGIL_LOG")
            .output()
            .unwrap()
    };
    let started = Instant::now();
    let out = run(&link, &journal, &events);
    assert!(
        out.status.success(),
        "the exam runs without the server: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "a ticket does not wait out the 60 s resolve timeout"
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("session.json")).unwrap())
            .unwrap();
    assert_eq!(meta["created"], false, "{meta}");
    assert_eq!(
        (meta["exam_id"].as_str(), meta["candidate_id"].as_str()),
        (Some("offline-1"), Some("c-1"))
    );
    let local = read_events(&events);
    assert_eq!(local[0]["kind"], "session_started");
    assert_eq!(
        local[0]["data"]["policy"]["absence_flag_s"], 4.0,
        "the link's policy"
    );

    // A damaged link is refused before anything starts.
    let damaged = link.replace("&ticket=v1.", "&ticket=v1.x");
    let out = run(
        &damaged,
        &dir.path().join("j2"),
        &dir.path().join("e2.jsonl"),
    );
    refused(&out, "--link");

    // The server is back: the code is redeemed with the ticket and the
    // session delivered once, with no policy finding.
    let _server = ServerProc::start_with(&data, port, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["uplink", "send", "--journal"])
        .arg(&journal)
        .args(["--timeout", "30"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = meta["session_id"].as_str().unwrap();
    let t = timeline(&base, session);
    assert_delivered_once(&t, session, &[local]);
    let kinds: Vec<&str> = t["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started_offline"], "{}", t["notes"]);
    assert_eq!(t["notes"][0]["detail"]["after_close"], false);
}
