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
    /// Prefilled launch code (or a platform's session token).
    pub session_code: Option<String>,
    /// Session id from a platform's link, with its token.
    pub session_id: Option<String>,
    /// The app was opened with a launch link (server and code filled in).
    pub from_link: bool,
    /// A launch link that could not be read, in words for the candidate.
    pub link_error: Option<String>,
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
    /// What the check-in asks for (the exam's requirements).
    pub checkin: invigil_core::protocol::CheckinRequirements,
}
