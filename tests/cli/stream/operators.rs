//! Operators' commands (`invigil sessions`) beside a running server.

use super::*;

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
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

    // Offline verification with the server's public key and the receipts
    // the candidate's client kept.
    let key: Value = get(&server.base, "/api/v1/server-key").json().unwrap();
    assert_eq!(key["algorithm"], "Ed25519");
    let key_file = dir.path().join("server-key.json");
    std::fs::write(&key_file, key.to_string()).unwrap();
    let receipts = dir.path().join("journal-1").join("receipts.jsonl");
    let held = std::fs::read_to_string(&receipts).unwrap();
    assert!(held.lines().count() >= 1, "the client kept receipts");
    assert_eq!(doc["server_key"], key);
    assert!(!doc["receipts"].as_array().unwrap().is_empty());
    let verify = |dir: &Path, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_invigil"))
            .args(["sessions", "verify"])
            .arg(dir)
            .args(["--key", key, "--receipts"])
            .arg(&receipts)
            .output()
            .unwrap()
    };
    let out = verify(&out_dir, key_file.to_str().unwrap());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("intact"), "{}", stdout(&out));
    // Another key: every receipt is refused.
    let other = "11".repeat(32);
    let out = verify(&out_dir, &other);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not this key's"), "{}", stdout(&out));
    let out = verify(&out_dir, "abc");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("64 hex digits"), "{}", stderr(&out));
    // An operator rewrites an event and re-chains everything after it: the
    // chain checks out again, but the receipts the candidate holds do not.
    let forged = dir.path().join("forged");
    std::fs::create_dir(&forged).unwrap();
    copy_dir(&out_dir, &forged);
    let mut doc2 = doc.clone();
    let stored_events = doc2["events"].as_array_mut().unwrap();
    let mut prev = invigil_core::chain::origin(&ids[1]);
    for (i, stored) in stored_events.iter_mut().enumerate() {
        let mut e = stored.clone();
        let o = e.as_object_mut().unwrap();
        o.remove("hash");
        let received = o.remove("received_ms").unwrap();
        if i == 2 {
            o.insert("data".into(), serde_json::json!({"rewritten": true}));
        }
        o.insert("prev".into(), serde_json::json!(prev));
        let event: invigil_core::Event = serde_json::from_value(e).unwrap();
        let hash = invigil_core::chain::event_hash(&event);
        let mut again = serde_json::to_value(&event).unwrap();
        again["hash"] = serde_json::json!(hash);
        again["received_ms"] = received;
        *stored = again;
        prev = hash;
    }
    std::fs::write(
        forged.join("session.json"),
        serde_json::to_vec(&doc2).unwrap(),
    )
    .unwrap();
    let out = verify(&forged, key_file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let said = stdout(&out);
    assert!(said.contains("changed after the receipt"), "{said}");
    assert!(said.contains("the candidate's receipt"), "{said}");

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

#[test]
fn sign_ins_are_logged_and_a_removed_proctor_is_out_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    let port = free_port();
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["serve", "--open-enrolment", "--data"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("{base}/healthz")).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = reqwest::blocking::Client::new();
    let login = |password: &str| {
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "qa", "password": password}))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(login("hunter2 never logged"), 401);
    assert_eq!(login(PASSWORD), 200);
    assert_eq!(get(&base, "/api/v1/sessions").status(), 200);

    // The first account is the server's admin; `--role` sets another's.
    let mut add = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args([
            "proctor",
            "add",
            "rev",
            "--role",
            "proctor",
            "--password-stdin",
            "--data",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(add.wait().unwrap().success());
    let list = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["proctor", "list", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "qa\tadmin\nrev\tproctor\n"
    );

    // Removed while the server runs: its Basic credentials and tokens stop.
    let out = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["proctor", "remove", "qa", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(&base, "/api/v1/sessions").status(), 401);
    let again = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["proctor", "remove", "qa", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("there is no proctor qa"));

    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("sign-in failed"), "{text}");
    assert!(text.contains("signed in"), "{text}");
    assert!(text.contains("qa") && text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains("hunter2"), "a password was logged: {text}");
    assert!(!text.contains(PASSWORD), "a password was logged: {text}");
}

/// A `--media` that names no store is refused before anything is touched.
#[test]
fn a_bad_media_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_proctor(&data);
    for (media, says) in [
        ("gs://bucket", "give a directory or s3://BUCKET[/PREFIX]"),
        ("s3://Not_A_Bucket", "is not a bucket name"),
        ("s3://bucket/a/../b", "has an empty, . or .. part"),
    ] {
        let out = sessions_cmd(&data, &["list", "--media", media]);
        assert!(!out.status.success(), "{media}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{media}: {}", stderr(&out));
    }
}
