//! invigil's badges against independent Open Badges 3.0 tools: the Digital
//! Credentials Consortium's verifier (`@digitalcredentials/verifier-core`,
//! bundled contexts, no network) and signer, from tests/badges (npm).
//! Needs Node.js; `npm ci` runs in tests/badges when its node_modules is
//! missing. Skipped without Node.js unless INVIGIL_REQUIRE_CHROMIUM is set
//! (CI), which requires every Node-based test.

use std::path::{Path, PathBuf};
use std::process::Command;

use invigil_badges::credential::{identity_hash, Achievement, BadgeContent, Issuer};
use invigil_badges::key::SigningKey;
use invigil_badges::{dates, proof};
use serde_json::Value;

fn tools() -> Option<PathBuf> {
    // The tests run on threads of one process: install once.
    static TOOLS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = TOOLS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/badges");
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node_ok
        && !dir
            .join("node_modules/@digitalcredentials/verifier-core")
            .is_dir()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "npm ci in {} failed",
            dir.display()
        );
    }
    if node_ok {
        return Some(dir);
    }
    assert!(
        std::env::var_os("INVIGIL_REQUIRE_CHROMIUM").is_none(),
        "INVIGIL_REQUIRE_CHROMIUM is set but Node.js is missing"
    );
    eprintln!("SKIPPED: badge interoperability (needs node)");
    None
}

fn node(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg("interop.mjs")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node {args:?}: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("node {args:?} printed {text}: {e}"))
}

fn unsigned(issuer: &str) -> Value {
    BadgeContent {
        id: "urn:uuid:0b4c1a52-2b4e-4c0e-8f4a-6f3e5a1d2c01".into(),
        issuer: Issuer {
            id: issuer.into(),
            name: "Example University".into(),
            url: None,
        },
        achievement: Achievement {
            id: "https://badges.example.edu/badges/achievements/1".into(),
            name: "Networking Fundamentals".into(),
            description: "Passed the proctored exam.".into(),
            criteria: "Score 70% or more.".into(),
            image: None,
        },
        identity_hash: identity_hash("ada@example.org", "s4lt"),
        salt: "s4lt".into(),
        valid_from_ms: dates::parse("2026-06-01T09:00:00Z").unwrap(),
        valid_until_ms: None,
        status: Vec::new(),
    }
    .to_json()
}

fn log_entry<'a>(result: &'a Value, id: &str) -> Option<&'a Value> {
    result["log"].as_array()?.iter().find(|e| e["id"] == id)
}

#[test]
fn independent_verifier_accepts_ours_and_rejects_tampering() {
    let Some(dir) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::from_seed([7; 32]);
    let did = key.public().did_key();
    let signed = proof::sign(
        &unsigned(&did),
        &key,
        &key.public().did_key_method(),
        "2026-06-01T09:00:00Z",
    )
    .unwrap();
    let good = tmp.path().join("good.json");
    std::fs::write(&good, signed.to_string()).unwrap();
    let r = node(&dir, &["verify", good.to_str().unwrap()]);
    assert_eq!(
        log_entry(&r, "valid_signature").map(|e| &e["valid"]),
        Some(&Value::Bool(true)),
        "{r}"
    );
    assert_eq!(
        log_entry(&r, "expiration").map(|e| &e["valid"]),
        Some(&Value::Bool(true)),
        "{r}"
    );
    assert!(r.get("errors").is_none(), "{r}");

    for (what, path, value) in [
        (
            "name",
            "/credentialSubject/achievement/name",
            Value::from("Brain Surgery"),
        ),
        (
            "recipient",
            "/credentialSubject/identifier/0/identityHash",
            Value::from(identity_hash("eve@example.org", "s4lt")),
        ),
        ("date", "/validFrom", Value::from("2020-01-01T00:00:00Z")),
    ] {
        let mut bad = signed.clone();
        *bad.pointer_mut(path).unwrap() = value;
        let file = tmp.path().join(format!("bad-{what}.json"));
        std::fs::write(&file, bad.to_string()).unwrap();
        let r = node(&dir, &["verify", file.to_str().unwrap()]);
        assert_eq!(r["errors"][0]["name"], "invalid_signature", "{what}: {r}");
    }
}

#[test]
fn independent_signer_gives_the_same_proof() {
    let Some(dir) = tools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::from_seed([7; 32]);
    let did = key.public().did_key();
    assert_eq!(
        did,
        "did:key:z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z"
    );
    let doc = unsigned(&did);
    let file = tmp.path().join("unsigned.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let theirs = node(
        &dir,
        &[
            "sign",
            file.to_str().unwrap(),
            &"07".repeat(32),
            "2026-06-01T09:00:00Z",
        ],
    );
    let ours = proof::sign(
        &doc,
        &key,
        &key.public().did_key_method(),
        "2026-06-01T09:00:00Z",
    )
    .unwrap();
    assert_eq!(
        theirs["proof"], ours["proof"],
        "Ed25519 is deterministic: equal proofs mean equal canonical forms"
    );
    // And what they signed, we verify.
    let v = invigil_badges::verify::verify(
        &theirs,
        &invigil_badges::verify::Options {
            email: Some("ada@example.org".into()),
            now_ms: dates::parse("2026-07-01T00:00:00Z").unwrap(),
            skip_status: true,
        },
        &mut invigil_badges::verify::Offline,
    );
    assert_eq!(v.verdict, invigil_badges::verify::Verdict::Valid, "{v:#?}");
}
