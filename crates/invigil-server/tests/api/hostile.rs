//! What a hostile client tries (issue 12): planting a script as a photo,
//! guessing passwords, filling the disk, forging a proctor's writes,
//! oversized fields and times, and writes after the end.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, chained, Db, TestServer};
use crate::hex_sha;

const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9";

async fn put_media(
    s: &TestServer,
    id: &str,
    token: &str,
    kind: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let r = s
        .http
        .put(s.url(&format!(
            "/api/v1/sessions/{id}/media/{}?name=face.jpg&kind={kind}",
            hex_sha(body)
        )))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_types_come_from_the_bytes_and_are_served_sandboxed() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let proctor = s.proctor("ada").await;
    let (id, token) = s.session("exam-x", "cand-x").await;
    // A script dressed as a photo: refused, whatever its Content-Type says.
    for (ctype, body) in [
        (
            "text/html",
            &b"<html><script>fetch('/api/v1/sessions')</script>"[..],
        ),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        ),
        ("image/jpeg", b"<script>alert(1)</script>"),
    ] {
        let (status, v) = put_media(&s, &id, &token, "face_photo", ctype, body).await;
        assert_eq!(status, 400, "{ctype}: {v}");
        assert_eq!(v["error"]["field"], "body", "{v}");
    }
    // A JPEG is no clip.
    let (status, _) = put_media(&s, &id, &token, "clip", "video/mp4", JPEG).await;
    assert_eq!(status, 400);
    // A real JPEG sent as text/html is stored as what it is.
    let (status, _) = put_media(&s, &id, &token, "face_photo", "text/html", JPEG).await;
    assert_eq!(status, 201);
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{}", hex_sha(JPEG))))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-disposition"], "inline");

    // A row stored before uploads were checked (an older server) is served
    // as a download, never rendered.
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let sha = hex_sha(&html);
    let digest = invigil_server::store::Sha256Hex::parse(&sha).unwrap();
    let state = s.server.state();
    invigil_server::store::put_bytes(state.store().as_ref(), &digest, &html, s.dir.path())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO media (session_id, sha256, name, kind, content_type, bytes, received_ms) \
         VALUES ($1, $2, 'old \"page', 'face_photo', 'text/html', $3, 0)",
    )
    .bind(&id)
    .bind(&sha)
    .bind(html.len() as i64)
    .execute(&s.server.state().db().pool)
    .await
    .unwrap();
    let r = s
        .http
        .get(s.url(&format!("/api/v1/sessions/{id}/media/{sha}")))
        .bearer_auth(&proctor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"old _page\""
    );
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
}

async fn login_as(s: &TestServer, from: &str, user: &str, password: &str) -> reqwest::Response {
    s.http
        .post(s.url("/api/v1/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_failures_are_throttled_by_address_and_by_user() {
    let s = TestServer::start_with(Db::Sqlite, |c| c.behind_proxy = true)
        .await
        .unwrap();
    invigil_server::set_proctor(s.server.state().db(), "bea", "correct horse battery")
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            login_as(&s, "198.51.100.1", "bea", "wrong")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429]);
    let r = login_as(&s, "198.51.100.1", "bea", "wrong").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    // The user name is throttled from any address, even with the right
    // password, until the wait is over...
    assert_eq!(
        login_as(&s, "198.51.100.2", "bea", "correct horse battery")
            .await
            .status(),
        429
    );
    // ...and so is the address, for any user, and HTTP Basic with it.
    assert_eq!(
        login_as(&s, "198.51.100.1", "nobody", "x").await.status(),
        429
    );
    let r = s
        .http
        .get(s.url("/api/v1/sessions"))
        .header("x-forwarded-for", "198.51.100.1")
        .basic_auth("bea", Some("correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    // Another address and user is not held up.
    assert_eq!(login_as(&s, "198.51.100.3", "cid", "x").await.status(), 401);
    // Basic counts failures as the login does.
    let s2 = TestServer::start_with(Db::Sqlite, |c| c.behind_proxy = true)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = s2
            .http
            .get(s2.url("/api/v1/sessions"))
            .header("x-forwarded-for", "203.0.113.5")
            .basic_auth("dee", Some("guess"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_are_bounded_and_unknown_users_take_as_long() {
    let s = TestServer::start_with(Db::Sqlite, |c| c.behind_proxy = true)
        .await
        .unwrap();
    invigil_server::set_proctor(s.server.state().db(), "eve", "correct horse battery")
        .await
        .unwrap();
    // 32 wrong logins at once, each from its own address and user name so
    // the throttle does not stop them: at most one check per core runs.
    let tries = (0..32).map(|i| {
        let s = &s;
        async move {
            login_as(s, &format!("10.0.0.{i}"), &format!("user{i}"), "wrong")
                .await
                .status()
        }
    });
    for status in futures_util::future::join_all(tries).await {
        assert_eq!(status, 401);
    }
    let cores = std::thread::available_parallelism().unwrap().get();
    let peak = s.server.state().password_check_peak();
    assert!(peak >= 1 && peak <= cores, "peak {peak} on {cores} cores");

    // An unknown user costs a password check like a known one: the
    // answer's time does not tell which user names exist.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        login_as(&s, &format!("10.1.0.{i}"), "eve", "wrong").await;
        known.push(t.elapsed());
        let t = Instant::now();
        login_as(&s, &format!("10.2.0.{i}"), "no-such-user", "wrong").await;
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    assert!(
        unknown[2] * 3 >= known[2],
        "unknown {:?} vs known {:?}",
        unknown[2],
        known[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_have_media_quotas_and_bounded_fields() {
    let s = TestServer::start_with(Db::Sqlite, |c| {
        c.media_quota_items = 2;
        c.media_quota_bytes = 100_000;
        c.sessions_per_minute = 4;
    })
    .await
    .unwrap();
    let proctor = s.proctor("fay").await;
    let (id, token) = s.session("exam-q", "cand-q").await;
    for i in 0..2u8 {
        let (status, v) =
            put_media(&s, &id, &token, "clip", "video/mp4", &common::mp4(&[i; 10])).await;
        assert_eq!(status, 201, "{v}");
    }
    let (status, v) = put_media(&s, &id, &token, "clip", "video/mp4", &common::mp4(&[9; 10])).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("media_quota_exceeded")),
        "{v}"
    );
    // A re-upload of what it holds is still fine.
    let (status, _) = put_media(&s, &id, &token, "clip", "video/mp4", &common::mp4(&[0; 10])).await;
    assert_eq!(status, 200);
    let (id2, token2) = s.session("exam-q", "cand-r").await;
    let big = common::mp4(&vec![7u8; 100_001]);
    let (status, v) = put_media(&s, &id2, &token2, "clip", "video/mp4", &big).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("media_quota_exceeded")),
        "{v}"
    );

    // A policy over 16 KiB, and an event whose data is.
    let huge = "x".repeat(17 << 10);
    let (status, v) = s
        .post(
            "/api/v1/sessions",
            None,
            &json!({"exam_id": "e", "candidate_id": "c", "policy": {"note": huge}}).to_string(),
        )
        .await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("policy")),
        "{v}"
    );
    let mut events = chained(&id2, 1);
    events[0].data.insert("blob".into(), json!(huge));
    let mut chain = invigil_core::chain::Chain::new(&id2);
    events[0].prev = None;
    chain.link(&mut events[0]);
    let (status, v) = s.append(&id2, &token2, &events).await;
    assert_eq!(
        (status, v["error"]["field"].as_str()),
        (400, Some("events[0].data")),
        "{v}"
    );

    // Lists leave the policy out; one session's status carries it.
    let (_, list) = s.get("/api/v1/sessions", Some(&proctor)).await;
    assert!(list["sessions"][0].get("policy").is_none(), "{list}");
    let (_, one) = s
        .get(&format!("/api/v1/sessions/{id}"), Some(&proctor))
        .await;
    assert_eq!(one["policy"]["absence_flag_s"], 5.0);

    // Creation is rate limited per address: 4 a minute here, 2 used, and
    // the 400 above took one too.
    s.session("exam-q", "cand-s").await;
    let r = s
        .http
        .post(s.url("/api/v1/sessions"))
        .json(&json!({"exam_id": "e", "candidate_id": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_and_seqs_past_2_pow_53_are_refused() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let (id, token) = s.session("exam-t", "cand-t").await;
    for (field, t_ms, seq_big) in [
        ("t_ms", u64::MAX, false),
        ("t_ms", 1 << 53, false),
        ("seq", 0, true),
    ] {
        let mut events = chained(&id, 1);
        events[0].t_ms = t_ms;
        if seq_big {
            events[0].seq = 1 << 60;
        }
        events[0].prev = None;
        invigil_core::chain::Chain::new(&id).link(&mut events[0]);
        let (status, v) = s.append(&id, &token, &events).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"], format!("events[0].{field}"), "{v}");
    }
    let mut events = chained(&id, 1);
    events[0].t_ms = (1 << 53) - 1;
    events[0].prev = None;
    invigil_core::chain::Chain::new(&id).link(&mut events[0]);
    assert_eq!(s.append(&id, &token, &events).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_media_after_the_end_and_candidates_see_only_their_delivery() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let proctor = s.proctor("gus").await;
    let (id, token) = s.session("exam-e", "cand-e").await;
    assert_eq!(s.append(&id, &token, &chained(&id, 3)).await.0, 200);
    let (status, _) = put_media(&s, &id, &token, "face_photo", "image/jpeg", JPEG).await;
    assert_eq!(status, 201);
    // The candidate reads its delivery, nothing of its review.
    let (status, mine) = s.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(mine["next_seq"], 3);
    assert_eq!(mine["media"], 1);
    for hidden in [
        "priority",
        "open_alerts",
        "verdict",
        "violations",
        "warnings",
        "last_seen_ms",
    ] {
        assert!(
            mine.get(hidden).is_none(),
            "{hidden} shown to the candidate: {mine}"
        );
    }
    let (_, review) = s
        .get(&format!("/api/v1/sessions/{id}"), Some(&proctor))
        .await;
    assert!(review.get("priority").is_some() && review.get("open_alerts").is_some());

    let r = s
        .http
        .post(s.url(&format!("/api/v1/sessions/{id}/end")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ended: Value = r.json().await.unwrap();
    assert!(ended.get("priority").is_none(), "{ended}");
    // New "check-in photos" after the exam: 409. What it sent before, again:
    // 200 (a retry whose first reply was lost).
    let other = b"\xff\xd8\xff\xe1 another photo";
    let (status, v) = put_media(&s, &id, &token, "face_photo", "image/jpeg", other).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("session_ended")),
        "{v}"
    );
    let (status, _) = put_media(&s, &id, &token, "face_photo", "image/jpeg", JPEG).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_writes_must_be_same_origin_json() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let token = s.proctor("hal").await;
    let (id, ctoken) = s.session("exam-c", "cand-c").await;
    assert_eq!(s.append(&id, &ctoken, &chained(&id, 3)).await.0, 200);
    let host = s.base.trim_start_matches("http://").to_owned();
    let decide = |origin: Option<&str>, ctype: &str, site: Option<&str>| {
        let mut r = s
            .http
            .post(s.url(&format!("/api/v1/sessions/{id}/decisions")))
            .header("cookie", format!("invigil_session={token}"))
            .header("content-type", ctype)
            .body(r#"{"action": "dismiss", "event_seq": 2, "note": "forged?"}"#);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(site) = site {
            r = r.header("sec-fetch-site", site);
        }
        r.send()
    };
    let evil = decide(Some("http://evil.example"), "application/json", None)
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let plain = decide(Some(&format!("http://{host}")), "text/plain", None)
        .await
        .unwrap();
    assert_eq!(plain.status(), 403);
    let cross = decide(None, "application/json", Some("cross-site"))
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let none = decide(None, "application/json", None).await.unwrap();
    assert_eq!(none.status(), 403);
    let (_, timeline) = s
        .get(&format!("/api/v1/sessions/{id}/timeline"), Some(&token))
        .await;
    assert_eq!(
        timeline["decisions"].as_array().unwrap().len(),
        0,
        "nothing recorded"
    );
    let same = decide(Some(&format!("http://{host}")), "application/json", None)
        .await
        .unwrap();
    assert_eq!(same.status(), 201);
    let fetch = decide(None, "application/json; charset=utf-8", Some("same-origin"))
        .await
        .unwrap();
    assert_eq!(fetch.status(), 201);
    // A bearer token is no ambient credential: scripts need no Origin.
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{id}/decisions"),
            Some(&token),
            r#"{"action": "dismiss", "event_seq": 1, "note": "script"}"#,
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_over_https() {
    let login = |s: &TestServer, proto: Option<&'static str>| {
        let mut r = s
            .http
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": "ida", "password": "correct horse battery"}));
        if let Some(p) = proto {
            r = r.header("x-forwarded-proto", p);
        }
        r.send()
    };
    let cookie = |r: &reqwest::Response| r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let direct = TestServer::start(Db::Sqlite).await.unwrap();
    direct.proctor("ida").await;
    let r = login(&direct, Some("https")).await.unwrap();
    assert!(
        !cookie(&r).contains("Secure"),
        "a client's header is not trusted"
    );
    let proxied = TestServer::start_with(Db::Sqlite, |c| c.behind_proxy = true)
        .await
        .unwrap();
    proxied.proctor("ida").await;
    let r = login(&proxied, Some("https")).await.unwrap();
    assert!(cookie(&r).contains("; Secure"), "{}", cookie(&r));
    let r = login(&proxied, Some("http")).await.unwrap();
    assert!(!cookie(&r).contains("Secure"));
    let always = TestServer::start_with(Db::Sqlite, |c| c.secure_cookies = true)
        .await
        .unwrap();
    always.proctor("ida").await;
    assert!(cookie(&login(&always, None).await.unwrap()).contains("; Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_end_with_a_new_password_or_removal() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let db = s.server.state().db();
    let token = s.proctor("jo").await;
    assert_eq!(s.get("/api/v1/auth/me", Some(&token)).await.0, 200);
    invigil_server::set_proctor(db, "jo", "a new password 2")
        .await
        .unwrap();
    assert_eq!(s.get("/api/v1/auth/me", Some(&token)).await.0, 401);
    let token = s.proctor("jo").await;
    assert!(invigil_server::remove_proctor(db, "jo").await.unwrap());
    assert_eq!(s.get("/api/v1/auth/me", Some(&token)).await.0, 401);
    assert!(!invigil_server::remove_proctor(db, "jo").await.unwrap());
    // Expired sign-ins are deleted at the next sign-in.
    s.proctor("kim").await;
    sqlx::query(
        "INSERT INTO proctor_tokens (token_hash, username, created_ms, expires_ms) VALUES ('old', 'kim', 0, 1)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    s.proctor("kim").await;
    let (left,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM proctor_tokens WHERE expires_ms <= 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_entries_do_not_outlive_their_requests_and_timelines_page() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let proctor = s.proctor("lu").await;
    let (id, token) = s.session("exam-l", "cand-l").await;
    // Decisions and ends for sessions that do not exist, and a session
    // ended by a decision.
    for i in 0..50 {
        let ghost = format!("no-such-session-{i:04}");
        let (status, _) = s
            .post(
                &format!("/api/v1/sessions/{ghost}/decisions"),
                Some(&proctor),
                r#"{"action": "invalidate", "note": "x"}"#,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _) = s
            .post(&format!("/api/v1/sessions/{ghost}/end"), Some(&proctor), "")
            .await;
        assert_eq!(status, 404);
    }
    assert_eq!(s.append(&id, &token, &chained(&id, 25)).await.0, 200);
    let (status, _) = s
        .post(
            &format!("/api/v1/sessions/{id}/decisions"),
            Some(&proctor),
            r#"{"action": "invalidate", "note": "ends it"}"#,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(s.server.state().session_locks_held(), 0);

    // 25 events, pages of 10: 0-9, 10-19, 20-24.
    let mut seqs = Vec::new();
    let mut after = -1i64;
    let mut pages = 0;
    loop {
        let (status, page) = s
            .get(
                &format!("/api/v1/sessions/{id}/timeline?limit=10&after_seq={after}"),
                Some(&proctor),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seqs.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_after_seq"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seqs, (0..25).collect::<Vec<i64>>());
    assert_eq!(pages, 3);
    let (status, _) = s
        .get(
            &format!("/api/v1/sessions/{id}/timeline?limit=100000"),
            Some(&proctor),
        )
        .await;
    assert_eq!(status, 400);
}

/// Deleting a session in one process (`invigil sessions delete`) while
/// another (the server) takes an upload of the same body: the body stays
/// whenever a row names it.
async fn media_removal_is_safe_across_processes(s: TestServer) {
    let (keep, keep_token) = s.session("exam-g", "cand-keep").await;
    // A second process on the same database and store.
    let mut config = s.server.state().config.clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let other = invigil_server::AppState::open(config).await.unwrap();
    for round in 0..12u8 {
        let (doomed, doomed_token) = s.session("exam-g", &format!("cand-{round}")).await;
        let body = common::mp4(format!("shared {doomed} {round}").as_bytes());
        assert!(
            put_media(&s, &doomed, &doomed_token, "clip", "video/mp4", &body)
                .await
                .0
                < 300
        );
        let delete = invigil_server::retention::purge(
            &other,
            std::slice::from_ref(&doomed),
            invigil_server::retention::Reason::Operator,
        );
        let upload = put_media(&s, &keep, &keep_token, "clip", "video/mp4", &body);
        let (deleted, (status, _)) = tokio::join!(delete, upload);
        deleted.unwrap();
        assert!(status < 300, "{status}");
        let file = s
            .dir
            .path()
            .join("media")
            .join(&hex_sha(&body)[..2])
            .join(hex_sha(&body));
        assert!(file.exists(), "round {round}: a listed body was deleted");
    }
    // A removal under way (another process's record) holds an upload of
    // that body back until it is over.
    let body = common::mp4(b"held back");
    let sha = hex_sha(&body);
    let pool = &s.server.state().db().pool;
    sqlx::query("INSERT INTO media_removals (sha256, at_ms) VALUES ($1, $2)")
        .bind(&sha)
        .bind(invigil_server::now_ms())
        .execute(pool)
        .await
        .unwrap();
    let started = Instant::now();
    let clear = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        sqlx::query("DELETE FROM media_removals WHERE sha256 = $1")
            .bind(&sha)
            .execute(pool)
            .await
            .unwrap();
    };
    let (_, (status, _)) = tokio::join!(
        clear,
        put_media(&s, &keep, &keep_token, "clip", "video/mp4", &body)
    );
    assert_eq!(status, 201);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

crate::both_databases! {
    media_removal_is_safe_across_processes => media_removal_is_safe_across_processes;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_account_is_admin_and_roles_change_at_once() {
    let s = TestServer::start(Db::Sqlite).await.unwrap();
    let db = s.server.state().db();
    let first = s.proctor("ann").await;
    let second = s.proctor("bob").await;
    let me = |token: String| {
        let s = &s;
        async move { s.get("/api/v1/auth/me", Some(&token)).await.1 }
    };
    assert_eq!(
        me(first.clone()).await,
        json!({"role": "proctor", "username": "ann", "admin": true})
    );
    assert_eq!(me(second.clone()).await["admin"], false);
    // A new password keeps the role.
    invigil_server::set_proctor(db, "ann", "another password")
        .await
        .unwrap();
    let roles = invigil_server::accounts(db).await.unwrap();
    assert_eq!(
        roles,
        [
            ("ann".to_owned(), invigil_server::Role::Admin),
            ("bob".to_owned(), invigil_server::Role::Proctor)
        ]
    );
    // Promoted: the open sign-in is an admin's from its next request.
    assert!(
        invigil_server::set_role(db, "bob", invigil_server::Role::Admin)
            .await
            .unwrap()
    );
    assert_eq!(me(second).await["admin"], true);
    assert!(
        !invigil_server::set_role(db, "nobody", invigil_server::Role::Admin)
            .await
            .unwrap()
    );
}
