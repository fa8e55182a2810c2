//! How long signing and verifying take (docs/performance.md, "Badges"):
//! `cargo run --release -p invigil-badges --example timing`.

use std::time::Instant;

use invigil_badges::credential::{identity_hash, Achievement, BadgeContent, Issuer};
use invigil_badges::key::SigningKey;
use invigil_badges::status::{Bitstring, Purpose, StatusEntry};
use invigil_badges::verify::{verify, Offline, Options};
use invigil_badges::{dates, proof};

fn main() {
    let key = SigningKey::from_seed([7; 32]);
    let did = key.public().did_key();
    let method = key.public().did_key_method();
    let content = |i: usize| BadgeContent {
        id: format!("urn:uuid:00000000-0000-4000-8000-{i:012}"),
        issuer: Issuer {
            id: did.clone(),
            name: "Example University".into(),
            url: Some("https://example.edu".into()),
        },
        achievement: Achievement {
            id: "https://badges.example.edu/badges/achievements/net101".into(),
            name: "Networking Fundamentals".into(),
            description: "Passed the proctored Networking Fundamentals exam.".into(),
            criteria: "Score 70% or more in the proctored exam.".into(),
            image: Some("https://badges.example.edu/badges/achievements/net101/image.png".into()),
        },
        identity_hash: identity_hash(&format!("c{i}@example.org"), "salt"),
        salt: "salt".into(),
        valid_from_ms: dates::parse("2026-06-01T09:00:00Z").unwrap(),
        valid_until_ms: None,
        status: vec![
            StatusEntry {
                list_url: "https://badges.example.edu/badges/status/1/revocation".into(),
                index: i,
                purpose: Purpose::Revocation,
            },
            StatusEntry {
                list_url: "https://badges.example.edu/badges/status/1/suspension".into(),
                index: i,
                purpose: Purpose::Suspension,
            },
        ],
    };
    let n = 200;
    let t = Instant::now();
    let signed: Vec<_> = (0..n)
        .map(|i| proof::sign(&content(i).to_json(), &key, &method, "2026-06-01T09:00:00Z").unwrap())
        .collect();
    let sign_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let opts = Options {
        email: Some("c1@example.org".into()),
        now_ms: dates::parse("2026-07-01T00:00:00Z").unwrap(),
        skip_status: true,
    };
    let t = Instant::now();
    for s in &signed {
        verify(s, &opts, &mut Offline);
    }
    let verify_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let mut bits = Bitstring::default();
    for i in (0..131_072).step_by(97) {
        bits.set(i, true).unwrap();
    }
    let t = Instant::now();
    let m = 20;
    let mut len = 0;
    for _ in 0..m {
        let doc = bits.credential(
            "https://badges.example.edu/badges/status/1/revocation",
            Purpose::Revocation,
            &did,
            0,
        );
        let signed = proof::sign(&doc, &key, &method, "2026-06-01T09:00:00Z").unwrap();
        len = signed.to_string().len();
    }
    let list_ms = t.elapsed().as_secs_f64() * 1e3 / m as f64;
    println!("badge: sign {sign_ms:.2} ms, verify {verify_ms:.2} ms (mean of {n}); status list of 131,072 entries (1,352 set): sign {list_ms:.2} ms, {len} bytes");
}
