//! The shipper thread: sends what the journal holds, oldest first, with
//! retries, exponential backoff and jitter, and records acknowledgements.

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use invigil_core::protocol::{
    is_snapshot_request, BatchReceipt, BatchReply, CreateSession, Created, ErrorBody, EventBatch,
    MediaStored, SNAPSHOT_HEADER,
};
use invigil_core::sync::lock;
use invigil_core::Event;
use serde::de::DeserializeOwned;

use super::{Connection, Shared, UplinkStatus};
use crate::session::SessionMeta;
use crate::{Item, Media};

/// The server's signed receipts, one JSON object a line, beside the
/// journal.
pub const RECEIPTS_FILE: &str = "receipts.jsonl";

/// Most events sent in one request.
const BATCH: usize = 200;
/// First retry delay; doubles per failure up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(15);

pub(super) fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("invigil/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// Why a request did not succeed.
pub(super) enum Failure {
    /// Network trouble or a 5xx/429: try again later.
    Retry(String),
    /// A 4xx: the server will never accept this; stop.
    Refused(String),
}

/// Sends a request; returns the body of a 2xx.
fn exchange(req: reqwest::blocking::RequestBuilder) -> Result<Vec<u8>, Failure> {
    exchange_asked(req).map(|(body, _)| body)
}

/// As [`exchange`], with the spot check the server asks for in its reply,
/// if any (a well-formed request id only).
fn exchange_asked(
    req: reqwest::blocking::RequestBuilder,
) -> Result<(Vec<u8>, Option<String>), Failure> {
    let response = req.send().map_err(|e| Failure::Retry(describe(&e)))?;
    let status = response.status();
    let asked = response
        .headers()
        .get(SNAPSHOT_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_snapshot_request(v))
        .map(str::to_owned);
    let body = response.bytes().map_err(|e| Failure::Retry(describe(&e)))?;
    if status.is_success() {
        return Ok((body.to_vec(), asked));
    }
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let text = format!("HTTP {}: {message}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Err(Failure::Retry(text))
    } else {
        Err(Failure::Refused(text))
    }
}

/// Reads a 2xx reply as `what`. One that does not read (a proxy's page, a
/// server of another version) is tried again later.
fn read<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::Retry(format!(
            "the server's reply is not {what}: {e} ({})",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        ))
    })
}

/// Sends a request and reads its 2xx reply as `what`.
pub(super) fn send<T: DeserializeOwned>(
    req: reqwest::blocking::RequestBuilder,
    what: &str,
) -> Result<T, Failure> {
    read(&exchange(req)?, what)
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
pub(super) struct Backoff {
    failures: u32,
}

impl Backoff {
    pub(super) fn next(&mut self) -> Duration {
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

/// With nothing to send, the shipper still checks in this often (a HEAD of
/// the session's status), so the proctor sees the candidate is connected
/// and the candidate's "online" is true (~120 requests, ~60 KB an hour).
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// How often an idle client checks in: [`HEARTBEAT`], or more often when
/// the session's policy asks for spot checks (a quarter of `spot_check_s`,
/// at least every 2 s), since the server's requests ride on the replies.
fn heartbeat_every(meta: &SessionMeta) -> Duration {
    let spot = meta
        .policy
        .get("spot_check_s")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(60.0);
    if spot > 0.0 && spot.is_finite() {
        HEARTBEAT.min(Duration::from_secs_f64((spot / 4.0).max(2.0)))
    } else {
        HEARTBEAT
    }
}

pub(super) struct Shipper {
    shared: Arc<Shared>,
    http: reqwest::blocking::Client,
    backoff: Backoff,
    /// When the server last answered.
    last_contact: Option<Instant>,
}

impl Shipper {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
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

    pub(super) fn run(mut self) {
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
            // What waits for the session, counted while it cannot be made.
            if let Ok(pending) = lock(&self.shared.journal).pending() {
                self.status().pending = pending.len() as u64;
            }
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
            let every = heartbeat_every(&meta);
            let due = self.last_contact.is_none_or(|t| t.elapsed() >= every);
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
                let batch: Vec<(u64, &Event)> = pending
                    .iter()
                    .map_while(|r| match &r.item {
                        Item::Event(e) => Some((r.id, e)),
                        Item::Media(_) => None,
                    })
                    .take(BATCH)
                    .collect();
                self.send_events(&meta, batch.iter().map(|(_, e)| *e))?;
                batch.last().expect("non-empty").0
            }
            Item::Media(media) => {
                self.send_media(&meta, media)?;
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

    /// Keeps the server's spot-check request for the session to serve (a
    /// newer one replaces one not yet served).
    fn asked(&self, request: Option<String>) {
        if let Some(r) = request {
            *lock(&self.shared.snapshot_request) = Some(r);
        }
    }

    /// Counts one answered request in the status.
    fn count_request(&self, sent: u64, received: usize) -> MutexGuard<'_, UplinkStatus> {
        let mut s = self.status();
        s.requests += 1;
        s.bytes_sent += sent;
        s.bytes_received += received as u64;
        s
    }

    fn create(&self, meta: &SessionMeta) -> Result<(), Failure> {
        // Begun offline from a ticket: redeem its code; else open enrolment.
        let (exam_id, candidate_id) = match meta.launch_code {
            Some(_) => (None, None),
            None => (Some(meta.exam_id.clone()), Some(meta.candidate_id.clone())),
        };
        let body = serde_json::to_string(&CreateSession {
            session_id: Some(meta.session_id.clone()),
            launch_code: meta.launch_code.clone(),
            exam_id,
            candidate_id,
            policy: meta.policy.clone(),
            token: Some(meta.token.clone()),
            ticket: meta.ticket.clone(),
        })
        .expect("a session request serialises");
        let len = body.len() as u64;
        let reply = exchange(
            self.http
                .post(format!("{}/api/v1/sessions", meta.server))
                .header("content-type", "application/json")
                .body(body),
        )?;
        drop(self.count_request(len, reply.len()));
        let created: Created = read(&reply, "a created session")?;
        if created.session_id != meta.session_id || created.token != meta.token {
            return Err(Failure::Refused(format!(
                "the server created session {} instead of {}",
                created.session_id, meta.session_id
            )));
        }
        tracing::info!("session {} created on {}", meta.session_id, meta.server);
        Ok(())
    }

    /// Asks the server for the session's status: proves the connection and
    /// lets the server record that the candidate is still there.
    fn heartbeat(&mut self, meta: &SessionMeta) -> Result<(), Failure> {
        // HEAD: the server checks the token and notes the contact; no body
        // comes back (~500 bytes with headers).
        let (reply, asked) = exchange_asked(
            self.http
                .head(format!(
                    "{}/api/v1/sessions/{}",
                    meta.server, meta.session_id
                ))
                .bearer_auth(meta.token.as_str()),
        )?;
        self.asked(asked);
        drop(self.count_request(0, reply.len()));
        self.last_contact = Some(Instant::now());
        Ok(())
    }

    fn send_events<'e>(
        &self,
        meta: &SessionMeta,
        events: impl Iterator<Item = &'e Event>,
    ) -> Result<(), Failure> {
        let body = serde_json::to_string(&EventBatch {
            events: events.cloned().collect(),
        })
        .expect("events serialise");
        let len = body.len() as u64;
        let (reply, asked) = exchange_asked(
            self.http
                .post(format!(
                    "{}/api/v1/sessions/{}/events",
                    meta.server, meta.session_id
                ))
                .bearer_auth(meta.token.as_str())
                .header("content-type", "application/json")
                .body(body),
        )?;
        self.asked(asked);
        drop(self.count_request(len, reply.len()));
        let taken: BatchReply = read(&reply, "a batch reply")?;
        self.status().sent_events += taken.accepted;
        if let Some(r) = &taken.receipt {
            self.keep_receipt(meta, &taken, r);
        }
        Ok(())
    }

    /// Appends the server's signed receipt to `receipts.jsonl` beside the
    /// journal (docs/receipts.md). The candidate's proof of what the server
    /// acknowledged; a failure to keep it is reported, not fatal.
    fn keep_receipt(&self, meta: &SessionMeta, reply: &BatchReply, r: &BatchReceipt) {
        use std::io::Write;
        let line = serde_json::json!({
            "session_id": meta.session_id,
            "next_seq": reply.next_seq,
            "head": reply.head,
            "key_id": r.key_id,
            "signature": r.signature,
        });
        let path = self.shared.dir.join(RECEIPTS_FILE);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}").and_then(|()| f.sync_data()));
        if let Err(e) = written {
            tracing::warn!(
                "cannot keep the server's receipt in {}: {e}",
                path.display()
            );
            self.status().journal_error = Some(format!("receipt not kept: {e}"));
        }
    }

    fn send_media(&self, meta: &SessionMeta, media: &Media) -> Result<(), Failure> {
        let Media {
            kind,
            name,
            content_type,
            sha256,
            ..
        } = media;
        let path = lock(&self.shared.journal).media_path(sha256);
        let body = std::fs::read(&path).map_err(|e| {
            Failure::Refused(format!(
                "media {name} is missing from the journal ({}): {e}",
                path.display()
            ))
        })?;
        let len = body.len() as u64;
        let reply = exchange(
            self.http
                .put(format!(
                    "{}/api/v1/sessions/{}/media/{sha256}",
                    meta.server, meta.session_id
                ))
                .query(&[("name", name.as_str()), ("kind", kind.as_str())])
                .bearer_auth(meta.token.as_str())
                .header("content-type", content_type.as_str())
                .body(body),
        )?;
        drop(self.count_request(len, reply.len()));
        let stored: MediaStored = read(&reply, "a stored media reply")?;
        if stored.sha256 != *sha256 {
            return Err(Failure::Refused(format!(
                "the server stored media {} for {sha256}",
                stored.sha256
            )));
        }
        self.status().sent_media += 1;
        Ok(())
    }
}
