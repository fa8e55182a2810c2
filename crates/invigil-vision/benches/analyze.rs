//! Per-frame analysis cost: 640x480 RGB in, faces out.
//!
//! `cargo bench -p invigil-vision --bench analyze`; figures in
//! docs/performance.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use invigil_core::{Analyzer, Frame};
use invigil_vision::{
    letterbox, scene_stats, AnalyzerConfig, FaceDetector, FaceLandmarker, ModelKind,
    ObjectDetector, VisionAnalyzer,
};

/// A 640x480 webcam-like frame made from a real portrait.
fn frame() -> Frame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images/obama.jpg");
    let img = image::open(path).unwrap().to_rgb8();
    let img = image::imageops::resize(&img, 640, 800, image::imageops::FilterType::Triangle);
    let cropped = image::imageops::crop_imm(&img, 0, 80, 640, 480).to_image();
    Frame::new(0, 640, 480, cropped.into_raw()).unwrap()
}

fn bench(c: &mut Criterion) {
    let f = frame();
    let (mut input, mut scratch) = (Vec::new(), Vec::new());
    c.bench_function("letterbox 640x480 -> 128", |b| {
        b.iter(|| letterbox(black_box(&f.rgb), 640, 480, 128, &mut input, &mut scratch))
    });
    c.bench_function("scene_stats 640x480", |b| {
        b.iter(|| scene_stats(black_box(&f)))
    });

    let mut front = FaceDetector::new(ModelKind::Front128).unwrap();
    letterbox(&f.rgb, 640, 480, 128, &mut input, &mut scratch);
    c.bench_function("front128 inference only", |b| {
        b.iter(|| front.run_tensor(black_box(&input)).unwrap())
    });
    c.bench_function(
        "front128 detect 640x480 (letterbox + inference + decode)",
        |b| b.iter(|| front.detect(black_box(&f)).unwrap()),
    );
    let mut back = FaceDetector::new(ModelKind::Back256).unwrap();
    c.bench_function("back256 detect 640x480", |b| {
        b.iter(|| back.detect(black_box(&f)).unwrap())
    });

    // The conduct rules' models (docs/conduct.md).
    let face = back.detect(&f).unwrap().into_iter().next().expect("a face");
    let landmarker = FaceLandmarker::new().unwrap();
    c.bench_function("head pose (crop + face mesh) 640x480", |b| {
        b.iter(|| landmarker.pose(black_box(&f), &face).unwrap())
    });
    let objects = ObjectDetector::new().unwrap();
    c.bench_function("objects (NanoDet 416) 640x480", |b| {
        b.iter(|| objects.detect(black_box(&f)).unwrap())
    });

    // The analyzer on a stream of changing frames (every frame detected).
    let mut every = VisionAnalyzer::new(
        FaceDetector::new(ModelKind::Front128).unwrap(),
        AnalyzerConfig::every_frame(),
    );
    let mut t = 0u64;
    let mut g = f.clone();
    c.bench_function("analyze 640x480, detect every frame", |b| {
        b.iter(|| {
            t += 33;
            g.t_ms = t;
            let n = g.rgb.len();
            g.rgb[(t as usize * 3) % n] ^= 0x55;
            every.analyze(black_box(&g)).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
