//! The real app window under Xvfb, driven through WebDriver
//! (`tauri-driver` + Debian's `WebKitWebDriver`), with fixture cameras and a
//! real backend on loopback:
//! - a wrong session code is refused with a clear message; with the right
//!   one the system check passes, the check-in takes the face photo, the ID
//!   photo and the five room views (one retaken), the exam runs a scenario
//!   in which the candidate leaves and returns, the countdown appears, and
//!   the server's timeline holds the events, the check-in photos and the
//!   clip;
//! - bad input: the server down at start, no camera, the room scan not
//!   turned, the server down mid-exam and the camera lost mid-exam, each
//!   with a clear message and nothing lost.
//!
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

    /// Waits until the element's text contains `needle`.
    fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.text(css);
            if t.contains(needle) {
                return t;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!(
                    "timeout-text-{}",
                    css.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ));
                panic!(
                    "`{css}` never said `{needle}`: `{t}`; page: {}",
                    self.text("body")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn attr(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css)?;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/attribute/{name}"),
            None,
        )
        .as_str()
        .map(str::to_owned)
    }

    fn click(&self, css: &str) {
        let id = self.wait_for(css, Duration::from_secs(40));
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

    fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Presses one key (a WebDriver key code such as TAB) on whatever has
    /// the focus.
    fn press(&self, key: &str) {
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                    {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
                ]}]}),
            ),
        );
    }

    /// Replaces the focused field's text by typing (Ctrl+A, then the
    /// characters), as a keyboard user would.
    fn type_keys(&self, text: &str) {
        let mut actions = vec![
            json!({"type": "keyDown", "value": "\u{E009}"}),
            json!({"type": "keyDown", "value": "a"}),
            json!({"type": "keyUp", "value": "a"}),
            json!({"type": "keyUp", "value": "\u{E009}"}),
        ];
        for c in text.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.call(
            reqwest::Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    /// Presses Tab until the focused element `a` satisfies `js` (a
    /// JavaScript expression), as a keyboard user looking for a control.
    fn tab_until(&self, what: &str, js: &str) {
        for _ in 0..40 {
            let check = format!("const a = document.activeElement; return !!(a && ({js}))");
            if self.script(&check).as_bool() == Some(true) {
                return;
            }
            self.press(TAB);
        }
        self.screenshot(&format!("tab-never-reached-{}", what.replace(' ', "-")));
        panic!("Tab never reached {what}");
    }

    fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : ''")
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// No horizontal scrolling: everything fits the window's width.
    fn fits_width(&self) -> bool {
        self.script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
            == json!(true)
    }

    /// Takes the photo of the current check-in step once it is ready.
    fn take_photo(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.attr("#take-photo", "aria-disabled").as_deref() != Some("false") {
            if Instant::now() > deadline {
                self.screenshot(&format!("checkin-not-ready-{what}"));
                panic!("{what}: never ready: {}", self.text("#guidance"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let title = self.text("#screen-title");
        self.click("#take-photo");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.text("#screen-title") == title {
            assert!(
                Instant::now() < deadline,
                "{what}: the photo was not taken: {}",
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Xvfb, tauri-driver and the app; dropped in reverse order.
struct App {
    driver: Driver,
    _tauri_driver: Proc,
    _x: Proc,
}

impl Drop for App {
    fn drop(&mut self) {
        self.driver.call(reqwest::Method::DELETE, "", None);
    }
}

fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
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
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// Starts the app in a fresh X display with these environment variables.
fn launch(env: &[(&str, &std::ffi::OsStr)]) -> Option<App> {
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
struct Backend {
    rt: tokio::runtime::Runtime,
    server: Option<invigil_server::Server>,
    data: PathBuf,
    base: String,
}

impl Backend {
    fn start(data: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = invigil_server::Config::new(data, "127.0.0.1:0".parse().unwrap());
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

    fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown()).unwrap();
        }
    }

    /// Starts again on the same address and data.
    fn restart(&mut self) {
        self.stop();
        let addr = self.base.trim_start_matches("http://").parse().unwrap();
        let config = invigil_server::Config::new(&self.data, addr);
        self.server = Some(
            self.rt
                .block_on(invigil_server::Server::start(config))
                .unwrap(),
        );
    }

    /// A session made by the exam platform: `(session id, candidate token)`.
    fn session(&self, exam: &str, candidate: &str) -> (String, String) {
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

    fn timeline(&self, session_id: &str) -> Value {
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

fn kinds(timeline: &Value) -> Vec<String> {
    timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Enters the code and goes through the system check.
fn start_and_check(d: &Driver, token: &str) {
    d.type_into("#session-code", token);
    d.click("#start");
    d.wait_for("#checks", Duration::from_secs(40));
    for check in ["camera", "face", "lighting", "backend", "disk"] {
        let ok = d.find(&format!("li[data-check='{check}'][data-ok='true']"));
        assert!(ok.is_some(), "check {check} failed: {}", d.text("#checks"));
    }
}

/// The whole check-in with the bundled fixture; `shots` saves screenshots.
fn check_in(d: &Driver, shots: bool) {
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

#[test]
fn check_in_and_exam_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(&dir.path().join("server"));
    let (session_id, token) = backend.session("exam-app", "cand-app");
    let scenario = root().join("tests/scenarios/leaves_and_returns.toml");
    let checkin = root().join("tests/fixtures/checkin/checkin.toml");
    let app = launch(&[
        ("INVIGIL_SOURCE", scenario.as_os_str()),
        ("INVIGIL_CHECKIN_SOURCE", checkin.as_os_str()),
        ("INVIGIL_SERVER", backend.base.as_ref()),
        ("INVIGIL_DATA_DIR", dir.path().join("app").as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;

    // Start screen: privacy notice, server prefilled.
    assert!(
        d.text("#start-form").contains("never streamed"),
        "privacy notice: {}",
        d.text("#start-form")
    );
    d.screenshot("1-start");

    // A wrong code: refused with a clear message, nothing started.
    d.type_into("#session-code", &format!("ivc_{}", "0".repeat(64)));
    d.click("#start");
    d.wait_text(
        "#start-error",
        "does not know this session code",
        Duration::from_secs(30),
    );
    d.screenshot("2-wrong-code");

    // The right code: system check, check-in.
    start_and_check(d, &token);
    d.screenshot("3-system-check");
    check_in(d, true);
    d.screenshot("7-review");
    for slot in ["face", "id", "front", "right", "back", "left", "desk"] {
        assert!(
            d.find(&format!("#photos li[data-slot='{slot}'] img"))
                .is_some(),
            "no thumbnail for {slot}: {}",
            d.text("#photos")
        );
    }
    // Retake the desk, by keyboard alone at 200% zoom: Tab to its retake
    // button, Enter; on the step, Tab to "Take photo", Enter once the
    // picture is right; back on the review, Tab to "Begin the exam", Enter.
    d.script("document.documentElement.style.zoom = '2'; return true");
    assert!(d.fits_width(), "the review overflows at 200%");
    d.tab_until("the desk's retake button", "a.dataset.slot === 'desk'");
    d.press(ENTER);
    d.wait_text("#screen-title", "Room scan 5 of 5", Duration::from_secs(10));
    assert!(d.fits_width(), "the room scan overflows at 200%");
    d.tab_until("Take photo", "a.id === 'take-photo'");
    d.screenshot("7b-zoom-200-take-photo-focus");
    let deadline = Instant::now() + Duration::from_secs(30);
    while d.attr("#take-photo", "aria-disabled").as_deref() != Some("false") {
        assert!(
            Instant::now() < deadline,
            "desk view never ready: {}",
            d.text("#guidance")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d.press(ENTER);
    d.wait_for("#photos", Duration::from_secs(20));
    d.tab_until("Begin the exam", "a.id === 'begin-exam'");
    d.press(ENTER);
    d.wait_for("#selfview", Duration::from_secs(30));
    assert!(d.fits_width(), "the exam screen overflows at 200%");
    d.script("document.documentElement.style.zoom = '1'; return true");

    // The exam.
    d.wait_for("#selfview", Duration::from_secs(30));
    // The candidate leaves at 10 s: warning at 12 s, flag at 15 s.
    d.wait_for("#countdown", Duration::from_secs(40));
    assert!(
        d.text("#countdown")
            .starts_with("Return to the camera view"),
        "{}",
        d.text("#countdown")
    );
    d.screenshot("8-countdown");
    d.wait_for(
        "#flagged li[data-kind='candidate_absent']",
        Duration::from_secs(20),
    );
    d.screenshot("9-flagged");
    // The scenario ends at 35 s: the receipt.
    d.wait_for("#receipt", Duration::from_secs(60));
    d.screenshot("10-receipt");
    let receipt_hash = d.text("#receipt-hash");
    assert_eq!(d.text("#receipt-session"), session_id);
    drop(app);

    // The server holds the session: events, chain head, photos, the clip.
    let tl = backend.timeline(&session_id);
    let kinds = kinds(&tl);
    for k in [
        "session_started",
        "checkin_completed",
        "absence_warning",
        "candidate_absent",
        "clip_saved",
        "candidate_returned",
        "session_ended",
    ] {
        assert!(
            kinds.contains(&k.to_owned()),
            "{k} missing from the server's timeline: {tl:#}"
        );
    }
    assert_eq!(kinds[1], "checkin_completed", "{kinds:?}");
    assert_eq!(
        tl["session"]["head"],
        receipt_hash.as_str(),
        "the receipt names the server's chain head"
    );
    let media = tl["media"].as_array().unwrap();
    let count = |kind: &str| media.iter().filter(|m| m["kind"] == kind).count();
    assert_eq!(
        (
            count("face_photo"),
            count("id_photo"),
            count("room_scan"),
            count("clip")
        ),
        (1, 1, 5, 1),
        "{media:?}"
    );
    // The check-in event names exactly the uploaded photos.
    let checkin = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "checkin_completed")
        .unwrap();
    let face_sha = checkin["data"]["face_photo"].as_str().unwrap();
    assert!(media
        .iter()
        .any(|m| m["sha256"] == face_sha && m["kind"] == "face_photo"));
    let photo = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v1/sessions/{session_id}/media/{face_sha}",
            backend.base
        ))
        .basic_auth("qa", Some("qa password 1"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&photo[..3], &[0xFF, 0xD8, 0xFF], "the face photo is a JPEG");
    assert_eq!(checkin["data"]["room_scan"].as_array().unwrap().len(), 5);
}

#[test]
fn bad_input_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Backend::start(&dir.path().join("server"));
    let (session_id, token) = backend.session("exam-bad", "cand-bad");
    let dead = format!("http://127.0.0.1:{}", free_port());

    // No camera (an index no machine has), the server down at start.
    {
        let app = launch(&[
            ("INVIGIL_SOURCE", "camera:7".as_ref()),
            ("INVIGIL_SERVER", dead.as_ref()),
            ("INVIGIL_DATA_DIR", dir.path().join("app1").as_os_str()),
        ])
        .unwrap();
        let d = &app.driver;
        d.type_into("#session-code", &token);
        d.click("#start");
        d.wait_text("#start-error", "cannot be reached", Duration::from_secs(40));
        d.screenshot("bad-1-server-down-at-start");
        // The rest by keyboard alone, at 200% zoom: the focus starts on the
        // screen's heading, Tab reaches the fields and the button in order,
        // Enter submits; nothing needs scrolling sideways.
        d.script("document.documentElement.style.zoom = '2'; return true");
        assert!(d.fits_width(), "the start screen overflows at 200%");
        assert_eq!(d.focused_id(), "screen-title");
        d.press(TAB);
        assert_eq!(d.focused_id(), "server");
        d.type_keys(&backend.base);
        d.press(TAB);
        assert_eq!(d.focused_id(), "session-code");
        assert_eq!(
            d.script("return document.activeElement.value"),
            json!(token),
            "the code survived the failed attempt"
        );
        d.press(TAB);
        assert_eq!(d.focused_id(), "start");
        d.screenshot("bad-1b-zoom-200-focus");
        d.press(ENTER);
        d.wait_for("#checks", Duration::from_secs(40));
        assert!(d.fits_width(), "the system check overflows at 200%");
        assert!(
            d.find("li[data-check='camera'][data-ok='false']").is_some(),
            "{}",
            d.text("#checks")
        );
        assert!(d
            .text("li[data-check='camera']")
            .contains("Connect a webcam"));
        assert!(d.find("li[data-check='backend'][data-ok='true']").is_some());
        assert_eq!(
            d.attr("#begin-checkin", "disabled").as_deref(),
            Some("true")
        );
        d.screenshot("bad-2-no-camera");
    }

    // The room scan not turned: the same view for every side.
    let same = dir.path().join("same_room.toml");
    let fixtures = root().join("tests/fixtures/checkin");
    std::fs::write(
        &same,
        format!(
            "face = \"{0}/face.jpg\"\nid = \"{0}/id_card.jpg\"\nroom = [\"{0}/room_north.jpg\"]\n",
            fixtures.display()
        ),
    )
    .unwrap();
    {
        let app = launch(&[
            (
                "INVIGIL_SOURCE",
                root().join("tests/scenarios/camera_lost.toml").as_os_str(),
            ),
            ("INVIGIL_CHECKIN_SOURCE", same.as_os_str()),
            ("INVIGIL_SERVER", backend.base.as_ref()),
            ("INVIGIL_DATA_DIR", dir.path().join("app2").as_os_str()),
        ])
        .unwrap();
        let d = &app.driver;
        start_and_check(d, &token);
        d.click("#begin-checkin");
        d.wait_for("#take-photo", Duration::from_secs(30));
        d.take_photo("face photo");
        d.take_photo("ID photo");
        d.take_photo("room view 1");
        d.wait_text("#screen-title", "Room scan 2 of 5", Duration::from_secs(10));
        let guidance = d.wait_text("#guidance", "turn the camera", Duration::from_secs(20));
        assert!(guidance.contains("the wall in front of you"), "{guidance}");
        assert_eq!(
            d.attr("#take-photo", "aria-disabled").as_deref(),
            Some("true")
        );
        // Pressing it anyway explains why not.
        d.click("#take-photo");
        d.wait_text("#checkin-error", "Not yet", Duration::from_secs(10));
        d.screenshot("bad-3-room-not-turned");
    }

    // The server goes down mid-exam and comes back; then the camera is lost.
    let checkin = root().join("tests/fixtures/checkin/checkin.toml");
    let app = launch(&[
        (
            "INVIGIL_SOURCE",
            root().join("tests/scenarios/camera_lost.toml").as_os_str(),
        ),
        ("INVIGIL_CHECKIN_SOURCE", checkin.as_os_str()),
        ("INVIGIL_SERVER", backend.base.as_ref()),
        ("INVIGIL_DATA_DIR", dir.path().join("app3").as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;
    start_and_check(d, &token);
    check_in(d, false);
    backend.stop();
    d.click("#begin-exam");
    d.wait_text("#connection", "Offline", Duration::from_secs(20));
    d.screenshot("bad-4-server-down-mid-exam");
    backend.restart();
    // The scenario loses the camera at 10 s.
    d.wait_for("#receipt", Duration::from_secs(60));
    let reason = d.text("#receipt-reason");
    assert!(reason.contains("camera stopped working"), "{reason}");
    let delivery = d.wait_text("#receipt-delivery", "", Duration::from_secs(1));
    let hash = d.text("#receipt-hash");
    let events: usize = d.text("#receipt-events").parse().unwrap();
    d.screenshot("bad-5-camera-lost");
    drop(app);
    assert!(delivery.contains("Everything was delivered"), "{delivery}");
    let tl = backend.timeline(&session_id);
    let kinds = kinds(&tl);
    assert_eq!(kinds.len(), events, "{kinds:?}");
    assert!(kinds.contains(&"camera_lost".to_owned()), "{kinds:?}");
    assert_eq!(tl["session"]["head"], hash.as_str());
    // The seven check-in photos, and the clip of the moments before the
    // camera was lost.
    let media = tl["media"].as_array().unwrap();
    let photos = media.iter().filter(|m| m["kind"] != "clip").count();
    let clips = media.iter().filter(|m| m["kind"] == "clip").count();
    assert_eq!((photos, clips), (7, 1), "{media:?}");
}
