//! First inputs of each target, made by invigil's own writers and the
//! repository's files: `invigil-fuzz seed` writes them to `corpus/`, where
//! they are committed.

use invigil_core::clip::{Clip, ClipFrame};
use invigil_core::{Event, EventKind, Frame, Policy, EVENT_SCHEMA_VERSION};

/// A small test picture: a gradient with a bright square.
fn picture(w: u32, h: u32, shift: u8) -> Frame {
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let inside = x > w / 3 && x < 2 * w / 3 && y > h / 3 && y < 2 * h / 3;
            let v = if inside {
                230
            } else {
                ((x * 255 / w) as u8).wrapping_add(shift)
            };
            rgb.extend_from_slice(&[v, (y * 255 / h) as u8, 128]);
        }
    }
    Frame::new(0, w, h, rgb).expect("sizes match")
}

fn y4m(w: u32, h: u32, frames: usize, fps: u32) -> Vec<u8> {
    let list: Vec<Frame> = (0..frames).map(|i| picture(w, h, i as u8 * 40)).collect();
    let mut out = Vec::new();
    invigil_capture::write_y4m(&mut out, &list, fps, true).expect("writes to memory");
    out
}

fn jpeg(frame: &Frame, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            &frame.rgb,
            frame.width,
            frame.height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("JPEG encodes");
    out
}

fn gif(w: u16, h: u16, frames: usize, delay: u16) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w, h, &[]).expect("GIF encodes");
        enc.set_repeat(gif::Repeat::Infinite).expect("GIF encodes");
        for i in 0..frames {
            let p = picture(u32::from(w), u32::from(h), i as u8 * 50);
            let mut f = gif::Frame::from_rgb(w, h, &p.rgb);
            f.delay = delay;
            enc.write_frame(&f).expect("GIF encodes");
        }
    }
    out
}

fn mp4(w: u32, h: u32, frames: usize) -> Vec<u8> {
    let frames = (0..frames)
        .map(|i| {
            let p = picture(w, h, i as u8 * 30);
            ClipFrame {
                t_ms: i as u64 * 100,
                yuv: std::sync::Arc::new(invigil_core::clip::to_i420(&p, w, h)),
            }
        })
        .collect::<Vec<_>>();
    let clip = Clip {
        width: w,
        height: h,
        event_seqs: vec![0],
        start_ms: 0,
        end_ms: frames.last().map_or(0, |f| f.t_ms),
        frames,
    };
    invigil_capture::clip_mp4::encode_clip(&clip, 10.0)
        .expect("the clip encodes")
        .mp4
}

fn chained(session: &str, n: u64) -> Vec<Event> {
    let mut chain = invigil_core::chain::Chain::new(session);
    (0..n)
        .map(|seq| {
            let kind = [
                EventKind::SessionStarted,
                EventKind::AbsenceWarning,
                EventKind::CandidateAbsent,
                EventKind::CandidateReturned,
            ][(seq % 4) as usize];
            let mut e = Event {
                v: EVENT_SCHEMA_VERSION,
                seq,
                t_ms: seq * 1500,
                kind,
                severity: kind.severity(),
                data: serde_json::json!({"n": seq, "score": 0.75, "faces": [{"x": 1, "y": 2}]})
                    .as_object()
                    .expect("an object")
                    .clone(),
                prev: None,
            };
            chain.link(&mut e);
            e
        })
        .collect()
}

fn journal_segment() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut j = invigil_uplink::Journal::open(dir.path()).expect("a journal");
    for e in chained("fuzz-session-0001", 3) {
        j.append_event(&e).expect("appends");
    }
    j.append_media(
        invigil_core::protocol::MediaKind::FacePhoto,
        "face.jpg",
        "image/jpeg",
        b"\xff\xd8\xff",
    )
    .expect("appends");
    drop(j);
    let seg = std::fs::read_dir(dir.path())
        .expect("lists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a segment");
    std::fs::read(seg).expect("reads")
}

/// The generated seeds of a target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "y4m" => vec![
            y4m(4, 4, 2, 10),
            y4m(3, 5, 3, 30),
            b"YUV4MPEG2 W2 H2 F30000:1001 Ip A1:1 C444 XYSCSS=444\nFRAME\n000000000000FRAME\n111111111111".to_vec(),
            b"YUV4MPEG2 W2 H2 F10:1 Cmono\nFRAME\n0000FRAME Ixx\n1111".to_vec(),
            b"YUV4MPEG2 W2 H2 F10:1 C422\nFRAME\n00000000".to_vec(),
        ],
        "mjpeg" => {
            let a = jpeg(&picture(16, 8, 0), 80);
            let b = jpeg(&picture(8, 16, 90), 30);
            vec![[a.clone(), b.clone()].concat(), a, [b.clone(), b].concat()]
        }
        "gif" => vec![gif(8, 6, 2, 5), gif(5, 3, 3, 0), gif(4, 4, 1, 100)],
        "mp4" => vec![mp4(16, 16, 3), mp4(32, 16, 2)],
        "scenario" => SCENARIOS.iter().map(|s| s.as_bytes().to_vec()).collect(),
        "policy" => vec![
            toml::to_string(&Policy::default()).expect("prints").into_bytes(),
            b"absence_flag_s = 12.5\nmin_face_score = 0.4\n".to_vec(),
        ],
        "journal" => vec![journal_segment()],
        "batch" => vec![
            serde_json::to_vec(&serde_json::json!({ "events": chained("fuzz-session-0001", 4) })).expect("JSON"),
            serde_json::to_vec(&serde_json::json!({ "events": chained("fuzz-session-0001", 1) })).expect("JSON"),
            br#"{"events":[]}"#.to_vec(),
        ],
        "badge" => {
            let signed = badge_seed();
            let png = invigil_badges::bake::bake(&invigil_badges::bake::default_image(16, [1, 2, 3]), &signed)
                .expect("bakes");
            vec![signed.into_bytes(), png]
        }
        _ => Vec::new(),
    }
}

/// A signed badge with the fixed test key.
fn badge_seed() -> String {
    use invigil_badges::credential::{identity_hash, Achievement, BadgeContent, Issuer};
    use invigil_badges::status::{Purpose, StatusEntry};
    let key = invigil_badges::key::SigningKey::from_seed([7; 32]);
    let content = BadgeContent {
        id: "urn:uuid:00000000-0000-4000-8000-000000000001".into(),
        issuer: Issuer {
            id: key.public().did_key(),
            name: "Fuzz University".into(),
            url: None,
        },
        achievement: Achievement {
            id: "https://fuzz.example/badges/achievements/a".into(),
            name: "Fuzzing".into(),
            description: "d".into(),
            criteria: "c".into(),
            image: None,
        },
        identity_hash: identity_hash("ada@example.org", "s"),
        salt: "s".into(),
        valid_from_ms: 1_700_000_000_000,
        valid_until_ms: Some(1_900_000_000_000),
        status: vec![StatusEntry {
            list_url: "https://fuzz.example/badges/status/1/revocation".into(),
            index: 3,
            purpose: Purpose::Revocation,
        }],
    };
    invigil_badges::proof::sign(
        &content.to_json(),
        &key,
        &key.public().did_key_method(),
        "2023-11-14T22:13:20Z",
    )
    .expect("signs")
    .to_string()
}

const SCENARIOS: &[&str] = &[
    include_str!("../../../tests/scenarios/leaves_and_returns.toml"),
    include_str!("../../../tests/scenarios/second_person.toml"),
    include_str!("../../../tests/scenarios/camera_covered.toml"),
    include_str!("../../../tests/scenarios/frozen_frame.toml"),
    include_str!("../../../tests/scenarios/camera_lost.toml"),
    include_str!("../../../tests/scenarios/exam_with_incidents.toml"),
];
