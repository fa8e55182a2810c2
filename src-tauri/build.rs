//! Builds the UI (ui/, TypeScript + Vite) when its output is missing or
//! older than its sources, then lets tauri-build embed it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn newest(path: &Path) -> SystemTime {
    let mut t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            t = t.max(newest(&entry.path()));
        }
    }
    t
}

fn npm(ui: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(ui)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run npm to build the app's UI in {} (install Node.js and npm): {e}",
                ui.display()
            )
        });
    assert!(
        status.success(),
        "`npm {}` failed in {}",
        args.join(" "),
        ui.display()
    );
}

fn main() {
    let ui = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../ui");
    let sources = [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ];
    for s in sources {
        println!("cargo:rerun-if-changed={}", ui.join(s).display());
    }
    let built = ui.join("dist/index.html");
    let built_at = std::fs::metadata(&built).and_then(|m| m.modified()).ok();
    let sources_at = sources.iter().map(|s| newest(&ui.join(s))).max().unwrap();
    if built_at.is_none_or(|b| b < sources_at) {
        if !ui.join("node_modules").is_dir() {
            npm(&ui, &["ci", "--no-audit", "--no-fund"]);
        }
        npm(&ui, &["run", "build"]);
    }
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "app_config",
            "system_check",
            "begin_session",
            "checkin_start",
            "checkin_step",
            "checkin_status",
            "checkin_preview",
            "checkin_capture",
            "start_exam",
            "exam_status",
            "exam_preview",
            "end_exam",
        ]),
    ))
    .expect("tauri-build");
}
