//! Issue, verify, tamper, revoke: the badge life cycle on the library alone.

use std::collections::HashMap;

use invigil_badges::credential::{identity_hash, Achievement, BadgeContent, Issuer};
use invigil_badges::key::SigningKey;
use invigil_badges::status::{Bitstring, Purpose, StatusEntry};
use invigil_badges::verify::{self, did_document, Lookup, Offline, Options, Verdict};
use invigil_badges::{bake, dates, proof};
use serde_json::Value;

const LIST: &str = "https://badges.example.edu/badges/status/revocation/1";
const SUSP: &str = "https://badges.example.edu/badges/status/suspension/1";

fn content(issuer: &str) -> BadgeContent {
    BadgeContent {
        id: "urn:uuid:6c1d3e2a-8f00-4c1b-9a55-0d2d7c3b1e01".into(),
        issuer: Issuer {
            id: issuer.into(),
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
        identity_hash: identity_hash("ada@example.org", "pepper-1"),
        salt: "pepper-1".into(),
        valid_from_ms: dates::parse("2026-06-01T09:00:00Z").unwrap(),
        valid_until_ms: Some(dates::parse("2029-06-01T09:00:00Z").unwrap()),
        status: vec![
            StatusEntry {
                list_url: LIST.into(),
                index: 17,
                purpose: Purpose::Revocation,
            },
            StatusEntry {
                list_url: SUSP.into(),
                index: 17,
                purpose: Purpose::Suspension,
            },
        ],
    }
}

fn issue(key: &SigningKey, issuer: &str, method: &str) -> Value {
    proof::sign(
        &content(issuer).to_json(),
        key,
        method,
        "2026-06-01T09:00:00Z",
    )
    .unwrap()
}

/// Answers from maps, as a server's tables would.
#[derive(Default)]
struct Served {
    dids: HashMap<String, Value>,
    lists: HashMap<String, Value>,
}

impl Lookup for Served {
    fn did_document(&mut self, did: &str, _url: &str) -> Result<Value, String> {
        self.dids.get(did).cloned().ok_or_else(|| "404".into())
    }
    fn status_list(&mut self, url: &str) -> Result<Value, String> {
        self.lists.get(url).cloned().ok_or_else(|| "404".into())
    }
}

fn lists(
    key: &SigningKey,
    issuer: &str,
    method: &str,
    revoked: &[usize],
    suspended: &[usize],
) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for (url, purpose, set) in [
        (LIST, Purpose::Revocation, revoked),
        (SUSP, Purpose::Suspension, suspended),
    ] {
        let mut bits = Bitstring::default();
        for &i in set {
            bits.set(i, true).unwrap();
        }
        let unsigned = bits.credential(
            url,
            purpose,
            issuer,
            dates::parse("2026-06-01T09:00:00Z").unwrap(),
        );
        out.insert(
            url.to_string(),
            proof::sign(&unsigned, key, method, "2026-06-01T09:00:00Z").unwrap(),
        );
    }
    out
}

fn now() -> i64 {
    dates::parse("2026-11-30T12:00:00Z").unwrap()
}

fn opts(email: Option<&str>) -> Options {
    Options {
        email: email.map(str::to_string),
        now_ms: now(),
        skip_status: false,
    }
}

fn did_key_setup() -> (SigningKey, String, String, Served) {
    let key = SigningKey::from_seed([7; 32]);
    let did = key.public().did_key();
    let method = key.public().did_key_method();
    let served = Served {
        lists: lists(&key, &did, &method, &[], &[]),
        ..Default::default()
    };
    (key, did, method, served)
}

#[test]
fn a_fresh_badge_verifies_for_its_earner() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);
    let v = verify::verify(&badge, &opts(Some("Ada@Example.org")), &mut served);
    assert_eq!(v.verdict, Verdict::Valid, "{v:#?}");
    assert_eq!(v.achievement.as_deref(), Some("Networking Fundamentals"));
    assert_eq!(v.issuer.as_deref(), Some(did.as_str()));
    assert!(v.checks.iter().all(|c| c.ok == Some(true)), "{v:#?}");
    // The recipient is not in the badge in clear.
    assert!(!badge.to_string().to_lowercase().contains("ada@example.org"));
}

#[test]
fn proof_is_reproducible_for_a_fixed_key_and_time() {
    let (key, did, method, _) = did_key_setup();
    let a = issue(&key, &did, &method);
    let b = issue(&key, &did, &method);
    assert_eq!(a["proof"], b["proof"]);
    assert_eq!(method, "did:key:z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z#z6MkvDqGT54cXesYGvABpF1UapVNwjCqRcafi4Px6Thv5T3Z");
}

#[test]
fn tampered_fields_fail_the_signature() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);
    type Edit = (&'static str, fn(&mut Value));
    let edits: &[Edit] = &[
        ("achievement name", |b| {
            b["credentialSubject"]["achievement"]["name"] = "Brain Surgery".into()
        }),
        ("recipient hash", |b| {
            b["credentialSubject"]["identifier"][0]["identityHash"] =
                identity_hash("eve@example.org", "pepper-1").into()
        }),
        ("validUntil", |b| {
            b["validUntil"] = "2099-01-01T00:00:00Z".into()
        }),
        ("issuer name", |b| b["issuer"]["name"] = "Harvard".into()),
        ("status dropped", |b| {
            b.as_object_mut().unwrap().remove("credentialStatus");
        }),
        ("proof date", |b| {
            b["proof"]["created"] = "2026-06-02T09:00:00Z".into()
        }),
    ];
    for (what, edit) in edits {
        let mut bad = badge.clone();
        edit(&mut bad);
        let v = verify::verify(&bad, &opts(Some("ada@example.org")), &mut served);
        assert_eq!(v.verdict, Verdict::Invalid, "{what}: {v:#?}");
        assert!(
            v.reason().contains("invalid signature"),
            "{what}: {}",
            v.reason()
        );
    }
}

#[test]
fn wrong_email_expired_and_unknown_key_fail_with_reasons() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);

    let v = verify::verify(&badge, &opts(Some("eve@example.org")), &mut served);
    assert_eq!(v.verdict, Verdict::Invalid);
    assert!(
        v.reason().contains("not issued to \"eve@example.org\""),
        "{}",
        v.reason()
    );

    let late = Options {
        now_ms: dates::parse("2030-01-01T00:00:00Z").unwrap(),
        ..opts(None)
    };
    let v = verify::verify(&badge, &late, &mut served);
    assert_eq!(v.verdict, Verdict::Expired, "{v:#?}");
    assert!(
        v.reason().contains("expired on 2029-06-01"),
        "{}",
        v.reason()
    );

    let early = Options {
        now_ms: dates::parse("2026-01-01T00:00:00Z").unwrap(),
        ..opts(None)
    };
    assert_eq!(
        verify::verify(&badge, &early, &mut served).verdict,
        Verdict::NotYetValid
    );

    // Signed by another key, claiming the issuer's name.
    let other = SigningKey::from_seed([8; 32]);
    let forged = issue(&other, &did, &other.public().did_key_method());
    let v = verify::verify(&forged, &opts(None), &mut served);
    assert_eq!(v.verdict, Verdict::Invalid);
    assert!(
        v.reason().contains("does not belong to the issuer"),
        "{}",
        v.reason()
    );
    // ... or the issuer's method with another key's signature.
    let forged = issue(&other, &did, &method);
    assert!(verify::verify(&forged, &opts(None), &mut served)
        .reason()
        .contains("invalid signature"));

    // A did:web issuer whose document cannot be fetched.
    let web = issue(
        &key,
        "did:web:badges.example.edu",
        "did:web:badges.example.edu#key-1",
    );
    let v = verify::verify(&web, &opts(None), &mut Offline);
    assert!(
        v.reason().contains("DID document could not be fetched"),
        "{}",
        v.reason()
    );
}

#[test]
fn revocation_and_suspension_show_in_the_status() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);
    served.lists = lists(&key, &did, &method, &[16, 18], &[]);
    assert_eq!(
        verify::verify(&badge, &opts(None), &mut served).verdict,
        Verdict::Valid,
        "neighbours do not count"
    );
    served.lists = lists(&key, &did, &method, &[17], &[]);
    let v = verify::verify(&badge, &opts(None), &mut served);
    assert_eq!(v.verdict, Verdict::Revoked, "{v:#?}");
    served.lists = lists(&key, &did, &method, &[], &[17]);
    assert_eq!(
        verify::verify(&badge, &opts(None), &mut served).verdict,
        Verdict::Suspended
    );

    // A status list signed by someone else is not believed.
    let other = SigningKey::from_seed([8; 32]);
    served.lists = lists(
        &other,
        &other.public().did_key(),
        &other.public().did_key_method(),
        &[],
        &[],
    );
    let v = verify::verify(&badge, &opts(None), &mut served);
    assert_eq!(v.verdict, Verdict::Invalid);
    assert!(
        v.reason().contains("could not be checked"),
        "{}",
        v.reason()
    );

    // Offline: status not checked, the rest still verifies.
    let off = Options {
        skip_status: true,
        ..opts(None)
    };
    let v = verify::verify(&badge, &off, &mut Offline);
    assert_eq!(v.verdict, Verdict::Valid);
    assert!(v
        .checks
        .iter()
        .any(|c| c.check == "status" && c.ok.is_none()));
    // Online but unreachable: not valid.
    assert_eq!(
        verify::verify(&badge, &opts(None), &mut Offline).verdict,
        Verdict::Invalid
    );
}

#[test]
fn did_web_issuer_with_rotated_keys() {
    let did = "did:web:badges.example.edu";
    let old = SigningKey::from_seed([1; 32]);
    let new = SigningKey::from_seed([2; 32]);
    let before = issue(&old, did, &format!("{did}#key-1"));
    let after = issue(&new, did, &format!("{did}#key-2"));
    let mut served = Served {
        lists: lists(&new, did, &format!("{did}#key-2"), &[], &[]),
        ..Default::default()
    };
    served.dids.insert(
        did.into(),
        did_document(
            did,
            &[
                ("key-1".into(), old.public()),
                ("key-2".into(), new.public()),
            ],
        ),
    );
    for badge in [&before, &after] {
        let v = verify::verify(badge, &opts(Some("ada@example.org")), &mut served);
        assert_eq!(v.verdict, Verdict::Valid, "{v:#?}");
    }
    // A key dropped from the document no longer verifies what it signed.
    served.dids.insert(
        did.into(),
        did_document(did, &[("key-2".into(), new.public())]),
    );
    let v = verify::verify(&before, &opts(None), &mut served);
    assert!(
        v.reason()
            .contains("not one of the issuer's assertion methods"),
        "{}",
        v.reason()
    );
}

#[test]
fn a_baked_badge_carries_the_credential() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);
    let png = bake::bake(&bake::default_image(128, [20, 80, 160]), &badge.to_string()).unwrap();
    let text = bake::unbake(&png).unwrap().unwrap();
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        verify::verify(&back, &opts(Some("ada@example.org")), &mut served).verdict,
        Verdict::Valid
    );
}

#[test]
fn malformed_documents_are_invalid_not_panics() {
    let (key, did, method, mut served) = did_key_setup();
    let badge = issue(&key, &did, &method);
    let mut cases: Vec<Value> = vec![
        Value::Null,
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!({"@context": "https://evil.example/context.json"}),
    ];
    let mut unknown_ctx = badge.clone();
    unknown_ctx["@context"] = serde_json::json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://evil.example/ctx"
    ]);
    cases.push(unknown_ctx);
    let mut no_proof = badge.clone();
    no_proof.as_object_mut().unwrap().remove("proof");
    cases.push(no_proof);
    let mut bad_sig = badge.clone();
    bad_sig["proof"]["proofValue"] = "z1111".into();
    cases.push(bad_sig);
    let mut other_suite = badge.clone();
    other_suite["proof"]["cryptosuite"] = "ecdsa-rdfc-2019".into();
    cases.push(other_suite);
    let mut bad_status = badge.clone();
    bad_status["credentialStatus"] = serde_json::json!({"type": "BitstringStatusListEntry"});
    cases.push(bad_status);
    for case in cases {
        let v = verify::verify(&case, &opts(Some("ada@example.org")), &mut served);
        assert_eq!(v.verdict, Verdict::Invalid, "{case}");
        assert!(!v.reason().is_empty());
    }
}
