//! The server's API against a real server on loopback, on SQLite and on
//! PostgreSQL: ingest, idempotency, the hash chain, authorization, limits.

mod common;

use common::{chained, TestServer};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

both_databases! {
    ingest_is_idempotent => ingest_is_idempotent;
    tampering_is_rejected_and_recorded => tampering_is_rejected_and_recorded;
    authorization_matrix => authorization_matrix;
    limits_and_malformed_input => limits_and_malformed_input;
    media_round_trip => media_round_trip;
    alerts_reach_connected_proctors => alerts_reach_connected_proctors;
    session_creation_is_repeatable => session_creation_is_repeatable;
}

async fn ingest_is_idempotent(s: TestServer) {
    let proctor = s.proctor("alice").await;
    let (id, token) = s.session("exam-1", "cand-1").await;
    let events = chained(&id, 10);
    let (status, r) = s.append(&id, &token, &events[..6]).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"], 6);
    // The same batch again, and an overlapping one: nothing doubles.
    let (status, r) = s.append(&id, &token, &events[..6]).await;
    assert_eq!(
        (status, r["accepted"].clone(), r["duplicates"].clone()),
        (200, json!(0), json!(6))
    );
    let (status, r) = s.append(&id, &token, &events[4..]).await;
    assert_eq!(
        (status, r["accepted"].clone(), r["duplicates"].clone()),
        (200, json!(4), json!(2))
    );
    assert_eq!(r["head"], invigil_core::chain::event_hash(&events[9]));

    let timeline = s.timeline(&id, &proctor).await;
    let got: Vec<invigil_core::Event> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("hash");
            o.remove("received_ms");
            serde_json::from_value(e).unwrap()
        })
        .collect();
    assert_eq!(got, events);
    let session = &timeline["session"];
    assert_eq!(session["next_seq"], 10);
    assert_eq!(
        session["violations"],
        events
            .iter()
            .filter(|e| e.severity == invigil_core::Severity::Violation)
            .count()
    );
    assert_eq!(session["policy"]["absence_flag_s"], 5.0);

    // The candidate may read its own status.
    let (status, v) = s.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
    assert_eq!((status, v["next_seq"].clone()), (200, json!(10)));
}

async fn tampering_is_rejected_and_recorded(s: TestServer) {
    let proctor = s.proctor("bob").await;
    let (id, token) = s.session("exam-1", "cand-2").await;
    let events = chained(&id, 8);
    assert_eq!(s.append(&id, &token, &events[..4]).await.0, 200);

    // Edited: a stored event re-sent with other data.
    let mut edited = events[2].clone();
    edited.data.insert("n".into(), json!(99));
    let (status, r) = s.append(&id, &token, &[edited]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("event_altered")),
        "{r}"
    );

    // Edited and re-chained from there: the stored event still differs.
    let mut rechained = events.clone();
    rechained[3].data.insert("n".into(), json!(42));
    let mut chain =
        invigil_core::chain::Chain::after(invigil_core::chain::event_hash(&rechained[2]));
    for e in &mut rechained[3..] {
        chain.link(e);
    }
    let (status, r) = s.append(&id, &token, &rechained[3..]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("event_altered")),
        "{r}"
    );

    // Dropped: seq 4 missing.
    let (status, r) = s.append(&id, &token, &events[5..]).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("seq_gap")),
        "{r}"
    );
    assert_eq!(r["error"]["detail"]["expected_seq"], 4);

    // Reordered: 5 before 4.
    let reordered = vec![events[5].clone(), events[4].clone()];
    let (status, r) = s.append(&id, &token, &reordered).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("seq_gap")),
        "{r}"
    );

    // Swapped seqs but kept in order: the chain links no longer match.
    let mut swapped = vec![events[5].clone(), events[4].clone()];
    swapped[0].seq = 4;
    swapped[1].seq = 5;
    let (status, r) = s.append(&id, &token, &swapped).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("chain_broken")),
        "{r}"
    );

    // Unchained or malformed prev: 400 naming the field.
    let mut unchained = events[4].clone();
    unchained.prev = None;
    let (status, r) = s.append(&id, &token, &[unchained]).await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (400, Some("events[0].prev")),
        "{r}"
    );

    // A violation relabelled as info to dodge the alert stream.
    let mut downgraded = events[5].clone();
    downgraded.severity = invigil_core::Severity::Info;
    let (status, r) = s
        .append(&id, &token, &[events[4].clone(), downgraded])
        .await;
    assert_eq!(
        (status, r["error"]["field"].as_str()),
        (400, Some("events[1].severity")),
        "{r}"
    );

    // Nothing was harmed: the honest rest is still accepted.
    let (status, r) = s.append(&id, &token, &events[4..]).await;
    assert_eq!((status, r["accepted"].clone()), (200, json!(4)), "{r}");

    let timeline = s.timeline(&id, &proctor).await;
    assert_eq!(timeline["events"].as_array().unwrap().len(), 8);
    let notes: Vec<&str> = timeline["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["detail"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "event_altered",
            "event_altered",
            "seq_gap",
            "seq_gap",
            "chain_broken"
        ]
    );
    assert_eq!(timeline["session"]["rejected_batches"], 5);
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

async fn media_round_trip(s: TestServer) {
    let proctor = s.proctor("dave").await;
    let (id, token) = s.session("exam-1", "media").await;
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex_sha(&body);
    let put = || {
        s.http
            .put(s.url(&format!(
                "/api/v1/sessions/{id}/media/{sha}?name=clip-3.mp4&kind=clip"
            )))
            .bearer_auth(&token)
            .header("content-type", "video/mp4")
            .body(body.clone())
            .send()
    };
    assert_eq!(put().await.unwrap().status(), 201);
    assert_eq!(
        put().await.unwrap().status(),
        200,
        "re-upload is idempotent"
    );
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().as_ref(), body.as_slice());
    let timeline = s.timeline(&id, &proctor).await;
    assert_eq!(timeline["media"][0]["sha256"], sha);
    assert_eq!(timeline["media"][0]["kind"], "clip");
    assert_eq!(timeline["media"].as_array().unwrap().len(), 1);

    // Too large for the media limit: 413.
    let small = TestServer::start_with(common::Db::Sqlite, |c| c.max_media_bytes = 1000)
        .await
        .unwrap();
    let (id2, token2) = small.session("exam-1", "media").await;
    let r = small
        .http
        .put(small.url(&format!("/api/v1/sessions/{id2}/media/{sha}?name=big.bin")))
        .bearer_auth(&token2)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

async fn alerts_reach_connected_proctors(s: TestServer) {
    let proctor = s.proctor("erin").await;
    let (id, token) = s.session("exam-7", "cand-7").await;
    let r = s
        .http
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = r.bytes_stream();
    let events = chained(&id, 4); // started, warning, violation, returned
    assert_eq!(s.append(&id, &token, &events).await.0, 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while text.matches("event: alert").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("alerts arrive")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let alerts: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(alerts.len(), 2, "{text}");
    assert_eq!(alerts[0]["event"]["kind"], "absence_warning");
    assert_eq!(alerts[1]["event"]["kind"], "candidate_absent");
    assert_eq!(alerts[1]["session_id"], id);
    assert_eq!(alerts[1]["candidate_id"], "cand-7");
    assert!(text.contains(&format!("id: {id}:2")));

    // Another proctor's decision reaches this stream too.
    let frank = s.proctor("frank").await;
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{id}/decisions"),
            Some(&frank),
            r#"{"action": "dismiss", "event_seq": 2, "note": "a poster"}"#,
        )
        .await;
    assert_eq!(status, 201);
    let mut text = String::new();
    while !text.contains("event: decision") || !text.ends_with("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the decision arrives")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let decision: Value = text
        .lines()
        .skip_while(|l| *l != "event: decision")
        .find_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .unwrap();
    assert_eq!(decision["decision"]["proctor"], "frank");
    assert_eq!(decision["decision"]["action"], "dismiss");
    assert_eq!(decision["session"]["open_alerts"], 0);
}

async fn session_creation_is_repeatable(s: TestServer) {
    let session_id = "client-chosen-0001";
    let token = format!("ivc_{}", "ab".repeat(32));
    let body =
        json!({"session_id": session_id, "exam_id": "e", "candidate_id": "c", "token": token});
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["chain_origin"], invigil_core::chain::origin(session_id));
    // The same request again (its reply was lost): same answer, 200.
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Someone else claiming the id: 409.
    let other = json!({"session_id": session_id, "exam_id": "e", "candidate_id": "c", "token": format!("ivc_{}", "cd".repeat(32))});
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "session_exists");
    // Ending: the candidate may end its own session; events stop there.
    let r = s
        .http
        .post(s.url(&format!("/api/v1/sessions/{session_id}/end")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, r) = s.append(session_id, &token, &chained(session_id, 1)).await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (409, Some("session_ended"))
    );
}

fn hex_sha(body: &[u8]) -> String {
    invigil_core::chain::hex(&Sha256::digest(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route() {
    let s = TestServer::start(common::Db::Sqlite).await.unwrap();
    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/healthz", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions", "get"),
        ("/api/v1/sessions/{id}", "get"),
        ("/api/v1/sessions/{id}/events", "post"),
        ("/api/v1/sessions/{id}/media/{sha256}", "put"),
        ("/api/v1/sessions/{id}/media/{sha256}", "get"),
        ("/api/v1/sessions/{id}/end", "post"),
        ("/api/v1/sessions/{id}/decisions", "post"),
        ("/api/v1/sessions/{id}/timeline", "get"),
        ("/api/v1/alerts", "get"),
    ];
    for (path, method) in routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
        // And the route exists: anything but the fallback's 404 for an
        // unknown endpoint.
        let url = s.url(
            &path
                .replace("{id}", "x")
                .replace("{sha256}", &"0".repeat(64)),
        );
        let r = s
            .http
            .request(method.parse().unwrap(), url)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("no such endpoint"),
            "{method} {path} is documented but not routed"
        );
    }
    let (status, v) = s.get("/api/v1/nope", None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    // Every other GET is the console: its page, under a strict CSP, and no
    // data in it.
    let r = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("invigil console"));
    let r = s.http.get(s.url("/assets/nope.js")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.post(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
