//! The real app window under Xvfb, driven through WebDriver
//! (`tauri-driver` + Debian's `WebKitWebDriver`), with a fixture camera and a
//! real backend on loopback: a wrong session code is refused with a clear
//! message; with the right one the system check passes, the exam runs a
//! scenario in which the candidate leaves and returns, the countdown
//! appears, and the server's timeline holds the events and the clip.
//! Screenshots go to `test-artifacts/` (or `INVIGIL_ARTIFACTS_DIR`).
//!
//! Needs `Xvfb`, `tauri-driver` (`cargo install tauri-driver --locked`) and
//! `WebKitWebDriver` (package webkit2gtk-driver); skipped without them
//! unless `INVIGIL_REQUIRE_WINDOW` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.push("/usr/bin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A minimal W3C WebDriver client.
struct Driver {
    http: reqwest::blocking::Client,
    base: String,
    session: String,
    artifacts: PathBuf,
    display: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req
            .send()
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let v: Value = r.json().unwrap();
        v["value"].clone()
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().map(str::to_owned)
    }

    fn wait_for(&self, css: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(id) = self.find(css) {
                if self.call(
                    reqwest::Method::GET,
                    &format!("/element/{id}/displayed"),
                    None,
                ) == json!(true)
                {
                    return id;
                }
            }
            if Instant::now() > deadline {
                self.screenshot(&format!(
                    "timeout-{}",
                    css.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ));
                panic!(
                    "`{css}` did not appear within {timeout:?}; page: {}",
                    self.text("body")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let id = self.wait_for(css, Duration::from_secs(20));
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_for(css, Duration::from_secs(20));
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        );
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn text(&self, css: &str) -> String {
        match self.find(css) {
            Some(id) => self
                .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .as_str()
                .unwrap_or("")
                .to_owned(),
            None => String::new(),
        }
    }

    /// Saves a screenshot: WebKitWebDriver's when it answers in time, else
    /// the whole X display (ImageMagick's `import`), else nothing.
    fn screenshot(&self, name: &str) {
        let _ = std::fs::create_dir_all(&self.artifacts);
        let path = self.artifacts.join(format!("app-{name}.png"));
        let url = format!("{}/session/{}/screenshot", self.base, self.session);
        let quick = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let from_driver = quick
            .get(&url)
            .send()
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| v["value"].as_str().map(str::to_owned))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
        match from_driver {
            Some(png) => {
                let _ = std::fs::write(&path, png);
            }
            None => {
                let _ = Command::new("import")
                    .args(["-display", &self.display, "-window", "root"])
                    .arg(&path)
                    .status();
            }
        }
    }
}

#[test]
fn check_in_and_exam_in_the_real_window() {
    let required = std::env::var_os("INVIGIL_REQUIRE_WINDOW").is_some();
    let tools = (
        find_tool("Xvfb"),
        find_tool("tauri-driver"),
        find_tool("WebKitWebDriver"),
    );
    let (Some(xvfb), Some(tauri_driver), Some(webkit_driver)) = tools else {
        assert!(!required, "INVIGIL_REQUIRE_WINDOW is set but Xvfb, tauri-driver or WebKitWebDriver is missing: {tools:?}");
        eprintln!(
            "SKIPPED: the window test needs Xvfb, tauri-driver and WebKitWebDriver: {tools:?}"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let artifacts = std::env::var_os("INVIGIL_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("test-artifacts"));

    // The backend, in process, on loopback.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config =
        invigil_server::Config::new(&dir.path().join("server"), "127.0.0.1:0".parse().unwrap());
    let server = rt.block_on(invigil_server::Server::start(config)).unwrap();
    let base = format!("http://{}", server.addr());
    rt.block_on(invigil_server::set_proctor(
        server.state().db(),
        "qa",
        "qa password 1",
    ))
    .unwrap();
    let http = reqwest::blocking::Client::new();
    let created: Value = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"exam_id": "exam-app", "candidate_id": "cand-app"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let session_id = created["session_id"].as_str().unwrap().to_owned();

    let display = format!(":{}", 50 + std::process::id() % 200);
    let _x = Proc(
        Command::new(xvfb)
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let (port, native_port) = (free_port(), free_port());
    let scenario = root().join("tests/scenarios/leaves_and_returns.toml");
    let _driver = Proc(
        Command::new(tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
                "--native-driver",
            ])
            .arg(webkit_driver)
            .env("DISPLAY", &display)
            .env("INVIGIL_SOURCE", &scenario)
            .env("INVIGIL_SERVER", &base)
            .env("INVIGIL_DATA_DIR", dir.path().join("app"))
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let wd = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{wd}/status")).send().is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let created: Value = http
        .post(format!("{wd}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": env!("CARGO_BIN_EXE_invigil-app")}}}}))
        .timeout(Duration::from_secs(60))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let session = created["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
        .to_owned();
    let d = Driver {
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        base: wd.clone(),
        session,
        artifacts,
        display: display.clone(),
    };

    // Start screen: privacy notice, server prefilled.
    d.wait_for("#start-form", Duration::from_secs(30));
    assert!(
        d.text("#start-form").contains("never streamed"),
        "privacy notice: {}",
        d.text("#start-form")
    );
    d.screenshot("1-start");

    // A wrong code: refused with a clear message, nothing started.
    d.type_into("#session-code", &format!("ivc_{}", "0".repeat(64)));
    d.click("#start");
    d.click("#begin-exam");
    d.wait_for("#start-error", Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.text("#start-error").is_empty() {
        assert!(Instant::now() < deadline, "no error for a wrong code");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        d.text("#start-error")
            .contains("does not know this session code"),
        "{}",
        d.text("#start-error")
    );
    d.screenshot("2-wrong-code");

    // The right code: system check, then the exam.
    d.type_into("#session-code", &token);
    d.click("#start");
    d.wait_for("#checks", Duration::from_secs(30));
    for check in ["camera", "face", "lighting", "backend", "disk"] {
        let ok = d.find(&format!("li[data-check='{check}'][data-ok='true']"));
        assert!(ok.is_some(), "check {check} failed: {}", d.text("#checks"));
    }
    d.screenshot("3-system-check");
    d.click("#begin-exam");
    d.wait_for("#selfview", Duration::from_secs(30));
    // The candidate leaves at 10 s: warning at 12 s, flag at 15 s.
    d.wait_for("#countdown", Duration::from_secs(40));
    assert!(
        d.text("#countdown")
            .starts_with("Return to the camera view"),
        "{}",
        d.text("#countdown")
    );
    d.screenshot("4-countdown");
    d.wait_for(
        "#flagged li[data-kind='candidate_absent']",
        Duration::from_secs(20),
    );
    d.screenshot("5-flagged");
    // The scenario ends at 35 s: the receipt.
    d.wait_for("#receipt", Duration::from_secs(60));
    d.screenshot("6-receipt");
    let receipt_hash = d.text("#receipt-hash");
    assert_eq!(d.text("#receipt-session"), session_id);
    d.call(reqwest::Method::DELETE, "", None);

    // The server holds the session: events, chain head, the clip.
    let tl: Value = http
        .get(format!("{base}/api/v1/sessions/{session_id}/timeline"))
        .basic_auth("qa", Some("qa password 1"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kinds: Vec<&str> = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "session_started",
        "absence_warning",
        "candidate_absent",
        "clip_saved",
        "candidate_returned",
        "session_ended",
    ] {
        assert!(
            kinds.contains(&k),
            "{k} missing from the server's timeline: {kinds:?}"
        );
    }
    assert_eq!(
        tl["session"]["head"],
        receipt_hash.as_str(),
        "the receipt names the server's chain head"
    );
    assert_eq!(tl["media"].as_array().unwrap().len(), 1);
    rt.block_on(server.shutdown()).unwrap();
}
