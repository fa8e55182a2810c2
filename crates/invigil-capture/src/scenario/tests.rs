use std::path::{Path, PathBuf};

use invigil_core::Event;

use super::*;
use crate::{CaptureError, FrameSource};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images")
}

fn parse(text: &str) -> Result<Scenario, CaptureError> {
    Scenario::parse(text, &fixtures().join("inline.toml"))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

const PHOTO: &str = "[[segment]]\nkind = \"image\"\npath = \"astronaut.png\"\nduration_s = 1\n";

#[test]
fn minimal_scenario_parses_with_defaults() {
    let s = parse(PHOTO).unwrap();
    assert_eq!(s.name, "inline");
    assert_eq!(s.fps, 10.0);
    assert_eq!(s.size, [640, 480]);
    assert_eq!(s.segments.len(), 1);
}

#[test]
fn bad_scenarios_name_the_file_and_the_problem() {
    let e = err(&format!("{PHOTO}bogus = 1\n"));
    assert!(e.contains("inline.toml") && e.contains("bogus"), "{e}");
    let e = err("[[segment]]\nkind = \"image\"\npath = \"astronaut.png\"\nduration_s = -2\n");
    assert!(e.contains("duration_s") && e.contains("-2"), "{e}");
    let e = err("[[segment]]\nkind = \"image\"\npath = \"astronaut.png\"\nduration_s = \"long\"\n");
    assert!(
        e.contains("duration_s") || e.contains("invalid type"),
        "{e}"
    );
    let e = err("[[segment]]\nkind = \"teleport\"\n");
    assert!(e.contains("teleport"), "{e}");
    let e = err("[[segment]]\nkind = \"image\"\npath = \"nope.png\"\nduration_s = 1\n");
    assert!(
        e.contains("nope.png") && e.contains("does not exist"),
        "{e}"
    );
    let e = err("fps = 10\n");
    assert!(e.contains("no [[segment]]"), "{e}");
    let e = err(&format!("reference_face = \"me.jpg\"\n{PHOTO}"));
    assert!(
        e.contains("reference_face") && e.contains("me.jpg") && e.contains("does not exist"),
        "{e}"
    );
    let e = err(&format!("{PHOTO}[policy]\nabsence_flag_s = -1\n"));
    assert!(e.contains("absence_flag_s"), "{e}");
    let e = err(&format!("{PHOTO}[[expect]]\ncount = 1\n"));
    assert!(e.contains("expect 1"), "{e}");
    let e = err(&format!("{PHOTO}[[expect]]\nkind = \"candidate_gone\"\n"));
    assert!(e.contains("candidate_gone"), "{e}");
    let e = err("[[segment]]\nkind = \"frozen\"\nduration_s = 1\n");
    assert!(e.contains("cannot come first"), "{e}");
    let e = err(&format!("[[segment]]\nkind = \"lost\"\n{PHOTO}"));
    assert!(e.contains("must be the last"), "{e}");
    let e = err(&format!("{PHOTO}[[segment]]\nkind = \"image\"\npath = \"astronaut.png\"\nduration_s = 1\nextra = 2\n"));
    assert!(e.contains("extra"), "{e}");
}

#[test]
fn frames_are_timed_sized_and_reproducible() {
    let text = format!(
        "fps = 20\nsize = [320, 240]\n{PHOTO}[[segment]]\nkind = \"dark\"\nduration_s = 0.5\n\
         [[segment]]\nkind = \"frozen\"\nduration_s = 0.5\n"
    );
    let frames = |text: &str| {
        let mut src = ScenarioSource::new(parse(text).unwrap()).unwrap();
        let mut out = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            out.push(f);
        }
        out
    };
    let a = frames(&text);
    assert_eq!(a.len(), 40);
    assert!(a.iter().all(|f| (f.width, f.height) == (320, 240)));
    let times: Vec<u64> = a.iter().map(|f| f.t_ms).collect();
    assert_eq!(times[..3], [0, 50, 100]);
    assert_eq!(times[39], 1950);
    // Live-like: consecutive photo frames differ (jitter and noise).
    assert_ne!(a[0].rgb, a[1].rgb);
    // Frozen frames repeat the frame before them exactly.
    assert_eq!(a[30].rgb, a[29].rgb);
    assert_eq!(a[39].rgb, a[29].rgb);
    // Dark frames are dark.
    let mean = a[25].rgb.iter().map(|&v| u64::from(v)).sum::<u64>() / a[25].rgb.len() as u64;
    assert!(mean <= 6, "{mean}");
    // Same seed, same frames.
    assert_eq!(frames(&text)[5].rgb, a[5].rgb);
}

#[test]
fn lost_segment_fails_like_an_unplugged_camera() {
    let text = format!("{PHOTO}[[segment]]\nkind = \"lost\"\nmessage = \"gone\"\n");
    let mut src = ScenarioSource::new(parse(&text).unwrap()).unwrap();
    for _ in 0..10 {
        assert!(src.next_frame().unwrap().is_some());
    }
    match src.next_frame() {
        Err(CaptureError::Disconnected(m)) => assert_eq!(m, "gone"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expectations_count_in_windows() {
    use invigil_core::EventKind;
    let ev = |t_ms: u64, kind: EventKind| Event {
        v: 1,
        seq: 0,
        t_ms,
        kind,
        severity: kind.severity(),
        data: Default::default(),
        prev: None,
    };
    let events = [
        ev(1000, EventKind::AbsenceWarning),
        ev(4000, EventKind::CandidateAbsent),
        ev(9000, EventKind::CandidateAbsent),
    ];
    let text = format!(
        "{PHOTO}[[expect]]\nkind = \"candidate_absent\"\ncount = 1\nafter_s = 3\nbefore_s = 5\n\
         [[expect]]\nseverity = \"violation\"\nmax = 1\n[[expect]]\nkind = \"absence_warning\"\n"
    );
    let results = parse(&text).unwrap().check(&events);
    assert!(results[0].passed, "{:?}", results[0]);
    assert!(!results[1].passed);
    assert_eq!(
        results[1].message,
        "violation events: expected 0 to 1, got 2"
    );
    assert!(results[2].passed);
}

#[test]
fn an_overlay_crop_takes_part_of_the_photo_and_must_lie_inside_it() {
    let with_crop = |crop: &str| {
        format!(
            "[[segment]]\nkind = \"image\"\npath = \"room_empty.jpg\"\nduration_s = 0.2\nnoise = 0\njitter_px = 0\n\
             overlays = [{{ path = \"astronaut.png\", x = 0, y = 0, width = 64{crop} }}]\n"
        )
    };
    // The astronaut's top-left 64x64 pixels, pasted at full size.
    let s = parse(&with_crop(", crop = [0, 0, 64, 64]")).unwrap();
    let mut src = ScenarioSource::new(s).unwrap();
    let frame = src.next_frame().unwrap().unwrap();
    let astronaut = crate::load_image(&fixtures().join("astronaut.png"), 0).unwrap();
    let at = |f: &invigil_core::Frame, x: u32, y: u32| {
        let i = ((y * f.width + x) * 3) as usize;
        [f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]]
    };
    assert_eq!(at(&frame, 10, 20), at(&astronaut, 10, 20));
    // Outside the photo, or empty: the scenario names the problem.
    let outside = ScenarioSource::new(parse(&with_crop(", crop = [500, 0, 64, 64]")).unwrap())
        .and_then(|mut s| s.next_frame().map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(
        outside.contains("crop") && outside.contains("astronaut.png"),
        "{outside}"
    );
    let e = err(&with_crop(", crop = [0, 0, 0, 64]"));
    assert!(e.contains("crop"), "{e}");
}
