//! Video files as sources: MP4/QuickTime with H.264 read natively (B-frames,
//! variable frame rate, a phone's rotation, fragmented MP4 as browsers
//! record it), everything else through FFmpeg, and damaged files as clear
//! errors. The files are made here by FFmpeg (libx264, libx265, libvpx);
//! without FFmpeg those cases are skipped unless INVIGIL_REQUIRE_FFMPEG is
//! set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use invigil_capture::clip_mp4::encode_clip;
use invigil_capture::{open_source, write_y4m, CaptureError, FrameSource, OpenOptions};
use std::sync::Arc;

use invigil_core::clip::{to_i420, Clip, ClipFrame};
use invigil_core::Frame;

const W: u32 = 160;
const H: u32 = 120;

/// Frame `i`: flat grey at `level(i)`, with a black square at the top left
/// (so rotations can be told apart).
fn numbered_frame(i: usize, t_ms: u64) -> Frame {
    let mut rgb = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            let v = if x < 32 && y < 32 { 0 } else { level(i) };
            rgb.extend_from_slice(&[v, v, v]);
        }
    }
    Frame::new(t_ms, W, H, rgb).unwrap()
}

fn level(i: usize) -> u8 {
    (60 + 5 * i) as u8
}

/// Mean grey away from the marker square.
fn grey(f: &Frame) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in f.height / 2..f.height {
        for x in f.width / 2..f.width {
            sum += u64::from(f.pixel(x, y)[1]);
            n += 1;
        }
    }
    sum as f64 / n as f64
}

/// The 36 numbered frames as our clip encoder writes them (10 fps).
fn own_clip_mp4() -> Vec<u8> {
    let clip = Clip {
        width: W,
        height: H,
        frames: (0..36)
            .map(|i| ClipFrame {
                t_ms: i as u64 * 100,
                yuv: Arc::new(to_i420(&numbered_frame(i, 0), W, H)),
            })
            .collect(),
        event_seqs: vec![1],
        start_ms: 0,
        end_ms: 3500,
    };
    encode_clip(&clip, 10.0).unwrap().mp4
}

fn drain(src: &mut dyn FrameSource) -> Result<Vec<Frame>, CaptureError> {
    let mut out = Vec::new();
    while let Some(f) = src.next_frame()? {
        out.push(f);
    }
    Ok(out)
}

fn open(path: &Path) -> Result<Box<dyn FrameSource>, CaptureError> {
    open_source(&path.display().to_string(), &OpenOptions::default())
}

/// Runs FFmpeg; `false` (skip) when it is not installed and not required.
fn ffmpeg(args: &[&str]) -> bool {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .status();
    match status {
        Ok(s) if s.success() => true,
        Ok(s) => panic!("ffmpeg {args:?}: {s}"),
        Err(_) if std::env::var_os("INVIGIL_REQUIRE_FFMPEG").is_some() => {
            panic!("INVIGIL_REQUIRE_FFMPEG is set but ffmpeg cannot be run")
        }
        Err(_) => {
            eprintln!("SKIPPED: no ffmpeg");
            false
        }
    }
}

/// 36 numbered frames at 10 fps as Y4M, the input for FFmpeg.
fn numbered_y4m(dir: &Path) -> PathBuf {
    let frames: Vec<Frame> = (0..36).map(|i| numbered_frame(i, 0)).collect();
    let path = dir.join("numbered.y4m");
    let mut file = std::fs::File::create(&path).unwrap();
    write_y4m(&mut file, &frames, 10, true).unwrap();
    path
}

fn assert_numbered(frames: &[Frame], what: &str) {
    assert_eq!(frames.len(), 36, "{what}: frame count");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.t_ms, i as u64 * 100, "{what}: time of frame {i}");
        let g = grey(f);
        assert!(
            (g - f64::from(level(i))).abs() < 4.0,
            "{what}: frame {i} is grey {g:.1}, expected {} (out of order?)",
            level(i)
        );
    }
}

mod damaged;

#[test]
fn our_own_clips_read_back_natively() {
    // No FFmpeg needed: the clip encoder's MP4 is H.264 constrained baseline.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    std::fs::write(&path, own_clip_mp4()).unwrap();
    let mut src = open(&path).unwrap();
    assert_eq!(src.info().kind, "mp4");
    assert_eq!(src.info().frames, Some(36));
    let fps = src.info().fps.unwrap();
    assert!((fps - 10.0).abs() < 0.5, "fps {fps}");
    let got = drain(src.as_mut()).unwrap();
    assert_eq!((got[0].width, got[0].height), (W, H));
    assert_numbered(&got, "own clip");
}

#[test]
fn h264_high_profile_with_b_frames_keeps_order_and_timing() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = numbered_y4m(dir.path());
    let mp4 = dir.path().join("high.mp4");
    if !ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-x264-params",
        "bframes=3:b-adapt=0:keyint=12",
        "-pix_fmt",
        "yuv420p",
        mp4.to_str().unwrap(),
    ]) {
        return;
    }
    let mut src = open(&mp4).unwrap();
    assert_eq!(src.info().kind, "mp4", "read natively, not through FFmpeg");
    assert_numbered(&drain(src.as_mut()).unwrap(), "high profile, B-frames");

    // The same stream fragmented, as a browser's MediaRecorder writes MP4.
    let frag = dir.path().join("fragmented.mp4");
    assert!(ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-x264-params",
        "keyint=12",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "frag_keyframe+empty_moov",
        frag.to_str().unwrap(),
    ]));
    let mut src = open(&frag).unwrap();
    assert_numbered(&drain(src.as_mut()).unwrap(), "fragmented MP4");
}

#[test]
fn a_damaged_stretch_is_skipped_and_the_rest_still_plays() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = numbered_y4m(dir.path());
    let mp4 = dir.path().join("damaged.mp4");
    // Keyframes every 12 frames; moov first, so the media data follows.
    if !ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-x264-params",
        "keyint=12:min-keyint=12:scenecut=0:bframes=0",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "faststart",
        mp4.to_str().unwrap(),
    ]) {
        return;
    }
    let clean = drain(open(&mp4).unwrap().as_mut()).unwrap();
    assert_numbered(&clean, "before the damage");
    // Break frame 16 (in the second group of pictures): its first NAL
    // unit's length prefix now overruns the sample.
    let mut bytes = std::fs::read(&mp4).unwrap();
    let sample = {
        let file = std::fs::File::open(&mp4).unwrap();
        let size = file.metadata().unwrap().len();
        let mut reader = mp4::Mp4Reader::read_header(std::io::BufReader::new(file), size).unwrap();
        let track = *reader.tracks().keys().next().unwrap();
        reader
            .read_sample(track, 17)
            .unwrap()
            .unwrap()
            .bytes
            .to_vec()
    };
    let at = bytes
        .windows(sample.len())
        .position(|w| w == sample.as_slice())
        .expect("the sample's bytes are in the file");
    bytes[at..at + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    std::fs::write(&mp4, &bytes).unwrap();
    let frames = drain(open(&mp4).unwrap().as_mut()).expect("plays on past the damage");
    assert!(
        frames.len() >= 20 && frames.len() < 36,
        "{} frames",
        frames.len()
    );
    assert!(frames.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    // After the last keyframe (frame 24) every picture is whole and on time.
    let tail: Vec<&Frame> = frames.iter().filter(|f| f.t_ms >= 2400).collect();
    assert_eq!(tail.len(), 12, "the last group of pictures plays");
    for f in tail {
        let i = (f.t_ms / 100) as usize;
        assert!((grey(f) - f64::from(level(i))).abs() < 4.0, "frame {i}");
    }
}

#[test]
fn variable_frame_rate_keeps_the_file_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = numbered_y4m(dir.path());
    let mp4 = dir.path().join("vfr.mp4");
    // Frames 0-19 at 10 fps, then a 2 s stall (a busy laptop), then on.
    if !ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-vf",
        "setpts=N/10/TB+gte(N\\,20)*2/TB",
        "-vsync",
        "vfr",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        mp4.to_str().unwrap(),
    ]) {
        return;
    }
    let frames = drain(open(&mp4).unwrap().as_mut()).unwrap();
    assert_eq!(frames.len(), 36);
    assert_eq!(frames[19].t_ms, 1900);
    assert_eq!(frames[20].t_ms, 4000, "the stall is kept");
    assert_eq!(frames[35].t_ms, 5500);
}

#[test]
fn a_phone_video_is_turned_upright() {
    let dir = tempfile::tempdir().unwrap();
    let y4m = numbered_y4m(dir.path());
    let plain = dir.path().join("plain.mp4");
    if !ffmpeg(&[
        "-i",
        y4m.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        plain.to_str().unwrap(),
    ]) {
        return;
    }
    // A display rotation in the track header, both ways ("rotate" metadata;
    // FFmpeg 5 writes it only when copying a stream). Players turn the
    // picture by the matrix; we must show what they show.
    for (tag, marker_corner) in [("90", (8, W - 8)), ("270", (H - 8, 8))] {
        let mp4 = dir.path().join(format!("rotated-{tag}.mp4"));
        assert!(ffmpeg(&[
            "-i",
            plain.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v:0",
            &format!("rotate={tag}"),
            mp4.to_str().unwrap(),
        ]));
        let raw = dir.path().join(format!("upright-{tag}.rgb"));
        assert!(ffmpeg(&[
            "-i",
            mp4.to_str().unwrap(),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            raw.to_str().unwrap(),
        ]));
        let theirs = Frame::new(0, H, W, std::fs::read(&raw).unwrap()).unwrap();
        let frames = drain(open(&mp4).unwrap().as_mut()).unwrap();
        assert_eq!(frames.len(), 36);
        let ours = &frames[0];
        assert_eq!((ours.width, ours.height), (H, W), "rotate={tag}: portrait");
        let (x, y) = marker_corner;
        assert!(theirs.pixel(x, y)[1] < 30, "rotate={tag}: FFmpeg's marker");
        assert!(
            ours.pixel(x, y)[1] < 30,
            "rotate={tag}: our marker where FFmpeg's is"
        );
        let diff: u64 = ours
            .rgb
            .iter()
            .zip(&theirs.rgb)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = diff as f64 / ours.rgb.len() as f64;
        assert!(mean < 4.0, "rotate={tag}: differs from FFmpeg by {mean:.1}");
    }
}
