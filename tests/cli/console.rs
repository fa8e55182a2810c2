//! The proctor console in a real browser: runs console/tests (Node's test
//! runner, Playwright driving Debian's headless Chromium) against the
//! `invigil` binary of this build. Screenshots and the measured alert
//! latency go to test-artifacts/.

use std::path::Path;
use std::process::Command;

use super::*;

#[test]
fn console_in_headless_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    let node = Command::new("node").arg("--version").output();
    let console = root().join("console");
    let ready = chromium.exists()
        && node.is_ok_and(|o| o.status.success())
        && console.join("node_modules/playwright-core").is_dir();
    if !ready {
        assert!(
            std::env::var_os("INVIGIL_REQUIRE_CHROMIUM").is_none(),
            "INVIGIL_REQUIRE_CHROMIUM is set but Chromium, Node.js or the console's \
             node_modules (npm ci in console/) are missing"
        );
        eprintln!(
            "SKIPPED: console browser tests (need /usr/bin/chromium, node, console/node_modules)"
        );
        return;
    }
    let out = Command::new("node")
        .args([
            "--test",
            "--test-reporter=spec",
            "--test-concurrency=1",
            "tests/",
        ])
        .current_dir(&console)
        .env("INVIGIL_BIN", env!("CARGO_BIN_EXE_invigil"))
        .env("INVIGIL_ROOT", root())
        .env("INVIGIL_ARTIFACTS", root().join("test-artifacts"))
        .env_remove("INVIGIL_LOG")
        .output()
        .expect("run node --test");
    let report = format!("{}{}", stdout(&out), stderr(&out));
    println!("{report}");
    assert!(out.status.success(), "console tests failed:\n{report}");
}
