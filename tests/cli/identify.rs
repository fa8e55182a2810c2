//! `invigil identify A B`: the same person exits 0, different people 1,
//! an unreadable photograph or one without a face 2, each said clearly.

use super::*;

const IMAGES: &str = "tests/fixtures/images";

fn identify(a: &str, b: &str, more: &[&str]) -> Output {
    let mut args = vec![
        "identify".to_owned(),
        format!("{IMAGES}/{a}"),
        format!("{IMAGES}/{b}"),
    ];
    args.extend(more.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    invigil(&args)
}

#[test]
fn two_photographs_of_one_person_and_of_two() {
    let same = identify("obama.jpg", "obama2.jpg", &["--json"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    let v: serde_json::Value = serde_json::from_str(stdout(&same).trim()).unwrap();
    assert_eq!(v["same_person"], true, "{v}");
    assert!(v["similarity"].as_f64().unwrap() > 0.6, "{v}");
    assert!(v["threshold"].as_f64().is_some(), "{v}");

    let other = identify("obama.jpg", "biden.jpg", &[]);
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stdout(&other).contains("different people"),
        "{}",
        stdout(&other)
    );

    // A phone photo stored sideways is turned upright first.
    let turned = identify("obama_phone_exif6.jpg", "obama3.jpg", &[]);
    assert_eq!(turned.status.code(), Some(0), "{}", stdout(&turned));
}

#[test]
fn unreadable_photographs_or_no_face_exit_2() {
    let none = identify("obama.jpg", "room_empty.jpg", &[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("room_empty.jpg: no face found"),
        "{}",
        stderr(&none)
    );
    let missing = identify("obama.jpg", "nonexistent.jpg", &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("nonexistent.jpg"),
        "{}",
        stderr(&missing)
    );
    let bad = identify("obama.jpg", "obama2.jpg", &["--threshold", "3"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--threshold"), "{}", stderr(&bad));
}
