//! The session a journal belongs to: its id, candidate token and chain
//! head, kept in `session.json` beside the journal so a restarted client
//! carries on the same session and the same chain.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use invigil_core::chain::{event_hash, Chain};
use invigil_core::protocol::{CandidateToken, ExamBrief, LaunchCode};
use invigil_core::Event;
use serde::{Deserialize, Serialize};

use crate::{Item, Journal, JournalError};

/// What `session.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionMeta {
    /// Base URL of the server, e.g. `http://127.0.0.1:8480`.
    pub server: String,
    pub session_id: String,
    /// The candidate token: writes this session only.
    pub token: CandidateToken,
    pub exam_id: String,
    pub candidate_id: String,
    /// The policy in force, sent at creation.
    pub policy: serde_json::Map<String, serde_json::Value>,
    /// Whether the server has confirmed the session exists.
    pub created: bool,
    /// Seq of the next event.
    pub next_seq: u64,
    /// Hash of the last journaled event (the chain origin before any).
    pub head: String,
    /// Media time of the last journaled event.
    pub last_t_ms: u64,
    /// `session_ended` has been journaled.
    pub ended: bool,
    /// The server set `policy` (launch code, token); the client runs it.
    #[serde(default)]
    pub policy_from_server: bool,
    /// The exam, when a launch code started the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam: Option<ExamBrief>,
    /// A session begun offline from a launch link's ticket: the code to
    /// redeem, with the ticket, when the server is first reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_code: Option<LaunchCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl SessionMeta {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("session.json")
    }

    /// Reads `session.json`, or `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, JournalError> {
        let path = Self::path(dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(JournalError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| JournalError::Corrupt {
                path,
                offset: 0,
                problem: format!("unreadable session file: {e}"),
            })
    }

    /// Replaces `session.json` atomically and durably, readable by its
    /// owner only (it holds the candidate token).
    pub fn save(&self, dir: &Path) -> Result<(), JournalError> {
        let path = Self::path(dir);
        let tmp = dir.join("session.json.tmp");
        let io = |source| JournalError::Io {
            path: tmp.clone(),
            source,
        };
        let _ = fs::remove_file(&tmp);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(
            serde_json::to_string_pretty(self)
                .expect("meta serialises")
                .as_bytes(),
        )
        .map_err(io)?;
        f.sync_all().map_err(io)?;
        fs::rename(&tmp, &path).map_err(|source| JournalError::Io { path, source })?;
        Ok(())
    }

    /// Brings the chain position up to date with events journaled after the
    /// last save (a crash between the journal write and the save).
    pub fn reconcile(&mut self, journal: &Journal) -> Result<bool, JournalError> {
        let mut changed = false;
        for record in journal.pending()? {
            if let Item::Event(e) = record.item {
                if e.seq >= self.next_seq {
                    self.next_seq = e.seq + 1;
                    self.head = event_hash(&e);
                    self.last_t_ms = e.t_ms;
                    self.ended |= e.kind == invigil_core::EventKind::SessionEnded;
                    changed = true;
                }
            }
        }
        Ok(changed)
    }

    /// Links `event` into the chain and advances the position.
    pub fn link(&mut self, event: &mut Event) {
        let mut chain = Chain::after(std::mem::take(&mut self.head));
        chain.link(event);
        self.head = chain.head().to_owned();
        self.next_seq = event.seq + 1;
        self.last_t_ms = event.t_ms;
        self.ended |= event.kind == invigil_core::EventKind::SessionEnded;
    }
}
