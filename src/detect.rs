//! `invigil detect`: faces in still images.

use std::io::Write;
use std::process::ExitCode;

use invigil_vision::{AnalyzerConfig, VisionAnalyzer};
use serde_json::json;

use crate::args::DetectArgs;
use crate::setup::detectors;

pub fn run(args: &DetectArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_score) {
        anyhow::bail!(
            "--min-score must be between 0 and 1, got {}",
            args.min_score
        );
    }
    let (mut primary, fallback) = detectors(&args.model)?;
    primary.set_min_score(args.min_score);
    let mut analyzer = VisionAnalyzer::new(primary, AnalyzerConfig::every_frame());
    if let Some(f) = fallback {
        analyzer = analyzer.with_fallback(f);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    // A directory stands for its images, in name order.
    let mut images = Vec::new();
    for path in &args.images {
        if path.is_dir() {
            images.extend(invigil_capture::list_images(path)?);
        } else {
            images.push(path.clone());
        }
    }
    for path in &images {
        let shown = path.display().to_string();
        let result = invigil_capture::load_image(path, 0)
            .map_err(anyhow::Error::from)
            .and_then(|frame| Ok((analyzer.detect(&frame)?, frame.width, frame.height)));
        match result {
            Ok((faces, width, height)) => {
                let faces: Vec<_> = faces
                    .into_iter()
                    .filter(|f| f.score >= args.min_score)
                    .collect();
                if args.json {
                    let line = json!({
                        "path": shown,
                        "width": width,
                        "height": height,
                        "faces": faces,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{shown}: {} face{}",
                        faces.len(),
                        if faces.len() == 1 { "" } else { "s" }
                    )?;
                    for f in &faces {
                        let [x, y, w, h] = f.bbox;
                        writeln!(
                            out,
                            "  score {:.2}  box x={x:.0} y={y:.0} w={w:.0} h={h:.0}",
                            f.score
                        )?;
                    }
                }
            }
            Err(err) => {
                failures += 1;
                if args.json {
                    writeln!(
                        out,
                        "{}",
                        json!({ "path": shown, "error": format!("{err:#}") })
                    )?;
                }
                eprintln!("invigil: {err:#}");
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
