//! The app's own IPC types (the session's are in invigil-session).

use serde::{Deserialize, Serialize};

/// How the app was started.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct AppConfig {
    /// `camera`, or the fixture the app runs on (QA).
    pub source: String,
    pub fixture: bool,
    /// Prefilled server address.
    pub server: Option<String>,
    /// Prefilled session code.
    pub session_code: Option<String>,
    /// Session id from a launch link: lets the exam start while the server
    /// is unreachable (the code is then checked when it comes back).
    pub session_id: Option<String>,
    /// How long the backend keeps evidence, for the privacy notice.
    pub retention_days: u32,
}

/// One line of the system check.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct CheckItem {
    /// `camera`, `face`, `lighting`, `backend`, `disk`.
    pub id: String,
    pub label: String,
    pub ok: bool,
    /// What was found, e.g. `640x480 at 10 fps`.
    pub detail: String,
    /// How to fix it, when it failed.
    pub hint: Option<String>,
}

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct SystemCheck {
    pub items: Vec<CheckItem>,
    pub ok: bool,
}

/// The start screen's answers.
#[derive(Clone, Debug, Deserialize, ts_rs::TS)]
pub struct StartRequest {
    pub server: String,
    pub session_code: Option<String>,
    /// From a launch link, with the code (see `AppConfig::session_id`).
    pub session_id: Option<String>,
    pub exam_id: Option<String>,
    pub candidate_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct StartedSession {
    pub session_id: String,
}
