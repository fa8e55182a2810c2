//! `invigil checkin`: judges photographs as the app's check-in judges camera
//! frames (face photo, ID photo, room views), so QA and support can see on
//! any picture why the app would accept or refuse it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use invigil_session::{photo_label, ROOM_SIDES};
use invigil_vision::checkin::{
    assess_face_photo, assess_id_photo, assess_room_view, Assessment, CheckInPolicy, ViewSignature,
};
use invigil_vision::{FaceDetector, ModelKind};
use serde_json::json;

use crate::args::CheckinArgs;

pub fn run(args: &CheckinArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.face.is_some() || args.id.is_some() || !args.room.is_empty(),
        "nothing to judge: give --face, --id and/or --room photos"
    );
    anyhow::ensure!(
        args.room.len() <= ROOM_SIDES.len(),
        "--room: at most {} views (front, right, back, left, desk), got {}",
        ROOM_SIDES.len(),
        args.room.len()
    );
    // Every photo must be readable before anything is judged.
    let load = |path: &PathBuf| invigil_capture::load_image(path, 0);
    let face = args.face.as_ref().map(load).transpose()?;
    let id = args.id.as_ref().map(load).transpose()?;
    let rooms = args.room.iter().map(load).collect::<Result<Vec<_>, _>>()?;

    let policy = CheckInPolicy::default();
    // As the app's check-in: the full-range model, candidates from 0.5.
    let mut detector = FaceDetector::new(ModelKind::Back256)?;
    detector.set_min_score(0.5);
    let mut verdicts: Vec<(String, &PathBuf, Assessment)> = Vec::new();
    let mut seen: Vec<(String, ViewSignature)> = Vec::new();
    if let (Some(frame), Some(path)) = (&face, &args.face) {
        let faces = detector.detect(frame)?;
        verdicts.push((
            "face".into(),
            path,
            assess_face_photo(frame, &faces, &policy),
        ));
        seen.push((photo_label("face"), ViewSignature::of(frame)));
    }
    if let (Some(frame), Some(path)) = (&id, &args.id) {
        verdicts.push((
            "id".into(),
            path,
            assess_id_photo(frame, &mut detector, &policy)?,
        ));
    }
    for ((frame, path), (side, _)) in rooms.iter().zip(&args.room).zip(ROOM_SIDES) {
        verdicts.push((
            side.to_owned(),
            path,
            assess_room_view(frame, &seen, &policy),
        ));
        seen.push((photo_label(side), ViewSignature::of(frame)));
    }

    let mut out = std::io::stdout().lock();
    for (slot, path, a) in &verdicts {
        if args.json {
            let measures: serde_json::Map<String, serde_json::Value> = a
                .measures
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let line = json!({
                "slot": slot,
                "path": path.display().to_string(),
                "ready": a.ready,
                "problems": a.problems,
                "measures": measures,
                "faces": a.faces,
                "document": a.document,
            });
            writeln!(out, "{line}")?;
            continue;
        }
        let what = match slot.as_str() {
            "face" => "face photo".to_owned(),
            "id" => "ID photo".to_owned(),
            side => photo_label(side),
        };
        let verdict = if a.ready { "accepted" } else { "refused" };
        writeln!(out, "{}: {what}: {verdict}", path.display())?;
        for p in &a.problems {
            writeln!(out, "  {}: {}", p.code, p.message)?;
        }
        if !a.measures.is_empty() {
            let m: Vec<String> = a
                .measures
                .iter()
                .map(|(k, v)| format!("{k} {v:.3}"))
                .collect();
            writeln!(out, "  measures: {}", m.join(", "))?;
        }
    }
    Ok(if verdicts.iter().all(|(_, _, a)| a.ready) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
