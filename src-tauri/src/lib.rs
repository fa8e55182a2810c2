//! The candidate app's Tauri layer: commands and state only. The session
//! itself is `invigil_session::Monitor`; checks and streaming live in the
//! crates.
//!
//! Fixtures instead of the webcam: `INVIGIL_SOURCE=path/to/scenario.toml`
//! (or `--source`) for the exam and `INVIGIL_CHECKIN_SOURCE=checkin.toml`
//! (or `--checkin-source`) for the check-in. A launch link
//! (`invigil://launch?server=...&code=...[&ticket=...]`, passed as an argument by the
//! operating system, or `INVIGIL_LAUNCH_LINK`) fills in the start screen;
//! so do `INVIGIL_SERVER` and `INVIGIL_LAUNCH_CODE` (or a platform's
//! `INVIGIL_SESSION_CODE` token and `INVIGIL_SESSION_ID`);
//! `INVIGIL_DATA_DIR` holds the journal.
//!
//! The flow: `begin_session` (opens the uplink: the session code is checked
//! here) -> `system_check` -> `checkin_*` (face photo, ID photo, room scan)
//! -> `start_exam` (uploads the check-in photos through the journal, starts
//! monitoring) -> `exam_status`/`exam_preview` -> `end_exam`.

mod ipc;

use std::path::PathBuf;
use std::sync::Mutex;

use invigil_core::protocol::{CheckinRequirements, LaunchCode, ServerInfo};
use invigil_core::sync::lock;
use invigil_session::CheckInPolicy;
use invigil_session::{
    data_url, CheckIn, CheckInOptions, CheckInRecord, CheckInView, Monitor, PhotoView, Receipt,
    Session, SessionOptions, Snapshot, Step, StreamOptions, SystemCheck, LIVENESS,
};
use invigil_uplink::Uplink;
use tauri::State;

pub use invigil_session::CheckItem;
pub use ipc::{AppConfig, StartRequest, StartedSession};

/// What the app runs on: a camera, or a fixture for QA.
struct AppState {
    config: AppConfig,
    data_dir: PathBuf,
    checkin_fixture: Option<PathBuf>,
    /// The session opened by `begin_session`, until the exam starts.
    uplink: Mutex<Option<Uplink>>,
    checkin: Mutex<Option<CheckIn>>,
    /// A finished check-in's photos, from the moment its camera is released
    /// until the exam has started (and taken them into the uplink).
    photos: Mutex<Option<CheckInRecord>>,
    monitor: Mutex<Option<Monitor>>,
    /// The check-in the session's exam asks for (all of it for a session
    /// without an exam, e.g. a platform's token).
    requires: Mutex<CheckinRequirements>,
    /// The launch link's offline ticket and the server and code it goes
    /// with: used when the start screen still shows that server and code.
    ticket: Option<(String, String, String)>,
}

fn arg_or_env(flag: &str, env: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
        .filter(|v| !v.is_empty())
}

/// A launch link the app was opened with (the operating system passes the
/// `invigil://launch?...` URL as an argument), or `INVIGIL_LAUNCH_LINK`.
fn launch_link() -> Option<Result<invigil_session::LaunchLink, String>> {
    std::env::args()
        .skip(1)
        .find(|a| a.starts_with("invigil://"))
        .or_else(|| {
            std::env::var("INVIGIL_LAUNCH_LINK")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .map(|link| invigil_session::parse_launch_link(&link))
}

/// What the app starts with: its configuration, the data directory, the
/// check-in fixture, and the launch link's offline ticket.
type Startup = (
    AppConfig,
    PathBuf,
    Option<PathBuf>,
    Option<(String, String, String)>,
);

fn config() -> Startup {
    let source = arg_or_env("--source", "INVIGIL_SOURCE").unwrap_or_else(|| "camera".into());
    let (link, link_error) = match launch_link() {
        Some(Ok(link)) => (Some(link), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let data_dir = arg_or_env("--data-dir", "INVIGIL_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("invigil-app"));
    let ticket = link
        .as_ref()
        .and_then(|l| Some((l.server.clone(), l.code.clone(), l.ticket.clone()?)));
    (
        AppConfig {
            fixture: source != "camera" && !source.starts_with("camera:"),
            source,
            server: link
                .as_ref()
                .map(|l| l.server.clone())
                .or_else(|| arg_or_env("--server", "INVIGIL_SERVER")),
            session_code: link
                .as_ref()
                .map(|l| l.code.clone())
                .or_else(|| arg_or_env("--launch-code", "INVIGIL_LAUNCH_CODE"))
                .or_else(|| arg_or_env("--session-code", "INVIGIL_SESSION_CODE")),
            session_id: link
                .as_ref()
                .and_then(|l| l.session_id.clone())
                .or_else(|| arg_or_env("--session-id", "INVIGIL_SESSION_ID")),
            from_link: link.is_some(),
            link_error,
        },
        data_dir,
        arg_or_env("--checkin-source", "INVIGIL_CHECKIN_SOURCE").map(PathBuf::from),
        ticket,
    )
}

#[tauri::command]
fn app_config(state: State<'_, AppState>) -> AppConfig {
    state.config.clone()
}

#[tauri::command]
async fn system_check(state: State<'_, AppState>, server: String) -> Result<SystemCheck, String> {
    let source = state.config.source.clone();
    let data_dir = state.data_dir.clone();
    let limits = CheckInPolicy::default().system;
    tauri::async_runtime::spawn_blocking(move || {
        invigil_session::system_check(&source, &server, &data_dir, &limits)
    })
    .await
    .map_err(|e| e.to_string())
}

/// What the exam server says of itself (how long it keeps the evidence),
/// for the privacy notice.
#[tauri::command]
async fn server_info(server: String) -> Result<ServerInfo, String> {
    tauri::async_runtime::spawn_blocking(move || invigil_session::server_info(&server))
        .await
        .map_err(|e| e.to_string())?
}

#[tauri::command]
async fn begin_session(
    state: State<'_, AppState>,
    request: StartRequest,
) -> Result<StartedSession, String> {
    // The link's ticket goes with the link's server and code only (the
    // candidate may have typed others).
    let ticket = state.ticket.as_ref().and_then(|(server, code, ticket)| {
        let typed = request.session_code.as_deref().map(LaunchCode::parse);
        let same = request.server.trim().trim_end_matches('/') == server.trim_end_matches('/')
            && matches!((typed, LaunchCode::parse(code)), (Some(Ok(a)), Ok(b)) if a == b);
        same.then_some(ticket.as_str())
    });
    let session_request = invigil_session::candidate_request(
        &request.server,
        request.session_code.as_deref(),
        request.session_id.as_deref(),
        request.exam_id.as_deref(),
        request.candidate_id.as_deref(),
        ticket,
    )?;
    if state.monitor.lock().map_err(|e| e.to_string())?.is_some() {
        return Err("An exam is already running in this window.".into());
    }
    // One uplink per journal: close an earlier attempt's (the candidate
    // went back to the start) before opening the journal again.
    if let Some(old) = lock(&state.uplink).take() {
        old.finish(std::time::Duration::ZERO);
    }
    let journal = state.data_dir.join("journal");
    let mut stream = StreamOptions::new(session_request, journal);
    // The candidate waits at the start screen: ask the server for the
    // code's session for at most 10 s.
    stream.resolve_timeout = std::time::Duration::from_secs(10);
    let uplink = tauri::async_runtime::spawn_blocking(move || stream.open())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| friendly(&e.to_string()))?;
    let session_id = uplink.session_id();
    let checkin = uplink.exam().map(|e| e.checkin).unwrap_or_default();
    *lock(&state.requires) = checkin;
    *lock(&state.uplink) = Some(uplink);
    Ok(StartedSession {
        session_id,
        checkin,
    })
}

/// Opens the camera for the check-in (face photo first).
#[tauri::command]
async fn checkin_start(state: State<'_, AppState>) -> Result<(), String> {
    // A camera opens once: release an earlier check-in's first.
    drop(lock(&state.checkin).take());
    *lock(&state.photos) = None;
    let mut options = CheckInOptions::new(&state.config.source);
    options.fixture = state.checkin_fixture.clone();
    options.requires = *lock(&state.requires);
    let checkin = tauri::async_runtime::spawn_blocking(move || CheckIn::start(options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| friendly(&e.to_string()))?;
    *lock(&state.checkin) = Some(checkin);
    Ok(())
}

#[tauri::command]
fn checkin_step(state: State<'_, AppState>, step: Step, side: u32) -> Result<CheckInView, String> {
    let slot = lock(&state.checkin);
    let checkin = slot.as_ref().ok_or("The check-in has not started.")?;
    checkin.set_step(step, side as usize)?;
    Ok(checkin.view())
}

#[tauri::command]
fn checkin_status(state: State<'_, AppState>) -> Option<CheckInView> {
    lock(&state.checkin).as_ref().map(CheckIn::view)
}

#[tauri::command]
fn checkin_preview(state: State<'_, AppState>) -> Option<String> {
    lock(&state.checkin)
        .as_ref()
        .and_then(CheckIn::preview)
        .map(|jpeg| data_url(&jpeg))
}

#[tauri::command]
fn checkin_capture(state: State<'_, AppState>) -> Result<PhotoView, String> {
    let slot = lock(&state.checkin);
    slot.as_ref()
        .ok_or("The check-in has not started.")?
        .capture()
}

/// Uploads the check-in photos (through the journal) and starts monitoring.
#[tauri::command]
async fn start_exam(state: State<'_, AppState>) -> Result<StartedSession, String> {
    if lock(&state.uplink).is_none() {
        return Err("Start again: the session is not open.".into());
    }
    // Release the check-in's camera (the exam opens it again; a webcam
    // opens only once), keeping its photos until the exam has started.
    {
        let mut photos = lock(&state.photos);
        let required = invigil_session::required_slots(&lock(&state.requires));
        if photos.is_none() && !required.is_empty() {
            let mut slot = lock(&state.checkin);
            let view = slot.as_ref().ok_or("The check-in has not started.")?.view();
            if !view.complete {
                let photos = required.iter().filter(|r| *r != LIVENESS).count();
                let turns = match &view.liveness {
                    Some(l) if !l.passed => " The head-turn check has not passed yet.",
                    _ => "",
                };
                return Err(format!(
                    "The check-in is not complete: {} of {photos} photos taken.{turns}",
                    view.photos.len(),
                ));
            }
            *photos = slot.take().map(CheckIn::finish);
        }
    }
    // If the camera does not open, the photos and the session stay, and
    // the candidate can try again.
    let mut options = SessionOptions::live(&state.config.source);
    // The check-in's face photo is the reference the exam compares the
    // face in view with (docs/identity.md).
    options.reference_face = lock(&state.photos)
        .iter()
        .flat_map(|r| &r.photos)
        .find(|p| p.slot == "face")
        .and_then(|p| p.embedding.clone());
    let mut session = tauri::async_runtime::spawn_blocking(move || Session::prepare(options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| friendly(&e.to_string()))?;
    let uplink = lock(&state.uplink)
        .take()
        .ok_or("Start again: the session is not open.")?;
    let record = lock(&state.photos).take().unwrap_or_default();
    // An exam that asks for no photos has no check-in to record.
    let checkin =
        (!record.photos.is_empty()).then(|| invigil_session::journal_checkin(&uplink, &record));
    session
        .stream_through(uplink)
        .map_err(|e| friendly(&e.to_string()))?;
    session.open_with(checkin.into_iter().collect());
    let monitor = Monitor::run(session);
    let session_id = monitor.snapshot().session_id.unwrap_or_default();
    if let Some(old) = lock(&state.monitor).replace(monitor) {
        old.stop();
    }
    Ok(StartedSession {
        session_id,
        checkin: *lock(&state.requires),
    })
}

/// Turns internal errors into advice for the candidate.
fn friendly(error: &str) -> String {
    if error.contains("unknown, expired") {
        "The server does not know this session code. Check the code you were given, or ask your exam's support.".into()
    } else if let Some((_, said)) = error
        .split_once("HTTP 4")
        .and_then(|(_, rest)| rest.split_once(": "))
    {
        // The server refused the code (wrong, used, not open yet, closed)
        // and says why in words meant for the candidate.
        let mut said = said.to_owned();
        if let Some(first) = said.get(..1) {
            said.replace_range(..1, &first.to_uppercase());
        }
        if !said.ends_with('.') {
            said.push('.');
        }
        said
    } else if error.contains("cannot start the session") {
        format!("The exam server cannot be reached to start your exam. Check your connection and try again. ({error})")
    } else if error.contains("camera") || error.contains("fixture") {
        format!("The camera could not be opened: {error}")
    } else {
        error.to_owned()
    }
}

#[tauri::command]
fn exam_status(state: State<'_, AppState>) -> Result<Option<Snapshot>, String> {
    let slot = state.monitor.lock().map_err(|e| e.to_string())?;
    Ok(slot.as_ref().map(Monitor::snapshot))
}

#[tauri::command]
fn exam_preview(state: State<'_, AppState>) -> Result<Option<String>, String> {
    let slot = state.monitor.lock().map_err(|e| e.to_string())?;
    Ok(slot
        .as_ref()
        .and_then(Monitor::preview)
        .map(|jpeg| data_url(&jpeg)))
}

/// Starts a break the exam allows; the answer is the break's number.
#[tauri::command]
fn take_break(state: State<'_, AppState>) -> Result<u32, String> {
    let slot = state.monitor.lock().map_err(|e| e.to_string())?;
    slot.as_ref()
        .ok_or_else(|| "The exam is not running.".to_owned())?
        .take_break()
}

/// Ends the break in progress.
#[tauri::command]
fn end_break(state: State<'_, AppState>) -> Result<(), String> {
    let slot = state.monitor.lock().map_err(|e| e.to_string())?;
    slot.as_ref()
        .ok_or_else(|| "The exam is not running.".to_owned())?
        .end_break()
}

#[tauri::command]
async fn end_exam(state: State<'_, AppState>) -> Result<Option<Receipt>, String> {
    let monitor = state.monitor.lock().map_err(|e| e.to_string())?.take();
    match monitor {
        Some(m) => tauri::async_runtime::spawn_blocking(move || Some(m.stop()))
            .await
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INVIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let (config, data_dir, checkin_fixture, ticket) = config();
    tauri::Builder::default()
        .manage(AppState {
            config,
            data_dir,
            checkin_fixture,
            uplink: Mutex::new(None),
            checkin: Mutex::new(None),
            photos: Mutex::new(None),
            monitor: Mutex::new(None),
            requires: Mutex::new(CheckinRequirements::default()),
            ticket,
        })
        .invoke_handler(tauri::generate_handler![
            app_config,
            system_check,
            server_info,
            begin_session,
            checkin_start,
            checkin_step,
            checkin_status,
            checkin_preview,
            checkin_capture,
            start_exam,
            exam_status,
            exam_preview,
            take_break,
            end_break,
            end_exam
        ])
        .run(tauri::generate_context!())
        .expect("the app window opens");
}

/// The TypeScript definitions of every IPC type, as `ui/src/bindings.ts`
/// holds them (checked by a test; `INVIGIL_UPDATE_BINDINGS=1 cargo test -p
/// invigil-app bindings` rewrites the file).
pub fn typescript_bindings() -> String {
    use ts_rs::TS;
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        ipc::AppConfig::decl(&cfg),
        invigil_session::CheckItem::decl(&cfg),
        invigil_session::SystemCheck::decl(&cfg),
        ipc::StartRequest::decl(&cfg),
        invigil_core::protocol::CheckinRequirements::decl(&cfg),
        ipc::StartedSession::decl(&cfg),
        invigil_session::Step::decl(&cfg),
        invigil_session::ProblemView::decl(&cfg),
        invigil_session::IdentityView::decl(&cfg),
        invigil_session::LivenessView::decl(&cfg),
        invigil_session::PhotoView::decl(&cfg),
        invigil_session::CheckInView::decl(&cfg),
        invigil_session::EventView::decl(&cfg),
        invigil_session::FaceBox::decl(&cfg),
        invigil_session::ConnectionView::decl(&cfg),
        invigil_session::Receipt::decl(&cfg),
        invigil_session::BreakView::decl(&cfg),
        invigil_session::Snapshot::decl(&cfg),
        invigil_core::EventKind::decl(&cfg),
        invigil_core::protocol::ServerInfo::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `invigil_app::typescript_bindings` (ts-rs).\n// Do not edit: run `INVIGIL_UPDATE_BINDINGS=1 cargo test -p invigil-app bindings`.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&invigil_core::protocol::event_texts_typescript(
        "CANDIDATE_TEXT",
        "How the app words the events it shows the candidate.",
        invigil_core::EventKind::to_candidate,
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        let fresh = super::typescript_bindings();
        if std::env::var_os("INVIGIL_UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed, fresh,
            "ui/src/bindings.ts is stale: rerun with INVIGIL_UPDATE_BINDINGS=1"
        );
    }
}
