//! tract against an independent runtime: the golden files under
//! tests/fixtures/golden were made by onnxruntime (make_golden.py, beside
//! them), from the same letterboxed inputs.

use std::path::{Path, PathBuf};

use invigil_vision::{letterbox, FaceDetector, ModelKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    runtime: String,
    size: usize,
    min_score: f32,
    logits: Vec<f32>,
    faces: Vec<GoldenFace>,
}

#[derive(Deserialize)]
struct GoldenFace {
    score: f32,
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
    keypoints: Vec<[f32; 2]>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

const CASES: [&str; 6] = [
    "astronaut.png",
    "obama.jpg",
    "group6.jpg",
    "city.jpg",
    "chelsea.png",
    "coffee.png",
];

fn tensor_from_png(path: &Path) -> Vec<f32> {
    let img = image::open(path).unwrap().to_rgb8();
    img.as_raw()
        .iter()
        .map(|&v| f32::from(v) / 127.5 - 1.0)
        .collect()
}

fn check_model(kind: ModelKind) {
    let mut detector = FaceDetector::new(kind).unwrap();
    for case in CASES {
        let stem = format!("{case}.{}", kind.name());
        let dir = fixtures().join("golden");
        let golden: Golden = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(golden.size, kind.input_size());
        let input = tensor_from_png(&dir.join(format!("{stem}.input.png")));
        let raw = detector.run_tensor(&input).unwrap();

        // Every anchor's logit agrees with onnxruntime.
        let logits: Vec<f32> = raw.scores_16.iter().chain(&raw.scores_8).copied().collect();
        assert_eq!(logits.len(), 896);
        let worst = logits
            .iter()
            .zip(&golden.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 2e-3,
            "{stem}: logits differ from {} by {worst}",
            golden.runtime
        );

        // Decoded faces agree with an independent decoder.
        detector.set_min_score(golden.min_score);
        let faces = detector.decode(&raw);
        assert_eq!(faces.len(), golden.faces.len(), "{stem}: face count");
        for (ours, theirs) in faces.iter().zip(&golden.faces) {
            let px = kind.input_size() as f32;
            assert!((ours.score - theirs.score).abs() < 1e-3, "{stem}: score");
            for (a, b) in [
                (ours.cx, theirs.cx),
                (ours.cy, theirs.cy),
                (ours.w, theirs.w),
                (ours.h, theirs.h),
            ] {
                assert!((a - b).abs() * px < 0.25, "{stem}: box {a} vs {b}");
            }
            for (a, b) in ours.keypoints.iter().zip(&theirs.keypoints) {
                assert!((a[0] - b[0]).abs() * px < 0.25 && (a[1] - b[1]).abs() * px < 0.25);
            }
        }
    }
}

#[test]
fn front_model_matches_onnxruntime() {
    check_model(ModelKind::Front128);
}

#[test]
fn back_model_matches_onnxruntime() {
    check_model(ModelKind::Back256);
}

/// Our letterbox resampling is close to PIL's bilinear resize used by the
/// reference script, so the whole path (image -> faces) matches too.
#[test]
fn letterbox_matches_reference_preprocessing() {
    for case in CASES {
        let img = image::open(fixtures().join("images").join(case))
            .unwrap()
            .to_rgb8();
        let (mut ours, mut scratch) = (Vec::new(), Vec::new());
        letterbox(
            img.as_raw(),
            img.width(),
            img.height(),
            128,
            &mut ours,
            &mut scratch,
        );
        let theirs = tensor_from_png(&fixtures().join(format!("golden/{case}.front.input.png")));
        let mean_diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / ours.len() as f32;
        // 0.02 in [-1, 1] is 2.5 grey levels.
        assert!(mean_diff < 0.02, "{case}: mean difference {mean_diff}");
    }
}

#[test]
fn faces_come_back_in_frame_pixels() {
    let img = image::open(fixtures().join("images/astronaut.png"))
        .unwrap()
        .to_rgb8();
    let mut detector = FaceDetector::new(ModelKind::Front128).unwrap();
    let faces = detector
        .detect_rgb(img.as_raw(), img.width(), img.height())
        .unwrap();
    assert_eq!(faces.len(), 1);
    let [x, y, w, h] = faces[0].bbox;
    // Eileen Collins' face in the 512x512 photograph is around (170..270, 60..200).
    assert!(
        (150.0..220.0).contains(&x) && (50.0..130.0).contains(&y),
        "{x} {y}"
    );
    assert!(
        (60.0..140.0).contains(&w) && (60.0..140.0).contains(&h),
        "{w} {h}"
    );
}

#[test]
fn a_file_that_is_not_a_model_is_a_clear_error() {
    let dir = tempdir();
    let bogus = dir.join("not-a-model.onnx");
    std::fs::write(&bogus, b"definitely not protobuf").unwrap();
    let err = FaceDetector::from_file(ModelKind::Front128, &bogus)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not-a-model.onnx"), "{err}");

    let missing = dir.join("missing.onnx");
    let err = FaceDetector::from_file(ModelKind::Front128, &missing)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("missing.onnx"), "{err}");

    // The right file format with the wrong model behind it.
    let err = FaceDetector::from_file(
        ModelKind::Front128,
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/face_detection_back_256x256_barracuda.onnx"),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("back_256"), "{err}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("invigil-vision-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
