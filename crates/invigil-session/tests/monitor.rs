//! A monitored session on a fixture, as the app runs it.

use std::time::{Duration, Instant};

use invigil_session::{Monitor, SessionOptions};

fn scenario(name: &str) -> String {
    format!(
        "{}/../../tests/scenarios/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_fixture_session_reports_what_it_flags() {
    let mut options = SessionOptions::live(&scenario("leaves_and_returns"));
    options.realtime = false;
    let monitor = Monitor::start(options).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !monitor.finished() {
        assert!(Instant::now() < deadline, "the fixture session ended");
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = monitor.snapshot();
    assert!(!s.running);
    let kinds: Vec<&str> = s.flagged.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["absence_warning", "candidate_absent"]);
    assert_eq!(s.violations, 1);
    assert_eq!((s.width, s.height), (640, 480));
    assert_eq!(s.connection.state, "none");
    let jpeg = monitor.preview().expect("a preview");
    let img = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
    let receipt = monitor.stop();
    assert_eq!(receipt.reason, "end_of_stream");
    assert_eq!(receipt.events, 5);
}

#[test]
fn stopping_ends_the_session_as_stopped() {
    let monitor = Monitor::start(SessionOptions::live(&scenario("present_throughout"))).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let s = monitor.snapshot();
    assert!(s.running);
    assert!(s.faces.len() <= 1);
    let receipt = monitor.stop();
    assert_eq!(receipt.reason, "stopped");
}

#[test]
fn a_missing_fixture_is_a_clear_error() {
    let err = Monitor::start(SessionOptions::live("/nonexistent/fixture.y4m"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("/nonexistent/fixture.y4m"), "{err}");
}
