//! `invigil identify A B`: whether two photographs show the same person,
//! by the on-device face embedding (docs/identity.md).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use invigil_vision::identity::{main_face, SAME_PERSON_MIN_SIMILARITY};
use invigil_vision::{FaceDetector, FaceEmbedder, ModelKind};
use serde_json::json;

use crate::args::IdentifyArgs;

pub fn run(args: &IdentifyArgs) -> anyhow::Result<ExitCode> {
    let threshold = args.threshold.unwrap_or(SAME_PERSON_MIN_SIMILARITY);
    anyhow::ensure!(
        (-1.0..=1.0).contains(&threshold),
        "--threshold must be between -1 and 1, got {threshold}"
    );
    let mut detector = FaceDetector::new(ModelKind::Back256)?;
    let embedder = FaceEmbedder::new()?;
    let mut embed = |path: &Path| -> anyhow::Result<invigil_vision::Embedding> {
        let frame = invigil_capture::load_image(path, 0)?;
        let faces = detector.detect(&frame)?;
        let face = main_face(&faces)
            .ok_or_else(|| anyhow::anyhow!("{}: no face found", path.display()))?;
        embedder
            .embed(&frame, face)?
            .ok_or_else(|| anyhow::anyhow!("{}: the face cannot be aligned", path.display()))
    };
    let (a, b) = (embed(&args.a)?, embed(&args.b)?);
    let similarity = a.similarity(&b);
    let same = similarity >= threshold;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            json!({
                "similarity": (f64::from(similarity) * 1e4).round() / 1e4,
                "same_person": same,
                "threshold": threshold,
            })
        )?;
    } else {
        writeln!(
            out,
            "{} and {}: {} (similarity {similarity:.3}, threshold {threshold:.3})",
            args.a.display(),
            args.b.display(),
            if same {
                "the same person"
            } else {
                "different people"
            },
        )?;
    }
    Ok(if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
