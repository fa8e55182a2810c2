//! Set-up shared by the commands: the policy file and the detector choice.

use std::path::Path;

use anyhow::Context;
use invigil_core::Policy;
use invigil_vision::{DetectorProfile, FaceDetector, ModelKind};

use crate::args::{ModelArgs, ModelChoice};

/// Reads a policy file, or the defaults.
pub fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    Ok(Policy::from_toml(&text, &path.display().to_string())?)
}

fn load(kind: ModelKind, file: Option<&Path>) -> anyhow::Result<FaceDetector> {
    Ok(match file {
        Some(path) => FaceDetector::from_file(kind, path)?,
        None => FaceDetector::new(kind)?,
    })
}

/// The detectors for still images: the primary, and the full-range fallback
/// for `--model front`. A still image has no face to follow, so `track` is
/// its whole-frame search, the full-range model.
pub fn detectors(args: &ModelArgs) -> anyhow::Result<(FaceDetector, Option<FaceDetector>)> {
    let file = args.model_file.as_deref();
    Ok(match args.model {
        ModelChoice::Back | ModelChoice::Track => (load(ModelKind::Back256, file)?, None),
        ModelChoice::Front => (
            load(ModelKind::Front128, file)?,
            Some(load(ModelKind::Back256, None)?),
        ),
    })
}

/// The detectors `watch` and `qa run` use for `--model`.
pub fn detector_profile(model: ModelChoice) -> DetectorProfile {
    match model {
        ModelChoice::Back => DetectorProfile::FullRange,
        ModelChoice::Front => DetectorProfile::ShortRangeWithFallback,
        ModelChoice::Track => DetectorProfile::Tracking,
    }
}
