//! The watch pipeline with scripted sources and analyzers.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use invigil_capture::pipeline::{run, PipelineOptions};
use invigil_capture::{CaptureError, FrameSource, SourceInfo};
use invigil_core::{Analyzer, Event, Face, Frame, Observation, Policy, RuleEngine, SceneStats};

/// A source of `n` frames; optionally live (pushes frames at its own pace)
/// and optionally failing at the end.
struct Scripted {
    info: SourceInfo,
    n: u64,
    i: u64,
    every: Duration,
    fail: Option<fn() -> CaptureError>,
}

impl Scripted {
    fn new(n: u64, live: bool, every_ms: u64) -> Self {
        Self {
            info: SourceInfo {
                name: "scripted".into(),
                kind: "test",
                fps: Some(1000.0 / every_ms as f64),
                frames: Some(n),
                live,
            },
            n,
            i: 0,
            every: Duration::from_millis(every_ms),
            fail: None,
        }
    }
}

impl FrameSource for Scripted {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if self.i == self.n {
            return match self.fail {
                Some(f) => Err(f()),
                None => Ok(None),
            };
        }
        if self.info.live {
            std::thread::sleep(self.every);
        }
        let t = self.i * self.every.as_millis() as u64;
        self.i += 1;
        Ok(Some(Frame::solid(t, 8, 8, [100, 100, 100])))
    }
}

/// Sees one face in every frame, taking `cost` per frame.
struct OneFace {
    cost: Duration,
    seen: Vec<u64>,
}

impl Analyzer for OneFace {
    type Error = std::io::Error;

    fn analyze(&mut self, frame: &Frame) -> Result<Observation, Self::Error> {
        std::thread::sleep(self.cost);
        self.seen.push(frame.t_ms);
        let face = Face {
            score: 0.9,
            bbox: [0.0, 0.0, 4.0, 4.0],
            keypoints: [[0.0; 2]; 6],
        };
        Ok(Observation::new(
            frame.t_ms,
            vec![face],
            SceneStats::test_pattern(frame.t_ms),
        ))
    }
}

fn go(
    source: Scripted,
    analyzer: &mut OneFace,
    realtime: bool,
) -> (Vec<Event>, invigil_capture::pipeline::Summary) {
    go_every(source, analyzer, realtime, 0)
}

fn go_every(
    source: Scripted,
    analyzer: &mut OneFace,
    realtime: bool,
    min_interval_ms: u64,
) -> (Vec<Event>, invigil_capture::pipeline::Summary) {
    let mut engine = RuleEngine::new(Policy::default());
    let mut events = Vec::new();
    let summary = run(
        Box::new(source),
        analyzer,
        &mut engine,
        &PipelineOptions {
            realtime,
            min_interval_ms,
        },
        &AtomicBool::new(false),
        &mut |e| {
            events.push(e.clone());
            Ok(())
        },
        &mut |_, _| {},
    )
    .unwrap();
    (events, summary)
}

#[test]
fn file_sources_analyse_every_frame_in_order() {
    let mut analyzer = OneFace {
        cost: Duration::ZERO,
        seen: Vec::new(),
    };
    let (events, summary) = go(Scripted::new(50, false, 100), &mut analyzer, false);
    assert_eq!(analyzer.seen.len(), 50);
    assert!(analyzer.seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(summary.progress.dropped, 0);
    assert_eq!(events.first().unwrap().kind.as_str(), "session_started");
    assert_eq!(events.last().unwrap().kind.as_str(), "session_ended");
}

#[test]
fn a_slow_analysis_drops_frames_on_live_sources_never_queues() {
    // The camera delivers every 5 ms; analysis takes 20 ms.
    let mut analyzer = OneFace {
        cost: Duration::from_millis(20),
        seen: Vec::new(),
    };
    let (events, summary) = go(Scripted::new(100, true, 5), &mut analyzer, false);
    let analysed = analyzer.seen.len() as u64;
    assert!(analysed < 60, "analysed {analysed} of 100");
    assert_eq!(
        analysed + summary.progress.dropped,
        100,
        "every frame is analysed or counted"
    );
    let end = events.last().unwrap();
    assert_eq!(end.data["dropped_frames"], summary.progress.dropped);
    // The newest frame wins: the last frame is never lost.
    assert_eq!(*analyzer.seen.last().unwrap(), 99 * 5);
}

#[test]
fn realtime_paces_a_file_like_a_camera() {
    let mut analyzer = OneFace {
        cost: Duration::ZERO,
        seen: Vec::new(),
    };
    let started = std::time::Instant::now();
    go(Scripted::new(11, false, 20), &mut analyzer, true);
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_lost_camera_ends_the_session_with_camera_lost() {
    let mut source = Scripted::new(30, true, 1);
    source.fail = Some(|| CaptureError::Disconnected("unplugged".into()));
    let mut analyzer = OneFace {
        cost: Duration::ZERO,
        seen: Vec::new(),
    };
    let (events, summary) = go(source, &mut analyzer, false);
    assert!(summary.camera_lost);
    assert!(summary.source_error.is_none());
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["session_started", "camera_lost", "session_ended"]);
    assert_eq!(events[1].data["error"], "unplugged");
    assert_eq!(events[2].data["reason"], "camera_lost");
}

#[test]
fn a_corrupt_file_ends_the_session_and_reports_the_error() {
    let mut source = Scripted::new(3, false, 100);
    source.fail = Some(|| CaptureError::Corrupt {
        path: "clip.y4m".into(),
        message: "frame 3: truncated".into(),
    });
    let mut analyzer = OneFace {
        cost: Duration::ZERO,
        seen: Vec::new(),
    };
    let (events, summary) = go(source, &mut analyzer, false);
    let err = summary.source_error.unwrap().to_string();
    assert!(err.contains("clip.y4m"));
    let end = events.last().unwrap();
    assert_eq!(end.data["reason"], "source_error");
    assert!(end.data["error"].as_str().unwrap().contains("truncated"));
}

/// With `min_interval_ms`, a 30 fps source is analysed ~15 times a second,
/// in order, the frames in between counted as skipped (not dropped), file
/// and live alike; `session_ended` reports them.
#[test]
fn an_analysis_rate_cap_skips_frames_and_counts_them() {
    for live in [false, true] {
        let mut analyzer = OneFace {
            cost: Duration::ZERO,
            seen: Vec::new(),
        };
        // 60 frames 33 ms apart (t = 0, 33, 66, 99, ...).
        let (events, summary) = go_every(Scripted::new(60, live, 33), &mut analyzer, false, 66);
        assert_eq!(analyzer.seen.len(), 30, "live {live}: {:?}", analyzer.seen);
        assert!(analyzer.seen.windows(2).all(|w| w[1] - w[0] >= 66));
        assert_eq!(summary.progress.skipped, 30);
        assert_eq!(summary.progress.frames, 30);
        let end = events.last().unwrap();
        assert_eq!(end.data["skipped_frames"], 30);
        assert_eq!(end.data["dropped_frames"], 0);
    }
    // 10 fps is below the cap: nothing skipped.
    let mut analyzer = OneFace {
        cost: Duration::ZERO,
        seen: Vec::new(),
    };
    let (_, summary) = go_every(Scripted::new(20, false, 100), &mut analyzer, false, 66);
    assert_eq!((summary.progress.frames, summary.progress.skipped), (20, 0));
}
