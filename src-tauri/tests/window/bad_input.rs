//! Bad input in the real window: each refused with a clear message and
//! nothing lost.

use std::time::Duration;

use serde_json::json;

use crate::harness::*;

#[test]
fn bad_input_in_the_real_window() {
    if tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Backend::start(&dir.path().join("server"));
    let (_, token) = backend.session("exam-bad", "cand-bad");
    // The head-turn check has its own test (liveness.rs): these exams do
    // not ask for it.
    let no_turns = json!({"checkin": {"face": true, "id": true, "room": true, "liveness": false}});
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
        let code = backend.launch_code_with("exam-bad2", "cand-bad2", no_turns.clone());
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
        start_and_check(d, &code);
        d.click("#begin-checkin");
        d.wait_for("#take-photo", Duration::from_secs(30));
        d.take_photo("face photo");
        // Someone else's ID: the app asks for the ID photo again, with a
        // hint, then goes on (the mismatch is left to proctors).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while d.attr("#take-photo", "aria-disabled").as_deref() != Some("false") {
            assert!(std::time::Instant::now() < deadline, "ID never ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        d.click("#take-photo");
        let hint = d.wait_text(
            "#identity-hint",
            "take the ID photo again",
            Duration::from_secs(20),
        );
        assert!(
            hint.contains("does not look enough like your face photo"),
            "{hint}"
        );
        d.screenshot("bad-3-id-not-the-face");
        d.take_photo("ID photo again");
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
        d.screenshot("bad-4-room-not-turned");
    }

    // The server goes down mid-exam and comes back; then the camera is lost.
    let checkin = root().join("tests/fixtures/checkin/checkin.toml");
    let code = backend.launch_code_with("exam-bad3", "cand-bad3", no_turns);
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
    start_and_check(d, &code);
    check_in(d, false);
    backend.stop();
    d.click("#begin-exam");
    d.wait_text("#connection", "Offline", Duration::from_secs(20));
    d.screenshot("bad-5-server-down-mid-exam");
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
    let tl = backend.timeline(&backend.session_of("exam-bad3", "cand-bad3"));
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
