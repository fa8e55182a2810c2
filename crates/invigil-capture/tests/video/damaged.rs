//! Other codecs and containers through FFmpeg, damaged and unplayable
//! files as clear errors, and what happens without FFmpeg.

use super::*;

#[test]
fn other_codecs_and_containers_play_through_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = numbered_y4m(dir.path());
    let webm = dir.path().join("browser.webm");
    if !ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-b:v",
        "400k",
        webm.to_str().unwrap(),
    ]) {
        return;
    }
    let mut src = open(&webm).unwrap();
    assert_eq!(src.info().kind, "video");
    assert_numbered(&drain(src.as_mut()).unwrap(), "VP9 WebM");

    // HEVC in MP4: the native reader hands it to FFmpeg.
    let hevc = dir.path().join("phone-hevc.mp4");
    assert!(ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-pix_fmt",
        "yuv420p",
        hevc.to_str().unwrap(),
    ]));
    let mut src = open(&hevc).unwrap();
    assert_eq!(src.info().kind, "video");
    assert_numbered(&drain(src.as_mut()).unwrap(), "HEVC MP4");
}

#[test]
fn damaged_and_unplayable_videos_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let msg = |r: Result<Box<dyn FrameSource>, CaptureError>| match r {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    };
    // Not an MP4 at all.
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, b"definitely not a movie").unwrap();
    let m = msg(open(&junk));
    assert!(
        m.contains("junk.mp4") && m.contains("not a readable MP4"),
        "{m}"
    );

    // A clip cut short in its media data: frames up to the cut, then an
    // error naming the file.
    let mp4 = own_clip_mp4();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &mp4[..mp4.len() * 2 / 3]).unwrap();
    match open(&cut) {
        Err(e) => assert!(e.to_string().contains("cut.mp4"), "{e}"),
        Ok(mut src) => {
            let err = drain(src.as_mut()).unwrap_err().to_string();
            assert!(err.contains("cut.mp4"), "{err}");
        }
    }

    // Sound only: no picture to watch, natively or through FFmpeg.
    for name in ["voice.mp4", "voice.webm"] {
        let audio = dir.path().join(name);
        if !ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            audio.to_str().unwrap(),
        ]) {
            break;
        }
        let m = msg(open(&audio));
        assert!(m.contains(name), "{m}");
        assert!(
            m.contains("no video track") || m.contains("could not decode a video stream"),
            "{m}"
        );
    }

    // Garbage given to FFmpeg.
    let bad = dir.path().join("broken.webm");
    std::fs::write(&bad, b"\x1a\x45\xdf\xa3 broken").unwrap();
    if Command::new("ffmpeg").arg("-version").output().is_ok() {
        let m = msg(open(&bad));
        assert!(m.contains("broken.webm") && m.contains("FFmpeg"), "{m}");
    }
}

#[test]
fn without_ffmpeg_other_formats_say_how_to_convert() {
    // A program that does not exist stands for a machine without FFmpeg;
    // this test runs alone in its process (see below), so the variable
    // does not leak into the others.
    let dir = tempfile::tempdir().unwrap();
    let webm = dir.path().join("exam.webm");
    std::fs::write(&webm, b"\x1a\x45\xdf\xa3").unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "damaged::no_ffmpeg_child", "--nocapture"])
        .env("INVIGIL_FFMPEG", "/nonexistent/ffmpeg")
        .env("INVIGIL_TEST_WEBM", &webm)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
fn no_ffmpeg_child() {
    let Some(webm) = std::env::var_os("INVIGIL_TEST_WEBM") else {
        return; // only meaningful when started by the test above
    };
    let err = open(Path::new(&webm)).err().expect("refused").to_string();
    assert!(
        err.contains("exam.webm") && err.contains("needs FFmpeg") && err.contains(".y4m"),
        "{err}"
    );
}
