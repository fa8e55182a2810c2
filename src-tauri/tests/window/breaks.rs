//! An exam that asks for no check-in and allows one break: the candidate
//! goes from the system check straight to the exam, takes the break, leaves
//! the camera's view during it, comes back and ends it; nothing is flagged
//! and the exam clock stood still meanwhile.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

#[test]
fn a_break_the_exam_allows_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(&dir.path().join("server"));
    let code = backend.launch_code_with(
        "exam-breaks",
        "cand-breaks",
        json!({
            "checkin": {"face": false, "id": false, "room": false},
            "aids": {"breaks": {"count": 1, "minutes": 2.0, "clock": "paused"}}
        }),
    );
    // Present for 10 s, away for 15 s, back for 10 s.
    let scenario = root().join("tests/scenarios/leaves_and_returns.toml");
    let app = launch(&[
        ("INVIGIL_SOURCE", scenario.as_os_str()),
        ("INVIGIL_SERVER", backend.base.as_ref()),
        ("INVIGIL_DATA_DIR", dir.path().join("app").as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;

    start_and_check(d, &code);
    // No check-in: the system check leads to the exam itself.
    assert!(d.find("#begin-checkin").is_none(), "{}", d.text("#app"));
    d.click("#begin-exam");
    d.wait_for("#selfview", Duration::from_secs(30));
    d.wait_text(
        "#breaks-left",
        "1 of 1 break left, up to 2 minutes",
        Duration::from_secs(10),
    );
    d.click("#take-break");
    d.wait_text(
        "#break-confirm-text",
        "Start break 1 of 1",
        Duration::from_secs(5),
    );
    assert!(
        d.text("#break-confirm-text").contains("exam clock stops"),
        "{}",
        d.text("#break-confirm-text")
    );
    d.click("#confirm-break");
    d.wait_for("#on-break", Duration::from_secs(5));
    d.wait_text("#break-time", "left of your break", Duration::from_secs(5));
    d.wait_text("#status-line", "(paused)", Duration::from_secs(5));
    d.screenshot("breaks-1-on-break");
    // The candidate leaves (10 s) and comes back (25 s): no countdown.
    d.wait_text("#status-line", "no one in view", Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(40);
    while !d.text("#status-line").starts_with("you are in view") {
        assert!(
            d.find("#countdown:not([hidden])").is_none(),
            "an absence countdown during a break: {}",
            d.text("#countdown")
        );
        assert!(Instant::now() < deadline, "{}", d.text("#status-line"));
        std::thread::sleep(Duration::from_millis(250));
    }
    let paused_clock = d.text("#status-line");
    d.click("#end-break");
    d.wait_text("#breaks-left", "taken all 1 break", Duration::from_secs(10));
    assert!(d.find("#take-break[disabled]").is_some());
    d.screenshot("breaks-2-back");
    d.wait_for("#receipt", Duration::from_secs(60));
    drop(app);

    // At 25 s of session the exam clock still shows the break's start
    // (before the 12 s an absence warning would have come).
    let clock = paused_clock
        .split("exam time 0:")
        .nth(1)
        .and_then(|rest| rest.get(..2))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(99);
    assert!(
        clock <= 12 && paused_clock.contains("(paused)"),
        "{paused_clock}"
    );
    let session_id = backend.session_of("exam-breaks", "cand-breaks");
    let tl = backend.timeline(&session_id);
    let kinds = kinds(&tl);
    for k in ["break_started", "break_ended", "session_ended"] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing: {kinds:?}");
    }
    for k in [
        "absence_warning",
        "candidate_absent",
        "break_overrun",
        "checkin_completed",
    ] {
        assert!(!kinds.contains(&k.to_owned()), "{k} in {kinds:?}");
    }
    assert!(
        tl["notes"].as_array().unwrap().is_empty(),
        "the server found nothing wrong: {}",
        tl["notes"]
    );
    let ended = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "break_ended")
        .unwrap();
    assert!(
        ended["data"]["duration_ms"].as_u64().unwrap() >= 15_000,
        "{ended}"
    );
}
