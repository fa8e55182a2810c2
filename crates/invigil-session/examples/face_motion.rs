//! How much the face in view changes shape, as the `static_face` rule
//! measures it (docs/identity.md): for footage of live sitters, how far
//! they are from ever being flagged; for photographs, the detector's noise.
//!
//! ```sh
//! cargo run --release -p invigil-session --example face_motion -- SOURCE... [--window-s 120]
//! ```
//!
//! SOURCE is anything `invigil watch --source` plays. For each, it prints
//! the largest shape change (eye distances, scaled down for small faces as
//! the rule scales its tolerance up, so compare it with
//! `static_face_max_motion` directly) seen within any window of
//! `--window-s` seconds (of the rule's 3 s block means), at its quietest: the
//! quietest window's value must stay above `static_face_max_motion` for a
//! live sitter never to be flagged; for a photograph the busiest window's
//! must stay below it for the photograph to be flagged.

use invigil_capture::OpenOptions;
use invigil_core::rules::{face_shape, shape_change, ShapeBlocks};
use invigil_vision::{AnalyzerConfig, FaceDetector, ModelKind, VisionAnalyzer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut window_s = 120.0;
    if let Some(i) = args.iter().position(|a| a == "--window-s") {
        window_s = args.get(i + 1).ok_or("--window-s needs a value")?.parse()?;
        args.drain(i..=i + 1);
    }
    if args.is_empty() {
        return Err("usage: face_motion SOURCE... [--window-s 120]".into());
    }
    println!("source\tdetections\tshape noise (median step)\tlargest change within a window: quietest window\tbusiest window");
    for source in &args {
        let mut opened = invigil_capture::open(source, &OpenOptions { fps: 10.0 })?;
        let detector = FaceDetector::new(ModelKind::Back256)?;
        let mut analyzer = VisionAnalyzer::new(detector, AnalyzerConfig::every_frame());
        let mut raw: Vec<[f32; 4]> = Vec::new();
        let mut blocks = ShapeBlocks::default();
        let mut shapes: Vec<(u64, [f32; 4])> = Vec::new();
        while let Some(frame) = opened.source.next_frame()? {
            let faces = analyzer.detect(&frame)?;
            let main = faces
                .iter()
                .filter(|f| f.score >= 0.6)
                .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])));
            if let Some(f) = main {
                raw.extend(face_shape(f));
                // Changes in units of the block's tolerance factor: 1.0
                // here is `static_face_max_motion` itself at any face size.
                shapes.extend(blocks.add(frame.t_ms, f).map(|b| {
                    let k = b.tolerance(1.0);
                    (b.start_ms, b.shape.map(|x| x / k))
                }));
            }
        }
        let change = shape_change;
        let mut steps: Vec<f32> = raw.windows(2).map(|w| change(&w[0], &w[1])).collect();
        steps.sort_by(f32::total_cmp);
        let window_ms = (window_s * 1000.0) as u64;
        let mut quietest: Option<f32> = None;
        let mut busiest: Option<f32> = None;
        for (i, (t0, s0)) in shapes.iter().enumerate() {
            if shapes.last().is_none_or(|(t, _)| t - t0 < window_ms) {
                break;
            }
            let largest = shapes[i..]
                .iter()
                .take_while(|(t, _)| t - t0 <= window_ms)
                .map(|(_, s)| change(s0, s))
                .fold(0.0f32, f32::max);
            quietest = Some(quietest.map_or(largest, |q| q.min(largest)));
            busiest = Some(busiest.map_or(largest, |q| q.max(largest)));
        }
        println!(
            "{source}\t{}\t{:.4}\t{}\t{}",
            raw.len(),
            steps.get(steps.len() / 2).copied().unwrap_or(f32::NAN),
            quietest.map_or("(shorter than the window)".into(), |q| format!("{q:.4}")),
            busiest.map_or("-".into(), |q| format!("{q:.4}")),
        );
    }
    Ok(())
}
