//! A session streamed to the server: events and media are linked into the
//! session's hash chain, journaled (fsynced), and shipped by a background
//! thread with retries, exponential backoff and jitter.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use invigil_core::chain;
use invigil_core::protocol::{CandidateToken, ExamBrief, LaunchCode, MediaKind};
use invigil_core::sync::lock;
use invigil_core::Event;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::session::SessionMeta;
use crate::{Journal, JournalError};

mod enrol;
mod shipper;

pub use shipper::{HEARTBEAT, RECEIPTS_FILE};

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
    /// A launch code from the exam's organisers: the server starts the
    /// session when first reached (retried for up to the resolve timeout)
    /// and says which exam, candidate and policy it runs. With the launch
    /// link's offline ticket, a server still unreachable then does not stop
    /// the start: the session is the ticket's, and the code is redeemed
    /// when the server is first reached (docs/exams.md).
    Launch {
        server: String,
        code: LaunchCode,
        ticket: Option<String>,
    },
    /// A session created beforehand on the server (a proctor or exam
    /// platform handed out the token). Its id comes from `session_id`, or
    /// from the server at start.
    Token {
        server: String,
        token: CandidateToken,
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
    #[error("cannot start the session on {server}: {problem}")]
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
    /// The spot check the server asked for, until the session serves it.
    snapshot_request: Mutex<Option<String>>,
}

/// The streaming side of one session.
pub struct Uplink {
    shared: Arc<Shared>,
    shipper: Option<JoinHandle<()>>,
    /// Events the journal refused (disk full); retried on every record.
    backlog: Mutex<Vec<Event>>,
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
            SessionRequest::Enrol { server, .. }
            | SessionRequest::Token { server, .. }
            | SessionRequest::Launch { server, .. } => server.trim_end_matches('/').to_owned(),
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
                let meta = enrol::new_meta(&server, request, resolve_timeout)?;
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
            snapshot_request: Mutex::new(None),
        });
        let shipper = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("invigil-shipper".into())
                .spawn(move || shipper::Shipper::new(shared).run())
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

    /// The policy the session runs as the server set it (a launch code's
    /// or a token's session); `None` when this client chose it (open
    /// enrolment).
    pub fn server_policy(&self) -> Option<serde_json::Map<String, Value>> {
        let meta = lock(&self.shared.meta);
        meta.policy_from_server.then(|| meta.policy.clone())
    }

    /// The exam, when a launch code started the session.
    pub fn exam(&self) -> Option<ExamBrief> {
        lock(&self.shared.meta).exam.clone()
    }

    pub fn session_id(&self) -> String {
        lock(&self.shared.meta).session_id.clone()
    }

    /// The spot check the server asked for, if one waits: the session takes
    /// the next frame's snapshot for it (docs/spot-checks.md).
    pub fn take_snapshot_request(&self) -> Option<String> {
        lock(&self.shared.snapshot_request).take()
    }

    /// Links the event into the chain (sets `prev`) and journals it. A
    /// journal failure is reported in the status and the event is held in
    /// memory until the journal takes it; it never stops the session.
    pub fn record(&self, event: &mut Event) {
        let mut meta = lock(&self.shared.meta);
        meta.link(event);
        self.push(event.clone(), Some(&meta));
    }

    /// Journals a media body (stored under its SHA-256); returns the digest.
    pub fn record_media(
        &self,
        kind: MediaKind,
        name: &str,
        content_type: &str,
        body: &[u8],
    ) -> String {
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

    fn push(&self, event: Event, meta: Option<&SessionMeta>) {
        let mut backlog = lock(&self.backlog);
        backlog.push(event);
        let mut journal = lock(&self.shared.journal);
        let mut error = None;
        while let Some(event) = backlog.first() {
            match journal.append_event(event) {
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
            let events = std::mem::take(&mut *lock(&self.backlog));
            for event in events {
                self.push(event, Some(&meta));
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
