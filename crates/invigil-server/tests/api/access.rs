//! Who may do what, and what bad input gets.

use serde_json::{json, Value};

use crate::both_databases;
use crate::common::{chained, TestServer};
use crate::hex_sha;

both_databases! {
    authorization_matrix => authorization_matrix;
    limits_and_malformed_input => limits_and_malformed_input;
}

async fn authorization_matrix(s: TestServer) {
    let proctor = s.proctor("carol").await;
    let (id_a, _token_a) = s.session("exam-1", "a").await;
    let (id_b, token_b) = s.session("exam-1", "b").await;
    let events_a = chained(&id_a, 2);
    let sha = "0".repeat(64);

    // No credentials: 401 everywhere but creation and health.
    let endpoints: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, "/api/v1/sessions".into()),
        (reqwest::Method::GET, format!("/api/v1/sessions/{id_a}")),
        (
            reqwest::Method::GET,
            format!("/api/v1/sessions/{id_a}/timeline"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{id_a}/events"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{id_a}/end"),
        ),
        (
            reqwest::Method::PUT,
            format!("/api/v1/sessions/{id_a}/media/{sha}?name=x"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/sessions/{id_a}/media/{sha}"),
        ),
        (reqwest::Method::GET, "/api/v1/alerts".into()),
        (reqwest::Method::GET, "/api/v1/auth/me".into()),
        (reqwest::Method::POST, "/api/v1/auth/logout".into()),
    ];
    for (method, path) in &endpoints {
        let r = s
            .http
            .request(method.clone(), s.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without credentials");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        for bad in ["ivc_nope", "ivp_nope", "garbage"] {
            let r = s
                .http
                .request(method.clone(), s.url(path))
                .bearer_auth(bad)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{method} {path} with token {bad}");
        }
    }

    // Another session's token cannot write (or read) this session.
    let (status, r) = s.append(&id_a, &token_b, &events_a).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = s
        .get(&format!("/api/v1/sessions/{id_a}"), Some(&token_b))
        .await;
    assert_eq!(status, 403);
    let r = s
        .http
        .put(s.url(&format!(
            "/api/v1/sessions/{id_a}/media/{}?name=x",
            hex_sha(b"x")
        )))
        .bearer_auth(&token_b)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .http
        .post(s.url(&format!("/api/v1/sessions/{id_a}/end")))
        .bearer_auth(&token_b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A candidate token on proctor endpoints: 403.
    for path in [
        "/api/v1/sessions".to_owned(),
        format!("/api/v1/sessions/{id_b}/timeline"),
        "/api/v1/alerts".to_owned(),
    ] {
        let (status, r) = s.get(&path, Some(&token_b)).await;
        assert_eq!(
            (status, r["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id_b}/media/{sha}")))
        .bearer_auth(&token_b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Proctors read but do not write candidate events.
    let (status, _) = s.append(&id_a, &proctor, &events_a).await;
    assert_eq!(status, 403);
    assert_eq!(s.get("/api/v1/sessions", Some(&proctor)).await.0, 200);

    // HTTP Basic for scripts; wrong password 401.
    let r = s
        .http
        .get(s.url("/api/v1/sessions"))
        .basic_auth("carol", Some("correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .http
        .get(s.url("/api/v1/sessions"))
        .basic_auth("carol", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "carol", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "mallory", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Sign-out ends the token.
    let r = s
        .http
        .post(s.url("/api/v1/auth/logout"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.get("/api/v1/sessions", Some(&proctor)).await.0, 401);
}

async fn limits_and_malformed_input(s: TestServer) {
    let (id, token) = s.session("exam-1", "limits").await;
    let post = |body: Vec<u8>| {
        s.http
            .post(s.url(&format!("/api/v1/sessions/{id}/events")))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Oversize batch: 413.
    let big = format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(2 << 20));
    let r = post(big.into_bytes()).await.unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_large");

    // Malformed JSON: 400 naming the field.
    let e0 = serde_json::to_value(&chained(&id, 1)[0]).unwrap();
    let mut bad_kind = e0.clone();
    bad_kind["kind"] = json!("candidate_teleported");
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"{not json".to_vec(), None),
        (b"".to_vec(), None),
        (br#"{"events":[]}"#.to_vec(), Some("events")),
        (
            serde_json::to_vec(&json!({"events": [bad_kind]})).unwrap(),
            Some("events[0].kind"),
        ),
        (
            serde_json::to_vec(&json!({"events": [e0.clone()], "extra": 1})).unwrap(),
            None,
        ),
        (
            serde_json::to_vec(&json!({"events": [{"v": 1}]})).unwrap(),
            Some("events[0]"),
        ),
        (
            serde_json::to_vec(&json!({"events": "no"})).unwrap(),
            Some("events"),
        ),
    ];
    for (body, field) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 400, "{shown}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].as_str().unwrap().len() > 10, "{v}");
        if let Some(field) = field {
            assert_eq!(v["error"]["field"], field, "{shown}: {v}");
        }
    }

    // Bad creation requests.
    for (body, field) in [
        (json!({"exam_id": "", "candidate_id": "c"}), "exam_id"),
        (
            json!({"exam_id": "e", "candidate_id": "c", "session_id": "../../x"}),
            "session_id",
        ),
        (
            json!({"exam_id": "e", "candidate_id": "c", "token": "ivc_short"}),
            "token",
        ),
        (json!({"exam_id": "e"}), ""),
    ] {
        let r = s
            .http
            .post(s.url("/api/v1/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(v["error"]["field"], field, "{v}");
        }
    }

    // Path-like or odd media names, digests that are not digests.
    let body = b"hello".to_vec();
    let sha = hex_sha(&body);
    for name in [
        "../../etc/passwd",
        "a/b",
        "..",
        ".hidden",
        "a\\b",
        "x%00y",
        &"n".repeat(200),
    ] {
        let r = s
            .http
            .put(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
            .query(&[("name", name)])
            .bearer_auth(&token)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "name {name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], "name", "{v}");
    }
    for digest in ["..%2F..%2Fetc%2Fpasswd", "ABCDEF", &"g".repeat(64)] {
        let r = s
            .http
            .put(s.url(&format!("/api/v1/sessions/{id}/media/{digest}?name=x")))
            .bearer_auth(&token)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            r.status() == 400 || r.status() == 404,
            "digest {digest}: {}",
            r.status()
        );
    }
    // Wrong digest for the body.
    let r = s
        .http
        .put(s.url(&format!(
            "/api/v1/sessions/{id}/media/{}?name=x",
            hex_sha(b"other")
        )))
        .bearer_auth(&token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing escaped the data directory.
    assert!(!s.dir.path().join("..").join("etc").exists());
}
