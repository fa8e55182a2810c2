//! Proctors' review: the review priority of a session, computed from its
//! events and the decisions taken on them, and the decisions themselves.
//!
//! The formula (docs/console.md has it for proctors):
//!
//! ```text
//! raw = Σ over violations   weight(kind) × decision factor × (1 + min(d, 300 s) / 60 s)
//!     + 0.25 × warnings that did not become violations
//!     + 5    × batches the server rejected (broken or altered chain)
//!     + 5    × server findings on the client: a policy other than its
//!              exam's, a break or a check-in the exam does not allow, a
//!              spot check that disagrees with the client (`FINDINGS`)
//!     + 0.5  × client restarts (session_resumed)
//!     + 5    × data-forensics flags on the candidate (docs/forensics.md),
//!       + 10 more for each meeting the invalidation conditions
//! priority = 100 × (1 − e^(−raw / 8))        (0-100, one decimal)
//! ```
//!
//! `d` is how long the violation lasted (flag to its clearing event, or to
//! the end of the session or the latest event when still open). Weights:
//! `multiple_faces` 3, `candidate_absent` 2, `camera_blocked` 2,
//! `object_detected` 2, `camera_frozen` 1.5, `looking_away` 1 (head pose
//! is the likeliest to be innocent), `camera_lost` 1 (more often a
//! technical fault). Warnings: `absence_warning` and `looking_away_warning`.
//! Decision factor: dismissed (false flag) 0, confirmed 2, otherwise 1.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// What proctors may decide on an alert.
pub const ALERT_ACTIONS: [&str; 3] = ["acknowledge", "dismiss", "confirm"];
/// What proctors may decide on a whole session.
pub const SESSION_ACTIONS: [&str; 2] = ["end", "invalidate"];

/// A session's standing for review.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Review {
    /// 0-100; higher needs review first.
    pub priority: f64,
    /// Violations no proctor has decided on.
    pub open_alerts: i64,
}

/// One event as the review reads it.
#[derive(Clone, Debug)]
pub struct EventFacts {
    pub seq: u64,
    pub t_ms: u64,
    pub kind: String,
    pub severity: String,
    /// `flagged` of `candidate_returned`.
    pub flagged: bool,
}

/// Event kinds the review reads: every warning and violation, the events
/// that clear them, and the session's end.
pub const REVIEW_KINDS: [&str; 8] = [
    "candidate_returned",
    "looking_back",
    "object_cleared",
    "multiple_faces_cleared",
    "camera_unblocked",
    "camera_unfrozen",
    "session_ended",
    "session_resumed",
];

fn weight(kind: &str) -> f64 {
    match kind {
        "multiple_faces" => 3.0,
        "candidate_absent" | "camera_blocked" | "object_detected" => 2.0,
        "camera_frozen" => 1.5,
        _ => 1.0,
    }
}

/// The violation a clearing event ends.
fn clears(e: &EventFacts) -> Option<&'static str> {
    match e.kind.as_str() {
        "candidate_returned" if e.flagged => Some("candidate_absent"),
        "multiple_faces_cleared" => Some("multiple_faces"),
        "camera_unblocked" => Some("camera_blocked"),
        "camera_unfrozen" => Some("camera_frozen"),
        "looking_back" if e.flagged => Some("looking_away"),
        "object_cleared" => Some("object_detected"),
        _ => None,
    }
}

/// The review of a session from its events (in seq order), the decision in
/// force on each event (`seq` → action) and the rejected batches.
pub fn assess(events: &[EventFacts], decided: &HashMap<u64, String>, rejected: i64) -> Review {
    assess_with(events, decided, rejected, (0, 0))
}

/// [`assess`] with the session's data-forensics flags `(flags, flags
/// meeting the invalidation conditions)`: each flag adds
/// [`crate::forensics::REVIEW_WEIGHT`] to the raw score, each meeting the
/// conditions twice that again.
pub fn assess_with(
    events: &[EventFacts],
    decided: &HashMap<u64, String>,
    rejected: i64,
    forensic: (i64, i64),
) -> Review {
    let end_ms = events.last().map_or(0, |e| e.t_ms);
    // Violation seq → duration, filled as episodes clear.
    let mut open: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut lasted: Vec<(u64, &str, u64)> = Vec::new();
    let mut raw = 0.0;
    let mut warnings = 0i64;
    let mut violations_after_warning = 0i64;
    for e in events {
        match e.severity.as_str() {
            "violation" => {
                if e.kind == "camera_lost" {
                    lasted.push((e.seq, "camera_lost", 0));
                } else if let Some((seq, t)) = open.insert(e.kind.as_str(), (e.seq, e.t_ms)) {
                    // A second flag of the same kind without a clearing
                    // event between: the first lasted until this one.
                    lasted.push((seq, e.kind.as_str(), e.t_ms.saturating_sub(t)));
                }
                if e.kind == "candidate_absent" || e.kind == "looking_away" {
                    violations_after_warning += 1;
                }
            }
            "warning" if e.kind == "absence_warning" || e.kind == "looking_away_warning" => {
                warnings += 1
            }
            _ => {}
        }
        if e.kind == "session_resumed" {
            raw += 0.5;
        }
        if let Some(kind) = clears(e) {
            if let Some((seq, t)) = open.remove(kind) {
                lasted.push((seq, kind, e.t_ms.saturating_sub(t)));
            }
        }
    }
    for (kind, (seq, t)) in open {
        lasted.push((seq, kind, end_ms.saturating_sub(t)));
    }
    let mut open_alerts = 0;
    for (seq, kind, d_ms) in lasted {
        let factor = match decided.get(&seq).map(String::as_str) {
            Some("dismiss") => 0.0,
            Some("confirm") => 2.0,
            Some(_) => 1.0,
            None => {
                open_alerts += 1;
                1.0
            }
        };
        let d_s = (d_ms as f64 / 1000.0).min(300.0);
        raw += weight(kind) * factor * (1.0 + d_s / 60.0);
    }
    raw += 0.25 * (warnings - violations_after_warning).max(0) as f64;
    raw += 5.0 * rejected as f64;
    raw += crate::forensics::REVIEW_WEIGHT * (forensic.0 + 2 * forensic.1) as f64;
    let priority = 100.0 * (1.0 - (-raw / 8.0).exp());
    Review {
        priority: (priority * 10.0).round() / 10.0,
        open_alerts,
    }
}

/// The decision in force on each event of a session.
pub async fn decided(state: &AppState, session_id: &str) -> ApiResult<HashMap<u64, String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT event_seq, action FROM decisions WHERE session_id = $1 AND event_seq IS NOT NULL \
         ORDER BY at_ms, id",
    )
    .bind(session_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut out = HashMap::new();
    for (seq, action) in rows {
        out.insert(seq as u64, action);
    }
    Ok(out)
}

/// Server notes that each raise the review priority by 5: what the server
/// found wrong with what the client sent.
pub const FINDINGS: &[&str] = &[
    "batch_rejected",
    "policy_mismatch",
    "break_not_allowed",
    "checkin_incomplete",
    "checkin_missing",
    "analysis_disagreement",
    "closed_before_contact",
    "identity_unverified",
    "liveness_unverified",
];

/// Recomputes and stores a session's review (after new events, a rejected
/// batch or a decision).
pub async fn refresh(state: &AppState, session_id: &str) -> ApiResult<Review> {
    let kinds = REVIEW_KINDS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(&format!(
        "SELECT seq, t_ms, kind, severity, body FROM events WHERE session_id = $1 \
         AND (severity <> 'info' OR kind IN ({kinds})) ORDER BY seq"
    ))
    .bind(session_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for (seq, t_ms, kind, severity, body) in rows {
        let flagged = kind == "candidate_returned"
            && serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|b| b["data"]["flagged"].as_bool())
                .unwrap_or(false);
        events.push(EventFacts {
            seq: seq as u64,
            t_ms: t_ms as u64,
            severity,
            kind,
            flagged,
        });
    }
    let kinds: Vec<String> = FINDINGS.iter().map(|k| format!("'{k}'")).collect();
    let (rejected,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) AS n FROM notes WHERE session_id = $1 AND kind IN ({})",
        kinds.join(", ")
    ))
    .bind(session_id)
    .fetch_one(&state.db.pool)
    .await?;
    let forensic = crate::forensics::counts(state, session_id).await?;
    let review = assess_with(
        &events,
        &decided(state, session_id).await?,
        rejected,
        forensic,
    );
    sqlx::query("UPDATE sessions SET priority = $1, open_alerts = $2 WHERE id = $3")
        .bind(review.priority)
        .bind(review.open_alerts)
        .bind(session_id)
        .execute(&state.db.pool)
        .await?;
    Ok(review)
}

/// Checks a decision's action against its target.
pub fn check_action(action: &str, event_seq: Option<u64>) -> ApiResult<()> {
    match event_seq {
        Some(_) if ALERT_ACTIONS.contains(&action) => Ok(()),
        None if SESSION_ACTIONS.contains(&action) => Ok(()),
        Some(_) if SESSION_ACTIONS.contains(&action) => Err(ApiError::invalid_field(
            "event_seq",
            format!("`{action}` applies to the whole session: leave out `event_seq`"),
        )),
        None if ALERT_ACTIONS.contains(&action) => Err(ApiError::invalid_field(
            "event_seq",
            format!("`{action}` applies to an alert: give its `event_seq`"),
        )),
        _ => Err(ApiError::invalid_field(
            "action",
            format!(
                "action `{action}` is not one of {}, {}",
                ALERT_ACTIONS.join(", "),
                SESSION_ACTIONS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, t_s: f64, kind: &str, severity: &str) -> EventFacts {
        EventFacts {
            seq,
            t_ms: (t_s * 1000.0) as u64,
            kind: kind.into(),
            severity: severity.into(),
            flagged: kind == "candidate_returned" || kind == "looking_back",
        }
    }

    fn start() -> EventFacts {
        ev(0, 0.0, "session_started", "info")
    }

    #[test]
    fn a_clean_session_has_no_priority() {
        let r = assess(
            &[start(), ev(1, 3600.0, "session_ended", "info")],
            &HashMap::new(),
            0,
        );
        assert_eq!(
            r,
            Review {
                priority: 0.0,
                open_alerts: 0
            }
        );
    }

    #[test]
    fn longer_and_graver_violations_rank_higher() {
        let absence = |secs: f64| {
            vec![
                start(),
                ev(1, 10.0, "absence_warning", "warning"),
                ev(2, 13.0, "candidate_absent", "violation"),
                ev(3, 13.0 + secs, "candidate_returned", "info"),
                ev(4, 600.0, "session_ended", "info"),
            ]
        };
        let short = assess(&absence(5.0), &HashMap::new(), 0);
        let long = assess(&absence(240.0), &HashMap::new(), 0);
        assert_eq!(short.open_alerts, 1);
        // 2 × (1 + 5/60) = 2.17 → 23.7; 2 × (1 + 4) = 10 → 71.3
        assert_eq!(short.priority, 23.7);
        assert_eq!(long.priority, 71.3);
        let two_faces = assess(
            &[
                start(),
                ev(1, 20.0, "multiple_faces", "violation"),
                ev(2, 25.0, "multiple_faces_cleared", "info"),
            ],
            &HashMap::new(),
            0,
        );
        assert!(two_faces.priority > short.priority);
    }

    #[test]
    fn conduct_flags_weigh_less_than_absence_and_clear_with_their_events() {
        let look = assess(
            &[
                start(),
                ev(1, 20.0, "looking_away_warning", "warning"),
                ev(2, 30.0, "looking_away", "violation"),
                ev(3, 35.0, "looking_back", "info"),
                ev(4, 600.0, "session_ended", "info"),
            ],
            &HashMap::new(),
            0,
        );
        // 1 × (1 + 5/60) = 1.08 → 12.7: half an absence of the same length.
        assert_eq!(look.priority, 12.7);
        let phone = assess(
            &[
                start(),
                ev(1, 20.0, "object_detected", "violation"),
                ev(2, 25.0, "object_cleared", "info"),
                ev(3, 600.0, "session_ended", "info"),
            ],
            &HashMap::new(),
            0,
        );
        assert_eq!(phone.priority, 23.7);
        // A warning alone counts a quarter.
        let warned = assess(
            &[start(), ev(1, 20.0, "looking_away_warning", "warning")],
            &HashMap::new(),
            0,
        );
        assert_eq!(warned.priority, 3.1);
    }

    #[test]
    fn open_violations_last_until_the_latest_event() {
        let r = assess(
            &[
                start(),
                ev(1, 10.0, "camera_blocked", "violation"),
                ev(2, 70.0, "session_ended", "info"),
            ],
            &HashMap::new(),
            0,
        );
        // 2 × (1 + 60/60) = 4 → 39.3
        assert_eq!(r.priority, 39.3);
    }

    #[test]
    fn decisions_change_the_priority_and_close_alerts() {
        let events = [
            start(),
            ev(1, 10.0, "multiple_faces", "violation"),
            ev(2, 16.0, "multiple_faces_cleared", "info"),
            ev(3, 30.0, "camera_frozen", "violation"),
        ];
        let none = assess(&events, &HashMap::new(), 0);
        assert_eq!(none.open_alerts, 2);
        let dismissed = assess(&events, &HashMap::from([(1, "dismiss".to_owned())]), 0);
        assert_eq!(dismissed.open_alerts, 1);
        assert!(dismissed.priority < none.priority);
        let confirmed = assess(&events, &HashMap::from([(1, "confirm".to_owned())]), 0);
        assert!(confirmed.priority > none.priority);
        let acknowledged = assess(&events, &HashMap::from([(1, "acknowledge".to_owned())]), 0);
        assert_eq!(acknowledged.priority, none.priority);
        assert_eq!(acknowledged.open_alerts, 1);
    }

    #[test]
    fn tampering_and_warnings_count() {
        let base = [start(), ev(1, 5.0, "absence_warning", "warning")];
        let warned = assess(&base, &HashMap::new(), 0);
        assert_eq!(warned.priority, 3.1);
        assert_eq!(warned.open_alerts, 0);
        let tampered = assess(&base, &HashMap::new(), 1);
        assert!(tampered.priority > 45.0, "{tampered:?}");
    }

    #[test]
    fn actions_must_fit_their_target() {
        assert!(check_action("dismiss", Some(3)).is_ok());
        assert!(check_action("invalidate", None).is_ok());
        assert!(check_action("dismiss", None).is_err());
        assert!(check_action("end", Some(3)).is_err());
        let err = check_action("delete", None).unwrap_err();
        assert!(err.message.contains("delete"), "{}", err.message);
    }
}
