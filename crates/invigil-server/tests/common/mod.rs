//! Shared by the server's integration tests: a real server on loopback over
//! a real database (SQLite file, or PostgreSQL when `INVIGIL_TEST_POSTGRES`
//! names one), and helpers to build chained events.

#![allow(dead_code)]

use invigil_core::chain::Chain;
use invigil_core::{Event, EventKind, EVENT_SCHEMA_VERSION};
use invigil_server::{Config, Server};
use serde_json::{json, Value};

/// `prefix-` and 12 random hex digits: ids that tests sharing the
/// PostgreSQL database do not collide on.
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    format!("{prefix}-{}", invigil_core::chain::hex(&b))
}

/// A fresh candidate token.
pub fn token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    format!("ivc_{}", invigil_core::chain::hex(&b))
}

pub struct TestServer {
    pub server: Server,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL URL for tests, or `None` (the test is then skipped, loudly).
pub fn postgres_url() -> Option<String> {
    match std::env::var("INVIGIL_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("INVIGIL_REQUIRE_POSTGRES").is_none(),
                "INVIGIL_REQUIRE_POSTGRES is set but INVIGIL_TEST_POSTGRES is not"
            );
            eprintln!("SKIPPED: PostgreSQL variant; set INVIGIL_TEST_POSTGRES=postgres://... (scripts/test does)");
            None
        }
    }
}

impl TestServer {
    pub async fn start(db: Db) -> Option<Self> {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        if let Db::Postgres = db {
            config.database_url = Some(postgres_url()?);
        }
        // Most tests create sessions by exam and candidate; the launch-code
        // tests turn this off.
        config.open_enrolment = true;
        tweak(&mut config);
        let server = Server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr());
        Some(Self {
            server,
            base,
            http: reqwest::Client::new(),
            dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates a proctor account and signs in; returns the bearer token.
    pub async fn proctor(&self, name: &str) -> String {
        // The PostgreSQL database is shared by tests running at once, and
        // setting a password signs the account out everywhere: only set it
        // when signing in does not work yet.
        if let Some(token) = self.sign_in(name).await {
            return token;
        }
        invigil_server::set_proctor(self.server.state().db(), name, "correct horse battery")
            .await
            .unwrap();
        self.sign_in(name).await.expect("signs in")
    }

    /// A proctor with the admin role.
    pub async fn admin(&self, name: &str) -> String {
        let token = self.proctor(name).await;
        invigil_server::set_role(self.server.state().db(), name, invigil_server::Role::Admin)
            .await
            .unwrap();
        token
    }

    async fn sign_in(&self, name: &str) -> Option<String> {
        let r = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": name, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            return None;
        }
        Some(
            r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// Creates a session; returns (session id, candidate token).
    pub async fn session(&self, exam: &str, candidate: &str) -> (String, String) {
        let r = self
            .http
            .post(self.url("/api/v1/sessions"))
            .json(&json!({"exam_id": exam, "candidate_id": candidate, "policy": {"absence_flag_s": 5.0}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (
            v["session_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn append(&self, id: &str, token: &str, events: &[Event]) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/api/v1/sessions/{id}/events")))
            .bearer_auth(token)
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a JSON body (raw text, to send malformed JSON too).
    pub async fn post(&self, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn timeline(&self, id: &str, proctor: &str) -> Value {
        let (status, v) = self
            .get(&format!("/api/v1/sessions/{id}/timeline"), Some(proctor))
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// Reads an SSE stream onto `text` until `done(text)`; panics naming
/// `what` when it has not happened by `deadline`.
pub async fn read_sse_until(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    text: &mut String,
    deadline: tokio::time::Instant,
    what: &str,
    done: impl Fn(&str) -> bool,
) {
    use futures_util::StreamExt;
    while !done(text) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("{what} in time; the stream so far: {text}"))
            .expect("the stream stays open")
            .expect("the stream reads");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// An alert stream's first `data:` line after each `event: KIND` line.
pub fn sse_data(text: &str, kind: &str) -> Vec<Value> {
    text.split(&format!("event: {kind}\n"))
        .skip(1)
        .filter_map(|rest| rest.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

/// A body that reads as an MP4 (an `ftyp` box), then `payload`: what the
/// server takes as a clip.
pub fn mp4(payload: &[u8]) -> Vec<u8> {
    let mut body = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    body.extend_from_slice(payload);
    body
}

/// `n` chained events of a session: started, then warnings/violations.
pub fn chained(session_id: &str, n: u64) -> Vec<Event> {
    let mut chain = Chain::new(session_id);
    (0..n)
        .map(|seq| {
            let kind = match seq {
                0 => EventKind::SessionStarted,
                s if s % 3 == 1 => EventKind::AbsenceWarning,
                s if s % 3 == 2 => EventKind::CandidateAbsent,
                _ => EventKind::CandidateReturned,
            };
            let mut e = Event {
                v: EVENT_SCHEMA_VERSION,
                seq,
                t_ms: seq * 1000,
                kind,
                severity: kind.severity(),
                data: json!({"n": seq, "nested": {"b": 1, "a": [1.5, "x"]}})
                    .as_object()
                    .unwrap()
                    .clone(),
                prev: None,
            };
            chain.link(&mut e);
            e
        })
        .collect()
}

/// Runs an async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! both_databases {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = $crate::common::TestServer::start($crate::common::Db::Sqlite).await {
                        super::$body(s).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = $crate::common::TestServer::start($crate::common::Db::Postgres).await {
                        super::$body(s).await;
                    }
                }
            )*
        }
    };
}
