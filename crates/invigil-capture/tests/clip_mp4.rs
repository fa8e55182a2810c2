//! A flagged clip is H.264 in a fast-start MP4 that decodes back to the
//! frames that went in. The MP4 is read here box by box (no muxer code is
//! shared with the writer) and every sample decoded with OpenH264.

use invigil_capture::clip_mp4::{encode_clip, ClipEncoder, ClipError};
use invigil_core::clip::{ClipFrame, ClipRecorder};
use invigil_core::{Event, EventKind, Frame, Policy, Severity, EVENT_SCHEMA_VERSION};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

/// (type, payload range) of the boxes in `data[range]`.
fn boxes(data: &[u8], start: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let mut size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        let mut header = 8;
        if size == 1 {
            size = u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap()) as usize;
            header = 16;
        } else if size == 0 {
            size = end - at;
        }
        assert!(
            size >= header && at + size <= end,
            "box {:?} overruns",
            std::str::from_utf8(&kind)
        );
        out.push((kind, at + header, at + size));
        at += size;
    }
    out
}

fn find(data: &[u8], start: usize, end: usize, path: &[&[u8; 4]]) -> (usize, usize) {
    let (first, rest) = path.split_first().unwrap();
    let (_, s, e) = boxes(data, start, end)
        .into_iter()
        .find(|(k, _, _)| k == *first)
        .unwrap_or_else(|| panic!("no {:?} box", std::str::from_utf8(*first)));
    if rest.is_empty() {
        (s, e)
    } else {
        find(data, s, e, rest)
    }
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

/// The samples of the first video track, as Annex B access units, with
/// SPS/PPS from `avcC` in front of the first.
fn samples(mp4: &[u8]) -> Vec<Vec<u8>> {
    let stbl = find(
        mp4,
        0,
        mp4.len(),
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl"],
    );
    // stsd -> avc1 (78 bytes of sample entry) -> avcC.
    let (stsd, stsd_end) = find(mp4, stbl.0, stbl.1, &[b"stsd"]);
    let avc1 = boxes(mp4, stsd + 8, stsd_end)[0];
    assert_eq!(&avc1.0, b"avc1");
    let (avcc, _) = find(mp4, avc1.1 + 78, avc1.2, &[b"avcC"]);
    let mut params = Vec::new();
    let mut at = avcc + 5;
    let sps_count = mp4[at] & 0x1f;
    at += 1;
    for _ in 0..sps_count {
        let len = u16::from_be_bytes([mp4[at], mp4[at + 1]]) as usize;
        params.extend_from_slice(&[0, 0, 0, 1]);
        params.extend_from_slice(&mp4[at + 2..at + 2 + len]);
        at += 2 + len;
    }
    let pps_count = mp4[at];
    at += 1;
    for _ in 0..pps_count {
        let len = u16::from_be_bytes([mp4[at], mp4[at + 1]]) as usize;
        params.extend_from_slice(&[0, 0, 0, 1]);
        params.extend_from_slice(&mp4[at + 2..at + 2 + len]);
        at += 2 + len;
    }
    let (stsz, _) = find(mp4, stbl.0, stbl.1, &[b"stsz"]);
    let fixed = u32_at(mp4, stsz + 4);
    let count = u32_at(mp4, stsz + 8) as usize;
    let sizes: Vec<usize> = (0..count)
        .map(|i| {
            if fixed != 0 {
                fixed as usize
            } else {
                u32_at(mp4, stsz + 12 + 4 * i) as usize
            }
        })
        .collect();
    let (stco, _) = find(mp4, stbl.0, stbl.1, &[b"stco"]);
    let chunks: Vec<usize> = (0..u32_at(mp4, stco + 4) as usize)
        .map(|i| u32_at(mp4, stco + 8 + 4 * i) as usize)
        .collect();
    let (stsc, _) = find(mp4, stbl.0, stbl.1, &[b"stsc"]);
    let runs: Vec<(usize, usize)> = (0..u32_at(mp4, stsc + 4) as usize)
        .map(|i| {
            (
                u32_at(mp4, stsc + 8 + 12 * i) as usize,
                u32_at(mp4, stsc + 12 + 12 * i) as usize,
            )
        })
        .collect();
    let mut out = Vec::new();
    let mut sample = 0;
    for (c, &offset) in chunks.iter().enumerate() {
        let per_chunk = runs
            .iter()
            .rev()
            .find(|(first, _)| *first <= c + 1)
            .unwrap()
            .1;
        let mut at = offset;
        for _ in 0..per_chunk {
            let end = at + sizes[sample];
            let mut unit = if sample == 0 {
                params.clone()
            } else {
                Vec::new()
            };
            let mut p = at;
            while p < end {
                let len = u32_at(mp4, p) as usize;
                unit.extend_from_slice(&[0, 0, 0, 1]);
                unit.extend_from_slice(&mp4[p + 4..p + 4 + len]);
                p += 4 + len;
            }
            out.push(unit);
            at = end;
            sample += 1;
        }
    }
    assert_eq!(sample, count);
    out
}

fn violation(seq: u64, t_ms: u64) -> Event {
    Event {
        v: EVENT_SCHEMA_VERSION,
        seq,
        t_ms,
        kind: EventKind::CandidateAbsent,
        severity: Severity::Violation,
        data: Default::default(),
        prev: None,
    }
}

/// A 1280x720 picture whose brightness encodes the time.
fn frame(t: u64) -> Frame {
    let level = 40 + (t / 100 % 180) as u8;
    let mut f = Frame::solid(t, 1280, 720, [level, level, level]);
    // A moving dark square, so there is motion to encode.
    let x0 = (t / 20 % 1000) as usize;
    for y in 200..328 {
        for x in x0..x0 + 128 {
            let i = (y * 1280 + x) * 3;
            f.rgb[i..i + 3].copy_from_slice(&[10, 200, 30]);
        }
    }
    f
}

#[test]
fn flagged_clip_is_a_playable_fast_start_mp4() {
    let policy = Policy::default();
    let mut rec = ClipRecorder::new(&policy);
    let mut clip = None;
    for i in 0..450u64 {
        let t = i * 1000 / 30;
        let events = if i == 240 {
            vec![violation(7, t)]
        } else {
            vec![]
        };
        if let Some(c) = rec.push(Some(&frame(t)), &events) {
            clip = Some(c);
        }
    }
    let clip = clip.expect("a clip closed 5 s after the violation");
    let encoded = encode_clip(&clip, rec.fps()).unwrap();
    let mp4 = &encoded.mp4;

    // Fast start: ftyp, then moov, then mdat.
    let top: Vec<[u8; 4]> = boxes(mp4, 0, mp4.len()).into_iter().map(|b| b.0).collect();
    let pos = |k: &[u8; 4]| top.iter().position(|t| t == k).unwrap();
    assert_eq!(pos(b"ftyp"), 0);
    assert!(
        pos(b"moov") < pos(b"mdat"),
        "moov must precede mdat: {top:?}"
    );

    // ~10 s at 10 fps, a keyframe every 2 s.
    assert!((95..=105).contains(&encoded.frames), "{}", encoded.frames);
    assert!(
        (5..=7).contains(&encoded.keyframes),
        "{} keyframes",
        encoded.keyframes
    );
    // Small: evidence, not a recording (640x360, 10 s).
    assert!(mp4.len() < 800_000, "{} bytes", mp4.len());

    // Every sample decodes, to the right size and brightness.
    let mut decoder = Decoder::new().unwrap();
    let units = samples(mp4);
    assert_eq!(units.len(), encoded.frames);
    let mut decoded = 0;
    for (i, unit) in units.iter().enumerate() {
        if let Some(yuv) = decoder.decode(unit).unwrap() {
            let (w, h) = yuv.dimensions();
            assert_eq!((w, h), (640, 360));
            // Compare a luma sample away from the moving square with the source.
            let y = yuv.y();
            let got = f64::from(y[20 * yuv.strides().0 + 20]);
            let t = clip.frames[i].t_ms;
            let level = f64::from(40 + (t / 100 % 180) as u8);
            let expected = 16.0 + level * 219.0 / 255.0;
            assert!(
                (got - expected).abs() < 12.0,
                "frame {i}: luma {got}, expected {expected:.0}"
            );
            decoded += 1;
        }
    }
    assert!(
        decoded >= encoded.frames - 1,
        "{decoded} of {} frames decoded",
        encoded.frames
    );
}

/// Encoding the open clip as it grows (what a session does, so that a long
/// clip is never held raw) gives the same MP4 as encoding it whole.
#[test]
fn a_clip_encoded_as_it_grows_is_the_clip_encoded_whole() {
    let policy = Policy::default();
    let (mut whole, mut growing) = (ClipRecorder::new(&policy), ClipRecorder::new(&policy));
    let (mut clip, mut streamed) = (None, None);
    let mut encoder: Option<ClipEncoder> = None;
    let mut held = 0usize;
    for i in 0..450u64 {
        let t = i * 1000 / 30;
        let events = if i == 240 {
            vec![violation(7, t)]
        } else {
            vec![]
        };
        let f = frame(t);
        clip = clip.or(whole.push(Some(&f), &events));
        let closed = growing.push(Some(&f), &events);
        if let Some(c) = closed {
            feed(&mut encoder, &mut held, c.frames);
            streamed = encoder.take().map(|e| e.finish().unwrap());
        }
        if let Some((w, h, frames)) = growing.take_open_frames() {
            assert_eq!((w, h), (640, 360));
            feed(&mut encoder, &mut held, frames);
        }
    }
    assert_eq!(whole.fps(), 10.0);
    let whole = encode_clip(&clip.unwrap(), 10.0).unwrap();
    let streamed = streamed.expect("the streamed clip closed");
    assert_eq!(streamed.frames, whole.frames);
    assert!(streamed.mp4 == whole.mp4, "the MP4s differ");
    // Only the pre-roll (5 s at 10 fps) was ever handed over at once.
    assert!(held <= 51, "{held} frames held at once");

    // A frame of the wrong size is an error, not a broken file.
    let mut e = ClipEncoder::new(640, 360, 10.0, 0).unwrap();
    let small = ClipFrame {
        t_ms: 0,
        yuv: std::sync::Arc::new(vec![0; 10]),
    };
    let err = e.push(&small).expect_err("refused").to_string();
    assert!(err.contains("10 bytes in a 640x360 clip"), "{err}");
    assert!(matches!(e.finish(), Err(ClipError::Empty)));
}

/// Pushes `frames` into the clip's encoder, started at its first frame.
fn feed(encoder: &mut Option<ClipEncoder>, held: &mut usize, frames: Vec<ClipFrame>) {
    *held = (*held).max(frames.len());
    for frame in frames {
        encoder
            .get_or_insert_with(|| ClipEncoder::new(640, 360, 10.0, frame.t_ms).unwrap())
            .push(&frame)
            .unwrap();
    }
}
