//! Builds the proctor console (console/, TypeScript + Vite) when its output
//! is missing or older than its sources, and embeds the built files so that
//! `invigil serve` is one self-contained binary. Without Node.js the server
//! still builds, and serves a page that says how to build the console.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

include!("../../build-support/web_ui.rs");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn main() {
    let console = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../console");
    let dist = console.join("dist");
    if console.is_dir() {
        if let Err(e) = build_web_ui(&console) {
            println!("cargo:warning=the proctor console was not built: {e}");
        }
    }

    let mut assets = Vec::new();
    files(&dist, &mut assets);
    assets.sort();
    let mut code =
        String::from("/// The console's built files: (URL path, content type, bytes).\n");
    code.push_str("pub static CONSOLE: &[(&str, &str, &[u8])] = &[\n");
    for path in &assets {
        let rel = path
            .strip_prefix(&dist)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            code,
            "    (\"/{rel}\", \"{}\", include_bytes!({:?})),",
            content_type(path),
            path.canonicalize().unwrap()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("console_assets.rs");
    std::fs::write(out, code).unwrap();
}
