//! One session wiring for every front door: a `Session` opened from
//! options, run to its end with an `Observer`.

use std::sync::atomic::AtomicBool;

use invigil_capture::pipeline::Progress;
use invigil_capture::SourceInfo;
use invigil_core::{Event, Frame, Observation};
use invigil_session::{Observer, Session, SessionOptions};
use invigil_uplink::Uplink;

fn scenario(name: &str) -> String {
    format!(
        "{}/../../tests/scenarios/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    frames: u64,
    last_progress: Option<Progress>,
}

impl Observer for Seen {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }
    fn progress(&mut self, p: &Progress, _info: &SourceInfo, link: Option<&Uplink>) {
        assert!(link.is_none(), "not streaming");
        self.last_progress = Some(p.clone());
    }
    fn frame(&mut self, _frame: &Frame, _obs: &Observation) {
        self.frames += 1;
    }
}

#[test]
fn a_scenario_session_runs_to_its_end_and_the_observer_sees_it_all() {
    let mut options = SessionOptions::new(&scenario("leaves_and_returns"));
    options.policy.multiple_faces_flag_s = 2.5;
    let base = options.policy.clone();
    let session = Session::open(options).unwrap();
    let scenario = session
        .scenario()
        .expect("the source is a scenario")
        .clone();
    assert_eq!(scenario.name, "leaves_and_returns");
    // The options' policy with the scenario's [policy] on top.
    assert_eq!(session.policy(), &scenario.policy(&base).unwrap());
    assert_eq!(session.policy().multiple_faces_flag_s, 2.5);
    assert_eq!(session.source_info().kind, "scenario");
    assert!(session.session_id().is_none() && session.resumes_at().is_none());

    let mut seen = Seen::default();
    let outcome = session.run(&AtomicBool::new(false), &mut seen);
    let reason = outcome.reason();
    let summary = outcome.result.expect("the session ran");
    assert!(summary.source_error.is_none());
    assert_eq!(outcome.events, seen.events.len() as u64);
    assert_eq!(outcome.last_event.as_ref(), seen.events.last());
    assert_eq!(reason, "end_of_stream");
    assert_eq!(seen.frames, summary.progress.frames);
    assert_eq!(seen.last_progress.unwrap(), summary.progress);
    assert!(outcome.uplink.is_none());
    let kinds: Vec<&str> = seen.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"session_started"));
    assert_eq!(kinds.last(), Some(&"session_ended"));
    assert!(kinds.contains(&"candidate_absent"), "{kinds:?}");
    // The scenario's own expectations hold.
    for r in scenario.check(&seen.events) {
        assert!(r.passed, "{}", r.message);
    }
}

#[test]
fn a_stopped_session_ends_as_stopped() {
    let session = Session::open(SessionOptions::new(&scenario("present_throughout"))).unwrap();
    let outcome = session.run(&AtomicBool::new(true), &mut ());
    assert_eq!(outcome.reason(), "stopped");
    assert_eq!(outcome.events, 2, "session_started and session_ended");
}

#[test]
fn bad_options_are_clear_errors_before_anything_runs() {
    let err = |o: SessionOptions| Session::open(o).err().expect("refused").to_string();
    let missing = err(SessionOptions::new("/nonexistent/clip.mp4"));
    assert!(missing.contains("/nonexistent/clip.mp4"), "{missing}");
    let mut fps = SessionOptions::new(&scenario("present_throughout"));
    fps.fps = 0.0;
    assert!(err(fps).contains("--fps"));
    let mut model = SessionOptions::new(&scenario("present_throughout"));
    model.model_file = Some("/nonexistent/model.onnx".into());
    let e = err(model);
    assert!(
        e.contains("face detector") && e.contains("/nonexistent/model.onnx"),
        "{e}"
    );
}

#[test]
fn the_system_check_judges_the_camera_and_lets_an_unreachable_server_pass() {
    let limits = invigil_session::CheckInPolicy::default().system;
    let dir = tempfile::tempdir().unwrap();
    let check = invigil_session::system_check(
        &scenario("present_throughout"),
        "http://127.0.0.1:9",
        dir.path(),
        &limits,
    );
    let by_id = |id: &str| check.items.iter().find(|i| i.id == id).unwrap();
    assert!(by_id("camera").ok, "{:?}", by_id("camera"));
    assert!(by_id("face").ok, "{:?}", by_id("face"));
    assert!(by_id("lighting").ok, "{:?}", by_id("lighting"));
    let backend = by_id("backend");
    assert!(!backend.ok && backend.hint.is_some(), "{backend:?}");
    assert!(check.ok, "the exam runs offline and catches up");

    let none = invigil_session::system_check("/nonexistent/camera.y4m", "", dir.path(), &limits);
    assert!(!none.ok);
    assert!(by_id_in(&none, "camera")
        .detail
        .contains("/nonexistent/camera.y4m"));
    assert_eq!(by_id_in(&none, "face").detail, "no picture");
}

fn by_id_in<'a>(
    check: &'a invigil_session::SystemCheck,
    id: &str,
) -> &'a invigil_session::CheckItem {
    check.items.iter().find(|i| i.id == id).unwrap()
}

/// Takes a break at `take_at_ms` and ends it at `end_at_ms` (media time),
/// as a candidate pressing the app's buttons would.
struct OnBreak {
    desk: std::sync::Arc<invigil_session::BreakDesk>,
    take_at_ms: u64,
    end_at_ms: Option<u64>,
    events: Vec<Event>,
}

impl Observer for OnBreak {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }
    fn progress(&mut self, _p: &Progress, _info: &SourceInfo, _link: Option<&Uplink>) {}
    fn frame(&mut self, frame: &Frame, _obs: &Observation) {
        if frame.t_ms == self.take_at_ms {
            self.desk.take().unwrap();
        }
        if Some(frame.t_ms) == self.end_at_ms {
            self.desk.end().unwrap();
        }
    }
}

fn with_break(minutes: f64, take_at_ms: u64, end_at_ms: Option<u64>) -> Vec<Event> {
    // The candidate leaves at 10 s and is back at 25 s.
    let mut options = SessionOptions::new(&scenario("leaves_and_returns"));
    options.breaks = Some(invigil_core::protocol::Breaks {
        count: 1,
        minutes,
        clock: invigil_core::protocol::BreakClock::Paused,
    });
    let session = Session::open(options).unwrap();
    let mut seen = OnBreak {
        desk: session.breaks(),
        take_at_ms,
        end_at_ms,
        events: Vec::new(),
    };
    session.run(&AtomicBool::new(false), &mut seen);
    seen.events
}

#[test]
fn a_break_the_exam_allows_is_not_a_violation() {
    let events = with_break(1.0, 9_000, Some(26_000));
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "session_started",
            "break_started",
            "break_ended",
            "session_ended"
        ],
        "away 15 s on an allowed break: nothing flagged"
    );
    assert_eq!(events[1].data["max_s"], 60.0);
    assert_eq!(events[1].data["clock"], "paused");
    assert!((16_900..=17_100).contains(&events[2].data["duration_ms"].as_u64().unwrap()));
}

#[test]
fn a_break_run_over_is_flagged() {
    // A 6-second break for a 15-second absence: overrun, then the absence
    // rules count from there.
    let events = with_break(0.1, 9_000, None);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds[..3],
        ["session_started", "break_started", "break_overrun"],
        "{kinds:?}"
    );
    assert!(kinds.contains(&"candidate_absent"), "{kinds:?}");
    // Without a break the same footage is flagged too: the break changed
    // only when.
    let absent_at = events
        .iter()
        .find(|e| e.kind.as_str() == "candidate_absent")
        .unwrap()
        .t_ms;
    assert!(absent_at >= 15_000 + 5_000 - 200, "{absent_at}");
}
