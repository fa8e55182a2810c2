//! The face embedding (issue 14): tract with the half-precision-weights
//! copy of SFace gives what onnxruntime gives with the original float32
//! model, the BlazeFace keypoints align faces well enough, and on the
//! bundled real photographs the same person scores above the operating
//! threshold and other people below it.
//!
//! `cargo test -p invigil-vision --release --test identity -- --nocapture`
//! prints every pair's similarity.

use std::path::{Path, PathBuf};

use invigil_core::Frame;
use invigil_vision::identity::{main_face, Alignment, SAME_PERSON_MIN_SIMILARITY};
use invigil_vision::{Embedding, FaceDetector, FaceEmbedder, ModelKind};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn frame(name: &str) -> Frame {
    let img = image::open(fixtures().join("images").join(name))
        .unwrap()
        .to_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(0, w, h, img.into_raw()).unwrap()
}

/// The embedding of the largest face in a photograph.
fn embed(detector: &mut FaceDetector, embedder: &FaceEmbedder, frame: &Frame) -> Embedding {
    let faces = detector.detect(frame).unwrap();
    let face = main_face(&faces).expect("a face");
    embedder.embed(frame, face).unwrap().expect("aligned")
}

#[test]
fn tract_and_half_precision_weights_match_onnxruntime() {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("golden/sface.json")).unwrap(),
    )
    .unwrap();
    let want: Vec<f32> = golden["tom_hanks_crop.png"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let crop = frame("tom_hanks_crop.png");
    assert_eq!((crop.width, crop.height), (112, 112));
    let got = FaceEmbedder::new()
        .unwrap()
        .embed_aligned(&crop.rgb)
        .unwrap();
    let cos = got.similarity(&Embedding(want));
    assert!(cos > 0.999, "tract vs onnxruntime: cosine {cos}");
    let norm: f32 = got.0.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn blazeface_keypoints_align_like_the_five_point_template() {
    // insightface's sample is aligned by the 5-point (eye, nose, mouth
    // corner) template; placed in a larger picture and found again by
    // BlazeFace, our 4-point alignment must give nearly the same embedding.
    let crop = frame("tom_hanks_crop.png");
    let (side, pad) = (336u32, 112u32);
    let mut rgb = vec![128u8; (side * side * 3) as usize];
    for y in 0..112u32 {
        for x in 0..112u32 {
            let (s, d) = (
                ((y * 112 + x) * 3) as usize,
                (((y + pad) * side + x + pad) * 3) as usize,
            );
            rgb[d..d + 3].copy_from_slice(&crop.rgb[s..s + 3]);
        }
    }
    let placed = Frame::new(0, side, side, rgb).unwrap();
    let mut detector = FaceDetector::new(ModelKind::Back256).unwrap();
    let embedder = FaceEmbedder::new().unwrap();
    let faces = detector.detect(&placed).unwrap();
    let face = main_face(&faces).expect("the face is found again");
    // The subject's right eye is on the image's left.
    assert!(face.keypoints[0][0] < face.keypoints[1][0], "{face:?}");
    let al = Alignment::of(face).unwrap();
    assert!((al.scale() - 1.0).abs() < 0.15, "scale {}", al.scale());
    let ours = embedder.embed(&placed, face).unwrap().unwrap();
    let theirs = embedder.embed_aligned(&crop.rgb).unwrap();
    let cos = ours.similarity(&theirs);
    println!("4-point BlazeFace alignment vs the 5-point crop: {cos:.3}");
    assert!(cos > 0.85, "alignment: cosine {cos}");
}

#[test]
fn the_same_person_scores_above_the_threshold_and_others_below() {
    let mut detector = FaceDetector::new(ModelKind::Back256).unwrap();
    let embedder = FaceEmbedder::new().unwrap();
    let names = [
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "biden.jpg",
        "astronaut.png",
        "camera.png",
    ];
    let embs: Vec<Embedding> = names
        .iter()
        .map(|n| embed(&mut detector, &embedder, &frame(n)))
        .collect();
    let person = |n: &str| {
        n.trim_end_matches(".jpg")
            .trim_end_matches(char::is_numeric)
            .to_owned()
    };
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            let s = embs[i].similarity(&embs[j]);
            let same = person(names[i]) == person(names[j]);
            println!(
                "{} {}: {s:.3} ({})",
                names[i],
                names[j],
                if same { "same" } else { "different" }
            );
            if same {
                assert!(
                    s >= SAME_PERSON_MIN_SIMILARITY,
                    "{} {}: {s}",
                    names[i],
                    names[j]
                );
            } else {
                assert!(
                    s < SAME_PERSON_MIN_SIMILARITY,
                    "{} {}: {s}",
                    names[i],
                    names[j]
                );
            }
        }
    }
    // Every face of a group photograph is somebody else.
    let group = frame("group6.jpg");
    let faces = detector.detect(&group).unwrap();
    assert!(faces.len() >= 5, "{}", faces.len());
    for f in &faces {
        let e = embedder.embed(&group, f).unwrap().unwrap();
        for (n, other) in names.iter().zip(&embs) {
            let s = e.similarity(other);
            assert!(s < SAME_PERSON_MIN_SIMILARITY, "group face vs {n}: {s}");
        }
    }
}

#[test]
fn a_model_that_is_not_an_embedder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.onnx");
    std::fs::write(&path, b"not a model").unwrap();
    let err = FaceEmbedder::from_file(&path).err().unwrap().to_string();
    assert!(err.contains("x.onnx"), "{err}");
    let detector = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/face_detection_front_128x128_barracuda.onnx");
    let err = FaceEmbedder::from_file(&detector)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("face embedding"), "{err}");
    assert!(FaceEmbedder::new()
        .unwrap()
        .embed_aligned(&[0u8; 10])
        .is_err());
}
