//! `invigil checkin`: photographs judged as the app's check-in judges frames.

use super::*;

const DIR: &str = "tests/fixtures/checkin";

#[test]
fn a_good_set_of_photos_is_accepted() {
    let o = invigil(&[
        "checkin",
        "--face",
        &format!("{DIR}/face.jpg"),
        "--id",
        &format!("{DIR}/id_card.jpg"),
        "--room",
        &format!("{DIR}/room_north.jpg"),
        "--room",
        &format!("{DIR}/room_east.jpg"),
    ]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("face.jpg: face photo: accepted"), "{text}");
    assert!(text.contains("id_card.jpg: ID photo: accepted"), "{text}");
    assert!(
        text.contains("room_east.jpg: view of the wall to your right: accepted"),
        "{text}"
    );
    assert!(text.contains("sharpness"), "measures are shown: {text}");
}

#[test]
fn refusals_say_why_and_exit_1() {
    let o = invigil(&[
        "checkin",
        "--json",
        "--face",
        "tests/fixtures/images/group6.jpg",
        "--id",
        &format!("{DIR}/id_card_blurry.jpg"),
        "--room",
        &format!("{DIR}/room_north.jpg"),
        "--room",
        &format!("{DIR}/room_north_again.jpg"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = events(&stdout(&o));
    let codes: Vec<(&str, bool, Vec<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["slot"].as_str().unwrap(),
                l["ready"].as_bool().unwrap(),
                l["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["code"].as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("face", false, vec!["several_faces"]),
            ("id", false, vec!["blurred"]),
            ("front", true, vec![]),
            ("right", false, vec!["same_view"]),
        ]
    );
    assert!(lines[3]["measures"]["similarity"].as_f64().unwrap() > 0.6);
}

#[test]
fn a_phone_photo_is_judged_upright() {
    let o = invigil(&[
        "checkin",
        "--face",
        "tests/fixtures/images/obama_phone_exif6.jpg",
    ]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn bad_input_is_named_and_nothing_is_judged() {
    for (args, needle) in [
        (vec!["checkin"], "nothing to judge"),
        (
            vec![
                "checkin",
                "--face",
                "tests/fixtures/checkin/face.jpg",
                "--id",
                "no/such.jpg",
            ],
            "no/such.jpg",
        ),
        (
            vec![
                "checkin", "--room", "a", "--room", "b", "--room", "c", "--room", "d", "--room",
                "e", "--room", "f",
            ],
            "at most 5 views",
        ),
    ] {
        let o = invigil(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}: nothing judged");
    }
}

/// Issue 14: the ID's portrait against the face photo. The candidate's own
/// ID matches; someone else's ID is accepted as a photo (the check-in
/// never refuses on this alone) and reported as not the same person.
#[test]
fn the_id_portrait_is_compared_with_the_face_photo() {
    let identity = |id: &str| {
        let o = invigil(&[
            "checkin",
            "--json",
            "--face",
            &format!("{DIR}/face.jpg"),
            "--id",
            &format!("{DIR}/{id}"),
        ]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let lines = events(&stdout(&o));
        assert!(lines[0].get("identity").is_none(), "only on the ID line");
        assert_eq!(lines[1]["slot"], "id");
        lines[1]["identity"].clone()
    };
    let own = identity("id_card_own.jpg");
    assert_eq!(own["id_face_found"], true, "{own}");
    assert_eq!(own["same_person"], true, "{own}");
    let other = identity("id_card.jpg");
    assert_eq!(other["id_face_found"], true, "{other}");
    assert_eq!(other["same_person"], false, "{other}");
    assert!(
        other["similarity"].as_f64().unwrap() < own["similarity"].as_f64().unwrap(),
        "{other} {own}"
    );
    // In words, too.
    let o = invigil(&[
        "checkin",
        "--face",
        &format!("{DIR}/face.jpg"),
        "--id",
        &format!("{DIR}/id_card.jpg"),
    ]);
    assert!(
        stdout(&o).contains("identity: the portrait does not look like the person"),
        "{}",
        stdout(&o)
    );
    // An ID photo alone has nothing to be compared with.
    let o = invigil(&["checkin", "--json", "--id", &format!("{DIR}/id_card.jpg")]);
    assert!(events(&stdout(&o))[0].get("identity").is_none());
}
