//! End-to-end tests of the `invigil` binary.
//!
//! - detect: faces in photographs, JSON output, bad images and models
//! - watch: events from files and scenarios, determinism, bad inputs
//! - qa: every bundled scenario, JUnit output, failing expectations
//! - cameras: no camera on the test machine is a clean non-zero exit

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

mod console;
mod demo;
mod stream;

mod detect {
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
        assert_eq!(paths.len(), 10, "{paths:?}");
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
}

mod checkin {
    use super::*;

    const DIR: &str = "tests/fixtures/checkin";

    #[test]
    fn a_good_set_of_photos_is_accepted() {
        let o = invigil(&[
            "checkin",
            "--face",
            &format!("{DIR}/face.jpg"),
            "--id",
            &format!("{DIR}/id_card.jpg"),
            "--room",
            &format!("{DIR}/room_north.jpg"),
            "--room",
            &format!("{DIR}/room_east.jpg"),
        ]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("face.jpg: face photo: accepted"), "{text}");
        assert!(text.contains("id_card.jpg: ID photo: accepted"), "{text}");
        assert!(
            text.contains("room_east.jpg: view of the wall to your right: accepted"),
            "{text}"
        );
        assert!(text.contains("sharpness"), "measures are shown: {text}");
    }

    #[test]
    fn refusals_say_why_and_exit_1() {
        let o = invigil(&[
            "checkin",
            "--json",
            "--face",
            "tests/fixtures/images/group6.jpg",
            "--id",
            &format!("{DIR}/id_card_blurry.jpg"),
            "--room",
            &format!("{DIR}/room_north.jpg"),
            "--room",
            &format!("{DIR}/room_north_again.jpg"),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let lines = events(&stdout(&o));
        let codes: Vec<(&str, bool, Vec<&str>)> = lines
            .iter()
            .map(|l| {
                (
                    l["slot"].as_str().unwrap(),
                    l["ready"].as_bool().unwrap(),
                    l["problems"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["code"].as_str().unwrap())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                ("face", false, vec!["several_faces"]),
                ("id", false, vec!["blurred"]),
                ("front", true, vec![]),
                ("right", false, vec!["same_view"]),
            ]
        );
        assert!(lines[3]["measures"]["similarity"].as_f64().unwrap() > 0.6);
    }

    #[test]
    fn a_phone_photo_is_judged_upright() {
        let o = invigil(&[
            "checkin",
            "--face",
            "tests/fixtures/images/obama_phone_exif6.jpg",
        ]);
        assert!(o.status.success(), "{}", stdout(&o));
    }

    #[test]
    fn bad_input_is_named_and_nothing_is_judged() {
        for (args, needle) in [
            (vec!["checkin"], "nothing to judge"),
            (
                vec![
                    "checkin",
                    "--face",
                    "tests/fixtures/checkin/face.jpg",
                    "--id",
                    "no/such.jpg",
                ],
                "no/such.jpg",
            ),
            (
                vec![
                    "checkin", "--room", "a", "--room", "b", "--room", "c", "--room", "d",
                    "--room", "e", "--room", "f",
                ],
                "at most 5 views",
            ),
        ] {
            let o = invigil(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
            assert!(stdout(&o).is_empty(), "{args:?}: nothing judged");
        }
    }
}

mod watch {
    use super::*;

    fn watch_to_file(source: &str, extra: &[&str]) -> (Output, Vec<Value>) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("events.jsonl");
        let mut args = vec![
            "watch",
            "--source",
            source,
            "--events",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = invigil(&args);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        (o, events(&text))
    }

    #[test]
    fn a_scenario_gives_the_same_events_every_run() {
        let (o, first) = watch_to_file("tests/scenarios/leaves_and_returns.toml", &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_well_formed(&first);
        assert_eq!(
            kinds(&first),
            [
                "session_started",
                "absence_warning",
                "candidate_absent",
                "candidate_returned",
                "session_ended"
            ]
        );
        let (_, second) = watch_to_file("tests/scenarios/leaves_and_returns.toml", &[]);
        assert_eq!(first, second, "runs are deterministic");
    }

    #[test]
    fn events_go_to_stdout_by_default() {
        let o = invigil(&["watch", "--source", "tests/fixtures/images", "--fps", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let ev = events(&stdout(&o));
        assert_well_formed(&ev);
        assert_eq!(ev.last().unwrap()["data"]["reason"], "end_of_stream");
    }

    #[test]
    fn a_truncated_video_fails_cleanly_with_a_complete_event_log() {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.y4m");
        let mut data = b"YUV4MPEG2 W64 H48 F10:1 C420jpeg\n".to_vec();
        for _ in 0..3 {
            data.extend_from_slice(b"FRAME\n");
            data.extend(std::iter::repeat_n(90u8, 64 * 48 * 3 / 2));
        }
        data.extend_from_slice(b"FRAME\n\x10\x10\x10");
        std::fs::write(&clip, data).unwrap();
        let (o, ev) = watch_to_file(clip.to_str().unwrap(), &[]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("clip.y4m") && err.contains("frame 3: truncated"),
            "{err}"
        );
        assert_well_formed(&ev);
        assert_eq!(ev.last().unwrap()["data"]["reason"], "source_error");
    }

    #[test]
    fn bad_policies_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        for (text, needle) in [
            ("absence_flag = 4\n", "absence_flag"),
            ("absence_flag_s = \"soon\"\n", "absence_flag_s"),
            ("blocked_flag_s = -3\n", "blocked_flag_s"),
            ("this is not toml", "policy.toml"),
        ] {
            let p = dir.path().join("policy.toml");
            std::fs::write(&p, text).unwrap();
            let o = invigil(&[
                "watch",
                "--source",
                "tests/scenarios/camera_lost.toml",
                "--policy",
                p.to_str().unwrap(),
            ]);
            assert_eq!(o.status.code(), Some(2), "{text}");
            let err = stderr(&o);
            assert!(
                err.contains("policy.toml") && err.contains(needle),
                "{text}: {err}"
            );
            assert!(stdout(&o).is_empty(), "no events for a bad policy");
        }
        let o = invigil(&["policy", "--check", "no/such/policy.toml"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("no/such/policy.toml"));
    }

    #[test]
    fn a_policy_file_changes_the_timing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("strict.toml");
        std::fs::write(&p, "absence_warn_s = 1\nabsence_flag_s = 1.5\n").unwrap();
        let (o, ev) = watch_to_file(
            "tests/scenarios/glance_away.toml",
            &["--policy", p.to_str().unwrap()],
        );
        assert!(o.status.success());
        assert!(
            kinds(&ev).contains(&"candidate_absent".to_owned()),
            "{:?}",
            kinds(&ev)
        );
    }

    #[test]
    fn bad_scenarios_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("broken.toml");
        std::fs::write(
            &s,
            "[[segment]]\nkind = \"image\"\npath = \"x.png\"\nduration_s = -1\n",
        )
        .unwrap();
        let o = invigil(&["watch", "--source", s.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(
            err.contains("broken.toml") && err.contains("duration_s"),
            "{err}"
        );
    }

    #[test]
    fn no_camera_is_a_clear_error() {
        let o = invigil(&["watch", "--source", "camera:7"]);
        assert_eq!(o.status.code(), Some(2));
        let err = stderr(&o);
        assert!(err.contains("camera"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

mod qa {
    use super::*;

    #[test]
    fn every_bundled_scenario_passes() {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("junit.xml");
        let o = invigil(&[
            "qa",
            "run",
            "tests/scenarios",
            "--junit",
            junit.to_str().unwrap(),
            "--events-dir",
            dir.path().to_str().unwrap(),
        ]);
        let out = stdout(&o);
        assert!(o.status.success(), "{out}\n{}", stderr(&o));
        let count = std::fs::read_dir(root().join("tests/scenarios"))
            .unwrap()
            .count();
        assert!(count >= 9);
        assert!(out.contains(&format!("{count} passed, 0 failed")), "{out}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(
            xml.contains(&format!("tests=\"{count}\" failures=\"0\"")),
            "{xml}"
        );
        assert!(xml.contains("name=\"leaves_and_returns\""));
        let kept = std::fs::read_to_string(dir.path().join("camera_lost.jsonl")).unwrap();
        assert_well_formed(&events(&kept));
    }

    #[test]
    fn a_failing_expectation_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("wrong.toml");
        let photo = root().join("tests/fixtures/images/obama.jpg");
        std::fs::write(
            &s,
            format!(
                "[[segment]]\nkind = \"image\"\npath = {:?}\nduration_s = 3\n\
                 [[expect]]\nkind = \"candidate_absent\"\n",
                photo.display().to_string()
            ),
        )
        .unwrap();
        let junit = dir.path().join("j.xml");
        let o = invigil(&[
            "qa",
            "run",
            s.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        let out = stdout(&o);
        assert!(out.contains("FAIL  wrong"), "{out}");
        assert!(
            out.contains("candidate_absent: expected at least 1, got 0"),
            "{out}"
        );
        assert!(out.trim_end().ends_with("0 passed, 1 failed"), "{out}");
        assert!(std::fs::read_to_string(junit).unwrap().contains("<failure"));
    }

    #[test]
    fn a_missing_scenario_counts_as_failed() {
        let o = invigil(&["qa", "run", "tests/scenarios/camera_lost.toml", "nope.toml"]);
        assert_eq!(o.status.code(), Some(1));
        let out = stdout(&o);
        assert!(
            out.contains("nope.toml") && out.contains("1 passed, 1 failed"),
            "{out}"
        );
    }
}

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
    j.append_media("face_photo", "face.jpg", "image/jpeg", b"12345")
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
