// Shared by the build scripts that build a TypeScript front end with npm
// (src-tauri/build.rs: the app's ui/; crates/invigil-server/build.rs: the
// console/). Included with `include!`, so it has no crate of its own.

/// The sources a front end's build depends on, relative to its folder.
pub const WEB_SOURCES: [&str; 6] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

/// The newest modification time of a file or of anything under a folder.
pub fn newest(path: &std::path::Path) -> std::time::SystemTime {
    let mut t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            t = t.max(newest(&entry.path()));
        }
    }
    t
}

/// Builds the front end in `dir` (`npm ci` when it has no node_modules,
/// then `npm run build`) when `dist/index.html` is missing or older than
/// its sources; tells cargo to rerun when a source changes.
pub fn build_web_ui(dir: &std::path::Path) -> Result<(), String> {
    for s in WEB_SOURCES {
        println!("cargo:rerun-if-changed={}", dir.join(s).display());
    }
    let built_at = std::fs::metadata(dir.join("dist/index.html"))
        .and_then(|m| m.modified())
        .ok();
    let sources_at = WEB_SOURCES
        .iter()
        .map(|s| newest(&dir.join(s)))
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    if built_at.is_some_and(|b| b >= sources_at) {
        return Ok(());
    }
    let npm = |args: &[&str]| match std::process::Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`npm {}` failed in {} ({s})", args.join(" "), dir.display())),
        Err(e) => Err(format!(
            "cannot run npm in {} (install Node.js 20 or later and npm): {e}",
            dir.display()
        )),
    };
    if !dir.join("node_modules").is_dir() {
        npm(&["ci", "--no-audit", "--no-fund"])?;
    }
    npm(&["run", "build"])
}
