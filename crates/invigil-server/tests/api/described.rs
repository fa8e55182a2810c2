//! The API describes itself: the OpenAPI document covers every route, and
//! the server says how long it keeps evidence.

use serde_json::Value;

use crate::common::{self, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route() {
    let s = TestServer::start(common::Db::Sqlite).await.unwrap();
    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/healthz", "get"),
        ("/api/v1/server", "get"),
        ("/api/v1/server-key", "get"),
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
        ("/api/v1/exams", "post"),
        ("/api/v1/exams", "get"),
        ("/api/v1/exams/{id}", "get"),
        ("/api/v1/exams/{id}", "put"),
        ("/api/v1/exams/{id}/enrolments", "post"),
        ("/api/v1/exams/{id}/enrolments", "get"),
        ("/api/v1/exams/{id}/roster", "post"),
        ("/api/v1/exams/{id}/enrolments/{candidate}", "put"),
        ("/api/v1/exams/{id}/codes", "post"),
        ("/api/v1/exams/{id}/responses", "post"),
        ("/api/v1/exams/{id}/forensics", "get"),
        ("/api/v1/exams/{id}/achievement", "put"),
        ("/api/v1/exams/{id}/passes", "post"),
        ("/api/v1/exams/{id}/badges", "get"),
        ("/api/v1/badges/{id}/status", "post"),
        ("/api/v1/sessions/{id}/badge", "get"),
    ];
    // Nothing documented that is not a route.
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, routes.len(), "{:?}", paths.keys());
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
                .replace("{sha256}", &"0".repeat(64))
                .replace("{candidate}", "c"),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_tells_candidates_how_long_it_keeps_evidence() {
    let s = TestServer::start(common::Db::Sqlite).await.unwrap();
    let (status, info) = s.get("/api/v1/server", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["retention_days"], Value::Null, "{info}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    let s = TestServer::start_with(common::Db::Sqlite, |c| c.retention_days = Some(45))
        .await
        .unwrap();
    let (_, info) = s.get("/api/v1/server", None).await;
    assert_eq!(info["retention_days"], 45);
}
