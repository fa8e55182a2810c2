//! `invigil checkin`: judges photographs as the app's check-in judges camera
//! frames (face photo, ID photo, room views), so QA and support can see on
//! any picture why the app would accept or refuse it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use invigil_session::{judge_identity, judge_photos, photo_label, CheckInPolicy, ROOM_SIDES};
use invigil_vision::checkin::Assessment;
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

    let verdicts = judge_photos(
        face.as_ref(),
        id.as_ref(),
        &rooms,
        &CheckInPolicy::default(),
    )?;
    // With both a face photo and an ID photo: is the ID's portrait the
    // person in the face photo? (Never a refusal by itself.)
    let identity = judge_identity(&verdicts, face.as_ref(), id.as_ref())?;
    let paths = args.face.iter().chain(&args.id).chain(&args.room);
    let verdicts: Vec<(String, &PathBuf, Assessment)> = verdicts
        .into_iter()
        .zip(paths)
        .map(|(v, path)| (v.slot, path, v.assessment))
        .collect();

    let mut out = std::io::stdout().lock();
    for (slot, path, a) in &verdicts {
        if args.json {
            let measures: serde_json::Map<String, serde_json::Value> = a
                .measures
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut line = json!({
                "slot": slot,
                "path": path.display().to_string(),
                "ready": a.ready,
                "problems": a.problems,
                "measures": measures,
                "faces": a.faces,
                "document": a.document,
            });
            if let (Some(check), "id") = (&identity, slot.as_str()) {
                line["identity"] = json!({
                    "id_face_found": check.id_face_found,
                    "similarity": check.similarity.map(|s| (f64::from(s) * 1e4).round() / 1e4),
                    "same_person": check.same_person,
                });
            }
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
        if let (Some(check), "id") = (&identity, slot.as_str()) {
            let said = match (check.similarity, check.same_person) {
                (Some(s), Some(true)) => format!("the portrait is the person in the face photo (similarity {s:.3})"),
                (Some(s), _) => format!("the portrait does not look like the person in the face photo (similarity {s:.3}); the app asks for a retake, then flags it for proctors"),
                (None, _) if !check.id_face_found => "no portrait to compare with the face photo".to_owned(),
                (None, _) => "no face in the face photo to compare with the portrait".to_owned(),
            };
            writeln!(out, "  identity: {said}")?;
        }
    }
    Ok(if verdicts.iter().all(|(_, _, a)| a.ready) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
