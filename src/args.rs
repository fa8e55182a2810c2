//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// On-device online proctoring: face presence, exam rules and scripted
/// webcam scenarios.
#[derive(Parser, Debug)]
#[command(name = "invigil", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); or set INVIGIL_LOG.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Detect faces in still images.
    Detect(DetectArgs),
    /// Run the whole pipeline on a camera, file or scenario and write events.
    Watch(WatchArgs),
    /// QA: run scripted scenarios and check the events they produce.
    Qa {
        #[command(subcommand)]
        command: QaCommand,
    },
    /// List attached cameras.
    Cameras,
    /// Print the default policy as TOML, or check a policy file.
    Policy(PolicyArgs),
    /// The on-disk journal of events and media waiting to be sent.
    Uplink {
        #[command(subcommand)]
        command: UplinkCommand,
    },
    /// Run the proctor backend (API, live alerts, media store).
    Serve(ServeArgs),
    /// The whole system on this machine: the server with its console, a
    /// proctor account, and candidate sessions from the webcam (or, without
    /// one, bundled scenarios) streamed live.
    Demo(DemoArgs),
    /// Manage proctor accounts of a server's database.
    Proctor {
        #[command(subcommand)]
        command: ProctorCommand,
    },
    /// Judge photographs as the check-in would (face photo, ID photo, room
    /// views): accepted or refused, why, and the measures behind it.
    Checkin(CheckinArgs),
    /// Whether two photographs show the same person (on-device face
    /// embedding): exit 0 the same, 1 different, 2 unreadable or no face.
    Identify(IdentifyArgs),
    /// Data forensics on an exam's item-level results: answer similarity,
    /// person fit, pre-knowledge, aberrant speed (docs/forensics.md).
    Forensics {
        #[command(subcommand)]
        command: ForensicsCommand,
    },
    /// Verifiable badges (docs/badges.md): verify one as an employer would,
    /// or manage the issuer's signing keys.
    Badge {
        #[command(subcommand)]
        command: BadgeCommand,
    },
    /// List, export and delete the sessions a server's database holds
    /// (retention, a candidate's request for or erasure of their data).
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Exams on a running server (admins): create and change them, enrol
    /// candidates, issue their launch codes (docs/exams.md).
    Exams {
        #[command(flatten)]
        server: ServerLogin,
        #[command(subcommand)]
        command: ExamsCommand,
    },
}

/// How `invigil exams` reaches the server and signs in.
#[derive(Args, Debug, Clone)]
pub struct ServerLogin {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "INVIGIL_SERVER",
        default_value = "http://127.0.0.1:8480"
    )]
    pub server: String,
    /// An admin account (`invigil proctor add NAME --role admin`); listing
    /// and showing also work for proctors.
    #[arg(long, global = true, value_name = "NAME", env = "INVIGIL_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of standard input (otherwise
    /// from INVIGIL_PASSWORD).
    #[arg(long, global = true)]
    pub password_stdin: bool,
}

#[derive(Subcommand, Debug)]
pub enum ExamsCommand {
    /// Create an exam: its window, policy, check-in and aids.
    Create(ExamArgs),
    /// Change an exam (only while none of its sessions has started).
    Update(ExamArgs),
    /// List exams.
    List(JsonArg),
    /// Show an exam and its enrolments.
    Show(ExamShowArgs),
    /// Enrol candidates (a CSV roster, or one with --candidate) and print
    /// their launch codes as CSV for mailing: candidate_id,name,email,code,link
    /// (the launch link, with its offline ticket).
    Enrol(ExamEnrolArgs),
    /// Issue new launch codes for enrolments whose code is unused (their
    /// old codes stop working), printed as CSV.
    Codes(ExamCodesArgs),
    /// Set a candidate's accommodations: policy keys that differ for them.
    Accommodate(ExamAccommodateArgs),
    /// Define what the exam's badge says (docs/badges.md): name, criteria,
    /// description, image, validity.
    Achievement(ExamAchievementArgs),
    /// Record passes and issue their badges (all or none): a results CSV
    /// (a candidate_id column, optionally passed) or --candidate ...; prints
    /// candidate_id,status,url as CSV for mailing the badge links.
    Pass(ExamPassArgs),
    /// List the exam's badges and their status.
    Badges(ExamShowArgs),
    /// Suspend, reinstate (valid) or revoke (final) a badge, with a reason.
    BadgeStatus(ExamBadgeStatusArgs),
}

#[derive(Args, Debug)]
pub struct ExamAchievementArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// The badge's name (1-200 characters).
    #[arg(long)]
    pub name: String,
    /// How it is earned, in words.
    #[arg(long)]
    pub criteria: String,
    #[arg(long, default_value = "")]
    pub description: String,
    /// The badge image: a PNG of at most 256 KiB (default: keep the current
    /// one, or the server's plain medal).
    #[arg(long, value_name = "FILE.png")]
    pub image: Option<PathBuf>,
    /// Months a badge stays valid (default: no expiry).
    #[arg(long, value_name = "N")]
    pub valid_months: Option<u32>,
}

#[derive(Args, Debug)]
pub struct ExamPassArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// A results CSV: a header with candidate_id and, optionally, passed.
    #[arg(long, value_name = "FILE", conflicts_with = "candidates")]
    pub results: Option<PathBuf>,
    /// A candidate who passed; repeat.
    #[arg(long = "candidate", value_name = "ID")]
    pub candidates: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExamBadgeStatusArgs {
    /// The badge's id (the uuid in its URL).
    #[arg(value_name = "BADGE")]
    pub badge: String,
    #[arg(long, value_parser = ["suspended", "valid", "revoked"])]
    pub status: String,
    /// Why (kept in the audit trail; not shown on the public page).
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct JsonArg {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExamArgs {
    /// The exam id: letters, digits, `.`, `_`, `:`, `-`.
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// The title candidates and proctors see.
    #[arg(long)]
    pub title: String,
    /// When launch codes start to work: RFC 3339 (2026-12-01T09:00:00Z),
    /// `now`, or from now (`+30m`, `+2h`, `+1d`).
    #[arg(long, value_name = "TIME")]
    pub opens: String,
    /// When they stop working (same forms as --opens).
    #[arg(long, value_name = "TIME")]
    pub closes: String,
    /// A policy file (TOML, as `invigil policy --check` reads); the keys it
    /// sets are the exam's, the rest keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The check-in asks for no face photo.
    #[arg(long)]
    pub no_face_photo: bool,
    /// The check-in asks for no ID photo.
    #[arg(long)]
    pub no_id_photo: bool,
    /// The check-in asks for no room scan.
    #[arg(long)]
    pub no_room_scan: bool,
    /// The check-in asks for no head-turn liveness check with the face
    /// photo (for candidates who cannot turn their head).
    #[arg(long)]
    pub no_liveness: bool,
    /// Scratch paper is allowed (looking down at the desk is no violation).
    #[arg(long)]
    pub scratch_paper: bool,
    /// Books are allowed (a book in view is no violation).
    #[arg(long)]
    pub books: bool,
    /// Breaks allowed (0: none).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub breaks: u32,
    /// Length of each break, minutes.
    #[arg(long, value_name = "MIN", default_value_t = 10.0)]
    pub break_minutes: f64,
    /// The exam clock during a break: `paused` or `running`.
    #[arg(long, value_name = "CLOCK", default_value = "paused")]
    pub break_clock: String,
}

#[derive(Args, Debug)]
pub struct ExamShowArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// The exam and its enrolments as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExamEnrolArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// A CSV roster: candidate_id,name,email per line (a header line is
    /// optional).
    #[arg(long, value_name = "FILE", conflicts_with = "candidate")]
    pub roster: Option<PathBuf>,
    /// One candidate's id (instead of --roster).
    #[arg(long, value_name = "ID")]
    pub candidate: Option<String>,
    #[arg(long, requires = "candidate")]
    pub name: Option<String>,
    #[arg(long, requires = "candidate")]
    pub email: Option<String>,
    /// An accommodation for --candidate, KEY=VALUE (a policy key); repeat.
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "candidate")]
    pub set: Vec<String>,
    /// Write the codes to this file (created, readable by its owner only)
    /// instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub codes_out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExamCodesArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    /// Only this candidate; repeat. Default: every unused code.
    #[arg(long = "candidate", value_name = "ID")]
    pub candidates: Vec<String>,
    /// Write the codes to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub codes_out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExamAccommodateArgs {
    #[arg(value_name = "EXAM")]
    pub id: String,
    #[arg(value_name = "CANDIDATE")]
    pub candidate: String,
    /// A policy key for this candidate, KEY=VALUE; repeat. None: no
    /// accommodations any more.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Why (kept in the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct IdentifyArgs {
    /// A photograph of a person (the largest face in it is compared).
    #[arg(value_name = "IMAGE_A")]
    pub a: PathBuf,
    /// Another photograph.
    #[arg(value_name = "IMAGE_B")]
    pub b: PathBuf,
    /// Print {"similarity", "same_person", "threshold"} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Cosine similarity from which two faces count as one person
    /// (default: the measured operating point, docs/identity.md).
    #[arg(long, value_name = "SIMILARITY")]
    pub threshold: Option<f32>,
}

#[derive(Args, Debug)]
pub struct CheckinArgs {
    /// A face photo: one face, centred, large enough, well lit.
    #[arg(long, value_name = "IMAGE")]
    pub face: Option<PathBuf>,
    /// An ID photo: a document with four visible edges, sharp, with its
    /// portrait.
    #[arg(long, value_name = "IMAGE")]
    pub id: Option<PathBuf>,
    /// Room views in scan order (front, right, back, left, desk); each must
    /// be lit and unlike the face photo and the views before it.
    #[arg(long, value_name = "IMAGE")]
    pub room: Vec<PathBuf>,
    /// One JSON object per photo per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BadgeCommand {
    /// Verify a badge: a credential (JSON) or a baked badge (PNG), from a
    /// file or a URL (a badge page's URL works too). Checks the signature
    /// with the issuer's key (did:key, or did:web fetched), the dates, the
    /// recipient (--email) and, online, the revocation and suspension
    /// lists. Exit 0 valid; 1 invalid, revoked, suspended, expired, or the
    /// email does not match; 2 unreadable.
    Verify(BadgeVerifyArgs),
    /// The issuer's signing keys in a server's data directory; --rotate
    /// adds a key that signs from then on (old keys stay published, so the
    /// badges they signed still verify). Restart the server afterwards.
    Keys(BadgeKeysArgs),
}

#[derive(Args, Debug)]
pub struct BadgeVerifyArgs {
    /// A credential .json or baked .png file, or an http(s) URL of one (or
    /// of the badge's page).
    #[arg(value_name = "FILE|URL")]
    pub source: String,
    /// The holder's email: check that the badge was issued to it.
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// Print the verification as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Fetch nothing: a did:web issuer cannot be checked and the status
    /// lists are skipped (reported as not checked).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Args, Debug)]
pub struct BadgeKeysArgs {
    /// The server's data directory.
    #[arg(long, value_name = "DIR", default_value = "invigil-data")]
    pub data: PathBuf,
    /// Add a new signing key.
    #[arg(long)]
    pub rotate: bool,
}

#[derive(Subcommand, Debug)]
pub enum ForensicsCommand {
    /// Analyze one exam delivery's results: a report (JSON and HTML) in
    /// --out; exit 0, or 3 when any result meets the invalidation
    /// conditions (a person still decides).
    Analyze(ForensicsAnalyzeArgs),
}

#[derive(Args, Debug)]
pub struct ForensicsAnalyzeArgs {
    /// The results: one row per candidate and item (long) or per candidate
    /// (wide), CSV (docs/forensics.md, "Input").
    #[arg(long, value_name = "FILE")]
    pub responses: PathBuf,
    /// Items: key, options, and which are known to be compromised.
    #[arg(long, value_name = "FILE")]
    pub items: Option<PathBuf>,
    /// Candidates: test centre (pairs are compared within centres above
    /// 5,000 candidates) and attempt.
    #[arg(long, value_name = "FILE")]
    pub candidates: Option<PathBuf>,
    /// Directory for report.json and report.html (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The false-invalidation budget per candidate.
    #[arg(long, value_name = "P", default_value_t = 1e-6)]
    pub budget: f64,
    /// The review level per candidate and index.
    #[arg(long, value_name = "P", default_value_t = 1e-3)]
    pub review: f64,
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List stored sessions, the longest inactive first.
    List(SessionsListArgs),
    /// Delete sessions by id: events, clips, photos, notes and decisions.
    Delete(SessionsDeleteArgs),
    /// Delete every session inactive for longer than --inactive-days.
    Purge(SessionsPurgeArgs),
    /// Copy everything held about a session to a directory: events (chain
    /// checked again), clips, photos, notes, decisions, signed receipts.
    Export(SessionsExportArgs),
    /// Check an export offline: hash chain, media, and the server's signed
    /// receipts (the export's and, with --receipts, the candidate's).
    Verify(SessionsVerifyArgs),
}

#[derive(Args, Debug)]
pub struct SessionsVerifyArgs {
    /// The export directory (`invigil sessions export --out`).
    #[arg(value_name = "EXPORT_DIR")]
    pub dir: PathBuf,
    /// The server's public key: 64 hex digits, or a file holding them or
    /// the JSON of `GET /api/v1/server-key`.
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// The candidate's receipts (`receipts.jsonl` beside the client's
    /// journal): each must agree with the export.
    #[arg(long, value_name = "FILE")]
    pub receipts: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SessionsExportArgs {
    /// The session id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Directory to write (must not exist, or be empty): session.json and
    /// media/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct SessionsListArgs {
    /// Only sessions inactive for longer than this many days.
    #[arg(long, value_name = "DAYS")]
    pub inactive_days: Option<u32>,
    /// One JSON object per session per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct SessionsDeleteArgs {
    /// Session ids. All must exist, or nothing is deleted.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub how: DeletionArgs,
}

/// How a deletion runs and reports.
#[derive(Args, Debug)]
pub struct DeletionArgs {
    /// Show what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the sessions and the totals as JSON lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct SessionsPurgeArgs {
    /// Delete sessions whose last activity (end, or the client's last
    /// request) is older than this many days; 0 means every session not
    /// active right now.
    #[arg(long, value_name = "DAYS")]
    pub inactive_days: u32,
    #[command(flatten)]
    pub how: DeletionArgs,
}

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Data directory: the embedded SQLite database and the media store.
    #[arg(long, value_name = "DIR", default_value = "invigil-data")]
    pub data: PathBuf,
    /// Use this database instead of SQLite in --data, e.g.
    /// postgres://user:password@host/db (media still go to --data unless
    /// --media says otherwise); over TLS with
    /// ?sslmode=verify-full[&sslrootcert=CA.pem] (docs/deploy.md).
    #[arg(long, value_name = "URL", env = "INVIGIL_DATABASE_URL")]
    pub database: Option<String>,
    /// Where media bodies (clips, photos) go: a directory, or an
    /// S3-compatible bucket as s3://BUCKET[/PREFIX] with credentials,
    /// region and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION, AWS_ENDPOINT_URL (a self-hosted store) and
    /// AWS_ALLOW_HTTP=true (a plain-HTTP one); docs/deploy.md. Default:
    /// the media directory in --data.
    #[arg(long, value_name = "DIR|s3://BUCKET[/PREFIX]", env = "INVIGIL_MEDIA")]
    pub media: Option<String>,
    /// The S3 store's address, over AWS_ENDPOINT_URL (e.g.
    /// http://127.0.0.1:9000 for a self-hosted store).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 store's region, over AWS_REGION.
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Allow a plain-HTTP S3 endpoint (AWS_ALLOW_HTTP=true); for a store
    /// on the same machine or a private network only.
    #[arg(long)]
    pub s3_allow_http: bool,
}

impl DatabaseArgs {
    /// The S3 flags, over the `AWS_*` variables.
    pub fn s3_options(&self) -> invigil_server::store::S3Options {
        invigil_server::store::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            allow_http: self.s3_allow_http,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8480")]
    pub listen: std::net::SocketAddr,
    /// Largest request body for JSON endpoints, bytes (413 above).
    #[arg(long, value_name = "BYTES", default_value_t = invigil_server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest media upload, bytes (413 above).
    #[arg(long, value_name = "BYTES", default_value_t = invigil_server::DEFAULT_MAX_MEDIA_BYTES)]
    pub max_media_bytes: usize,
    /// Serve the proctor console's built files from this directory.
    #[arg(long, value_name = "DIR")]
    pub console: Option<PathBuf>,
    /// Delete sessions inactive for longer than this many days, with their
    /// clips and photos (checked at start and hourly). Default: keep all.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,
    /// The server is reached through a reverse proxy it trusts: take the
    /// client address from X-Forwarded-For (sign-in and creation limits),
    /// HTTPS from X-Forwarded-Proto (Secure cookie), the origin from
    /// X-Forwarded-Host. Never set it when clients reach the server directly.
    #[arg(long)]
    pub behind_proxy: bool,
    /// Always mark the console's sign-in cookie Secure (HTTPS only).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Sessions one client address may create per minute; 0: no limit.
    /// Raise it when many candidates share one address (a test centre
    /// behind NAT).
    #[arg(long, value_name = "N", default_value_t = invigil_server::DEFAULT_SESSIONS_PER_MINUTE)]
    pub sessions_per_minute: u32,
    /// Most media items (clips, photos) one session may upload.
    #[arg(long, value_name = "N", default_value_t = invigil_server::DEFAULT_MEDIA_QUOTA_ITEMS)]
    pub media_quota_items: u32,
    /// Most media bytes one session may upload.
    #[arg(long, value_name = "BYTES", default_value_t = invigil_server::DEFAULT_MEDIA_QUOTA_BYTES)]
    pub media_quota_bytes: u64,
    /// Connections open at once; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Also let clients start sessions without a launch code, for any exam
    /// and candidate they name and with their own policy (`invigil watch
    /// --exam --candidate`): for trials and tests, never for a real exam.
    #[arg(long)]
    pub open_enrolment: bool,
    /// The address candidates and badge verifiers reach this server at
    /// (e.g. https://exams.example.edu): badge links and the did:web
    /// issuer are made from it. Default: http:// and --listen.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The issuer's name on badges (the institution).
    #[arg(long, value_name = "NAME", default_value = "invigil")]
    pub badge_issuer_name: String,
    /// How badges name their issuer: `web` (did:web of --public-url, keys
    /// published at /.well-known/did.json) or `key` (did:key, verifiable
    /// with no server). Default: web for an https:// public URL, else key.
    #[arg(long, value_name = "web|key", value_parser = ["web", "key"])]
    pub badge_did: Option<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data directory: the SQLite database, media and the candidates'
    /// journals.
    #[arg(long, value_name = "DIR", default_value = "invigil-demo")]
    pub data: PathBuf,
    /// Address and port of the server and console.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8480")]
    pub listen: std::net::SocketAddr,
    /// A candidate's camera or fixture (`camera`, `camera:N`, scenario
    /// `.toml`, Y4M, ...); repeat for several candidates. Default: the
    /// webcam if there is one, else three bundled scenarios.
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// The proctor account to create (its password is generated and
    /// printed).
    #[arg(long, value_name = "NAME", default_value = "proctor")]
    pub user: String,
    /// Exit once the candidate sessions have ended, instead of serving the
    /// console until Ctrl-C.
    #[arg(long)]
    pub once: bool,
}

#[derive(Subcommand, Debug)]
pub enum ProctorCommand {
    /// Create an account (or set a new password, or a role). Prints a
    /// generated password unless --password-stdin is given.
    Add(ProctorAddArgs),
    /// List accounts and their roles.
    List(DatabaseArgs),
    /// Remove a proctor account; its sign-ins end at once (its decisions
    /// stay in the audit trail).
    Remove(ProctorRemoveArgs),
}

#[derive(Args, Debug)]
pub struct ProctorRemoveArgs {
    /// The account's user name.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct ProctorAddArgs {
    /// User name: letters, digits, `-`, `_`, `.`, `@`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// `admin` (manages exams, enrolments and accounts) or `proctor`
    /// (reviews). Default: admin for a server's first account, else
    /// proctor; an existing account keeps its role unless this is given.
    #[arg(long, value_name = "ROLE", value_parser = ["admin", "proctor"])]
    pub role: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum UplinkCommand {
    /// Show what is waiting to be sent.
    Status(UplinkStatusArgs),
    /// Send what a journal still holds (after a run ended before its
    /// items were delivered), then exit.
    Send(UplinkSendArgs),
}

#[derive(Args, Debug)]
pub struct UplinkSendArgs {
    /// Journal directory.
    #[arg(long, value_name = "DIR", default_value = "invigil-journal")]
    pub journal: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct UplinkStatusArgs {
    /// Journal directory.
    #[arg(long, value_name = "DIR", default_value = "invigil-journal")]
    pub journal: PathBuf,
    /// Print the status as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum QaCommand {
    /// Run scenario files (or directories of them) and check expectations.
    Run(QaRunArgs),
    /// Write a scenario's frames as a Y4M video, e.g. for Chromium's fake
    /// webcam (--use-file-for-fake-video-capture) or another runtime.
    Render(QaRenderArgs),
}

#[derive(Args, Debug)]
pub struct QaRenderArgs {
    /// The scenario to render.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Output .y4m file (4:2:0, the scenario's size and fps).
    #[arg(long, value_name = "FILE")]
    pub y4m: PathBuf,
}

/// Which face detector(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelChoice {
    /// Full-range 256 px model on the whole frame, up to 4 detections a
    /// second: finds faces from ~5% of the frame width up, at any usual
    /// webcam framing.
    Back,
    /// Short-range 128 px model, up to 10 detections a second, with the
    /// full-range model only when it finds nobody (and once a second for
    /// further faces): about half the CPU, but it relies on the fallback
    /// whenever the face is under ~20% of the frame width.
    Front,
    /// Track, don't search (the default): the short-range model on a crop
    /// around the face found last (4 times a second), the full-range model
    /// on the whole frame only to find it again, every 2 s for further
    /// faces and whenever the face followed is not among its faces. Finds
    /// what `back` finds at ~60% of its CPU. On still images (`detect`) it
    /// is `back`: there is nothing to follow.
    Track,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Face detector.
    #[arg(long, value_enum, default_value_t = ModelChoice::Track)]
    pub model: ModelChoice,
    /// Load the main model (--model back: the full-range one; --model front
    /// and track: the short-range one, but on still images track's is the
    /// full-range one) from this ONNX file instead of the built-in copy.
    #[arg(long, value_name = "FILE")]
    pub model_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Images to analyse (PNG, JPEG, WebP, BMP, GIF; EXIF orientation is
    /// applied), or directories of them.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// One JSON object per image per line.
    #[arg(long)]
    pub json: bool,
    /// Report faces scoring at least this. Higher than the rules' presence
    /// threshold (0.6), which prefers a missed absence to a false one.
    #[arg(long, default_value_t = 0.7, value_name = "SCORE")]
    pub min_score: f32,
    /// Also what the conduct rules see (docs/conduct.md): each face's head
    /// pose (yaw, pitch, roll in degrees) and the objects in view (people,
    /// phones, books, laptops, screens scoring at least 0.3).
    #[arg(long)]
    pub conduct: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// `camera`, `camera:N`, a directory of images, a video file (.mp4,
    /// .mov, .y4m, .mjpeg, .gif; .webm, .mkv, .avi and others with FFmpeg
    /// installed), or a scenario .toml.
    #[arg(long, value_name = "SRC")]
    pub source: String,
    /// Frame rate for image directories and MJPEG files.
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    pub fps: f64,
    /// Exam policy (TOML); defaults apply to missing keys. A scenario's own
    /// [policy] overrides are applied on top.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where to write events as JSON lines; `-` is stdout.
    #[arg(long, default_value = "-", value_name = "FILE|-")]
    pub events: String,
    /// Pace file sources like a camera, dropping frames when analysis is
    /// behind (cameras always run this way).
    #[arg(long)]
    pub realtime: bool,
    /// No status line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// The candidate's check-in face photo: the face in view is compared
    /// with it every identity_check_interval_s and after every return
    /// (identity_mismatch, docs/identity.md). Overrides a scenario's
    /// reference_face.
    #[arg(long, value_name = "IMAGE")]
    pub reference_face: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub stream: StreamArgs,
}

/// Streaming a session to a proctor backend.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// Stream events and flagged clips to this invigil server, e.g.
    /// http://127.0.0.1:8480. Needs --code (or --token; or --exam and
    /// --candidate on a server with open enrolment).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The candidate's launch code (e.g. K7QF-3MZC-T9XA-HW4P): the server
    /// starts the session and sets its exam and policy.
    #[arg(long, value_name = "CODE", env = "INVIGIL_LAUNCH_CODE", requires = "server", conflicts_with_all = ["token", "exam", "candidate"])]
    pub code: Option<String>,
    /// A launch link (`invigil://launch?server=...&code=...&ticket=...`,
    /// docs/exams.md): its server and code, and with its offline ticket the
    /// exam starts even while the server cannot be reached (the code is
    /// redeemed when it can).
    #[arg(long, value_name = "LINK", conflicts_with_all = ["server", "code", "token", "exam", "candidate"])]
    pub link: Option<String>,
    /// Candidate token of a session created on the server beforehand.
    #[arg(long, value_name = "TOKEN", env = "INVIGIL_TOKEN", requires = "server", conflicts_with_all = ["exam", "candidate"])]
    pub token: Option<String>,
    /// The session id of --token (otherwise asked from the server at start).
    #[arg(long, value_name = "ID", requires = "token")]
    pub session: Option<String>,
    /// Exam id for a new session (with --candidate; the server must allow
    /// open enrolment).
    #[arg(long, value_name = "ID", requires_all = ["server", "candidate"])]
    pub exam: Option<String>,
    /// Candidate id for a new session (with --exam).
    #[arg(long, value_name = "ID", requires_all = ["server", "exam"])]
    pub candidate: Option<String>,
    /// Journal directory: events and clips wait here until the server has
    /// them. A journal with an unfinished session continues that session.
    #[arg(long, value_name = "DIR", default_value = "invigil-journal")]
    pub journal: PathBuf,
    /// At the end, wait at most this long for the server to take what is
    /// left; the rest stays in the journal (`invigil uplink send`).
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub drain_timeout: f64,
    /// Record flagged clips (H.264 MP4) and send them with the events.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub clips: bool,
}

#[derive(Args, Debug)]
pub struct QaRunArgs {
    /// Scenario files, or directories whose *.toml files are scenarios.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep each scenario's events as DIR/<name>.jsonl.
    #[arg(long, value_name = "DIR")]
    pub events_dir: Option<PathBuf>,
    /// Base policy for every scenario (their [policy] tables apply on top).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Validate this policy file and print it with defaults filled in.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
}
