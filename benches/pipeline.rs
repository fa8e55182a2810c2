//! The whole watch pipeline (scene statistics, detection, rules, events) on
//! a pre-rendered scenario held in memory, so file decoding and frame
//! synthesis are not counted. `cargo bench --bench pipeline`; figures in
//! docs/performance.md.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, Criterion};
use invigil_capture::pipeline::{run, PipelineOptions};
use invigil_capture::{CaptureError, FrameSource, Scenario, ScenarioSource, SourceInfo};
use invigil_core::{Frame, Policy, RuleEngine};
use invigil_vision::{AnalyzerConfig, FaceDetector, ModelKind, VisionAnalyzer};

struct Replay {
    info: SourceInfo,
    frames: std::vec::IntoIter<Frame>,
}

impl FrameSource for Replay {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        Ok(self.frames.next())
    }
}

fn render(name: &str, fps: f64) -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let mut scenario = Scenario::load(&path).unwrap();
    scenario.fps = fps;
    let mut src = ScenarioSource::new(scenario).unwrap();
    let mut frames = Vec::new();
    while let Ok(Some(f)) = src.next_frame() {
        frames.push(f);
    }
    frames
}

/// The analyzers `invigil watch` builds for `--model back` (default) and
/// `--model front`.
fn analyzer(front: bool) -> VisionAnalyzer {
    if front {
        let mut primary = FaceDetector::new(ModelKind::Front128).unwrap();
        primary.set_min_score(0.5);
        VisionAnalyzer::new(primary, AnalyzerConfig::default())
            .with_fallback(FaceDetector::new(ModelKind::Back256).unwrap())
    } else {
        let mut primary = FaceDetector::new(ModelKind::Back256).unwrap();
        primary.set_min_score(0.5);
        let config = AnalyzerConfig {
            detect_interval_ms: 250,
            ..AnalyzerConfig::default()
        };
        VisionAnalyzer::new(primary, config)
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("watch pipeline");
    group.sample_size(10);
    // 35 s of video at 30 fps: present, away 15 s, back.
    let frames = render("leaves_and_returns.toml", 30.0);
    for (label, front) in [
        ("--model back (default, <= 4 detections/s)", false),
        ("--model front (<= 10/s, full-range fallback)", true),
    ] {
        group.bench_function(format!("leaves_and_returns 35 s @30fps, {label}"), |b| {
            b.iter(|| {
                let source = Box::new(Replay {
                    info: SourceInfo {
                        name: "replay".into(),
                        kind: "replay",
                        fps: Some(30.0),
                        frames: None,
                        live: false,
                    },
                    frames: frames.clone().into_iter(),
                });
                let mut a = analyzer(front);
                let mut engine = RuleEngine::new(Policy::default());
                let mut n = 0u64;
                run(
                    source,
                    &mut a,
                    &mut engine,
                    &PipelineOptions::default(),
                    &AtomicBool::new(false),
                    &mut |_| {
                        n += 1;
                        Ok(())
                    },
                    &mut |_, _| {},
                )
                .unwrap();
                assert_eq!(n, 5);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
