//! End-to-end tests of the `invigil` binary.
//!
//! - detect: faces in photographs, JSON output, bad images and models
//! - watch: events from files and scenarios, determinism, bad inputs
//! - qa: every bundled scenario, JUnit output, failing expectations
//! - cameras: no camera on the test machine is a clean non-zero exit
//! - docs: the architecture doc's crate graph and layering hold
//! - forensics: analyze on simulated results, exit 3 on invalidation, bad files

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn invigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(args)
        .current_dir(root())
        .env_remove("INVIGIL_LOG")
        .output()
        .expect("run invigil")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_well_formed(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "seq from 0 without gaps");
        assert_eq!(e["v"], 1);
        assert!(e["data"].is_object());
        assert!(["info", "warning", "violation"].contains(&e["severity"].as_str().unwrap()));
    }
    assert_eq!(events.first().unwrap()["kind"], "session_started");
    assert_eq!(events.last().unwrap()["kind"], "session_ended");
}

mod badges;
mod checkin;
mod console;
mod demo;
mod detect;
mod docs;
mod forensics;
mod identify;
mod qa;
mod stream;
mod watch;

#[test]
fn cameras_without_a_camera_exits_non_zero() {
    if Path::new("/dev/video0").exists() {
        return; // a machine with a webcam lists it instead
    }
    let o = invigil(&["cameras"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no cameras"), "{}", stderr(&o));
}

#[test]
fn footage_recorded_as_mp4_or_webm_gives_the_same_events() {
    // The scenario rendered as a camera would record it, then compressed as
    // phones and browsers do: H.264 High with B-frames in MP4 (read
    // natively) and VP8 in WebM, as browsers record (through FFmpeg).
    let dir = tempfile::tempdir().unwrap();
    let y4m = dir.path().join("leaves.y4m");
    let o = invigil(&[
        "qa",
        "render",
        "tests/scenarios/leaves_and_returns.toml",
        "--y4m",
        y4m.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let encodings: [(&str, &[&str]); 2] = [
        (
            "recorded.mp4",
            &["-c:v", "libx264", "-profile:v", "high", "-crf", "26"],
        ),
        (
            "recorded.webm",
            &[
                "-c:v",
                "libvpx",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "600k",
            ],
        ),
    ];
    let summary = |ev: &[Value]| -> Vec<(String, u64)> {
        ev.iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["t_ms"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let reference = summary(&events(&stdout(&invigil(&[
        "watch",
        "--source",
        y4m.to_str().unwrap(),
    ]))));
    for (name, codec) in encodings {
        let file = dir.path().join(name);
        let ran = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&y4m)
            .args(codec)
            .args(["-pix_fmt", "yuv420p"])
            .arg(&file)
            .status();
        match ran {
            Ok(s) => assert!(s.success(), "ffmpeg {name}: {s}"),
            Err(_) if std::env::var_os("INVIGIL_REQUIRE_FFMPEG").is_some() => {
                panic!("INVIGIL_REQUIRE_FFMPEG is set but ffmpeg cannot be run")
            }
            Err(_) => {
                eprintln!("SKIPPED: no ffmpeg");
                return;
            }
        }
        let o = invigil(&["watch", "--source", file.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let got = summary(&events(&stdout(&o)));
        assert_eq!(
            got.iter().map(|e| &e.0).collect::<Vec<_>>(),
            reference.iter().map(|e| &e.0).collect::<Vec<_>>(),
            "{name}: same events as the uncompressed video"
        );
        for (g, r) in got.iter().zip(&reference) {
            assert!(
                g.1.abs_diff(r.1) <= 300,
                "{name}: {} at {} vs {}",
                g.0,
                g.1,
                r.1
            );
        }
    }
}

#[test]
fn a_rendered_scenario_replays_to_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = dir.path().join("glance.y4m");
    let o = invigil(&[
        "qa",
        "render",
        "tests/scenarios/camera_covered.toml",
        "--y4m",
        y4m.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let from_video = events(&stdout(&invigil(&[
        "watch",
        "--source",
        y4m.to_str().unwrap(),
    ])));
    let from_scenario = events(&stdout(&invigil(&[
        "watch",
        "--source",
        "tests/scenarios/camera_covered.toml",
    ])));
    let strip = |ev: &[Value]| -> Vec<(String, u64)> {
        ev.iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["t_ms"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&from_video), strip(&from_scenario));
    assert!(kinds(&from_video).contains(&"camera_blocked".to_owned()));
}

#[test]
fn policy_prints_defaults_and_checks_files() {
    let o = invigil(&["policy"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("absence_warn_s = 2.0"), "{text}");
    assert!(text.contains("frozen_flag_s = 3.0"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.toml");
    std::fs::write(&p, "absence_flag_s = 9\n").unwrap();
    let o = invigil(&["policy", "--check", p.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("absence_flag_s = 9.0"));
}

#[test]
fn interrupting_watch_ends_the_session_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args([
            "watch",
            "--realtime",
            "--source",
            "tests/scenarios/present_throughout.toml",
        ])
        .args(["--events", out.to_str().unwrap()])
        .current_dir(root())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let ev = events(&std::fs::read_to_string(&out).unwrap());
    assert_well_formed(&ev);
    assert_eq!(ev.last().unwrap()["data"]["reason"], "stopped");
}

#[test]
fn uplink_status_reports_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let o = invigil(&[
        "uplink",
        "status",
        "--journal",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no journal"), "{}", stderr(&o));
    let mut j = invigil_uplink_journal(dir.path());
    j.append_media(
        invigil_core::protocol::MediaKind::FacePhoto,
        "face.jpg",
        "image/jpeg",
        b"12345",
    )
    .unwrap();
    drop(j);
    let o = invigil(&[
        "uplink",
        "status",
        "--json",
        "--journal",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["pending_media"], 1);
    assert_eq!(s["pending_media_bytes"], 5);
}

fn invigil_uplink_journal(dir: &Path) -> invigil_uplink::Journal {
    invigil_uplink::Journal::open(dir).unwrap()
}
