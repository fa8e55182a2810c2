//! A minimal W3C WebDriver client.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::harness::TAB;

/// A minimal W3C WebDriver client.
pub(crate) struct Driver {
    pub(crate) http: reqwest::blocking::Client,
    pub(crate) base: String,
    pub(crate) session: String,
    pub(crate) artifacts: PathBuf,
    pub(crate) display: String,
}

pub(crate) const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    pub(crate) fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    pub(crate) fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().map(str::to_owned)
    }

    pub(crate) fn wait_for(&self, css: &str, timeout: Duration) -> String {
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
    pub(crate) fn wait_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
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

    pub(crate) fn attr(&self, css: &str, name: &str) -> Option<String> {
        let id = self.find(css)?;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/attribute/{name}"),
            None,
        )
        .as_str()
        .map(str::to_owned)
    }

    pub(crate) fn click(&self, css: &str) {
        let id = self.wait_for(css, Duration::from_secs(40));
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        );
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
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

    pub(crate) fn text(&self, css: &str) -> String {
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
    pub(crate) fn screenshot(&self, name: &str) {
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

    pub(crate) fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Presses one key (a WebDriver key code such as TAB) on whatever has
    /// the focus.
    pub(crate) fn press(&self, key: &str) {
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
    pub(crate) fn type_keys(&self, text: &str) {
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
    pub(crate) fn tab_until(&self, what: &str, js: &str) {
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

    pub(crate) fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : ''")
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// No horizontal scrolling: everything fits the window's width.
    pub(crate) fn fits_width(&self) -> bool {
        self.script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
            == json!(true)
    }

    /// Takes the photo of the current check-in step once it is ready.
    pub(crate) fn take_photo(&self, what: &str) {
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
