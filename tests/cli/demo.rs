//! `invigil demo`: the README's main command, end to end on a short
//! scenario: it prints the console and a working sign-in, streams the
//! candidate, and exits cleanly with `--once`; bad sources and a busy port
//! are clear errors.

use std::net::TcpListener;
use std::process::Command;

use super::*;

fn demo(args: &[&str], data: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invigil"))
        .arg("demo")
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(root())
        .env_remove("INVIGIL_LOG")
        .output()
        .expect("run invigil demo")
}

#[test]
fn demo_runs_a_candidate_and_prints_a_working_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = demo(
        &[
            "--listen",
            "127.0.0.1:0",
            "--source",
            "tests/scenarios/camera_lost.toml",
            "--once",
        ],
        &data,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("Console:   http://127.0.0.1:"), "{text}");
    let password = text
        .split("password `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .expect("a printed password")
        .to_owned();
    assert!(password.len() >= 12, "{password}");
    let log = stderr(&out);
    assert!(log.contains("alert: violation camera_lost"), "{log}");
    assert!(log.contains("candidate-1: ended (camera_lost)"), "{log}");
    assert!(log.contains("all delivered"), "{log}");

    // The data stays: a server on the same directory shows the session to
    // the printed account.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let sessions: Value = loop {
        match http
            .get(format!("{base}/api/v1/sessions"))
            .basic_auth("proctor", Some(&password))
            .send()
        {
            Ok(r) => break r.json().unwrap(),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(e) => panic!("server: {e}"),
        }
    };
    // The spare launch code printed for a person joins the same exam.
    let spare = text
        .split("launch code ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("a printed spare launch code")
        .to_owned();
    assert!(
        text.contains("invigil://launch?server=http%3A%2F%2F127.0.0.1%3A"),
        "{text}"
    );
    let journal = dir.path().join("guest");
    let joined = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "watch",
            "--quiet",
            "--source",
            "tests/scenarios/camera_lost.toml",
        ])
        .args(["--server", &base, "--code", &spare, "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    assert!(joined.status.success(), "{}", stderr(&joined));
    let all: Value = http
        .get(format!("{base}/api/v1/sessions"))
        .basic_auth("proctor", Some(&password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let who: Vec<&str> = all["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["candidate_id"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["guest", "candidate-1"], "{all}");
    let s = &sessions["sessions"][0];
    assert_eq!(s["candidate_id"], "candidate-1", "{sessions}");
    assert!(s["exam_id"].as_str().unwrap().starts_with("demo-"), "{s}");
    assert_eq!(s["state"], "ended");
    assert_eq!(s["violations"], 1);
    assert_eq!(s["media"], 1, "the camera_lost clip");
}

#[test]
fn demo_bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(
        &[
            "--listen",
            "127.0.0.1:0",
            "--source",
            "/nonexistent/cam.y4m",
            "--once",
        ],
        &dir.path().join("a"),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("/nonexistent/cam.y4m"), "{err}");

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = demo(&["--listen", &addr, "--once"], &dir.path().join("b"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&addr) && err.contains("--listen"), "{err}");
}
