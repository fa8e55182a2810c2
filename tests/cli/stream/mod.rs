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
    /// A server with open enrolment (sessions by exam and candidate).
    fn start(data: &Path, port: u16) -> Self {
        Self::start_with(data, port, &["--open-enrolment"])
    }

    fn start_with(data: &Path, port: u16, flags: &[&str]) -> Self {
        Self::start_env(data, port, flags, |_| {})
    }

    /// `start_with`, with `env` setting the process's environment.
    fn start_env(data: &Path, port: u16, flags: &[&str], env: impl Fn(&mut Command)) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_invigil"));
        cmd.arg("serve")
            .args(flags)
            .arg("--data")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        env(&mut cmd);
        let child = cmd.spawn().expect("start invigil serve");
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
    add_proctor_with(data, &[]);
}

/// `invigil proctor add qa` with PASSWORD, and `extra` flags (a database).
fn add_proctor_with(data: &Path, extra: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["proctor", "add", "qa", "--password-stdin", "--data"])
        .arg(data)
        .args(extra)
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

mod delivery;
mod exams;
mod nodes;
mod operators;
mod sessions;
mod spot;
