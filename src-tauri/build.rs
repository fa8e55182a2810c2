//! Builds the UI (ui/, TypeScript + Vite) when its output is missing or
//! older than its sources, then lets tauri-build embed it.

use std::path::PathBuf;

include!("../build-support/web_ui.rs");

fn main() {
    let ui = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../ui");
    if let Err(e) = build_web_ui(&ui) {
        panic!("cannot build the app's UI: {e}");
    }
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "app_config",
            "system_check",
            "server_info",
            "begin_session",
            "checkin_start",
            "checkin_step",
            "checkin_status",
            "checkin_preview",
            "checkin_capture",
            "start_exam",
            "exam_status",
            "exam_preview",
            "take_break",
            "end_break",
            "end_exam",
        ]),
    ))
    .expect("tauri-build");
}
