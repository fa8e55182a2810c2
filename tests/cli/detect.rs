//! `invigil detect`: faces in photographs, JSON output, bad images and models.

use super::*;

#[test]
fn json_has_one_line_per_image_with_faces() {
    let o = invigil(&[
        "detect",
        "--json",
        "tests/fixtures/images/astronaut.png",
        "tests/fixtures/images/room_empty.jpg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = events(&stdout(&o));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["path"], "tests/fixtures/images/astronaut.png");
    let faces = lines[0]["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    let b = faces[0]["box"].as_array().unwrap();
    assert_eq!(b.len(), 4);
    assert!(faces[0]["score"].as_f64().unwrap() > 0.8);
    assert_eq!(faces[0]["keypoints"].as_array().unwrap().len(), 6);
    assert_eq!(lines[1]["faces"].as_array().unwrap().len(), 0);
}

#[test]
fn a_directory_stands_for_its_images() {
    let o = invigil(&["detect", "--json", "tests/fixtures/checkin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = events(&stdout(&o));
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 14, "{paths:?}");
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "name order");
    assert!(paths[0].ends_with("face.jpg"));
    assert_eq!(lines[0]["faces"].as_array().unwrap().len(), 1);
    let empty = tempfile::tempdir().unwrap();
    let o = invigil(&["detect", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no images found"), "{}", stderr(&o));
}

#[test]
fn plain_output_is_readable() {
    let o = invigil(&["detect", "tests/fixtures/images/obama.jpg"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("obama.jpg: 1 face"), "{}", stdout(&o));
}

#[test]
fn a_phone_photo_stored_sideways_is_read_upright() {
    // Stored turned a quarter anticlockwise with EXIF orientation 6, as
    // a phone held upright saves it.
    let o = invigil(&[
        "detect",
        "--json",
        "tests/fixtures/images/obama_phone_exif6.jpg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = &events(&stdout(&o))[0];
    assert_eq!(
        (line["width"].as_u64(), line["height"].as_u64()),
        (Some(640), Some(800))
    );
    let faces = line["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1, "{line}");
    let kp = |i: usize| faces[0]["keypoints"][i][1].as_f64().unwrap();
    // Eyes (0, 1) above the mouth (3): the face is upright.
    assert!(kp(0) < kp(3) && kp(1) < kp(3), "{line}");
}

#[test]
fn a_corrupt_image_is_reported_and_the_rest_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let o = invigil(&[
        "detect",
        "--json",
        bad.to_str().unwrap(),
        "tests/fixtures/images/obama.jpg",
        "no/such/image.png",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("broken.jpg") && err.contains("cannot decode"),
        "{err}"
    );
    assert!(
        err.contains("no/such/image.png") && err.contains("no such file"),
        "{err}"
    );
    let lines = events(&stdout(&o));
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["error"].is_string());
    assert_eq!(lines[1]["faces"].as_array().unwrap().len(), 1);
    assert!(!err.contains("panicked"));
}

#[test]
fn wrong_or_missing_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"\x08\x07garbage").unwrap();
    for (model, needle) in [
        (junk.to_str().unwrap().to_owned(), "junk.onnx"),
        ("models/missing.onnx".to_owned(), "missing.onnx"),
        (
            "models/face_detection_back_256x256_barracuda.onnx".to_owned(),
            "not a usable BlazeFace",
        ),
    ] {
        let o = invigil(&[
            "detect",
            "--model",
            "front",
            "--model-file",
            &model,
            "tests/fixtures/images/obama.jpg",
        ]);
        assert_eq!(o.status.code(), Some(2), "{model}");
        let err = stderr(&o);
        assert!(err.contains(needle), "{model}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
