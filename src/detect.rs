//! `invigil detect`: faces in still images.

use std::io::Write;
use std::process::ExitCode;

use invigil_vision::{AnalyzerConfig, FaceLandmarker, ObjectDetector, VisionAnalyzer};
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
    let conduct = if args.conduct {
        Some((FaceLandmarker::new()?, ObjectDetector::new()?))
    } else {
        None
    };
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
            .and_then(|frame| {
                let faces: Vec<_> = analyzer
                    .detect(&frame)?
                    .into_iter()
                    .filter(|f| f.score >= args.min_score)
                    .collect();
                let mut poses = Vec::new();
                let mut objects = Vec::new();
                if let Some((landmarker, detector)) = &conduct {
                    for f in &faces {
                        poses.push(landmarker.pose(&frame, f)?);
                    }
                    objects = detector.detect(&frame)?;
                }
                Ok((faces, poses, objects, frame.width, frame.height))
            });
        match result {
            Ok((faces, poses, objects, width, height)) => {
                if args.json {
                    let mut line = json!({
                        "path": shown,
                        "width": width,
                        "height": height,
                        "faces": faces,
                    });
                    if conduct.is_some() {
                        line["poses"] = json!(poses);
                        line["objects"] = json!(objects);
                    }
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{shown}: {} face{}",
                        faces.len(),
                        if faces.len() == 1 { "" } else { "s" }
                    )?;
                    for (i, f) in faces.iter().enumerate() {
                        let [x, y, w, h] = f.bbox;
                        let pose = match poses.get(i) {
                            Some(Some(p)) => format!(
                                "  yaw {:.0} pitch {:.0} roll {:.0}",
                                p.yaw, p.pitch, p.roll
                            ),
                            Some(None) => "  (no face mesh)".into(),
                            None => String::new(),
                        };
                        writeln!(
                            out,
                            "  score {:.2}  box x={x:.0} y={y:.0} w={w:.0} h={h:.0}{pose}",
                            f.score
                        )?;
                    }
                    for o in &objects {
                        let [x, y, w, h] = o.bbox;
                        writeln!(
                            out,
                            "  {} {:.2}  box x={x:.0} y={y:.0} w={w:.0} h={h:.0}",
                            o.label.as_str(),
                            o.score
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
