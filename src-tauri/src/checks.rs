//! The system check before an exam: camera, face, lighting, backend, disk.

use std::path::Path;
use std::time::{Duration, Instant};

use invigil_capture::{open_source, OpenOptions};
use invigil_core::{Analyzer, Policy};
use invigil_vision::{analyzer_for, DetectorProfile};

use crate::ipc::{CheckItem, SystemCheck};

/// Free space the journal wants: clips of a long, eventful exam.
const MIN_FREE_BYTES: u64 = 500 << 20;

fn item(id: &str, label: &str, ok: bool, detail: String, hint: &str) -> CheckItem {
    CheckItem {
        id: id.into(),
        label: label.into(),
        ok,
        detail,
        hint: (!ok).then(|| hint.to_owned()),
    }
}

pub fn run(source: &str, server: &str, data_dir: &Path) -> SystemCheck {
    let mut items = camera_face_light(source);
    items.push(backend(server));
    items.push(disk(data_dir));
    // The backend may be down: the exam still runs and catches up later.
    let ok = items.iter().all(|i| i.ok || i.id == "backend");
    SystemCheck { items, ok }
}

fn camera_face_light(source: &str) -> Vec<CheckItem> {
    let camera_hint =
        "Connect a webcam, close other programs that use it, and allow this app to use the camera.";
    let face_hint =
        "Sit facing the camera, about an arm's length away, with your whole face in the picture.";
    let light_hint = "Turn on a light in front of you, and avoid a bright window behind you.";
    let mut src = match open_source(source, &OpenOptions { fps: 10.0 }) {
        Ok(s) => s,
        Err(e) => {
            return vec![
                item(
                    "camera",
                    "Camera",
                    false,
                    format!("not available: {e}"),
                    camera_hint,
                ),
                item("face", "Face", false, "no picture".into(), face_hint),
                item(
                    "lighting",
                    "Lighting",
                    false,
                    "no picture".into(),
                    light_hint,
                ),
            ]
        }
    };
    let name = src.info().name.clone();
    let policy = Policy::default();
    let mut analyzer = match analyzer_for(DetectorProfile::FullRange, None, &policy) {
        Ok(a) => a,
        Err(e) => {
            return vec![item(
                "camera",
                "Camera",
                false,
                format!("face detector: {e}"),
                camera_hint,
            )]
        }
    };
    let started = Instant::now();
    let (mut frames, mut first_t, mut last_t, mut size) = (0u64, None, 0u64, (0, 0));
    let (mut one_face, mut luma, mut featureless) = (false, 0.0f32, false);
    let mut error = None;
    while frames < 30 && started.elapsed() < Duration::from_secs(4) {
        match src.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                first_t.get_or_insert(frame.t_ms);
                last_t = frame.t_ms;
                size = (frame.width, frame.height);
                if let Ok(obs) = analyzer.analyze(&frame) {
                    one_face |= obs.faces.iter().filter(|f| f.score >= 0.7).count() == 1;
                    luma = obs.scene.luma;
                    featureless = policy.is_featureless(&obs.scene);
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    if frames == 0 {
        let why = error.unwrap_or_else(|| "it delivered no frames".into());
        return vec![
            item(
                "camera",
                "Camera",
                false,
                format!("{name}: {why}"),
                camera_hint,
            ),
            item("face", "Face", false, "no picture".into(), face_hint),
            item(
                "lighting",
                "Lighting",
                false,
                "no picture".into(),
                light_hint,
            ),
        ];
    }
    let span = last_t.saturating_sub(first_t.unwrap_or(0));
    let fps = if span > 0 {
        (frames - 1) as f64 * 1000.0 / span as f64
    } else {
        0.0
    };
    let light_ok = !featureless && (35.0..=225.0).contains(&luma);
    vec![
        item(
            "camera",
            "Camera",
            true,
            format!("{name}: {}x{} at {fps:.0} fps", size.0, size.1),
            camera_hint,
        ),
        item(
            "face",
            "Face",
            one_face,
            if one_face {
                "one face in view".into()
            } else {
                "no single face found".into()
            },
            face_hint,
        ),
        item(
            "lighting",
            "Lighting",
            light_ok,
            format!(
                "brightness {luma:.0} of 255{}",
                if featureless {
                    ", picture is blank"
                } else {
                    ""
                }
            ),
            light_hint,
        ),
    ]
}

fn backend(server: &str) -> CheckItem {
    let hint = "Check your internet connection. You may still start: everything is kept on this computer and sent when the connection is back.";
    let server = server.trim().trim_end_matches('/');
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build();
    let result = client.map_err(|e| e.to_string()).and_then(|c| {
        c.get(format!("{server}/healthz"))
            .send()
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            })
    });
    match result {
        Ok(()) => item(
            "backend",
            "Exam server",
            true,
            format!("{server} reachable"),
            hint,
        ),
        Err(e) => item(
            "backend",
            "Exam server",
            false,
            format!("{server} not reachable: {e}"),
            hint,
        ),
    }
}

fn disk(dir: &Path) -> CheckItem {
    let _ = std::fs::create_dir_all(dir);
    let hint = "Free at least 500 MB of disk space: recordings of flagged moments wait there until they are sent.";
    match fs4::available_space(dir) {
        Ok(free) => item(
            "disk",
            "Disk space",
            free >= MIN_FREE_BYTES,
            format!("{} MB free in {}", free >> 20, dir.display()),
            hint,
        ),
        Err(e) => item(
            "disk",
            "Disk space",
            false,
            format!("{}: {e}", dir.display()),
            hint,
        ),
    }
}
