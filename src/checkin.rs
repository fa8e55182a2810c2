//! `invigil checkin`: judges photographs as the app's check-in judges camera
//! frames (face photo, ID photo, room views), so QA and support can see on
//! any picture why the app would accept or refuse it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use invigil_session::{judge_photos, photo_label, CheckInPolicy, ROOM_SIDES};
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
