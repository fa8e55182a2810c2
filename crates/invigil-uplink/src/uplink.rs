//! A session streamed to the server: events and media are linked into the
//! session's hash chain, journaled (fsynced), and shipped by a background
//! thread with retries, exponential backoff and jitter.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_core::chain;
use invigil_core::Event;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::session::SessionMeta;
use crate::{Item, Journal, JournalError, Record};

/// Most events sent in one request.
const BATCH: usize = 200;
/// First retry delay; doubles per failure up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(15);

/// Which session to stream.
#[derive(Clone, Debug)]
pub enum SessionRequest {
    /// Create (or continue) a session for this exam and candidate. The id
    /// and token are made here, so events are chained before the server is
    /// ever reached.
    Enrol {
        server: String,
        exam_id: String,
        candidate_id: String,
        policy: Map<String, Value>,
    },
    /// A session created beforehand on the server (a proctor or exam
    /// platform handed out the token). Its id comes from `session_id`, or
    /// from the server at start.
    Token {
        server: String,
        token: String,
        session_id: Option<String>,
    },
}

/// How the session started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new session: the engine starts at seq 0.
    New,
    /// An unfinished session of an earlier run continues.
    Resume { next_seq: u64, after_t_ms: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal in {dir} belongs to a session on {journal_server}, not {server}; use another --journal directory")]
    OtherServer {
        dir: PathBuf,
        journal_server: String,
        server: String,
    },
    #[error("server URL `{0}` must start with http:// or https://")]
    BadUrl(String),
    #[error("cannot resolve the session of this token on {server}: {problem}")]
    Resolve { server: String, problem: String },
}

/// Connection state, as the status line and the app show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    #[default]
    Connecting,
    Online,
    /// The server is unreachable; items wait in the journal.
    Offline,
    /// The server refused the session for good (broken chain, session
    /// ended on the server, token refused); shipping stopped. Items stay in
    /// the journal.
    Refused,
}

/// What the shipper has done so far.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UplinkStatus {
    pub session_id: String,
    pub connection: Connection,
    pub sent_events: u64,
    pub sent_media: u64,
    /// Request and response body bytes exchanged (HTTP headers not counted).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub requests: u64,
    pub retries: u64,
    /// Last network or server problem.
    pub last_error: Option<String>,
    /// Why shipping stopped, when `connection` is `refused`.
    pub refused: Option<String>,
    /// Last journal write failure (e.g. disk full); events are then held in
    /// memory until the journal accepts them.
    pub journal_error: Option<String>,
    pub held_in_memory: usize,
    /// Journaled items not yet acknowledged by the server.
    pub pending: u64,
}

struct Shared {
    journal: Mutex<Journal>,
    meta: Mutex<SessionMeta>,
    status: Mutex<UplinkStatus>,
    /// Wakes the shipper when something is journaled or when stopping.
    wake: Condvar,
    /// Set when the owner wants the shipper to stop; the deadline bounds
    /// how long it may keep draining.
    stop: Mutex<Option<Instant>>,
    dir: PathBuf,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The streaming side of one session.
pub struct Uplink {
    shared: Arc<Shared>,
    shipper: Option<JoinHandle<()>>,
    /// Events the journal refused (disk full); retried on every record.
    backlog: Mutex<Vec<Item>>,
    start: Start,
}

impl Uplink {
    /// Opens the journal in `dir` and the session it streams, starting the
    /// shipper thread. With [`SessionRequest::Token`] and no session id the
    /// server is asked for the token's session (retrying for up to
    /// `resolve_timeout`).
    pub fn open(
        dir: &Path,
        request: SessionRequest,
        resolve_timeout: Duration,
    ) -> Result<Self, UplinkError> {
        let server = match &request {
            SessionRequest::Enrol { server, .. } | SessionRequest::Token { server, .. } => {
                server.trim_end_matches('/').to_owned()
            }
        };
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(UplinkError::BadUrl(server));
        }
        let journal = Journal::open(dir)?;
        let existing = SessionMeta::load(dir)?;
        let (meta, start) = match existing {
            Some(mut meta) if !meta.ended => {
                if meta.server != server {
                    return Err(UplinkError::OtherServer {
                        dir: dir.to_owned(),
                        journal_server: meta.server,
                        server,
                    });
                }
                if meta.reconcile(&journal)? {
                    meta.save(dir)?;
                }
                let start = if meta.next_seq == 0 {
                    Start::New
                } else {
                    Start::Resume {
                        next_seq: meta.next_seq,
                        after_t_ms: meta.last_t_ms,
                    }
                };
                (meta, start)
            }
            previous => {
                if let Some(prev) = &previous {
                    if prev.server != server {
                        return Err(UplinkError::OtherServer {
                            dir: dir.to_owned(),
                            journal_server: prev.server.clone(),
                            server,
                        });
                    }
                }
                let meta = new_meta(&server, request, resolve_timeout)?;
                let start = if meta.next_seq == 0 {
                    Start::New
                } else {
                    Start::Resume {
                        next_seq: meta.next_seq,
                        after_t_ms: meta.last_t_ms,
                    }
                };
                meta.save(dir)?;
                (meta, start)
            }
        };
        Ok(Self::spawn(dir, journal, meta, start))
    }

    /// Reopens the journal in `dir` with the session it already holds, to
    /// send what is left (`invigil uplink send`).
    pub fn open_existing(dir: &Path) -> Result<Self, UplinkError> {
        let meta = SessionMeta::load(dir)?.ok_or_else(|| {
            UplinkError::Journal(JournalError::Invalid(format!(
                "{} holds no session (no session.json)",
                dir.display()
            )))
        })?;
        let request = SessionRequest::Token {
            server: meta.server.clone(),
            token: meta.token.clone(),
            session_id: Some(meta.session_id.clone()),
        };
        if meta.ended {
            // open() would start a new session; keep the ended one.
            let journal = Journal::open(dir)?;
            return Ok(Self::spawn(dir, journal, meta, Start::New));
        }
        Self::open(dir, request, Duration::ZERO)
    }

    fn spawn(dir: &Path, journal: Journal, meta: SessionMeta, start: Start) -> Self {
        let pending = journal
            .status()
            .map(|s| s.pending_events + s.pending_media)
            .unwrap_or(0);
        let status = UplinkStatus {
            session_id: meta.session_id.clone(),
            pending,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            journal: Mutex::new(journal),
            meta: Mutex::new(meta),
            status: Mutex::new(status),
            wake: Condvar::new(),
            stop: Mutex::new(None),
            dir: dir.to_owned(),
        });
        let shipper = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("invigil-shipper".into())
                .spawn(move || Shipper::new(shared).run())
                .expect("can spawn the shipper thread")
        };
        Self {
            shared,
            shipper: Some(shipper),
            backlog: Mutex::new(Vec::new()),
            start,
        }
    }

    /// Whether the session is new or continues an earlier run.
    pub fn start(&self) -> &Start {
        &self.start
    }

    pub fn session_id(&self) -> String {
        lock(&self.shared.meta).session_id.clone()
    }

    /// Links the event into the chain (sets `prev`) and journals it. A
    /// journal failure is reported in the status and the event is held in
    /// memory until the journal takes it; it never stops the session.
    pub fn record(&self, event: &mut Event) {
        let mut meta = lock(&self.shared.meta);
        meta.link(event);
        self.push(Item::Event(event.clone()), Some(&meta));
    }

    /// Journals a media body (stored under its SHA-256); returns the digest.
    pub fn record_media(&self, kind: &str, name: &str, content_type: &str, body: &[u8]) -> String {
        let sha = chain::hex(&<sha2::Sha256 as sha2::Digest>::digest(body));
        let mut journal = lock(&self.shared.journal);
        match journal.append_media(kind, name, content_type, body) {
            Ok(_) => {
                drop(journal);
                self.shared.wake.notify_all();
            }
            Err(e) => {
                drop(journal);
                tracing::error!("cannot journal media {name}: {e}");
                lock(&self.shared.status).journal_error =
                    Some(format!("media {name} not kept: {e}"));
            }
        }
        sha
    }

    fn push(&self, item: Item, meta: Option<&SessionMeta>) {
        let mut backlog = lock(&self.backlog);
        backlog.push(item);
        let mut journal = lock(&self.shared.journal);
        let mut error = None;
        while let Some(item) = backlog.first() {
            let written = match item {
                Item::Event(e) => journal.append_event(e),
                Item::Media { .. } => unreachable!("media are journaled directly"),
            };
            match written {
                Ok(_) => {
                    backlog.remove(0);
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        drop(journal);
        if backlog.is_empty() {
            if let Some(meta) = meta {
                if let Err(e) = meta.save(&self.shared.dir) {
                    error = Some(e.to_string());
                }
            }
        }
        let mut status = lock(&self.shared.status);
        status.held_in_memory = backlog.len();
        if let Some(e) = &error {
            if status.journal_error.as_deref() != Some(e.as_str()) {
                tracing::error!("journal write failed (events held in memory): {e}");
            }
        }
        status.journal_error = error;
        drop(status);
        self.shared.wake.notify_all();
    }

    /// A snapshot of the shipper's state.
    pub fn status(&self) -> UplinkStatus {
        lock(&self.shared.status).clone()
    }

    /// Stops the shipper after it has sent everything or `drain` has
    /// passed; what is unsent stays in the journal for the next run.
    pub fn finish(mut self, drain: Duration) -> UplinkStatus {
        // One last try for anything held in memory.
        if !lock(&self.backlog).is_empty() {
            let meta = lock(&self.shared.meta).clone();
            let items = std::mem::take(&mut *lock(&self.backlog));
            for item in items {
                self.push(item, Some(&meta));
            }
        }
        *lock(&self.shared.stop) = Some(Instant::now() + drain);
        self.shared.wake.notify_all();
        if let Some(handle) = self.shipper.take() {
            let _ = handle.join();
        }
        // What is left, straight from the journal.
        if let Ok(j) = lock(&self.shared.journal).status() {
            lock(&self.shared.status).pending = j.pending_events + j.pending_media;
        }
        self.status()
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        if let Some(handle) = self.shipper.take() {
            *lock(&self.shared.stop) = Some(Instant::now());
            self.shared.wake.notify_all();
            let _ = handle.join();
        }
    }
}

fn new_meta(
    server: &str,
    request: SessionRequest,
    resolve_timeout: Duration,
) -> Result<SessionMeta, UplinkError> {
    match request {
        SessionRequest::Enrol {
            exam_id,
            candidate_id,
            policy,
            ..
        } => {
            let session_id = random_hex(16);
            let token = format!("ivc_{}", random_hex(32));
            Ok(SessionMeta {
                server: server.to_owned(),
                head: chain::origin(&session_id),
                session_id,
                token,
                exam_id,
                candidate_id,
                policy,
                created: false,
                next_seq: 0,
                last_t_ms: 0,
                ended: false,
            })
        }
        SessionRequest::Token {
            token, session_id, ..
        } => {
            let http = client();
            let deadline = Instant::now() + resolve_timeout;
            let mut backoff = Backoff::default();
            loop {
                match resolve(&http, server, &token, session_id.as_deref()) {
                    Ok(meta) => return Ok(meta),
                    Err(Failure::Retry(problem)) if Instant::now() < deadline => {
                        tracing::warn!("cannot reach {server} yet: {problem}");
                        std::thread::sleep(
                            backoff
                                .next()
                                .min(deadline.saturating_duration_since(Instant::now())),
                        );
                    }
                    Err(Failure::Retry(problem) | Failure::Refused(problem)) => {
                        return Err(UplinkError::Resolve {
                            server: server.to_owned(),
                            problem,
                        })
                    }
                }
            }
        }
    }
}

fn resolve(
    http: &reqwest::blocking::Client,
    server: &str,
    token: &str,
    session_id: Option<&str>,
) -> Result<SessionMeta, Failure> {
    let id = match session_id {
        Some(id) => id.to_owned(),
        None => {
            let me: Value = send(
                http.get(format!("{server}/api/v1/auth/me"))
                    .bearer_auth(token),
            )?
            .1;
            me["session_id"]
                .as_str()
                .ok_or_else(|| Failure::Refused("the token is not a candidate token".into()))?
                .to_owned()
        }
    };
    let s: Value = send(
        http.get(format!("{server}/api/v1/sessions/{id}"))
            .bearer_auth(token),
    )?
    .1;
    let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
    if text("state") != "live" {
        return Err(Failure::Refused(format!("session {id} has already ended")));
    }
    Ok(SessionMeta {
        server: server.to_owned(),
        session_id: id,
        token: token.to_owned(),
        exam_id: text("exam_id"),
        candidate_id: text("candidate_id"),
        policy: s["policy"].as_object().cloned().unwrap_or_default(),
        created: true,
        next_seq: s["next_seq"].as_u64().unwrap_or(0),
        head: text("head"),
        last_t_ms: 0,
        ended: false,
    })
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("invigil/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// Why a request did not succeed.
enum Failure {
    /// Network trouble or a 5xx/429: try again later.
    Retry(String),
    /// A 4xx: the server will never accept this; stop.
    Refused(String),
}

/// Sends a request; returns the status and JSON body of a 2xx.
fn send(req: reqwest::blocking::RequestBuilder) -> Result<(u16, Value), Failure> {
    let response = req.send().map_err(|e| Failure::Retry(describe(&e)))?;
    let status = response.status();
    let body = response.bytes().map_err(|e| Failure::Retry(describe(&e)))?;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok((status.as_u16(), json));
    }
    let message = json["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let text = format!("HTTP {}: {message}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(Failure::Retry(text))
    } else {
        Err(Failure::Refused(text))
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Exponential backoff with full jitter in [d/2, d].
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = BACKOFF_START
            .saturating_mul(1 << self.failures.min(10))
            .min(BACKOFF_MAX);
        self.failures += 1;
        let mut r = [0u8; 4];
        let _ = getrandom::fill(&mut r);
        let jitter = f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX);
        base.mul_f64(0.5 + 0.5 * jitter)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source works");
    chain::hex(&b)
}

/// With nothing to send, the shipper still checks in this often (a HEAD of
/// the session's status), so the proctor sees the candidate is connected
/// and the candidate's "online" is true (~120 requests, ~60 KB an hour).
pub const HEARTBEAT: Duration = Duration::from_secs(30);

struct Shipper {
    shared: Arc<Shared>,
    http: reqwest::blocking::Client,
    backoff: Backoff,
    /// When the server last answered.
    last_contact: Option<Instant>,
}

impl Shipper {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            http: client(),
            backoff: Backoff::default(),
            last_contact: None,
        }
    }

    fn status(&self) -> MutexGuard<'_, UplinkStatus> {
        lock(&self.shared.status)
    }

    /// Waits up to `d`, or less when woken. Returns false once stopping and
    /// past the drain deadline.
    fn wait(&self, d: Duration) -> bool {
        let stop = lock(&self.shared.stop);
        if let Some(deadline) = *stop {
            if Instant::now() >= deadline {
                return false;
            }
            let d = d.min(deadline.saturating_duration_since(Instant::now()));
            let _ = self.shared.wake.wait_timeout(stop, d);
            return true;
        }
        let _ = self.shared.wake.wait_timeout(stop, d);
        true
    }

    fn stopping(&self) -> Option<Instant> {
        *lock(&self.shared.stop)
    }

    fn run(mut self) {
        loop {
            if self.stopping().is_some_and(|d| Instant::now() >= d) {
                return;
            }
            if self.status().connection == Connection::Refused {
                if !self.wait(Duration::from_secs(1)) || self.stopping().is_some() {
                    return;
                }
                continue;
            }
            match self.step() {
                Ok(true) => {
                    self.backoff.reset();
                }
                Ok(false) => {
                    // Nothing to send: done when stopping, else sleep.
                    if self.stopping().is_some() {
                        return;
                    }
                    self.wait(Duration::from_secs(1));
                }
                Err(Failure::Retry(problem)) => {
                    {
                        let mut s = self.status();
                        if s.connection != Connection::Offline {
                            tracing::warn!("server unreachable, will retry: {problem}");
                        }
                        s.connection = Connection::Offline;
                        s.last_error = Some(problem);
                        s.retries += 1;
                    }
                    let delay = self.backoff.next();
                    if !self.wait(delay) {
                        return;
                    }
                }
                Err(Failure::Refused(problem)) => {
                    tracing::error!("the server refused this session; shipping stopped (items stay in the journal): {problem}");
                    let mut s = self.status();
                    s.connection = Connection::Refused;
                    s.refused = Some(problem);
                }
            }
        }
    }

    /// Sends one thing. `Ok(true)`: something was sent; `Ok(false)`:
    /// nothing waits.
    fn step(&mut self) -> Result<bool, Failure> {
        let meta = lock(&self.shared.meta).clone();
        if !meta.created {
            self.create(&meta)?;
            let mut m = lock(&self.shared.meta);
            m.created = true;
            m.save(&self.shared.dir)
                .map_err(|e| Failure::Retry(e.to_string()))?;
            return Ok(true);
        }
        let pending = lock(&self.shared.journal)
            .pending()
            .map_err(|e| Failure::Refused(format!("cannot read the journal: {e}")))?;
        self.status().pending = pending.len() as u64;
        let Some(first) = pending.first() else {
            // Not while stopping: with everything delivered, finishing must
            // not wait out the drain time on an unreachable server.
            let due = self.last_contact.is_none_or(|t| t.elapsed() >= HEARTBEAT);
            if due && self.stopping().is_none() {
                self.heartbeat(&meta)?;
            }
            let mut s = self.status();
            s.connection = Connection::Online;
            s.last_error = None;
            return Ok(false);
        };
        let last_id = match &first.item {
            Item::Event(_) => {
                let batch: Vec<&Record> = pending
                    .iter()
                    .take_while(|r| matches!(r.item, Item::Event(_)))
                    .take(BATCH)
                    .collect();
                self.send_events(&meta, &batch)?;
                batch.last().expect("non-empty").id
            }
            Item::Media { .. } => {
                self.send_media(&meta, first)?;
                first.id
            }
        };
        self.last_contact = Some(Instant::now());
        lock(&self.shared.journal).ack(last_id).map_err(|e| {
            Failure::Refused(format!(
                "cannot record the acknowledgement in the journal: {e}"
            ))
        })?;
        let mut s = self.status();
        s.connection = Connection::Online;
        s.last_error = None;
        s.pending = pending.iter().filter(|r| r.id > last_id).count() as u64;
        Ok(true)
    }

    /// Counts one answered request in the status.
    fn count_request(&self, sent: u64, reply: &Value) -> MutexGuard<'_, UplinkStatus> {
        let mut s = self.status();
        s.requests += 1;
        s.bytes_sent += sent;
        s.bytes_received += reply.to_string().len() as u64;
        s
    }

    fn create(&self, meta: &SessionMeta) -> Result<(), Failure> {
        let body = json!({
            "session_id": meta.session_id,
            "exam_id": meta.exam_id,
            "candidate_id": meta.candidate_id,
            "policy": meta.policy,
            "token": meta.token,
        })
        .to_string();
        let len = body.len() as u64;
        let (_, reply) = send(
            self.http
                .post(format!("{}/api/v1/sessions", meta.server))
                .header("content-type", "application/json")
                .body(body),
        )?;
        drop(self.count_request(len, &reply));
        tracing::info!("session {} created on {}", meta.session_id, meta.server);
        Ok(())
    }

    /// Asks the server for the session's status: proves the connection and
    /// lets the server record that the candidate is still there.
    fn heartbeat(&mut self, meta: &SessionMeta) -> Result<(), Failure> {
        // HEAD: the server checks the token and notes the contact; no body
        // comes back (~500 bytes with headers).
        let (_, reply) = send(
            self.http
                .head(format!(
                    "{}/api/v1/sessions/{}",
                    meta.server, meta.session_id
                ))
                .bearer_auth(&meta.token),
        )?;
        drop(self.count_request(0, &reply));
        self.last_contact = Some(Instant::now());
        Ok(())
    }

    fn send_events(&self, meta: &SessionMeta, batch: &[&Record]) -> Result<(), Failure> {
        let events: Vec<&Event> = batch
            .iter()
            .map(|r| match &r.item {
                Item::Event(e) => e,
                Item::Media { .. } => unreachable!("batch holds events only"),
            })
            .collect();
        let body = serde_json::to_string(&json!({ "events": events })).expect("events serialise");
        let len = body.len() as u64;
        let (_, reply) = send(
            self.http
                .post(format!(
                    "{}/api/v1/sessions/{}/events",
                    meta.server, meta.session_id
                ))
                .bearer_auth(&meta.token)
                .header("content-type", "application/json")
                .body(body),
        )?;
        self.count_request(len, &reply).sent_events += reply["accepted"].as_u64().unwrap_or(0);
        Ok(())
    }

    fn send_media(&self, meta: &SessionMeta, record: &Record) -> Result<(), Failure> {
        let Item::Media {
            kind,
            name,
            content_type,
            sha256,
            ..
        } = &record.item
        else {
            unreachable!("a media record")
        };
        let path = lock(&self.shared.journal).media_path(sha256);
        let body = std::fs::read(&path).map_err(|e| {
            Failure::Refused(format!(
                "media {name} is missing from the journal ({}): {e}",
                path.display()
            ))
        })?;
        let len = body.len() as u64;
        let (_, reply) = send(
            self.http
                .put(format!(
                    "{}/api/v1/sessions/{}/media/{sha256}",
                    meta.server, meta.session_id
                ))
                .query(&[("name", name.as_str()), ("kind", kind.as_str())])
                .bearer_auth(&meta.token)
                .header("content-type", content_type.as_str())
                .body(body),
        )?;
        self.count_request(len, &reply).sent_media += 1;
        Ok(())
    }
}
