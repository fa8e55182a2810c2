//! The system check before an exam: camera, face, lighting, backend, disk.

use std::path::Path;
use std::time::{Duration, Instant};

use invigil_capture::{open_source, OpenOptions};
use invigil_core::protocol::ServerInfo;
use invigil_core::{Analyzer, Policy};
use invigil_vision::checkin::SystemCheckPolicy;
use invigil_vision::{analyzer_for, DetectorProfile};
use serde::Serialize;

/// One line of the system check.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckItem {
    /// `camera`, `face`, `lighting`, `backend`, `disk`.
    pub id: String,
    pub label: String,
    pub ok: bool,
    /// What was found, e.g. `640x480 at 10 fps`.
    pub detail: String,
    /// How to fix it, when it failed.
    pub hint: Option<String>,
}

/// The whole system check; `ok` when everything but the backend passed
/// (the exam runs offline and catches up later).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SystemCheck {
    pub items: Vec<CheckItem>,
    pub ok: bool,
}

fn item(id: &str, label: &str, ok: bool, detail: String, hint: &str) -> CheckItem {
    CheckItem {
        id: id.into(),
        label: label.into(),
        ok,
        detail,
        hint: (!ok).then(|| hint.to_owned()),
    }
}

/// Checks the camera (`source`, as `--source`), the face and lighting in
/// its picture, the backend at `server`, and the free space in `data_dir`.
pub fn system_check(
    source: &str,
    server: &str,
    data_dir: &Path,
    limits: &SystemCheckPolicy,
) -> SystemCheck {
    let mut items = camera_face_light(source, limits);
    items.push(backend(server));
    items.push(disk(data_dir, limits.min_free_bytes));
    // The backend may be down: the exam still runs and catches up later.
    let ok = items.iter().all(|i| i.ok || i.id == "backend");
    SystemCheck { items, ok }
}

const CAMERA_HINT: &str =
    "Connect a webcam, close other programs that use it, and allow this app to use the camera.";
const FACE_HINT: &str =
    "Sit facing the camera, about an arm's length away, with your whole face in the picture.";
const LIGHT_HINT: &str = "Turn on a light in front of you, and avoid a bright window behind you.";

/// The camera gave no picture (`why`): nothing else can be judged.
fn no_picture(why: String) -> Vec<CheckItem> {
    vec![
        item("camera", "Camera", false, why, CAMERA_HINT),
        item("face", "Face", false, "no picture".into(), FACE_HINT),
        item(
            "lighting",
            "Lighting",
            false,
            "no picture".into(),
            LIGHT_HINT,
        ),
    ]
}

fn camera_face_light(source: &str, limits: &SystemCheckPolicy) -> Vec<CheckItem> {
    let mut src = match open_source(source, &OpenOptions { fps: 10.0 }) {
        Ok(s) => s,
        Err(e) => return no_picture(format!("not available: {e}")),
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
                CAMERA_HINT,
            )]
        }
    };
    let started = Instant::now();
    let (mut frames, mut first_t, mut last_t, mut size) = (0u64, None, 0u64, (0, 0));
    let (mut one_face, mut luma, mut featureless) = (false, 0.0f32, false);
    let mut error = None;
    while frames < limits.frames && started.elapsed() < Duration::from_secs_f32(limits.seconds) {
        match src.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                first_t.get_or_insert(frame.t_ms);
                last_t = frame.t_ms;
                size = (frame.width, frame.height);
                if let Ok(obs) = analyzer.analyze(&frame) {
                    one_face |= obs
                        .faces
                        .iter()
                        .filter(|f| f.score >= limits.min_face_score)
                        .count()
                        == 1;
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
        return no_picture(format!("{name}: {why}"));
    }
    let span = last_t.saturating_sub(first_t.unwrap_or(0));
    let fps = if span > 0 {
        (frames - 1) as f64 * 1000.0 / span as f64
    } else {
        0.0
    };
    let light_ok = !featureless && (limits.min_luma..=limits.max_luma).contains(&luma);
    vec![
        item(
            "camera",
            "Camera",
            true,
            format!("{name}: {}x{} at {fps:.0} fps", size.0, size.1),
            CAMERA_HINT,
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
            FACE_HINT,
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
            LIGHT_HINT,
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

/// What the exam server at `server` says of itself (how long it keeps
/// the evidence, for the privacy notice), or why it cannot be asked.
pub fn server_info(server: &str) -> Result<ServerInfo, String> {
    let server = server.trim().trim_end_matches('/');
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(format!("`{server}` is not an http:// or https:// address"));
    }
    let response = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?
        .get(format!("{server}/api/v1/server"))
        .send()
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response
        .json::<ServerInfo>()
        .map_err(|e| format!("not an invigil server's answer: {e}"))
}

fn disk(dir: &Path, min_free_bytes: u64) -> CheckItem {
    let _ = std::fs::create_dir_all(dir);
    let hint = format!(
        "Free at least {} MB of disk space: recordings of flagged moments wait there until they are sent.",
        min_free_bytes >> 20
    );
    match fs4::available_space(dir) {
        Ok(free) => item(
            "disk",
            "Disk space",
            free >= min_free_bytes,
            format!("{} MB free in {}", free >> 20, dir.display()),
            &hint,
        ),
        Err(e) => item(
            "disk",
            "Disk space",
            false,
            format!("{}: {e}", dir.display()),
            &hint,
        ),
    }
}
