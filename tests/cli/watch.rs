//! `invigil watch`: events from files and scenarios, determinism, bad inputs.

use super::*;

fn watch_to_file(source: &str, extra: &[&str]) -> (Output, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    let mut args = vec![
        "watch",
        "--source",
        source,
        "--events",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = invigil(&args);
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (o, events(&text))
}

#[test]
fn a_scenario_gives_the_same_events_every_run() {
    let (o, first) = watch_to_file("tests/scenarios/leaves_and_returns.toml", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_well_formed(&first);
    assert_eq!(
        kinds(&first),
        [
            "session_started",
            "absence_warning",
            "candidate_absent",
            "candidate_returned",
            "session_ended"
        ]
    );
    let (_, second) = watch_to_file("tests/scenarios/leaves_and_returns.toml", &[]);
    assert_eq!(first, second, "runs are deterministic");
}

#[test]
fn events_go_to_stdout_by_default() {
    let o = invigil(&["watch", "--source", "tests/fixtures/images", "--fps", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ev = events(&stdout(&o));
    assert_well_formed(&ev);
    assert_eq!(ev.last().unwrap()["data"]["reason"], "end_of_stream");
}

#[test]
fn a_truncated_video_fails_cleanly_with_a_complete_event_log() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.y4m");
    let mut data = b"YUV4MPEG2 W64 H48 F10:1 C420jpeg\n".to_vec();
    for _ in 0..3 {
        data.extend_from_slice(b"FRAME\n");
        data.extend(std::iter::repeat_n(90u8, 64 * 48 * 3 / 2));
    }
    data.extend_from_slice(b"FRAME\n\x10\x10\x10");
    std::fs::write(&clip, data).unwrap();
    let (o, ev) = watch_to_file(clip.to_str().unwrap(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("clip.y4m") && err.contains("frame 3: truncated"),
        "{err}"
    );
    assert_well_formed(&ev);
    assert_eq!(ev.last().unwrap()["data"]["reason"], "source_error");
}

#[test]
fn bad_policies_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("absence_flag = 4\n", "absence_flag"),
        ("absence_flag_s = \"soon\"\n", "absence_flag_s"),
        ("blocked_flag_s = -3\n", "blocked_flag_s"),
        ("this is not toml", "policy.toml"),
    ] {
        let p = dir.path().join("policy.toml");
        std::fs::write(&p, text).unwrap();
        let o = invigil(&[
            "watch",
            "--source",
            "tests/scenarios/camera_lost.toml",
            "--policy",
            p.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        let err = stderr(&o);
        assert!(
            err.contains("policy.toml") && err.contains(needle),
            "{text}: {err}"
        );
        assert!(stdout(&o).is_empty(), "no events for a bad policy");
    }
    let o = invigil(&["policy", "--check", "no/such/policy.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/policy.toml"));
}

#[test]
fn a_policy_file_changes_the_timing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("strict.toml");
    std::fs::write(&p, "absence_warn_s = 1\nabsence_flag_s = 1.5\n").unwrap();
    let (o, ev) = watch_to_file(
        "tests/scenarios/glance_away.toml",
        &["--policy", p.to_str().unwrap()],
    );
    assert!(o.status.success());
    assert!(
        kinds(&ev).contains(&"candidate_absent".to_owned()),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn bad_scenarios_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("broken.toml");
    std::fs::write(
        &s,
        "[[segment]]\nkind = \"image\"\npath = \"x.png\"\nduration_s = -1\n",
    )
    .unwrap();
    let o = invigil(&["watch", "--source", s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("broken.toml") && err.contains("duration_s"),
        "{err}"
    );
}

#[test]
fn no_camera_is_a_clear_error() {
    let o = invigil(&["watch", "--source", "camera:7"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("camera"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `--reference-face`: the face in view is compared with the check-in's
/// face photo (docs/identity.md); another person's photo as the reference
/// flags the candidate in view, the candidate's own does not.
#[test]
fn a_reference_face_that_is_someone_else_flags_the_candidate_in_view() {
    let (o, ev) = watch_to_file(
        "tests/scenarios/leaves_and_returns.toml",
        &["--reference-face", "tests/fixtures/images/biden.jpg"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mismatch: Vec<&Value> = ev
        .iter()
        .filter(|e| e["kind"] == "identity_mismatch")
        .collect();
    // Raised at the start and never restored (the flag stays open over the
    // absence, so it is raised once).
    assert_eq!(mismatch.len(), 1, "{:?}", kinds(&ev));
    let m = mismatch[0];
    assert_eq!(m["severity"], "violation");
    assert!(m["t_ms"].as_u64().unwrap() <= 6_000, "{m}");
    assert!(m["data"]["similarity"].as_f64().unwrap() < 0.35, "{m}");
    assert_eq!(m["data"]["threshold"], 0.35);
    assert_eq!(
        ev.last().unwrap()["data"]["open_conditions"],
        serde_json::json!(["identity_mismatch"])
    );
    let (o, ev) = watch_to_file(
        "tests/scenarios/leaves_and_returns.toml",
        &["--reference-face", "tests/fixtures/images/obama3.jpg"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !kinds(&ev).iter().any(|k| k.starts_with("identity")),
        "{:?}",
        kinds(&ev)
    );
}

#[test]
fn a_reference_face_without_a_usable_face_is_a_clear_error() {
    for (image, says) in [
        ("tests/fixtures/images/coffee.png", "no face found"),
        ("tests/fixtures/images/nope.jpg", "nope.jpg"),
        ("tests/fixtures/images/labels.toml", "not an image"),
    ] {
        let o = invigil(&[
            "watch",
            "--source",
            "tests/scenarios/glance_away.toml",
            "--reference-face",
            image,
        ]);
        assert_eq!(o.status.code(), Some(2), "{image}");
        let err = stderr(&o);
        assert!(
            err.contains("reference face") && err.contains(image) && err.contains(says),
            "{image}: {err}"
        );
        assert!(stdout(&o).is_empty(), "nothing ran: {}", stdout(&o));
    }
}
