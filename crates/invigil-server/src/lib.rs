//! invigil-server: the proctor backend.
//!
//! Candidates' clients create a session, append hash-chained batches of
//! events and upload media (flagged clips, check-in photos); proctors sign
//! in, list sessions, read timelines, fetch media and follow a live stream
//! of every warning and violation. See docs/api.md and
//! `GET /api/v1/openapi.json`.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let dir = std::path::Path::new("/var/lib/invigil");
//! let config = invigil_server::Config::new(dir, "127.0.0.1:8480".parse()?);
//! let server = invigil_server::Server::start(config).await?;
//! println!("listening on {}", server.addr());
//! server.wait().await?;
//! # Ok(()) }
//! ```

mod api;
pub mod auth;
mod badge_page;
pub mod badges;
pub mod db;
mod error;
mod exam_rules;
pub mod exams;
pub mod export;
pub mod forensics;
mod ingest;
mod json;
mod launch;
mod media_guard;
pub mod retention;
pub mod review;
pub mod serve;
pub use signing::{key_id, unhex, verify as verify_receipt, Signer, KEY_FILE};
mod relay;
mod signing;
mod spot;
pub mod store;
pub mod throttle;
mod timeline;
mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::broadcast;

pub use db::{Backend, Db};
pub use error::ApiError;
use store::MediaStore;

/// Largest event batch body by default (1 MiB: ~2,000 events).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Largest media upload by default (64 MiB: a 10 s clip is ~0.5–2 MiB).
pub const DEFAULT_MAX_MEDIA_BYTES: usize = 64 << 20;
/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Largest `policy` of a session and `data` of an event, as compact JSON.
pub const MAX_JSON_FIELD_BYTES: usize = 16 << 10;
/// Sessions one client address may create per minute, by default.
pub const DEFAULT_SESSIONS_PER_MINUTE: u32 = 120;
/// Media items one session may upload, by default (a 3-hour exam with a
/// clip every minute and the check-in photos fits).
pub const DEFAULT_MEDIA_QUOTA_ITEMS: u32 = 300;
/// Media bytes one session may upload, by default.
pub const DEFAULT_MEDIA_QUOTA_BYTES: u64 = 500 << 20;

/// Server settings; see docs/api.md.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Data directory: the SQLite database (unless `database_url` says
    /// otherwise) and the media store.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    pub max_body_bytes: usize,
    pub max_media_bytes: usize,
    /// Directory of the proctor console's built files, served at `/`.
    pub console_dir: Option<PathBuf>,
    /// Delete sessions inactive for longer than this many days (checked at
    /// start and hourly); `None` keeps everything.
    pub retention_days: Option<u32>,
    /// The server is reached through a reverse proxy it trusts: the client
    /// address is the last of `X-Forwarded-For`, HTTPS is told by
    /// `X-Forwarded-Proto`, the origin by `X-Forwarded-Host`.
    pub behind_proxy: bool,
    /// Always mark the console's cookie `Secure`.
    pub secure_cookies: bool,
    /// Sessions one client address may create per minute (0: no limit).
    pub sessions_per_minute: u32,
    /// Most media items one session may upload.
    pub media_quota_items: u32,
    /// Most media bytes one session may upload.
    pub media_quota_bytes: u64,
    /// Connection limits and timeouts.
    pub connections: serve::ConnectionLimits,
    /// Sessions may also be created without a launch code, for any exam
    /// and candidate the client names, with the client's policy (demos,
    /// tests, a trial). Off by default.
    pub open_enrolment: bool,
    /// The address candidates and verifiers reach the server at
    /// (`https://exams.example.edu`): badge URLs and the `did:web` issuer
    /// are made from it. Default: `http://` + `listen`.
    pub public_url: Option<String>,
    /// The issuer's name on badges.
    pub badge_issuer_name: String,
    /// How badges name their issuer; default `did:web` when the public URL
    /// is `https://`, else `did:key` (docs/badges.md).
    pub badge_did: Option<badges::DidMethod>,
    /// Where media bodies go: a directory, or `s3://BUCKET[/PREFIX]` with
    /// the `AWS_*` variables (docs/deploy.md). Default: `data_dir/media`.
    pub media: Option<String>,
    /// Settings of an S3 media store over the `AWS_*` variables.
    pub s3: store::S3Options,
}

impl Config {
    pub fn new(data_dir: &Path, listen: SocketAddr) -> Self {
        Self {
            listen,
            data_dir: data_dir.to_owned(),
            database_url: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
            console_dir: None,
            retention_days: None,
            behind_proxy: false,
            secure_cookies: false,
            sessions_per_minute: DEFAULT_SESSIONS_PER_MINUTE,
            media_quota_items: DEFAULT_MEDIA_QUOTA_ITEMS,
            media_quota_bytes: DEFAULT_MEDIA_QUOTA_BYTES,
            connections: serve::ConnectionLimits::default(),
            open_enrolment: false,
            public_url: None,
            media: None,
            s3: store::S3Options::default(),
            badge_issuer_name: "invigil".into(),
            badge_did: None,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| db::sqlite_url(&self.data_dir))
    }

    /// `media`, or the `media` directory in `data_dir`.
    pub fn media_location(&self) -> String {
        self.media
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media").display().to_string())
    }

    /// The public URL (no trailing slash), issuer name and DID method.
    pub fn issuing(&self) -> badges::Issuing {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned();
        let did = self
            .badge_did
            .unwrap_or(if public_url.starts_with("https://") {
                badges::DidMethod::Web
            } else {
                badges::DidMethod::Key
            });
        badges::Issuing {
            public_url,
            issuer_name: self.badge_issuer_name.clone(),
            did,
        }
    }
}

/// A warning or violation pushed to every connected proctor.
pub use invigil_core::protocol::Alert;

/// What [`AppState`] shares; reached through it.
pub struct Inner {
    pub(crate) db: Db,
    pub(crate) store: Arc<dyn MediaStore>,
    pub(crate) alerts: broadcast::Sender<Arc<Alert>>,
    /// What the server found about a session (`policy_mismatch`, ...).
    pub(crate) notes: broadcast::Sender<Arc<invigil_core::protocol::NoteAlert>>,
    /// Proctors' decisions, pushed to every console so they stay in step.
    pub(crate) decisions: broadcast::Sender<Arc<invigil_core::protocol::Decided>>,
    pub config: Config,
    /// Set when the server shuts down; ends the live alert streams.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    /// One writer at a time per session, so chain checks see a stable head.
    session_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Failed sign-ins by address and user name.
    pub(crate) sign_in: throttle::SignInThrottle,
    /// Password checks running at once (argon2 takes ~19 MiB each).
    pub(crate) password_checks: tokio::sync::Semaphore,
    /// Session creations by address.
    pub(crate) creations: throttle::RateLimit,
    /// Password checks running now, and the most seen at once.
    pub(crate) password_checks_running: std::sync::atomic::AtomicUsize,
    pub(crate) password_checks_peak: std::sync::atomic::AtomicUsize,
    /// Spot-check schedules and the server's face detector.
    pub(crate) spot: spot::Spot,
    /// Signs batch receipts (docs/receipts.md).
    pub(crate) signer: signing::Signer,
    /// Data-forensics analyses running: one at a time (each takes a core
    /// for seconds to minutes).
    pub(crate) analyses: tokio::sync::Semaphore,
    /// The badge issuer's keys (`<data>/badge-keys/`), its public URL and
    /// DID, one issuance at a time, and the signed status lists.
    pub(crate) badge_keys: badges::BadgeKeys,
    pub(crate) issuing: badges::Issuing,
    pub(crate) badge_issuing: tokio::sync::Mutex<()>,
    pub(crate) badge_lists: badges::ListCache,
    /// Batches this node stored, handed to its alert relay (PostgreSQL).
    pub(crate) relay_local: std::sync::OnceLock<relay::LocalSender>,
}

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the database (migrating it) and the media store.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let db = Db::open(&config.database_url()).await?;
        let upload_dir = config.data_dir.join("tmp");
        std::fs::create_dir_all(&upload_dir)
            .with_context(|| format!("cannot create {}", upload_dir.display()))?;
        let store = store::open(&config.media_location(), &config.s3)?;
        store
            .check()
            .await
            .with_context(|| format!("cannot use the media store {}", store.describe()))?;
        let signer = signing::Signer::load_or_create(&config.data_dir)?;
        let badge_keys = badges::BadgeKeys::load_or_create(&config.data_dir)?;
        Ok(Self::with_parts(config, db, store, signer, badge_keys))
    }

    pub fn with_parts(
        config: Config,
        db: Db,
        store: Arc<dyn MediaStore>,
        signer: signing::Signer,
        badge_keys: badges::BadgeKeys,
    ) -> Self {
        // A stalled reader pins at most this many alerts (each event at most
        // MAX_JSON_FIELD_BYTES of data), then reads `lagged`.
        let (alerts, _) = broadcast::channel(1024);
        let (decisions, _) = broadcast::channel(1024);
        let (notes, _) = broadcast::channel(1024);
        Self(Arc::new(Inner {
            db,
            store,
            alerts,
            notes,
            decisions,
            closing: tokio::sync::watch::Sender::new(false),
            session_locks: Mutex::new(HashMap::new()),
            sign_in: throttle::SignInThrottle::default(),
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            creations: throttle::RateLimit::new(config.sessions_per_minute),
            password_checks_running: Default::default(),
            password_checks_peak: Default::default(),
            spot: Default::default(),
            signer,
            analyses: tokio::sync::Semaphore::new(1),
            badge_keys,
            issuing: config.issuing(),
            badge_issuing: tokio::sync::Mutex::new(()),
            badge_lists: Default::default(),
            relay_local: Default::default(),
            config,
        }))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Where uploads are received before they are verified and stored.
    pub(crate) fn upload_dir(&self) -> PathBuf {
        self.config.data_dir.join("tmp")
    }

    /// The media store.
    pub fn store(&self) -> &Arc<dyn MediaStore> {
        &self.store
    }

    /// Subscribes to the live alert stream (what `/api/v1/alerts` sends).
    pub fn subscribe_alerts(&self) -> broadcast::Receiver<Arc<Alert>> {
        self.alerts.subscribe()
    }

    /// Waits for and takes the session's writer lock. The map holds an
    /// entry only while someone holds or waits for it, so ids that do not
    /// exist or sessions long ended leave nothing behind.
    pub(crate) async fn lock_session(&self, session_id: &str) -> SessionLock {
        let mutex = {
            let mut locks = self.session_locks.lock().expect("lock map never poisoned");
            Arc::clone(locks.entry(session_id.to_owned()).or_default())
        };
        let guard = Arc::clone(&mutex).lock_owned().await;
        SessionLock {
            state: self.clone(),
            id: session_id.to_owned(),
            mutex,
            guard: Some(guard),
        }
    }

    /// The most password checks that ran at once (at most one per core).
    pub fn password_check_peak(&self) -> usize {
        self.password_checks_peak
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions with a lock entry (held or awaited), for tests.
    pub fn session_locks_held(&self) -> usize {
        self.session_locks
            .lock()
            .expect("lock map never poisoned")
            .len()
    }
}

/// A session's writer lock; see [`AppState::lock_session`].
pub(crate) struct SessionLock {
    state: AppState,
    id: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = self
            .state
            .session_locks
            .lock()
            .expect("lock map never poisoned");
        // The map's reference and ours: nobody else waits for it. Clones
        // are made only under the map's lock, so none can appear now.
        if Arc::strong_count(&self.mutex) == 2 {
            locks.remove(&self.id);
        }
    }
}

/// Parses and checks an event batch body exactly as ingest does before it
/// touches the database (strict JSON, limits, kinds, sizes, the chain from
/// the session's origin); the number of events it would append. For the
/// fuzz targets (crates/invigil-fuzz).
pub fn check_batch(session_id: &str, body: &[u8]) -> Result<u64, ApiError> {
    let batch: invigil_core::protocol::EventBatch = json::parse(body)?;
    ingest::validate(&batch)?;
    let origin = invigil_core::chain::origin(session_id);
    match invigil_core::chain::append(0, &origin, &HashMap::new(), batch.events) {
        Ok(appended) => Ok(appended.fresh.len() as u64),
        Err(rejection) => Err(ingest::rejection_error(rejection)),
    }
}

/// Milliseconds since the Unix epoch, by the server's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The HTTP application (routes and limits) over some state.
pub fn router(state: AppState) -> axum::Router {
    api::router(state)
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Connections the kernel may hold for the server before it accepts them.
/// The usual default (128) is few when an exam starts or ends and
/// hundreds of candidates connect in the same instant: beyond it the
/// kernel drops connection attempts and each waits a second to try again.
/// Linux caps it at `net.core.somaxconn` (4096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`].
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restarted server may bind at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Server {
    /// Opens the state, binds the address and starts serving on the current
    /// tokio runtime.
    pub async fn start(mut config: Config) -> anyhow::Result<Self> {
        let listen = config.listen;
        let listener = bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
        // Badge links name the address actually bound (port 0 included).
        config.listen = listener.local_addr()?;
        let state = AppState::open(config).await?;
        Self::start_on(listener, state)
    }

    /// Serves `state` on an already bound listener.
    pub fn start_on(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        if let Some(days) = state.config.retention_days {
            retention::spawn_retention(state.clone(), days);
        }
        if state.db.backend == db::Backend::Postgres {
            relay::spawn(state.clone(), state.config.database_url());
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        let limits = state.config.connections;
        let task = tokio::spawn(serve::serve(listener, app, limits, async move {
            let _ = rx.await;
        }));
        Ok(Self {
            addr,
            state,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections and waits for open requests to finish.
    /// Live alert streams are closed.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Alert streams never end on their own: tell them to.
        let _ = self.state.closing.send(true);
        tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task)
            .await
            .map(|r| {
                r.map_err(anyhow::Error::from)
                    .and_then(|r| r.map_err(Into::into))
            })
            .unwrap_or(Ok(()))
    }

    /// Serves until the task ends.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }
}

/// Creates a proctor account (or replaces its password: every sign-in of
/// the account ends).
pub async fn set_proctor(db: &Db, username: &str, password: &str) -> anyhow::Result<()> {
    validate::validate_username(username).map_err(|e| anyhow::anyhow!(e.message))?;
    anyhow::ensure!(
        password.chars().count() >= 8,
        "the password must have at least 8 characters"
    );
    let phc = auth::hash_password(password).map_err(|e| anyhow::anyhow!(e))?;
    // The first account of a server is its admin; later ones proctors.
    sqlx::query(
        "INSERT INTO proctors (username, password_hash, created_ms, role) VALUES ($1, $2, $3, \
         CASE WHEN EXISTS (SELECT 1 FROM proctors) THEN 'proctor' ELSE 'admin' END) \
         ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
    )
    .bind(username)
    .bind(&phc)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    sqlx::query("DELETE FROM proctor_tokens WHERE username = $1")
        .bind(username)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// An account's role: `admin` (manages exams, enrolments and accounts) or
/// `proctor` (reviews).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Proctor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Proctor => "proctor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "proctor" => Some(Role::Proctor),
            _ => None,
        }
    }
}

/// Sets an account's role; false when there is no such account. Its
/// sign-ins carry the new role at once (it is read at every request).
pub async fn set_role(db: &Db, username: &str, role: Role) -> anyhow::Result<bool> {
    let changed = sqlx::query("UPDATE proctors SET role = $1 WHERE username = $2")
        .bind(role.as_str())
        .bind(username)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(changed == 1)
}

/// Accounts and their roles, by name.
pub async fn accounts(db: &Db) -> anyhow::Result<Vec<(String, Role)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT username, role FROM proctors ORDER BY username")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(name, role)| (name, Role::parse(&role).unwrap_or(Role::Proctor)))
        .collect())
}

/// Removes a proctor account and ends its sign-ins; false when there is no
/// such account. Its decisions stay in the audit trail under its name.
pub async fn remove_proctor(db: &Db, username: &str) -> anyhow::Result<bool> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM proctor_tokens WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?;
    let removed = sqlx::query("DELETE FROM proctors WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(removed == 1)
}
