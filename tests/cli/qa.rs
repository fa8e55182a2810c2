//! `invigil qa`: every bundled scenario, JUnit output, failing expectations.

use super::*;

#[test]
fn every_bundled_scenario_passes() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let o = invigil(&[
        "qa",
        "run",
        "tests/scenarios",
        "--junit",
        junit.to_str().unwrap(),
        "--events-dir",
        dir.path().to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let count = std::fs::read_dir(root().join("tests/scenarios"))
        .unwrap()
        .count();
    assert!(count >= 9);
    assert!(out.contains(&format!("{count} passed, 0 failed")), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!("tests=\"{count}\" failures=\"0\"")),
        "{xml}"
    );
    assert!(xml.contains("name=\"leaves_and_returns\""));
    let kept = std::fs::read_to_string(dir.path().join("camera_lost.jsonl")).unwrap();
    assert_well_formed(&events(&kept));
}

/// The scenarios run with the default tracking profile everywhere else; the
/// full-range profile (`--model back`, the default before issue 18) keeps
/// the events of those that depend most on which faces are found: a second
/// face, a candidate who leaves, a switch to another person's photograph,
/// someone at the edge.
#[test]
fn the_full_range_profile_keeps_the_events() {
    let scenarios = [
        "second_person.toml",
        "leaves_and_returns.toml",
        "writes_on_scratch_paper.toml",
        "replaced_mid_exam.toml",
        "someone_at_the_edge.toml",
    ];
    let mut args = vec!["qa", "run", "--model", "back"];
    let paths: Vec<String> = scenarios
        .iter()
        .map(|s| format!("tests/scenarios/{s}"))
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let o = invigil(&args);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("5 passed, 0 failed"), "{out}");
}

#[test]
fn a_failing_expectation_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("wrong.toml");
    let photo = root().join("tests/fixtures/images/obama.jpg");
    std::fs::write(
        &s,
        format!(
            "[[segment]]\nkind = \"image\"\npath = {:?}\nduration_s = 3\n\
             [[expect]]\nkind = \"candidate_absent\"\n",
            photo.display().to_string()
        ),
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let o = invigil(&[
        "qa",
        "run",
        s.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("FAIL  wrong"), "{out}");
    assert!(
        out.contains("candidate_absent: expected at least 1, got 0"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("0 passed, 1 failed"), "{out}");
    assert!(std::fs::read_to_string(junit).unwrap().contains("<failure"));
}

#[test]
fn a_missing_scenario_counts_as_failed() {
    let o = invigil(&["qa", "run", "tests/scenarios/camera_lost.toml", "nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("nope.toml") && out.contains("1 passed, 1 failed"),
        "{out}"
    );
}
