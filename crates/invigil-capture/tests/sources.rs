//! Every file source on real files written here, including damaged ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use invigil_capture::{open_source, write_y4m, CaptureError, FrameSource, OpenOptions};
use invigil_core::Frame;

fn photo() -> Frame {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images/astronaut.png");
    let f = invigil_capture::load_image(&path, 0).unwrap();
    // 512x512 -> 64x48 crop keeps files small.
    let mut rgb = Vec::new();
    for y in 0..48 {
        for x in 0..64 {
            rgb.extend_from_slice(&f.pixel(200 + x, 100 + y));
        }
    }
    Frame::new(0, 64, 48, rgb).unwrap()
}

fn drain(src: &mut dyn FrameSource) -> Result<Vec<Frame>, CaptureError> {
    let mut out = Vec::new();
    while let Some(f) = src.next_frame()? {
        out.push(f);
    }
    Ok(out)
}

fn open(path: &Path) -> Result<Box<dyn FrameSource>, CaptureError> {
    open_source(&path.display().to_string(), &OpenOptions { fps: 25.0 })
}

fn jpeg(frame: &Frame) -> Vec<u8> {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
        .encode(
            &frame.rgb,
            frame.width,
            frame.height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    buf
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Five frames of the photo as a 30 fps Y4M file in `dir`.
fn five_frames_y4m(dir: &Path) -> (PathBuf, Vec<Frame>) {
    let path = dir.join("clip.y4m");
    let frames: Vec<Frame> = (0..5).map(|_| photo()).collect();
    let mut file = std::fs::File::create(&path).unwrap();
    write_y4m(&mut file, &frames, 30, true).unwrap();
    (path, frames)
}

#[test]
fn y4m_round_trips_colour_and_timing() {
    let dir = tmp();
    let (path, frames) = five_frames_y4m(dir.path());
    let mut src = open(&path).unwrap();
    assert_eq!(src.info().fps, Some(30.0));
    assert_eq!(src.info().frames, Some(5));
    let got = drain(src.as_mut()).unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(
        got.iter().map(|f| f.t_ms).collect::<Vec<_>>(),
        [0, 33, 67, 100, 133]
    );
    // 4:2:0 loses some chroma; the picture stays close.
    let diff: u64 = got[0]
        .rgb
        .iter()
        .zip(&frames[0].rgb)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / got[0].rgb.len() as f64;
    assert!(mean < 12.0, "mean difference {mean}");
}

/// A Y4M source passes over frames before a time without converting them,
/// and still checks each one (a truncated frame is an error either way).
#[test]
fn y4m_passes_over_early_frames() {
    let dir = tmp();
    let (path, frames) = five_frames_y4m(dir.path());
    let mut src = open(&path).unwrap();
    let (f, skipped) = src.next_frame_from(0).unwrap();
    assert_eq!((f.unwrap().t_ms, skipped), (0, 0));
    let (f, skipped) = src.next_frame_from(66).unwrap();
    let f = f.unwrap();
    assert_eq!((f.t_ms, skipped), (67, 1));
    assert_eq!(f.rgb.len(), frames[0].rgb.len());
    let (f, skipped) = src.next_frame_from(1000).unwrap();
    assert!(f.is_none() && skipped == 2, "the rest is early");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let mut src = open(&path).unwrap();
    let err = src.next_frame_from(1000).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn y4m_other_chroma_layouts() {
    let dir = tmp();
    for (tag, bytes_per_frame) in [("C444", 3 * 16), ("C422", 16 + 2 * 8), ("Cmono", 16)] {
        let path = dir.path().join(format!("{tag}.y4m"));
        let mut data = format!("YUV4MPEG2 W4 H4 F10:1 {tag}\nFRAME\n").into_bytes();
        data.extend(std::iter::repeat_n(128u8, bytes_per_frame));
        std::fs::write(&path, data).unwrap();
        let frames = drain(open(&path).unwrap().as_mut()).unwrap();
        assert_eq!(frames.len(), 1, "{tag}");
        assert_eq!(frames[0].width, 4);
    }
}

#[test]
fn damaged_y4m_files_are_clear_errors() {
    let dir = tmp();
    // Two frames of 2x2 4:2:0 follow each hostile header.
    let two = |header: &str| format!("{header}\nFRAME\n123456FRAME\n123456").into_bytes();
    let multibyte = two("YUV4MPEG2 W2 H2 \u{e9}x F10:1");
    let overflow = two("YUV4MPEG2 W2 H2 F1:18446744073709551");
    let fast = two("YUV4MPEG2 W2 H2 F241:1");
    let cases: [(&str, &[u8], &str); 8] = [
        ("multibyte.y4m", &multibyte, "two frames"),
        ("overflow.y4m", &overflow, "out of range"),
        ("fast.y4m", &fast, "frame rate"),
        ("notyuv.y4m", b"RIFF1234", "YUV4MPEG2"),
        ("nosize.y4m", b"YUV4MPEG2 F30:1\nFRAME\n", "frame size"),
        ("deep.y4m", b"YUV4MPEG2 W4 H4 C420p10\nFRAME\n", "C420p10"),
        (
            "short.y4m",
            b"YUV4MPEG2 W4 H4 F10:1\nFRAME\n\x10\x10",
            "frame 0: truncated",
        ),
        (
            "badframe.y4m",
            b"YUV4MPEG2 W2 H2 F10:1\nFRAMX\n123456",
            "frame 0",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        if needle == "two frames" {
            // An unknown field (a multi-byte tag) is skipped, as the format says.
            let frames = drain(open(&path).unwrap().as_mut()).unwrap();
            assert_eq!(frames.iter().map(|f| f.t_ms).collect::<Vec<_>>(), [0, 100]);
            continue;
        }
        let err = match open(&path) {
            Err(e) => e.to_string(),
            Ok(mut src) => drain(src.as_mut()).unwrap_err().to_string(),
        };
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
    }
}

#[test]
fn mjpeg_splits_on_markers_and_paces_at_fps() {
    let dir = tmp();
    let path = dir.path().join("cam.mjpeg");
    let one = jpeg(&photo());
    let mut data = Vec::new();
    for _ in 0..4 {
        data.extend_from_slice(&one);
    }
    std::fs::write(&path, &data).unwrap();
    let frames = drain(open(&path).unwrap().as_mut()).unwrap();
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[3].t_ms, 120);
    assert_eq!((frames[0].width, frames[0].height), (64, 48));

    // Truncated mid-frame.
    let cut = dir.path().join("cut.mjpg");
    std::fs::write(&cut, &data[..one.len() + one.len() / 2]).unwrap();
    let mut src = open(&cut).unwrap();
    assert!(src.next_frame().unwrap().is_some());
    let err = src.next_frame().unwrap_err().to_string();
    assert!(
        err.contains("cut.mjpg") && err.contains("frame 1") && err.contains("truncated"),
        "{err}"
    );

    // Not JPEG at all.
    let junk = dir.path().join("junk.mjpeg");
    std::fs::write(&junk, b"hello world").unwrap();
    let err = open(&junk).unwrap().next_frame().unwrap_err().to_string();
    assert!(
        err.contains("junk.mjpeg") && err.contains("not JPEG"),
        "{err}"
    );
}

fn write_gif(path: &Path, frames: usize, delay_cs: u16) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut enc = gif::Encoder::new(&mut file, 64, 48, &[]).unwrap();
    enc.set_repeat(gif::Repeat::Infinite).unwrap();
    for i in 0..frames {
        let mut rgb = photo().rgb;
        rgb[0] = i as u8;
        let mut f = gif::Frame::from_rgb(64, 48, &rgb);
        f.delay = delay_cs;
        enc.write_frame(&f).unwrap();
    }
}

#[test]
fn gif_plays_with_its_own_delays() {
    let dir = tmp();
    let path = dir.path().join("anim.gif");
    write_gif(&path, 3, 5);
    let frames = drain(open(&path).unwrap().as_mut()).unwrap();
    assert_eq!(
        frames.iter().map(|f| f.t_ms).collect::<Vec<_>>(),
        [0, 50, 100]
    );

    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.gif");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = match open(&cut) {
        Err(e) => e.to_string(),
        Ok(mut src) => drain(src.as_mut()).unwrap_err().to_string(),
    };
    assert!(err.contains("cut.gif"), "{err}");

    // A tiny file declaring a 65535x65535 screen (a fuzz finding: 40 s
    // and gigabytes per frame) is refused at once.
    let mut huge = bytes.clone();
    huge[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let big = dir.path().join("huge.gif");
    std::fs::write(&big, &huge).unwrap();
    let started = std::time::Instant::now();
    let err = open(&big).err().expect("refused").to_string();
    assert!(
        err.contains("65535x65535") && err.contains("huge.gif"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn image_directories_play_sorted_and_report_bad_images() {
    let dir = tmp();
    let f = photo();
    for name in ["b.png", "a.png", "c.jpg"] {
        let img = image::RgbImage::from_raw(f.width, f.height, f.rgb.clone()).unwrap();
        img.save(dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let mut src = open(dir.path()).unwrap();
    assert_eq!(src.info().frames, Some(3));
    let frames = drain(src.as_mut()).unwrap();
    assert_eq!(
        frames.iter().map(|f| f.t_ms).collect::<Vec<_>>(),
        [0, 40, 80]
    );

    std::fs::write(dir.path().join("d.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let err = drain(open(dir.path()).unwrap().as_mut())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("d.png") && err.contains("cannot decode"),
        "{err}"
    );
    // Images passed over are not read: the broken one is never decoded.
    let mut src = open(dir.path()).unwrap();
    let (first, skipped) = src.next_frame_from(0).unwrap();
    assert_eq!((first.unwrap().t_ms, skipped), (0, 0));
    let (rest, skipped) = src.next_frame_from(200).unwrap();
    assert!(rest.is_none() && skipped == 3);

    let empty = tmp();
    let err = open(empty.path()).err().unwrap().to_string();
    assert!(err.contains("no images"), "{err}");
}

#[test]
fn unknown_sources_are_named() {
    let dir = tmp();
    let odd = dir.path().join("clip.xyz");
    std::fs::File::create(&odd)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    let err = open(&odd).err().unwrap().to_string();
    assert!(
        err.contains("clip.xyz") && err.contains("not a known source"),
        "{err}"
    );
    let err = open(&PathBuf::from("/no/such/file.y4m"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("/no/such/file.y4m") && err.contains("no such file"),
        "{err}"
    );
    let err = open_source("camera:x", &OpenOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("camera:N"), "{err}");
    let err = open_source(".", &OpenOptions { fps: 0.0 })
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--fps"), "{err}");
}

/// `jpeg` with an EXIF block (APP1, big-endian TIFF, one IFD entry) that
/// tags the picture with `orientation`, as phones do.
fn jpeg_with_orientation(frame: &Frame, orientation: u16) -> Vec<u8> {
    let plain = jpeg(frame);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // padding, no next IFD
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// The frame turned a quarter clockwise (`quarters` times).
fn rotate_cw(f: &Frame, quarters: u32) -> Frame {
    let mut f = f.clone();
    for _ in 0..quarters % 4 {
        let (w, h) = (f.width, f.height);
        let mut rgb = Vec::with_capacity(f.rgb.len());
        for y in 0..w {
            for x in 0..h {
                rgb.extend_from_slice(&f.pixel(y, h - 1 - x));
            }
        }
        f = Frame::new(0, h, w, rgb).unwrap();
    }
    f
}

fn mean_abs_diff(a: &Frame, b: &Frame) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let sum: u64 = a
        .rgb
        .iter()
        .zip(&b.rgb)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.rgb.len() as f64
}

#[test]
fn photos_are_turned_upright_by_their_exif_orientation() {
    let dir = tmp();
    let upright = photo(); // 64x48, no symmetry
                           // EXIF orientation -> how the camera stored the upright picture.
    for (orientation, stored_cw_quarters) in [(1u16, 0u32), (3, 2), (6, 3), (8, 1)] {
        let stored = rotate_cw(&upright, stored_cw_quarters);
        let path = dir.path().join(format!("phone-{orientation}.jpg"));
        std::fs::write(&path, jpeg_with_orientation(&stored, orientation)).unwrap();
        let loaded = invigil_capture::load_image(&path, 0).unwrap();
        assert_eq!(
            (loaded.width, loaded.height),
            (64, 48),
            "orientation {orientation}"
        );
        let diff = mean_abs_diff(&loaded, &upright);
        assert!(
            diff < 6.0,
            "orientation {orientation}: differs by {diff:.1}"
        );
        if orientation == 3 {
            // Upside down, as stored, would differ a lot: the check has teeth.
            assert!(mean_abs_diff(&stored, &upright) > 20.0);
        }
    }
    // A damaged EXIF block costs the orientation, not the picture.
    let mut bad = jpeg_with_orientation(&upright, 6);
    bad[12..14].copy_from_slice(b"XX"); // byte order mark
    let path = dir.path().join("bad-exif.jpg");
    std::fs::write(&path, bad).unwrap();
    let loaded = invigil_capture::load_image(&path, 0).unwrap();
    assert_eq!((loaded.width, loaded.height), (64, 48));
}
