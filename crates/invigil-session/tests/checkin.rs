//! The check-in on the bundled fixture: every step becomes ready, photos are
//! taken and retaken, and bad fixtures are clear errors.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use invigil_session::{CheckIn, CheckInOptions, Step, ROOM_SIDES};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/checkin/checkin.toml")
}

/// The bundled face photo, someone else's ID (`id_card.jpg`) and one room
/// view for every side, as a fixture file in `dir`.
fn one_room_fixture(dir: &Path) -> PathBuf {
    let base = fixture().parent().unwrap().to_owned();
    let path = dir.join("one_room.toml");
    std::fs::write(
        &path,
        format!(
            "face = '{0}/face.jpg'\nid = '{0}/id_card.jpg'\nroom = ['{0}/room_north.jpg']\n",
            base.display()
        ),
    )
    .unwrap();
    path
}

fn wait_ready(c: &CheckIn, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.view();
        if v.ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never ready: {:?}",
            v.problems
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_whole_check_in_on_the_fixture() {
    let mut options = CheckInOptions::new("unused");
    options.fixture = Some(fixture());
    // The head-turn step has its own tests (tests/liveness.rs).
    options.requires.liveness = false;
    let c = CheckIn::start(options).unwrap();
    // Not ready before a frame was judged: capture says why.
    assert!(c.capture().is_err() || c.view().photos.len() == 1);
    wait_ready(&c, "face");
    assert_eq!(c.view().faces.len(), 1);
    c.capture().unwrap();
    c.set_step(Step::Id, 0).unwrap();
    wait_ready(&c, "id");
    assert!(c.view().document.is_some());
    let id = c.capture().unwrap();
    // The candidate's own ID: its portrait is the person in the face photo.
    let identity = id.identity.expect("the ID is compared with the face photo");
    assert!(identity.same_person, "{identity:?}");
    assert!(identity.similarity.unwrap() >= 0.40, "{identity:?}");
    assert!(!identity.retake && identity.hint.is_none(), "{identity:?}");
    for (side, (name, _)) in ROOM_SIDES.iter().enumerate() {
        c.set_step(Step::Room, side).unwrap();
        wait_ready(&c, name);
        c.capture().unwrap();
    }
    let v = c.view();
    assert!(
        v.complete,
        "{:?}",
        v.photos.iter().map(|p| &p.slot).collect::<Vec<_>>()
    );
    assert!(v
        .photos
        .iter()
        .all(|p| p.thumbnail.starts_with("data:image/jpeg;base64,")));
    // A retake replaces the photo of its slot.
    c.set_step(Step::Room, 4).unwrap();
    wait_ready(&c, "desk again");
    c.capture().unwrap();
    assert_eq!(c.view().photos.len(), 7);
    assert!(c.preview().is_some());
    assert!(c.set_step(Step::Room, 9).is_err());
    let photos = c.finish().photos;
    let kinds: Vec<&str> = photos.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "face_photo",
            "id_photo",
            "room_scan",
            "room_scan",
            "room_scan",
            "room_scan",
            "room_scan"
        ]
    );
    assert!(photos
        .iter()
        .all(|p| p.jpeg.starts_with(&[0xFF, 0xD8, 0xFF])));
}

/// Someone else's ID: a retake is asked for, with a hint, and after the
/// second the check-in goes on, the mismatch left to proctors.
#[test]
fn an_id_of_someone_else_asks_for_a_retake_then_goes_to_proctors() {
    let dir = tempfile::tempdir().unwrap();
    let other = one_room_fixture(dir.path());
    let mut options = CheckInOptions::new("unused");
    options.fixture = Some(other);
    options.requires.room = false;
    options.requires.liveness = false;
    let c = CheckIn::start(options).unwrap();
    wait_ready(&c, "face");
    assert_eq!(
        c.capture().unwrap().identity,
        None,
        "nothing to compare yet"
    );
    c.set_step(Step::Id, 0).unwrap();
    wait_ready(&c, "id");
    let first = c.capture().unwrap().identity.unwrap();
    assert!(!first.same_person && first.id_face_found, "{first:?}");
    assert!(first.similarity.unwrap() < 0.40, "{first:?}");
    assert!(first.retake && !first.for_review, "{first:?}");
    assert_eq!(first.attempts, 1);
    assert!(
        first
            .hint
            .as_deref()
            .unwrap()
            .contains("take the ID photo again"),
        "{first:?}"
    );
    assert!(!c.view().complete, "a retake is asked for first");
    wait_ready(&c, "id again");
    let second = c.capture().unwrap().identity.unwrap();
    assert_eq!(second.attempts, 2);
    assert!(!second.retake && second.for_review, "{second:?}");
    assert!(
        second
            .hint
            .as_deref()
            .unwrap()
            .contains("a proctor will compare"),
        "{second:?}"
    );
    assert!(c.view().complete, "never refused on this alone");
    let photos = c.finish().photos;
    assert!(
        photos[0].embedding.is_some(),
        "the face photo is the exam's reference"
    );
    // Where the portrait is on the ID photo, for proctors to see it.
    let [x, y, w, h] = photos[1].portrait.unwrap();
    assert!(x > 0.0 && y > 0.0 && w > 0.01 && h > 0.01 && x + w < 1.0 && y + h < 1.0);
}

#[test]
fn a_room_view_like_the_last_cannot_be_taken() {
    let dir = tempfile::tempdir().unwrap();
    let same = one_room_fixture(dir.path());
    let mut options = CheckInOptions::new("unused");
    options.fixture = Some(same);
    let c = CheckIn::start(options).unwrap();
    c.set_step(Step::Room, 0).unwrap();
    wait_ready(&c, "front");
    c.capture().unwrap();
    c.set_step(Step::Room, 1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.view();
        if v.problems.iter().any(|p| p.code == "same_view") {
            assert!(!v.ready);
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", v.problems);
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = c.capture().unwrap_err();
    assert!(err.contains("the wall in front of you"), "{err}");
}

#[test]
fn bad_fixtures_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("missing.toml", None, "cannot read the check-in fixture"),
        ("bad.toml", Some("face = 3\n"), "bad.toml"),
        (
            "empty_room.toml",
            Some("face = 'a.jpg'\nid = 'b.jpg'\nroom = []\n"),
            "lists no pictures",
        ),
        (
            "hold.toml",
            Some("face = 'a.jpg'\nid = 'b.jpg'\nroom = ['c.jpg']\nliveness_hold_ms = 5\n"),
            "liveness_hold_ms",
        ),
        (
            "no_file.toml",
            Some("face = 'nope.jpg'\nid = 'nope.jpg'\nroom = ['nope.jpg']\n"),
            "nope.jpg",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.path().join(name);
        if let Some(t) = text {
            std::fs::write(&path, t).unwrap();
        }
        let mut options = CheckInOptions::new("unused");
        options.fixture = Some(path);
        let err = match CheckIn::start(options) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(needle), "{name}: {err}");
    }
}

#[test]
fn a_check_in_asks_only_for_what_the_exam_requires() {
    use invigil_core::protocol::CheckinRequirements;
    let mut options = CheckInOptions::new("unused");
    options.fixture = Some(fixture());
    options.requires = CheckinRequirements {
        face: false,
        id: true,
        room: false,
        liveness: true,
    };
    let c = CheckIn::start(options.clone()).unwrap();
    let v = c.view();
    assert_eq!(v.step, Step::Id, "starts at the first step asked for");
    assert_eq!(v.required, ["id"]);
    assert!(!v.complete);
    let refused = c.set_step(Step::Face, 0).unwrap_err();
    assert!(
        refused.contains("does not ask for the face photo"),
        "{refused}"
    );
    assert!(c.set_step(Step::Room, 0).is_err());
    wait_ready(&c, "id");
    c.capture().unwrap();
    assert!(c.view().complete);
    drop(c);
    // An exam that asks for nothing has no check-in to start.
    options.requires = CheckinRequirements {
        face: false,
        id: false,
        room: false,
        liveness: true,
    };
    let err = CheckIn::start(options).err().unwrap().to_string();
    assert!(err.contains("no check-in photos"), "{err}");
}
