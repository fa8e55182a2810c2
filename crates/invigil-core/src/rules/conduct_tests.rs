//! The conduct rules end to end through the engine: looking away and
//! objects in view.

use crate::{
    EndReason, Face, HeadPose, ObjectLabel, Observation, Policy, RuleEngine, SceneStats, SeenObject,
};

fn face() -> Face {
    Face {
        score: 0.9,
        bbox: [260.0, 100.0, 120.0, 120.0],
        keypoints: [[0.0; 2]; 6],
    }
}

/// One step of a script: seconds, a face or not, the pose (yaw, pitch)
/// measured 5 times a second, the objects seen every 2 s.
struct Step {
    secs: f64,
    face: bool,
    pose: (f32, f32),
    objects: Vec<SeenObject>,
}

fn step(secs: f64, pose: (f32, f32)) -> Step {
    Step {
        secs,
        face: true,
        pose,
        objects: Vec::new(),
    }
}

fn with(secs: f64, objects: Vec<SeenObject>) -> Step {
    Step {
        objects,
        ..step(secs, (2.0, -5.0))
    }
}

fn object(label: ObjectLabel, score: f32, bbox: [f32; 4]) -> SeenObject {
    SeenObject { label, score, bbox }
}

/// Runs the script at 10 fps; (kind, t_ms, data) of every event.
fn run(policy: Policy, script: &[Step]) -> Vec<(String, u64, serde_json::Value)> {
    let mut engine = RuleEngine::new(policy);
    let mut events = engine.start();
    let (mut t, mut n) = (0u64, 0u64);
    for s in script {
        let end = t + (s.secs * 1000.0) as u64;
        while t < end {
            let faces = if s.face { vec![face()] } else { Vec::new() };
            let mut obs = Observation::new(t, faces, SceneStats::test_pattern(n));
            if s.face && t % 200 == 0 {
                obs.pose = Some(HeadPose {
                    yaw: s.pose.0,
                    pitch: s.pose.1,
                    roll: 0.0,
                });
            }
            if t % 2000 == 0 {
                obs.objects = Some(s.objects.clone());
            }
            events.extend(engine.observe(&obs));
            t += 100;
            n += 1;
        }
    }
    events.extend(engine.finish(EndReason::EndOfStream));
    events
        .into_iter()
        .map(|e| {
            (
                e.kind.as_str().to_owned(),
                e.t_ms,
                serde_json::Value::Object(e.data),
            )
        })
        .collect()
}

fn kinds(events: &[(String, u64, serde_json::Value)]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.0.as_str())
        .filter(|k| !k.starts_with("session_"))
        .collect()
}

/// The candidate sits turned 20° to one side and 10° down: that is their
/// neutral pose, not looking away.
const NEUTRAL: (f32, f32) = (20.0, -10.0);

#[test]
fn a_candidate_sitting_at_an_angle_is_not_looking_away() {
    let events = run(Policy::default(), &[step(600.0, NEUTRAL)]);
    assert!(kinds(&events).is_empty(), "{events:?}");
}

#[test]
fn a_long_look_to_the_side_warns_flags_and_ends() {
    let events = run(
        Policy::default(),
        &[
            step(20.0, NEUTRAL),
            step(20.0, (NEUTRAL.0 - 45.0, NEUTRAL.1)),
            step(10.0, NEUTRAL),
        ],
    );
    assert_eq!(
        kinds(&events),
        ["looking_away_warning", "looking_away", "looking_back"],
        "{events:?}"
    );
    let warning = &events[1];
    assert_eq!(warning.1, 25_000, "5 s after the turn");
    assert_eq!(warning.2["direction"], "right");
    assert!((warning.2["yaw"].as_f64().unwrap() + 45.0).abs() < 0.5);
    assert_eq!(warning.2["flag_in_ms"], 10_000);
    assert_eq!(events[2].1, 35_000);
    assert_eq!(events[3].2["flagged"], true);
}

#[test]
fn thinking_glances_and_looking_down_at_allowed_paper_are_not_flagged() {
    let thinking = [
        step(20.0, NEUTRAL),
        step(4.0, (NEUTRAL.0, NEUTRAL.1 + 35.0)),
        step(20.0, NEUTRAL),
        step(4.5, (NEUTRAL.0 + 40.0, NEUTRAL.1)),
        step(20.0, NEUTRAL),
    ];
    assert!(kinds(&run(Policy::default(), &thinking)).is_empty());
    let writing = [
        step(20.0, NEUTRAL),
        step(120.0, (NEUTRAL.0, NEUTRAL.1 - 40.0)),
        step(5.0, NEUTRAL),
    ];
    let paper = Policy {
        scratch_paper: true,
        ..Policy::default()
    };
    assert!(kinds(&run(paper, &writing)).is_empty());
    // Without the aid, two minutes looking down is flagged.
    let events = run(Policy::default(), &writing);
    assert_eq!(
        kinds(&events)[..2],
        ["looking_away_warning", "looking_away"]
    );
    assert_eq!(events[1].2["direction"], "down");
    // The aid allows looking down only: a long look up is still flagged.
    let up = [
        step(20.0, NEUTRAL),
        step(20.0, (NEUTRAL.0, NEUTRAL.1 + 40.0)),
    ];
    let paper = Policy {
        scratch_paper: true,
        ..Policy::default()
    };
    assert_eq!(
        kinds(&run(paper, &up))[..2],
        ["looking_away_warning", "looking_away"]
    );
}

#[test]
fn leaving_the_view_is_the_presence_rules_business_and_off_is_off() {
    let script = [
        step(20.0, NEUTRAL),
        step(8.0, (NEUTRAL.0 + 50.0, NEUTRAL.1)),
        Step {
            face: false,
            ..step(10.0, NEUTRAL)
        },
        step(10.0, NEUTRAL),
    ];
    let events = run(Policy::default(), &script);
    let k = kinds(&events);
    assert_eq!(
        k.iter().filter(|k| **k == "looking_away_warning").count(),
        1
    );
    assert!(
        !k.contains(&"looking_back") && !k.contains(&"looking_away"),
        "{k:?}"
    );
    assert!(k.contains(&"candidate_absent"));
    let off = Policy {
        looking_away_flag_s: 0.0,
        ..Policy::default()
    };
    let long = [
        step(20.0, NEUTRAL),
        step(60.0, (NEUTRAL.0 + 50.0, NEUTRAL.1)),
    ];
    assert!(kinds(&run(off, &long)).is_empty());
}

#[test]
fn a_slow_change_of_posture_is_followed() {
    // 25° of drift over 20 minutes, never a look away.
    let mut script = vec![step(20.0, NEUTRAL)];
    for i in 0..=50 {
        script.push(step(24.0, (NEUTRAL.0 - i as f32 * 0.5, NEUTRAL.1)));
    }
    assert!(kinds(&run(Policy::default(), &script)).is_empty());
}

const PHONE: [f32; 4] = [400.0, 300.0, 60.0, 100.0];

#[test]
fn a_phone_held_up_is_flagged_and_cleared() {
    let phone = || vec![object(ObjectLabel::Phone, 0.7, PHONE)];
    let events = run(
        Policy::default(),
        &[
            with(10.0, Vec::new()),
            with(6.0, phone()),
            with(10.0, Vec::new()),
        ],
    );
    assert_eq!(
        kinds(&events),
        ["object_detected", "object_cleared"],
        "{events:?}"
    );
    assert_eq!(events[1].1, 12_000, "seen at 10 s and still at 12 s");
    assert_eq!(events[1].2["label"], "phone");
    assert_eq!(
        events[1].2["box"],
        serde_json::json!([400.0, 300.0, 60.0, 100.0])
    );
    // One sighting (one detector run) is not enough; nor is a weak one.
    let once = run(
        Policy::default(),
        &[
            with(10.0, Vec::new()),
            with(2.0, phone()),
            with(10.0, Vec::new()),
        ],
    );
    assert!(kinds(&once).is_empty(), "{once:?}");
    let weak = vec![object(ObjectLabel::Phone, 0.4, PHONE)];
    assert!(kinds(&run(Policy::default(), &[with(20.0, weak)])).is_empty());
}

#[test]
fn the_books_aid_allows_books_and_not_phones() {
    let both = vec![
        object(ObjectLabel::Book, 0.8, [50.0, 350.0, 200.0, 100.0]),
        object(ObjectLabel::Phone, 0.8, PHONE),
    ];
    let books = Policy {
        books: true,
        ..Policy::default()
    };
    let events = run(books, &[with(10.0, both.clone())]);
    let labels: Vec<_> = events
        .iter()
        .filter(|e| e.0 == "object_detected")
        .map(|e| e.2["label"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(labels, ["phone"]);
    assert_eq!(
        run(Policy::default(), &[with(10.0, both)])
            .iter()
            .filter(|e| e.0 == "object_detected")
            .count(),
        2
    );
}

#[test]
fn a_second_person_counts_only_without_a_face() {
    // The candidate's own body: a person box around the face.
    let candidate = object(ObjectLabel::Person, 0.9, [200.0, 60.0, 240.0, 420.0]);
    let behind = object(ObjectLabel::Person, 0.8, [500.0, 40.0, 130.0, 400.0]);
    assert!(kinds(&run(
        Policy::default(),
        &[with(20.0, vec![candidate.clone()])]
    ))
    .is_empty());
    let events = run(
        Policy::default(),
        &[with(20.0, vec![candidate.clone(), behind.clone()])],
    );
    assert_eq!(kinds(&events), ["object_detected"]);
    assert_eq!(events[1].2["label"], "person");
    // A person box that holds the candidate's face is the candidate, even
    // when it is split in two overlapping boxes.
    let split = object(ObjectLabel::Person, 0.7, [210.0, 80.0, 230.0, 400.0]);
    assert!(kinds(&run(
        Policy::default(),
        &[with(20.0, vec![candidate, split])]
    ))
    .is_empty());
}
