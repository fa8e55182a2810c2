//! The whole flow: code, system check, check-in, an exam in which the
//! candidate leaves and returns, and what the server holds afterwards.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn check_in_and_exam_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(&dir.path().join("server"));
    // The head-turn check has its own test (liveness.rs).
    let code = backend.launch_code_with(
        "exam-app",
        "cand-app",
        serde_json::json!({"checkin": {"face": true, "id": true, "room": true, "liveness": false}}),
    );
    let scenario = root().join("tests/scenarios/leaves_and_returns.toml");
    let checkin = root().join("tests/fixtures/checkin/checkin.toml");
    // Opened by the launch link the candidate was mailed.
    let link = format!(
        "invigil://launch?server={}&code={}",
        backend.base.replace(':', "%3A").replace('/', "%2F"),
        code
    );
    let app = launch(&[
        ("INVIGIL_SOURCE", scenario.as_os_str()),
        ("INVIGIL_CHECKIN_SOURCE", checkin.as_os_str()),
        ("INVIGIL_LAUNCH_LINK", link.as_ref()),
        ("INVIGIL_DATA_DIR", dir.path().join("app").as_os_str()),
    ])
    .unwrap();
    let d = &app.driver;

    // Start screen: privacy notice; server and code filled in by the link.
    let value = |id: &str| {
        d.script(&format!("return document.getElementById('{id}').value"))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(value("server"), backend.base);
    assert_eq!(value("session-code"), code);
    assert!(
        d.text("#code-hint").contains("launch link"),
        "{}",
        d.text("#code-hint")
    );
    assert!(
        d.text("#start-form").contains("never streamed"),
        "privacy notice: {}",
        d.text("#start-form")
    );
    // How long evidence is kept, as the server says (this one keeps it
    // until deleted: no retention period set).
    d.wait_text(
        "#kept-for",
        "until your exam provider deletes them",
        Duration::from_secs(15),
    );
    d.screenshot("1-start");

    // A code mistyped by hand (shape wrong), then a wrong one: refused
    // with clear messages, nothing started.
    d.type_into("#session-code", "K7QF-3MZC-T9XA");
    d.click("#start");
    d.wait_text(
        "#start-error",
        "16 letters and digits",
        Duration::from_secs(30),
    );
    d.type_into("#session-code", "2222-3333-4444-5555");
    d.click("#start");
    d.wait_text(
        "#start-error",
        "This launch code is not valid",
        Duration::from_secs(30),
    );
    d.screenshot("2-wrong-code");

    // The right code, typed as people do: system check, check-in.
    start_and_check(d, &code.to_lowercase().replace('-', " "));
    let session_id = backend.session_of("exam-app", "cand-app");
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
    // The candidate's own ID: its portrait is the person in the face photo
    // (docs/identity.md), so nothing for proctors to check.
    let identity = &checkin["data"]["identity"];
    assert_eq!(identity["same_person"], true, "{identity}");
    assert_eq!(identity["attempts"], 1, "{identity}");
    assert_eq!(
        identity["portrait"].as_array().unwrap().len(),
        4,
        "{identity}"
    );
    assert!(
        identity["similarity"].as_f64().unwrap() >= 0.40,
        "{identity}"
    );
}
