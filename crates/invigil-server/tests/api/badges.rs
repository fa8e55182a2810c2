//! Verifiable badges on the server (issue 16): an admin defines the exam's
//! achievement and records passes, the server issues signed Open Badges
//! 3.0 credentials; invalidating a session revokes its badge; admins
//! suspend, reinstate and revoke; the public page, credential, baked image,
//! status lists and DID document need no sign-in.

use std::collections::HashMap;

use invigil_badges::verify::{self, Lookup, Options, Verdict};
use serde_json::{json, Value};

use crate::common::{self, token, unique, TestServer};

async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let r = s
        .http
        .request(method, s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(s: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    send(s, reqwest::Method::POST, path, token, body).await
}

/// Starts and ends candidate `who`'s session; returns (session id, token).
async fn sit(s: &TestServer, issued: &Value, who: &str, end: bool) -> (String, String) {
    let code = issued["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["candidate_id"] == who)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (sid, tok) = (unique("sess"), token());
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&json!({"launch_code": code, "session_id": sid, "token": tok}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    if end {
        let (status, v) = post(s, &format!("/api/v1/sessions/{sid}/end"), &tok, json!({})).await;
        assert_eq!(status, 200, "{v}");
    }
    (sid, tok)
}

/// What a verifier would fetch, fetched from the test server beforehand.
#[derive(Default)]
struct Fetched(HashMap<String, Value>);

impl Lookup for Fetched {
    fn did_document(&mut self, _did: &str, url: &str) -> Result<Value, String> {
        let url = url.replacen("https://", "http://", 1);
        self.0
            .get(&url)
            .cloned()
            .ok_or_else(|| format!("not fetched: {url}"))
    }
    fn status_list(&mut self, url: &str) -> Result<Value, String> {
        self.0
            .get(url)
            .cloned()
            .ok_or_else(|| format!("not fetched: {url}"))
    }
}

/// Verifies a credential as an outside verifier would: status lists and
/// the DID document fetched from the server, no sign-in.
async fn check(s: &TestServer, credential: &Value, email: &str) -> verify::Verification {
    let mut fetched = Fetched::default();
    let mut urls: Vec<String> = invigil_badges::status::StatusEntry::read_all(credential)
        .unwrap()
        .into_iter()
        .map(|e| e.list_url)
        .collect();
    let issuer = credential["issuer"]["id"].as_str().unwrap();
    if issuer.starts_with("did:web:") {
        urls.push(
            verify::did_web_url(issuer)
                .unwrap()
                .replacen("https://", "http://", 1),
        );
    }
    for url in urls {
        let r = s.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        fetched.0.insert(url, r.json().await.unwrap());
    }
    let options = Options {
        email: Some(email.into()),
        now_ms: invigil_server::now_ms(),
        skip_status: false,
    };
    verify::verify(credential, &options, &mut fetched)
}

async fn public_json(s: &TestServer, url: &str) -> Value {
    let r = s.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

async fn flow(s: TestServer) {
    let admin = s.admin(&unique("admin")).await;
    let proctor = s.proctor(&unique("reader")).await;
    let exam_id = unique("net101");
    let now = invigil_server::now_ms();
    let (status, v) = post(
        &s,
        "/api/v1/exams",
        &admin,
        json!({"id": exam_id, "title": "Networking", "opens_ms": now - 60_000, "closes_ms": now + 3_600_000,
               "policy": {}, "checkin": {"face": false, "id": false, "room": false}, "aids": {}}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let roster = "c1,Ada Lovelace,Ada@Example.org\nc2,Alan Turing,alan@example.org\nc3,No Mail,\n\
                  c5,Eve,eve@example.org\nc6,Live,live@example.org\n";
    let r = s
        .http
        .post(s.url(&format!("/api/v1/exams/{exam_id}/roster")))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(roster)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let issued: Value = r.json().await.unwrap();
    let (s1, _) = sit(&s, &issued, "c1", true).await;
    let (s2, t2) = sit(&s, &issued, "c2", true).await;
    sit(&s, &issued, "c3", true).await;
    let (s5, _) = sit(&s, &issued, "c5", true).await;
    sit(&s, &issued, "c6", false).await;

    let passes = format!("/api/v1/exams/{exam_id}/passes");
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c1"]})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("no_achievement")),
        "{v}"
    );

    // The achievement: admins only, checked fields and image.
    let ach = format!("/api/v1/exams/{exam_id}/achievement");
    let good = json!({"name": "Networking Fundamentals", "description": "Passed the proctored exam.",
                      "criteria": "Score 70% or more in the proctored exam.", "valid_months": 36});
    let (status, _) = send(&s, reqwest::Method::PUT, &ach, &proctor, good.clone()).await;
    assert_eq!(status, 403);
    for (bad, field) in [
        (json!({"name": "", "criteria": "x"}), "name"),
        (
            json!({"name": "n", "criteria": "x", "image_png_base64": "bm90IGEgcG5n"}),
            "image_png_base64",
        ),
        (
            json!({"name": "n", "criteria": "x", "image_png_base64": "%%%"}),
            "image_png_base64",
        ),
        (
            json!({"name": "n", "criteria": "x", "valid_months": 0}),
            "valid_months",
        ),
    ] {
        let (status, v) = send(&s, reqwest::Method::PUT, &ach, &admin, bad).await;
        assert_eq!(
            (status, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{v}"
        );
    }
    let (status, v) = send(&s, reqwest::Method::PUT, &ach, &admin, good).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["has_image"], false);

    // All or none: c3 has no email, c4 is not enrolled, c5 ... fine.
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c1", "c3"]})).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"c3\" has no email"),
        "{v}"
    );
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c4"]})).await;
    assert!(
        status == 400
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not enrolled"),
        "{v}"
    );
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c6"]})).await;
    assert!(
        status == 400
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("has not ended"),
        "{v}"
    );
    let (status, v) = s
        .get(&format!("/api/v1/exams/{exam_id}/badges"), Some(&proctor))
        .await;
    assert_eq!(
        (status, v["badges"].as_array().unwrap().len()),
        (200, 0),
        "nothing issued: {v}"
    );
    let (status, _) = post(&s, &passes, &proctor, json!({"candidate_ids": ["c1"]})).await;
    assert_eq!(status, 403);

    // An invalidated session gets no badge.
    let (status, v) = post(
        &s,
        &format!("/api/v1/sessions/{s5}/decisions"),
        &proctor,
        json!({"action": "invalidate", "note": "a phone in view throughout"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c5"]})).await;
    assert!(
        status == 400
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalidated"),
        "{v}"
    );

    // c1 by id, then c1 and c2 from a results CSV (c3 failed).
    let (status, v) = post(&s, &passes, &admin, json!({"candidate_ids": ["c1"]})).await;
    assert_eq!(status, 201, "{v}");
    let b1 = v["issued"][0].clone();
    assert_eq!(
        (b1["candidate_id"].as_str(), b1["session_id"].as_str()),
        (Some("c1"), Some(s1.as_str()))
    );
    let r = s
        .http
        .post(s.url(&passes))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("candidate_id,score,passed\nc1,81,yes\nc2,77,yes\nc3,40,no\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["issued"].as_array().unwrap().len(),
            v["already"].as_array().unwrap().len(),
            v["not_passed"].as_u64()
        ),
        (1, 1, Some(1)),
        "{v}"
    );
    let b2 = v["issued"][0].clone();
    assert_eq!(v["already"][0]["id"], b1["id"]);

    // The credential: public, signed, naming nobody in clear.
    let c1: Value = public_json(&s, b1["credential_url"].as_str().unwrap()).await;
    let text = c1.to_string().to_lowercase();
    for secret in ["ada@", "lovelace", "\"c1\"", &s1.to_lowercase()] {
        assert!(!text.contains(secret), "{secret} in the credential: {text}");
    }
    assert_eq!(
        c1["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(
        c1["credentialSubject"]["achievement"]["name"],
        "Networking Fundamentals"
    );
    assert!(c1["validUntil"].is_string());
    let v = check(&s, &c1, "ada@example.org").await;
    assert_eq!(v.verdict, Verdict::Valid, "{v:#?}");
    let v = check(&s, &c1, "alan@example.org").await;
    assert!(
        v.verdict == Verdict::Invalid && v.reason().contains("not issued to"),
        "{v:#?}"
    );
    // The candidate's own token reads its badge; another's does not.
    let (status, v) = s
        .get(&format!("/api/v1/sessions/{s2}/badge"), Some(&t2))
        .await;
    assert_eq!((status, v["id"].clone()), (200, b2["id"].clone()), "{v}");
    let (status, _) = s
        .get(&format!("/api/v1/sessions/{s1}/badge"), Some(&t2))
        .await;
    assert_eq!(status, 403);

    // The baked PNG carries the same credential.
    let r = s
        .http
        .get(b1["png_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    let baked: Value =
        serde_json::from_str(&invigil_badges::bake::unbake(&png).unwrap().unwrap()).unwrap();
    assert_eq!(baked, c1);

    // The public page: badge facts, nothing about the candidate or session.
    let page = s
        .http
        .get(b1["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Networking Fundamentals") && html.contains("id=\"status\">Valid<"),
        "{html}"
    );
    for secret in ["Lovelace", "ada@", ">c1<", &s1, "phone"] {
        assert!(!html.contains(secret), "{secret} on the page");
    }
    let verify_form = |email: &str| {
        s.http
            .post(b1["url"].as_str().unwrap())
            .form(&[("email", email)])
            .send()
    };
    let html = verify_form(" ADA@example.org")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("was issued to") && html.contains("is valid"),
        "{html}"
    );
    let html = verify_form("mallory@example.org")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("was not issued to mallory@example.org"),
        "{html}"
    );
    let html = verify_form("<script>alert(1)</script>")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<script>") && html.contains("&lt;script&gt;"),
        "escaped"
    );
    let r = s
        .http
        .get(s.url("/badges/00000000-0000-4000-8000-000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Invalidating c1's session revokes its badge, in the same decision.
    let (status, v) = post(
        &s,
        &format!("/api/v1/sessions/{s1}/decisions"),
        &proctor,
        json!({"action": "invalidate", "note": "someone else answered"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (_, list) = s
        .get(&format!("/api/v1/exams/{exam_id}/badges"), Some(&proctor))
        .await;
    let row = list["badges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == b1["id"])
        .unwrap()
        .clone();
    assert_eq!(
        (row["status"].as_str(), row["status_reason"].as_str()),
        (Some("revoked"), Some("the session was invalidated"))
    );
    let v = check(&s, &c1, "ada@example.org").await;
    assert_eq!(v.verdict, Verdict::Revoked, "{v:#?}");
    let html = s
        .http
        .get(b1["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Revoked by its issuer") && !html.contains("someone else answered"),
        "{html}"
    );

    // Suspend, reinstate, revoke (final), by admins with a reason.
    let status_of = format!("/api/v1/badges/{}/status", b2["id"].as_str().unwrap());
    let c2: Value = public_json(&s, b2["credential_url"].as_str().unwrap()).await;
    let (status, _) = post(
        &s,
        &status_of,
        &proctor,
        json!({"status": "suspended", "reason": "appeal"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, v) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "suspended", "reason": " "}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("reason"))
    );
    let (status, v) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "suspended", "reason": "under appeal"}),
    )
    .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("suspended")),
        "{v}"
    );
    assert_eq!(
        check(&s, &c2, "alan@example.org").await.verdict,
        Verdict::Suspended
    );
    let (status, _) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "suspended", "reason": "again"}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "valid", "reason": "appeal upheld"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        check(&s, &c2, "alan@example.org").await.verdict,
        Verdict::Valid
    );
    let (status, _) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "revoked", "reason": "fraud found"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        check(&s, &c2, "alan@example.org").await.verdict,
        Verdict::Revoked
    );
    let (status, v) = post(
        &s,
        &status_of,
        &admin,
        json!({"status": "valid", "reason": "oops"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("badge_revoked"))
    );
    let (status, _) = post(
        &s,
        "/api/v1/badges/nope/status",
        &admin,
        json!({"status": "revoked", "reason": "x"}),
    )
    .await;
    assert_eq!(status, 404);

    // Status list URLs that do not exist; did:key servers have no did.json.
    for path in [
        "/badges/status/999999/revocation",
        "/badges/status/1/nope",
        "/badges/status/x/revocation",
        "/.well-known/did.json",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // Badge image of an exam without achievement: 404.
    let r = s
        .http
        .get(s.url("/badges/achievements/none/image.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

crate::both_databases! {
    badges_are_issued_verified_and_revoked => flow;
}

/// A did:web issuer: the DID document lists every key, old badges keep
/// verifying after a rotation (the server restarted on the same data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn did_web_issuer_survives_a_key_rotation() {
    let Some(s) = TestServer::start_with(common::Db::Sqlite, |c| {
        c.badge_did = Some(invigil_server::badges::DidMethod::Web);
        c.badge_issuer_name = "Example University".into();
    })
    .await
    else {
        return;
    };
    let admin = s.admin("web-admin").await;
    let exam_id = "webexam";
    let now = invigil_server::now_ms();
    let (status, _) = post(
        &s,
        "/api/v1/exams",
        &admin,
        json!({"id": exam_id, "title": "Web", "opens_ms": now - 60_000, "closes_ms": now + 3_600_000,
               "policy": {}, "checkin": {"face": false, "id": false, "room": false}, "aids": {}}),
    )
    .await;
    assert_eq!(status, 201);
    let r = s
        .http
        .post(s.url(&format!("/api/v1/exams/{exam_id}/roster")))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("w1,W One,w1@example.org\n")
        .send()
        .await
        .unwrap();
    let issued: Value = r.json().await.unwrap();
    sit(&s, &issued, "w1", true).await;
    let png = invigil_badges::bake::default_image(200, [200, 40, 40]);
    use base64::Engine;
    let (status, v) = send(
        &s,
        reqwest::Method::PUT,
        &format!("/api/v1/exams/{exam_id}/achievement"),
        &admin,
        json!({"name": "Web Badge", "criteria": "Pass.", "image_png_base64": base64::engine::general_purpose::STANDARD.encode(&png)}),
    )
    .await;
    assert_eq!((status, v["has_image"].as_bool()), (200, Some(true)), "{v}");
    let (status, v) = post(
        &s,
        &format!("/api/v1/exams/{exam_id}/passes"),
        &admin,
        json!({"candidate_ids": ["w1"]}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let badge = v["issued"][0].clone();
    let cred: Value = public_json(&s, badge["credential_url"].as_str().unwrap()).await;
    let did = format!(
        "did:web:{}",
        s.base.trim_start_matches("http://").replace(':', "%3A")
    );
    assert_eq!(cred["issuer"]["id"], did);
    assert_eq!(cred["issuer"]["name"], "Example University");
    assert_eq!(cred["proof"]["verificationMethod"], format!("{did}#key-1"));
    assert_eq!(
        check(&s, &cred, "w1@example.org").await.verdict,
        Verdict::Valid
    );
    // The uploaded image is served and baked.
    let r = s
        .http
        .get(badge["png_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let baked = r.bytes().await.unwrap();
    assert_eq!(invigil_badges::bake::check_png(&baked).unwrap(), (200, 200));

    // Rotate: a new key signs, the old one stays in the DID document.
    let data = s.dir.path().to_owned();
    assert_eq!(
        invigil_server::badges::BadgeKeys::rotate(&data).unwrap(),
        "key-2"
    );
    let base = s.base.clone();
    let listen: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let TestServer { server, dir, .. } = s;
    server.shutdown().await.unwrap();
    let mut config = invigil_server::Config::new(dir.path(), listen);
    config.badge_did = Some(invigil_server::badges::DidMethod::Web);
    let server = invigil_server::Server::start(config).await.unwrap();
    let s = TestServer {
        server,
        base,
        http: reqwest::Client::new(),
        dir,
    };
    let doc = public_json(&s, &s.url("/.well-known/did.json")).await;
    assert_eq!(doc["id"], did);
    assert_eq!(doc["assertionMethod"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(
        check(&s, &cred, "w1@example.org").await.verdict,
        Verdict::Valid,
        "the old badge still verifies"
    );
}
