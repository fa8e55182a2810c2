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
