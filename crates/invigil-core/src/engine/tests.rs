use super::*;
use crate::{Face, Fingerprint, SceneStats, Severity};

/// A scripted stream: each step is (seconds, faces, scene kind).
#[derive(Clone, Copy)]
enum Scene {
    Lit,
    Dark,
    Still,
}

fn face(x: f32) -> Face {
    Face {
        score: 0.9,
        bbox: [x, 100.0, 120.0, 120.0],
        keypoints: [[0.0; 2]; 6],
    }
}

fn scene(kind: Scene, n: u64) -> SceneStats {
    match kind {
        Scene::Lit => SceneStats::test_pattern(n),
        Scene::Dark => SceneStats {
            luma: 3.0,
            contrast: 1.0,
            detail: 0.1,
            fingerprint: Fingerprint {
                cells: vec![3.0; 4],
            },
        },
        Scene::Still => SceneStats {
            fingerprint: Fingerprint {
                cells: vec![50.0; 4],
            },
            ..SceneStats::test_pattern(0)
        },
    }
}

/// Runs segments of (duration s, face count, scene) at 10 fps; returns
/// (kind, t_ms) pairs.
fn run(policy: Policy, segments: &[(f64, usize, Scene)]) -> Vec<(String, u64)> {
    let mut engine = RuleEngine::new(policy);
    let mut events = engine.start();
    let mut t = 0u64;
    let mut n = 0u64;
    for &(secs, faces, kind) in segments {
        let end = t + (secs * 1000.0) as u64;
        while t < end {
            let faces = (0..faces).map(|i| face(i as f32 * 200.0)).collect();
            events.extend(engine.observe(&Observation::new(t, faces, scene(kind, n))));
            t += 100;
            n += 1;
        }
    }
    events.extend(engine.finish(EndReason::EndOfStream));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "seq has no gaps");
    }
    events
        .into_iter()
        .map(|e| (e.kind.as_str().to_owned(), e.t_ms))
        .collect()
}

fn kinds(events: &[(String, u64)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn present_throughout_is_quiet() {
    let ev = run(Policy::default(), &[(60.0, 1, Scene::Lit)]);
    assert_eq!(kinds(&ev), ["session_started", "session_ended"]);
}

#[test]
fn leaving_warns_flags_and_returns() {
    let ev = run(
        Policy::default(),
        &[
            (5.0, 1, Scene::Lit),
            (15.0, 0, Scene::Lit),
            (5.0, 1, Scene::Lit),
        ],
    );
    assert_eq!(
        ev,
        [
            ("session_started".to_owned(), 0),
            ("absence_warning".to_owned(), 7000),
            ("candidate_absent".to_owned(), 10000),
            ("candidate_returned".to_owned(), 21000),
            ("session_ended".to_owned(), 24900),
        ]
    );
}

#[test]
fn short_glance_is_not_a_violation() {
    let ev = run(
        Policy::default(),
        &[
            (5.0, 1, Scene::Lit),
            (1.5, 0, Scene::Lit),
            (5.0, 1, Scene::Lit),
        ],
    );
    assert_eq!(kinds(&ev), ["session_started", "session_ended"]);
}

#[test]
fn single_frame_misses_never_raise_events() {
    let mut segments = Vec::new();
    for _ in 0..50 {
        segments.push((0.9, 1, Scene::Lit));
        segments.push((0.1, 0, Scene::Lit));
    }
    let ev = run(Policy::default(), &segments);
    assert_eq!(kinds(&ev), ["session_started", "session_ended"]);
}

#[test]
fn a_flickering_face_does_not_hide_an_absence() {
    // Gone for 8 s, but a false detection every 1.5 s.
    let mut segments = vec![(2.0, 1, Scene::Lit)];
    for _ in 0..6 {
        segments.push((1.4, 0, Scene::Lit));
        segments.push((0.1, 1, Scene::Lit));
    }
    let ev = run(Policy::default(), &segments);
    assert!(kinds(&ev).contains(&"candidate_absent"), "{ev:?}");
}

#[test]
fn second_person_is_flagged_and_cleared() {
    let ev = run(
        Policy::default(),
        &[
            (3.0, 1, Scene::Lit),
            (4.0, 2, Scene::Lit),
            (3.0, 1, Scene::Lit),
        ],
    );
    assert_eq!(
        kinds(&ev),
        [
            "session_started",
            "multiple_faces",
            "multiple_faces_cleared",
            "session_ended"
        ]
    );
    assert_eq!(ev[1].1, 4000);
}

#[test]
fn covered_camera_is_blocked_not_absent() {
    let ev = run(
        Policy::default(),
        &[
            (3.0, 1, Scene::Lit),
            (10.0, 0, Scene::Dark),
            (3.0, 1, Scene::Lit),
        ],
    );
    assert_eq!(
        kinds(&ev),
        [
            "session_started",
            "camera_blocked",
            "camera_unblocked",
            "session_ended"
        ]
    );
}

#[test]
fn frozen_frames_are_flagged() {
    let ev = run(
        Policy::default(),
        &[
            (3.0, 1, Scene::Lit),
            (6.0, 1, Scene::Still),
            (3.0, 1, Scene::Lit),
        ],
    );
    assert_eq!(
        kinds(&ev),
        [
            "session_started",
            "camera_frozen",
            "camera_unfrozen",
            "session_ended"
        ]
    );
}

#[test]
fn every_other_frame_repeated_is_not_frozen() {
    let mut engine = RuleEngine::new(Policy::default());
    let mut events = engine.start();
    for i in 0..200u64 {
        let s = SceneStats::test_pattern(i / 2);
        events.extend(engine.observe(&Observation::new(i * 33, vec![face(0.0)], s)));
    }
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn policy_changes_timing() {
    let policy = Policy {
        absence_warn_s: 1.0,
        absence_flag_s: 1.0,
        ..Policy::default()
    };
    let ev = run(policy, &[(2.0, 1, Scene::Lit), (3.0, 0, Scene::Lit)]);
    assert_eq!(
        ev[1..3],
        [
            ("absence_warning".to_owned(), 3000),
            ("candidate_absent".to_owned(), 3000)
        ]
    );
}

#[test]
fn low_score_faces_are_ignored() {
    let mut engine = RuleEngine::new(Policy::default());
    engine.start();
    let mut weak = face(0.0);
    weak.score = 0.3;
    let mut all = Vec::new();
    for i in 0..60u64 {
        all.extend(engine.observe(&Observation::new(
            i * 100,
            vec![weak.clone()],
            SceneStats::test_pattern(i),
        )));
    }
    assert_eq!(all[0].kind, EventKind::AbsenceWarning);
}

#[test]
fn session_end_reports_camera_lost_and_open_flags() {
    let mut engine = RuleEngine::new(Policy::default());
    engine.start();
    for i in 0..80u64 {
        engine.observe(&Observation::new(
            1_000 + i * 100,
            Vec::new(),
            SceneStats::test_pattern(i),
        ));
    }
    let lost = engine.camera_lost("device unplugged");
    assert_eq!(lost[0].kind, EventKind::CameraLost);
    assert_eq!(lost[0].t_ms, 7900, "time is relative to the first frame");
    let end = engine.finish(EndReason::CameraLost);
    assert_eq!(end[0].data["reason"], "camera_lost");
    assert_eq!(
        end[0].data["open_conditions"],
        serde_json::json!(["candidate_absent"])
    );
    assert!(engine.finish(EndReason::Stopped).is_empty());
}

#[test]
fn time_never_runs_backwards() {
    let mut engine = RuleEngine::new(Policy::default());
    engine.start();
    engine.observe(&Observation::new(
        500,
        vec![face(0.0)],
        SceneStats::test_pattern(0),
    ));
    let ev = engine.observe(&Observation::new(
        100,
        vec![face(0.0)],
        SceneStats::test_pattern(1),
    ));
    assert!(ev.is_empty());
    assert_eq!(engine.session_time_ms(), 0);
}

#[test]
fn weak_second_faces_do_not_flag_multiple_faces() {
    let mut engine = RuleEngine::new(Policy::default());
    engine.start();
    let mut phantom = face(300.0);
    phantom.score = 0.65;
    let mut all = Vec::new();
    for i in 0..50u64 {
        let faces = vec![face(0.0), phantom.clone()];
        all.extend(engine.observe(&Observation::new(
            i * 100,
            faces,
            SceneStats::test_pattern(i),
        )));
    }
    assert!(all.is_empty(), "{all:?}");
}

/// Segments as in [`run`], with a break requested at `break_at_s` and
/// ended at `end_at_s` (None: never ended), of `max_s`.
fn run_with_break(
    segments: &[(f64, usize, Scene)],
    break_at_s: f64,
    end_at_s: Option<f64>,
    max_s: f64,
) -> Vec<Event> {
    let mut engine = RuleEngine::new(Policy::default());
    let mut events = engine.start();
    let mut t = 0u64;
    let mut n = 0u64;
    for &(secs, faces, kind) in segments {
        let end = t + (secs * 1000.0) as u64;
        while t < end {
            if t == (break_at_s * 1000.0) as u64 {
                events.push(engine.note(
                    EventKind::BreakStarted,
                    into_map(json!({"number": 1, "max_s": max_s, "clock": "paused"})),
                ));
            }
            if Some(t) == end_at_s.map(|s| (s * 1000.0) as u64) {
                events.push(engine.note(EventKind::BreakEnded, into_map(json!({"number": 1}))));
            }
            let faces = (0..faces).map(|i| face(i as f32 * 200.0)).collect();
            events.extend(engine.observe(&Observation::new(t, faces, scene(kind, n))));
            t += 100;
            n += 1;
        }
    }
    events.extend(engine.finish(EndReason::EndOfStream));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "seq has no gaps");
    }
    events
}

fn kinds_of(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn an_allowed_break_is_not_an_absence() {
    // Present 10 s, a 5-minute break taken at 10 s: away 120 s (a
    // visitor passes through at 60 s), back at 130 s, break ended at 131 s.
    let events = run_with_break(
        &[
            (10.0, 1, Scene::Lit),
            (50.0, 0, Scene::Lit),
            (5.0, 2, Scene::Lit),
            (65.0, 0, Scene::Lit),
            (20.0, 1, Scene::Lit),
        ],
        10.0,
        Some(131.0),
        300.0,
    );
    assert_eq!(
        kinds_of(&events),
        [
            "session_started",
            "break_started",
            "break_ended",
            "session_ended"
        ]
    );
    assert_eq!(events[2].data["duration_ms"], 121_000);
    assert!(events.iter().all(|e| e.severity != Severity::Violation));
}

#[test]
fn a_break_that_runs_over_is_flagged_and_the_rules_take_over() {
    // A 1-minute break (stamped at the last frame seen, 9.9 s), still away
    // after it: break_overrun on the first frame past it (70 s), then
    // the absence rules count from there (warning 2 s, flag 5 s later).
    let events = run_with_break(
        &[
            (10.0, 1, Scene::Lit),
            (80.0, 0, Scene::Lit),
            (5.0, 1, Scene::Lit),
        ],
        10.0,
        None,
        60.0,
    );
    let got: Vec<(&str, u64)> = events.iter().map(|e| (e.kind.as_str(), e.t_ms)).collect();
    assert_eq!(got[1], ("break_started", 9_900));
    assert_eq!(got[2], ("break_overrun", 70_000));
    assert_eq!(events[2].severity, Severity::Violation);
    assert_eq!(events[2].data["max_s"], 60.0);
    let absent = got.iter().find(|(k, _)| *k == "candidate_absent").unwrap();
    assert!((75_000..=75_500).contains(&absent.1), "{got:?}");
    assert!(got.iter().any(|(k, _)| *k == "candidate_returned"));
}

#[test]
fn camera_rules_keep_running_during_a_break() {
    let events = run_with_break(
        &[
            (10.0, 1, Scene::Lit),
            (20.0, 0, Scene::Dark),
            (10.0, 1, Scene::Lit),
        ],
        10.0,
        Some(35.0),
        300.0,
    );
    let k = kinds_of(&events);
    assert!(k.contains(&"camera_blocked"), "{k:?}");
    assert!(!k.contains(&"candidate_absent"), "{k:?}");
}
