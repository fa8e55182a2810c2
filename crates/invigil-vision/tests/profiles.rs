//! Detection quality per detector profile, as `watch` and the app run them:
//! every photograph played as 3 s of video at 10 fps through the analyzer
//! (so tracking gets to track), faces counted at the policy's threshold on
//! every frame from the second second on. Photographs, lighting from a
//! tenth of the exposure up, the candidate at the desk at several sizes,
//! and a candidate sliding across the frame (tracking must follow) or
//! jumping to the other side of it (tracking must find them again).
//!
//! `cargo test -p invigil-vision --release --test profiles -- --nocapture`
//! prints the tables recorded in docs/performance.md ("Tracking instead of
//! searching"). The assertions hold tracking to the full-range profile.

use std::path::{Path, PathBuf};

use invigil_core::{Analyzer, Frame, Policy};
use invigil_vision::{analyzer_for, DetectorProfile, VisionAnalyzer};

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/images")
}

fn open(name: &str) -> image::RgbImage {
    image::open(images().join(name)).unwrap().to_rgb8()
}

fn labelled() -> Vec<(String, image::RgbImage, usize)> {
    let text = std::fs::read_to_string(images().join("labels.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut out: Vec<_> = table
        .iter()
        .map(|(name, v)| {
            let faces = v["faces"].as_integer().unwrap() as usize;
            (name.clone(), open(name), faces)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn analyzer(profile: DetectorProfile) -> VisionAnalyzer {
    analyzer_for(profile, None, &Policy::default()).unwrap()
}

/// Faces the rules count on each frame from 1 s on, the picture at media
/// time t given by `picture(t_ms)`, 10 frames a second for `ms`.
fn play(
    a: &mut VisionAnalyzer,
    ms: u64,
    mut picture: impl FnMut(u64) -> image::RgbImage,
) -> Vec<usize> {
    let min = Policy::default().min_face_score;
    let mut counts = Vec::new();
    for t in (0..ms).step_by(100) {
        let img = picture(t);
        let (w, h) = img.dimensions();
        let obs = a
            .analyze(&Frame::new(t, w, h, img.into_raw()).unwrap())
            .unwrap();
        if t >= 1000 {
            counts.push(obs.faces.iter().filter(|f| f.score as f64 >= min).count());
        }
    }
    counts
}

fn share(counts: &[usize], ok: impl Fn(usize) -> bool) -> f64 {
    counts.iter().filter(|&&c| ok(c)).count() as f64 / counts.len() as f64
}

fn scaled(img: &image::RgbImage, k: f32) -> image::RgbImage {
    let mut out = img.clone();
    for v in out.iter_mut() {
        *v = (f32::from(*v) * k + 0.5).min(255.0) as u8;
    }
    out
}

/// The portrait on the empty room's desk, `fraction` of the frame width,
/// its left edge at `left` (a share of the free width).
fn at_desk(
    room: &image::RgbImage,
    photo: &image::RgbImage,
    fraction: f32,
    left: f32,
) -> image::RgbImage {
    use image::imageops::{overlay, resize, FilterType};
    let (w, h) = room.dimensions();
    let mut frame = room.clone();
    let pw = (w as f32 * fraction) as u32;
    let ph = (pw * photo.height() / photo.width()).min(h);
    let photo = resize(photo, pw, ph, FilterType::Triangle);
    let x = ((w - pw) as f32 * left.clamp(0.0, 1.0)) as i64;
    overlay(&mut frame, &photo, x, i64::from(h - ph));
    frame
}

const DESK_PORTRAITS: [&str; 6] = [
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "astronaut.png",
    "tom_hanks_crop.png",
];

struct Scores {
    presence: f64,
    count: f64,
    lighting: Vec<f64>,
    desk: Vec<f64>,
    sliding: f64,
    jumping: f64,
}

const EXPOSURES: [f32; 5] = [0.1, 0.2, 0.35, 0.5, 1.5];
const FRACTIONS: [f32; 4] = [0.15, 0.2, 0.3, 0.45];

fn measure(profile: DetectorProfile) -> Scores {
    let photos = labelled();
    let (mut presence, mut count) = (Vec::new(), Vec::new());
    println!(
        "\n{profile:?}: per photograph, share of frames with the right count (expected faces)"
    );
    for (name, img, expected) in &photos {
        let counts = play(&mut analyzer(profile), 3000, |_| img.clone());
        let p = share(&counts, |c| (c > 0) == (*expected > 0));
        let n = share(&counts, |c| c == *expected);
        println!("  {name:28} {expected:>2}: presence {p:.2}, count {n:.2}, counts {counts:?}");
        presence.push(p);
        count.push(n);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let singles: Vec<_> = photos
        .iter()
        .filter(|(n, _, e)| *e == 1 && !n.starts_with("dim_"))
        .collect();
    let lighting = EXPOSURES
        .iter()
        .map(|&k| {
            let v: Vec<f64> = singles
                .iter()
                .map(|(_, img, _)| {
                    let dim = scaled(img, k);
                    share(&play(&mut analyzer(profile), 3000, |_| dim.clone()), |c| {
                        c > 0
                    })
                })
                .collect();
            mean(&v)
        })
        .collect();
    let room = {
        let r = open("room_empty.jpg");
        image::imageops::resize(&r, 640, 480, image::imageops::FilterType::Triangle)
    };
    let portraits: Vec<_> = DESK_PORTRAITS.iter().map(|n| open(n)).collect();
    let desk = FRACTIONS
        .iter()
        .map(|&fr| {
            let v: Vec<f64> = portraits
                .iter()
                .map(|p| {
                    let frame = at_desk(&room, p, fr, 0.5);
                    share(
                        &play(&mut analyzer(profile), 3000, |_| frame.clone()),
                        |c| c == 1,
                    )
                })
                .collect();
            mean(&v)
        })
        .collect();
    // Sliding: from the left edge to the right one in 6 s (a fifth of the
    // face's width per frame); jumping: left, then right at 3 s.
    let sliding: Vec<f64> = portraits
        .iter()
        .map(|p| {
            let counts = play(&mut analyzer(profile), 6000, |t| {
                at_desk(&room, p, 0.3, t as f32 / 6000.0)
            });
            share(&counts, |c| c == 1)
        })
        .collect();
    let jumping: Vec<f64> = portraits
        .iter()
        .map(|p| {
            let counts = play(&mut analyzer(profile), 6000, |t| {
                at_desk(&room, p, 0.3, if t < 3000 { 0.0 } else { 1.0 })
            });
            share(&counts, |c| c == 1)
        })
        .collect();
    Scores {
        presence: mean(&presence),
        count: mean(&count),
        lighting,
        desk,
        sliding: mean(&sliding),
        jumping: mean(&jumping),
    }
}

#[test]
fn tracking_finds_what_the_full_range_model_finds() {
    let profiles = [
        DetectorProfile::FullRange,
        DetectorProfile::Tracking,
        DetectorProfile::ShortRangeWithFallback,
    ];
    let rows: Vec<(DetectorProfile, Scores)> = profiles.iter().map(|&p| (p, measure(p))).collect();
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    println!("\n| profile | presence (photos) | exact count (photos) | someone found at exposure 0.1 / 0.2 / 0.35 / 0.5 / 1.5 | one face at the desk, 15% / 20% / 30% / 45% of the width | sliding | jumping |");
    println!("|---|---|---|---|---|---|---|");
    for (p, s) in &rows {
        let light: Vec<String> = s.lighting.iter().map(|&v| pct(v)).collect();
        let desk: Vec<String> = s.desk.iter().map(|&v| pct(v)).collect();
        println!(
            "| {p:?} | {} | {} | {} | {} | {} | {} |",
            pct(s.presence),
            pct(s.count),
            light.join(" / "),
            desk.join(" / "),
            pct(s.sliding),
            pct(s.jumping)
        );
    }
    let full = &rows[0].1;
    let track = &rows[1].1;
    // Tracking may differ by a frame here and there, never by a photograph.
    let tolerance = 0.02;
    assert!(track.presence >= full.presence - tolerance, "presence");
    assert!(track.count >= full.count - tolerance, "count");
    for (t, f) in track.lighting.iter().zip(&full.lighting) {
        assert!(
            t >= &(f - tolerance),
            "lighting {:?} vs {:?}",
            track.lighting,
            full.lighting
        );
    }
    for (t, f) in track.desk.iter().zip(&full.desk) {
        assert!(
            t >= &(f - tolerance),
            "desk {:?} vs {:?}",
            track.desk,
            full.desk
        );
    }
    assert!(track.sliding >= full.sliding - tolerance, "sliding");
    assert!(track.jumping >= full.jumping - tolerance, "jumping");
}
