//! The docs tell the truth: the crate graph in docs/ARCHITECTURE.md is the
//! one the manifests declare (`INVIGIL_UPDATE_DOCS=1 cargo test --test cli
//! crate_graph` rewrites it).

use std::collections::BTreeMap;

use super::root;

/// Each workspace crate and the workspace crates it depends on (normal
/// dependencies; dev- and build-dependencies are not layering).
fn crate_graph() -> BTreeMap<String, Vec<String>> {
    let mut manifests = vec![
        root().join("Cargo.toml"),
        root().join("src-tauri/Cargo.toml"),
    ];
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let path = entry.unwrap().path().join("Cargo.toml");
        if path.is_file() {
            manifests.push(path);
        }
    }
    let mut graph = BTreeMap::new();
    for path in manifests {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let name = doc["package"]["name"].as_str().unwrap().to_owned();
        let mut deps: Vec<String> = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|d| {
                d.keys()
                    .filter(|k| k.starts_with("invigil-"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        deps.sort();
        graph.insert(name, deps);
    }
    graph
}

fn render(graph: &BTreeMap<String, Vec<String>>) -> String {
    let width = graph.keys().map(String::len).max().unwrap_or(0);
    let mut out = String::from("```\n");
    for (name, deps) in graph {
        let deps = if deps.is_empty() {
            "(none)".to_owned()
        } else {
            deps.join(", ")
        };
        out.push_str(&format!("{name:<width$} -> {deps}\n"));
    }
    out.push_str("```\n");
    out
}

#[test]
fn crate_graph_in_the_architecture_doc_is_current() {
    let path = root().join("docs/ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- crate-graph -->\n", "<!-- /crate-graph -->");
    let i = doc.find(start).expect("the doc has a crate-graph block") + start.len();
    let j = doc.find(end).expect("the crate-graph block ends");
    let graph = crate_graph();
    let fresh = render(&graph);
    if std::env::var_os("INVIGIL_UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{fresh}{}", &doc[..i], &doc[j..])).unwrap();
        return;
    }
    assert_eq!(
        &doc[i..j],
        fresh,
        "docs/ARCHITECTURE.md's crate graph is stale: rerun with INVIGIL_UPDATE_DOCS=1"
    );
    // The layering the doc promises: the core depends on no other crate,
    // nothing depends on the app or the CLI, the server only on the core,
    // the vision crate (its own face detector for spot checks), the
    // forensics crate (analysing uploaded results) and the badges crate
    // (signing and checking credentials), never on capture, the uplink or
    // the session; the forensics and badges crates on nothing of ours.
    assert!(graph["invigil-core"].is_empty());
    assert!(graph["invigil-forensics"].is_empty());
    assert!(graph["invigil-badges"].is_empty());
    assert_eq!(
        graph["invigil-server"],
        [
            "invigil-badges",
            "invigil-core",
            "invigil-forensics",
            "invigil-vision"
        ]
    );
    for deps in graph.values() {
        assert!(!deps.iter().any(|d| d == "invigil-app" || d == "invigil"));
    }
    assert!(!graph["invigil-capture"].contains(&"invigil-vision".to_owned()));
}

/// The wiring of a session lives in invigil-session: the CLI and the app
/// use the lower crates for types and presentation only, never to open a
/// source, a detector or an uplink themselves.
#[test]
fn front_doors_do_not_wire_sessions_themselves() {
    let wiring = [
        "open_source(",
        "invigil_capture::open(",
        "run_with_tap(",
        "pipeline::run(",
        "analyzer_for(",
        "Uplink::open(",
        "ClipTap::",
        "RuleEngine::new(",
    ];
    for dir in ["src", "src-tauri/src"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for w in wiring {
                assert!(
                    !text.contains(w),
                    "{} wires a session itself (`{w}`): use invigil_session",
                    path.display()
                );
            }
        }
    }
}

/// Every event kind is in docs/events.md and every policy key in
/// docs/policy.md, each as `code`.
#[test]
fn every_event_kind_and_policy_key_is_documented() {
    let events = std::fs::read_to_string(root().join("docs/events.md")).unwrap();
    for kind in invigil_core::EventKind::ALL {
        assert!(
            events.contains(&format!("`{}`", kind.as_str())),
            "docs/events.md does not describe `{kind}`"
        );
    }
    let policy = std::fs::read_to_string(root().join("docs/policy.md")).unwrap();
    let keys = serde_json::to_value(invigil_core::Policy::default()).unwrap();
    for key in keys.as_object().unwrap().keys() {
        assert!(
            policy.contains(&format!("`{key}`")),
            "docs/policy.md does not describe `{key}`"
        );
    }
}

/// An executable on PATH, or `None` (the test is then skipped, loudly,
/// unless INVIGIL_REQUIRE_DEPLOY_TOOLS is set; scripts/setup installs them).
fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("INVIGIL_REQUIRE_DEPLOY_TOOLS").is_none(),
            "INVIGIL_REQUIRE_DEPLOY_TOOLS is set but {name} is not installed"
        );
        eprintln!("SKIPPED: {name} is not installed (scripts/setup test installs it)");
    }
    found
}

/// deploy/systemd/invigil.service is a unit systemd accepts without a
/// warning, and every flag it gives `invigil serve` exists.
#[test]
fn the_systemd_unit_is_valid() {
    let unit = std::fs::read_to_string(root().join("deploy/systemd/invigil.service")).unwrap();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_invigil"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let exec = unit.split("ExecStart=").nth(1).unwrap();
    let exec: String = exec
        .lines()
        .take_while(|l| !l.starts_with('#') && !l.contains('='))
        .collect::<Vec<_>>()
        .join(" ");
    let flags: Vec<&str> = exec
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(flags.len() >= 5, "{exec}");
    for flag in flags {
        assert!(help.contains(flag), "`invigil serve` has no {flag}");
    }
    // Every variable the unit uses is set in the example environment file.
    let env = std::fs::read_to_string(root().join("deploy/systemd/invigil.env")).unwrap();
    for var in exec
        .split("${")
        .skip(1)
        .map(|v| v.split('}').next().unwrap())
    {
        assert!(env.contains(&format!("\n{var}=")), "invigil.env sets {var}");
    }
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    // Verified as installed, with the binary where the unit expects it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invigil.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/invigil", env!("CARGO_BIN_EXE_invigil")),
    )
    .unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("invigil.service"))
        .collect();
    assert!(out.status.success() && complaints.is_empty(), "{stderr}");
}

/// deploy/haproxy.cfg is a configuration HAProxy accepts (with a
/// throwaway certificate where it expects the site's).
#[test]
fn the_haproxy_configuration_is_valid() {
    let (Some(haproxy), Some(openssl)) = (tool("haproxy"), tool("openssl")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let out = std::process::Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=exams.example.edu",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = dir.path().join("site.pem");
    let mut both = std::fs::read(&cert).unwrap();
    both.extend(std::fs::read(&key).unwrap());
    std::fs::write(&pem, both).unwrap();
    let config = std::fs::read_to_string(root().join("deploy/haproxy.cfg"))
        .unwrap()
        .replace(
            "/etc/haproxy/certs/exams.example.edu.pem",
            &pem.display().to_string(),
        );
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(haproxy)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("[WARNING]"), "{said}");
}
