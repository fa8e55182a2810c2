//! Spot checks: the server sees what the client saw (docs/spot-checks.md).
//!
//! The analysis runs on the candidate's machine, so a modified client could
//! report "present" forever. At random moments, drawn here so the client
//! cannot predict them, the server asks for a snapshot: a response header
//! ([`SNAPSHOT_HEADER`]) on the client's next batch or heartbeat. The client
//! uploads a small JPEG (media kind `snapshot`) and chains a
//! `snapshot_taken` event naming it, the request and how many faces it
//! counted on that frame. The server runs its own face detector on the
//! snapshot and compares; a disagreement is a server note
//! `analysis_disagreement` with an alert:
//! - `no_face`: the client counted a face, the server finds none;
//! - `extra_faces`: the server finds two or more faces, the client one or none;
//! - `events_claim_presence`: two snapshots at least `absence_flag_s` apart
//!   show nobody, yet the client's events never admit an absence (or a
//!   break) between them;
//! - `repeated`: the snapshot is the same picture as an earlier one (same
//!   bytes, or the same luma grid to a twentieth of a level);
//! - `unreadable`: the snapshot is not a picture the server can read;
//! - `no_snapshot`: two requests in a row went unanswered for two minutes
//!   while the client kept reaching the server.
//!
//! The latest snapshot is also the live card's thumbnail (`last_snapshot`).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use invigil_core::protocol::{is_snapshot_request, SNAPSHOT_HEADER};
use invigil_core::sync::lock;
use invigil_core::{EventKind, Fingerprint, Frame, Policy};
use invigil_vision::{FaceDetector, ModelKind};
use serde_json::{json, Value};

use crate::store::Sha256Hex;
use crate::{now_ms, AppState};

/// An unanswered request is missed after this long.
const ANSWER_WITHIN_MS: i64 = 120_000;
/// Missed requests in a row that make a `no_snapshot` disagreement.
const MISSED_IN_A_ROW: u32 = 2;
/// Largest luma-grid change (levels) at which two snapshots are the same
/// picture: a live camera's noise alone moves some cell by more.
const REPEAT_MAX_CHANGE: f32 = 0.05;
/// The server's benefit of the doubt: for `no_face` it looks for a face
/// down to this much below the session's `min_face_score`, since a JPEG of
/// a dark or distant face scores lower than the frame it came from
/// (docs/performance.md, *Spot checks*).
const NO_FACE_MARGIN: f64 = 0.2;
/// Largest snapshot side the server decodes.
const MAX_SIDE: u32 = 2048;

/// The server's detector, and what this node knows of the schedules.
///
/// Schedules are rows of `spot_schedules`, shared by every node on the
/// database: any node may answer a candidate's contact, and a request is
/// made by whichever node first claims it (a conditional update), so a
/// session gets one schedule however its requests are balanced. The node
/// keeps only each session's due time as it last read it, a lower bound
/// (due times only move forward), to skip the database on the contacts in
/// between.
#[derive(Default)]
pub(crate) struct Spot {
    /// Session → (not before, when this was read).
    not_before: Mutex<HashMap<String, (i64, i64)>>,
    detector: Mutex<Option<FaceDetector>>,
}

/// Cached due times older than this are dropped (sessions that ended on
/// another node); a dropped one is read again when it is needed.
const CACHE_FOR_MS: i64 = 600_000;
/// The cache is swept when it reaches this many sessions.
const CACHE_SWEEP_AT: usize = 4096;

#[derive(Clone, Debug, sqlx::FromRow)]
struct Schedule {
    /// Mean interval, ms; 0: spot checks are off for this session.
    interval_ms: i64,
    due_ms: i64,
    /// The request waiting for its snapshot, and when it was made.
    outstanding: Option<String>,
    asked_ms: Option<i64>,
    missed: i64,
}

impl Spot {
    fn not_before(&self, session_id: &str) -> Option<i64> {
        lock(&self.not_before).get(session_id).map(|&(t, _)| t)
    }

    fn remember(&self, session_id: &str, not_before: i64, now: i64) {
        let mut cache = lock(&self.not_before);
        if cache.len() >= CACHE_SWEEP_AT {
            cache.retain(|_, &mut (_, read)| now - read < CACHE_FOR_MS);
        }
        cache.insert(session_id.to_owned(), (not_before, now));
    }
}

/// Ends a session's schedule (it ended).
pub(crate) async fn forget(state: &AppState, session_id: &str) {
    lock(&state.spot.not_before).remove(session_id);
    if let Err(e) = sqlx::query("DELETE FROM spot_schedules WHERE session_id = $1")
        .bind(session_id)
        .execute(&state.db.pool)
        .await
    {
        tracing::warn!(
            session = session_id,
            "cannot end the spot-check schedule: {e}"
        );
    }
}

/// The request was answered: the schedule waits for no snapshot.
async fn answered(state: &AppState, session_id: &str, request: &str) {
    let _ = sqlx::query(
        "UPDATE spot_schedules SET outstanding = NULL, missed = 0 \
         WHERE session_id = $1 AND outstanding = $2",
    )
    .bind(session_id)
    .bind(request)
    .execute(&state.db.pool)
    .await;
}

/// A random time until the next request: uniform over half to one and a
/// half times the mean, from the operating system's generator.
fn draw(interval_ms: u64) -> i64 {
    let mut b = [0u8; 4];
    let unit = match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    };
    (interval_ms as f64 * (0.5 + unit)) as i64
}

fn request_id() -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("the operating system's random generator works");
    invigil_core::chain::hex(&b)
}

/// The session a candidate's contact is about: `/api/v1/sessions/{id}`
/// (the heartbeat) or `/api/v1/sessions/{id}/events` (a batch).
fn contact_session(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/sessions/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    (!id.is_empty() && (tail.is_empty() || tail == "events")).then_some(id)
}

/// Middleware on the session routes: a candidate's successful contact may
/// carry a spot-check request.
pub(crate) async fn ask(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let candidate = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ivc_"));
    let session = candidate
        .then(|| contact_session(req.uri().path()).map(str::to_owned))
        .flatten();
    let mut response = next.run(req).await;
    let Some(session) = session else {
        return response;
    };
    if !response.status().is_success() {
        return response;
    }
    if let Some(id) = due(&state, &session).await {
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(SNAPSHOT_HEADER, v);
        }
    }
    response
}

/// A new request when one is due for this live session.
async fn due(state: &AppState, session_id: &str) -> Option<String> {
    let now = now_ms();
    if state.spot.not_before(session_id).is_some_and(|t| now < t) {
        return None;
    }
    let s = schedule(state, session_id, now).await?;
    let off = s.interval_ms <= 0;
    state
        .spot
        .remember(session_id, if off { i64::MAX } else { s.due_ms }, now);
    if off || now < s.due_ms {
        return None;
    }
    let mut missed = s.missed;
    if let Some(asked) = s.outstanding.as_ref().and(s.asked_ms) {
        if now - asked < ANSWER_WITHIN_MS {
            return None;
        }
        missed += 1;
    }
    let id = request_id();
    let noted = missed >= i64::from(MISSED_IN_A_ROW);
    let next_due = now + draw(s.interval_ms as u64);
    // Claimed by this node only if no other node changed the schedule since
    // it was read; the request is recorded in the same transaction.
    let claim = async {
        let mut tx = state.db.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE spot_schedules SET due_ms = $1, outstanding = $2, asked_ms = $3, missed = $4 \
             WHERE session_id = $5 AND due_ms = $6 AND COALESCE(outstanding, '') = $7",
        )
        .bind(next_due)
        .bind(&id)
        .bind(now)
        .bind(if noted { 0 } else { missed })
        .bind(session_id)
        .bind(s.due_ms)
        .bind(s.outstanding.as_deref().unwrap_or(""))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok::<_, sqlx::Error>(false);
        }
        if let Some(missing) = &s.outstanding {
            sqlx::query(
                "UPDATE spot_checks SET verdict = 'missing' \
                 WHERE session_id = $1 AND id = $2 AND verdict IS NULL",
            )
            .bind(session_id)
            .bind(missing)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO spot_checks (session_id, id, requested_ms) VALUES ($1, $2, $3)")
            .bind(session_id)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    };
    match claim.await {
        // The next request is not due before this: no reads until then.
        Ok(true) => state.spot.remember(session_id, next_due, now),
        // Another node made this request.
        Ok(false) => return None,
        Err(e) => {
            tracing::error!(session = session_id, "cannot record a spot check: {e}");
            return None;
        }
    }
    if noted {
        let last = s.outstanding.clone().unwrap_or_default();
        disagree(
            state,
            session_id,
            json!({"reason": "no_snapshot", "requests_missed": MISSED_IN_A_ROW, "last_request": last}),
        )
        .await;
    }
    tracing::debug!(session = session_id, request = id, "spot check asked for");
    Some(id)
}

/// The session's schedule, made at its first contact once the monitored
/// exam has begun (`session_started` is in: during the check-in there
/// are no frames to send); `None` for a session that is not live.
async fn schedule(state: &AppState, session_id: &str, now: i64) -> Option<Schedule> {
    let read = || {
        sqlx::query_as::<_, Schedule>(
            "SELECT interval_ms, due_ms, outstanding, asked_ms, missed \
             FROM spot_schedules WHERE session_id = $1",
        )
        .bind(session_id)
        .fetch_optional(&state.db.pool)
    };
    if let Some(s) = read().await.ok().flatten() {
        return Some(s);
    }
    let row: Option<(String, String, i64)> =
        sqlx::query_as("SELECT policy, state, next_seq FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&state.db.pool)
            .await
            .ok()
            .flatten();
    let (policy, live, next_seq) = row?;
    if live != "live" || next_seq == 0 {
        return None;
    }
    let interval_ms = session_policy(&policy).map_or(0, |p| (p.spot_check_s * 1000.0) as u64);
    // Two nodes may make it at once: the first row stands.
    let made = sqlx::query(
        "INSERT INTO spot_schedules (session_id, interval_ms, due_ms, missed) \
         VALUES ($1, $2, $3, 0) ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(interval_ms as i64)
    .bind(now + draw(interval_ms))
    .execute(&state.db.pool)
    .await;
    if let Err(e) = made {
        tracing::error!(
            session = session_id,
            "cannot make a spot-check schedule: {e}"
        );
        return None;
    }
    read().await.ok().flatten()
}

fn session_policy(json: &str) -> Option<Policy> {
    let keys: serde_json::Map<String, Value> = serde_json::from_str(json).ok()?;
    Policy::from_json_keys(&keys, "session").ok()
}

/// A `snapshot_taken` event was stored: records the client's claim and
/// judges the snapshot if its picture is already here.
pub(crate) async fn taken(state: &AppState, session_id: &str, event: &invigil_core::Event) {
    let request = event
        .data
        .get("request")
        .and_then(Value::as_str)
        .unwrap_or("");
    let sha = event
        .data
        .get("sha256")
        .and_then(Value::as_str)
        .unwrap_or("");
    let faces = event.data.get("faces").and_then(Value::as_u64);
    if !is_snapshot_request(request) || Sha256Hex::parse(sha).is_none() {
        disagree(
            state,
            session_id,
            json!({"reason": "unreadable", "seq": event.seq, "problem": "the snapshot_taken event names no valid request or sha256"}),
        )
        .await;
        return;
    }
    let updated = sqlx::query(
        "UPDATE spot_checks SET answered_ms = $1, t_ms = $2, sha256 = $3, client_faces = $4 \
         WHERE session_id = $5 AND id = $6 AND answered_ms IS NULL",
    )
    .bind(now_ms())
    .bind(event.t_ms as i64)
    .bind(sha)
    .bind(faces.map(|n| n.min(1000) as i64))
    .bind(session_id)
    .bind(request)
    .execute(&state.db.pool)
    .await
    .map(|r| r.rows_affected())
    .unwrap_or(0);
    if updated == 0 {
        // Not a request of ours, or answered twice: nothing to compare.
        tracing::warn!(
            session = session_id,
            request,
            "a snapshot_taken for no open request of this server"
        );
        return;
    }
    answered(state, session_id, request).await;
    judge(state, session_id, request).await;
}

/// A snapshot's picture was stored: judges it if its event is here.
pub(crate) async fn stored(state: &AppState, session_id: &str, sha256: &str) {
    let open: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM spot_checks WHERE session_id = $1 AND sha256 = $2 AND verdict IS NULL",
    )
    .bind(session_id)
    .bind(sha256)
    .fetch_all(&state.db.pool)
    .await
    .unwrap_or_default();
    for (id,) in open {
        judge(state, session_id, &id).await;
    }
}

#[derive(sqlx::FromRow)]
struct Check {
    id: String,
    t_ms: Option<i64>,
    sha256: Option<String>,
    client_faces: Option<i64>,
    server_any: Option<i64>,
    fingerprint: Option<String>,
}

/// What the server found on one snapshot.
struct Seen {
    faces: usize,
    /// Faces down to `NO_FACE_MARGIN` below the threshold.
    any_faces: usize,
    sure_faces: usize,
    fingerprint: Fingerprint,
}

/// Compares one answered request whose picture is stored.
async fn judge(state: &AppState, session_id: &str, request: &str) {
    let Ok(Some(check)) = sqlx::query_as::<_, Check>(
        "SELECT id, t_ms, sha256, client_faces, server_any, fingerprint FROM spot_checks \
         WHERE session_id = $1 AND id = $2 AND verdict IS NULL AND sha256 IS NOT NULL",
    )
    .bind(session_id)
    .bind(request)
    .fetch_optional(&state.db.pool)
    .await
    else {
        return;
    };
    let Some(sha) = check.sha256.as_deref().and_then(Sha256Hex::parse) else {
        return;
    };
    let held: Option<(String,)> =
        sqlx::query_as("SELECT kind FROM media WHERE session_id = $1 AND sha256 = $2")
            .bind(session_id)
            .bind(sha.as_str())
            .fetch_optional(&state.db.pool)
            .await
            .ok()
            .flatten();
    if held.is_none() {
        // The picture comes later; its upload judges it.
        return;
    }
    // The event and the picture may arrive together: one judgement only.
    let claimed = sqlx::query(
        "UPDATE spot_checks SET verdict = 'judging' WHERE session_id = $1 AND id = $2 AND verdict IS NULL",
    )
    .bind(session_id)
    .bind(&check.id)
    .execute(&state.db.pool)
    .await
    .map(|r| r.rows_affected())
    .unwrap_or(0);
    if claimed != 1 {
        return;
    }
    let policy: Policy =
        sqlx::query_as::<_, (String,)>("SELECT policy FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&state.db.pool)
            .await
            .ok()
            .flatten()
            .and_then(|(p,)| session_policy(&p))
            .unwrap_or_default();
    let seen = match crate::store::read_all(state.store.as_ref(), &sha).await {
        Err(e) => Err(format!("media store: {e}")),
        Ok(None) => Err("the snapshot is missing from the media store".to_owned()),
        Ok(Some(body)) => {
            let (state, policy) = (state.clone(), policy.clone());
            tokio::task::spawn_blocking(move || look(&state, &body, &policy))
                .await
                .unwrap_or_else(|e| Err(format!("the check failed: {e}")))
        }
    };
    let t_ms = check.t_ms.unwrap_or(0);
    let client = check.client_faces.unwrap_or(0);
    let (verdict, detail) = match &seen {
        Err(problem) => ("unreadable", json!({ "problem": problem })),
        Ok(seen) => {
            let verdict = compare(state, session_id, &check, seen, &policy).await;
            (verdict, json!({}))
        }
    };
    let (faces, any, print) = match &seen {
        Ok(s) => (
            Some(s.faces as i64),
            Some(s.any_faces as i64),
            serde_json::to_string(&s.fingerprint.cells).ok(),
        ),
        Err(_) => (None, None, None),
    };
    let _ = sqlx::query(
        "UPDATE spot_checks SET server_faces = $1, server_any = $2, fingerprint = $3, verdict = $4 \
         WHERE session_id = $5 AND id = $6",
    )
    .bind(faces)
    .bind(any)
    .bind(print)
    .bind(verdict)
    .bind(session_id)
    .bind(&check.id)
    .execute(&state.db.pool)
    .await;
    if seen.is_ok() {
        let _ = sqlx::query("UPDATE sessions SET last_snapshot = $1 WHERE id = $2")
            .bind(sha.as_str())
            .bind(session_id)
            .execute(&state.db.pool)
            .await;
    }
    if verdict != "agree" {
        let mut note = json!({
            "reason": verdict,
            "request": check.id,
            "t_ms": t_ms,
            "sha256": sha.as_str(),
            "client_faces": client,
            "server_faces": faces,
        });
        if let (Value::Object(n), Value::Object(d)) = (&mut note, detail) {
            n.extend(d);
        }
        disagree(state, session_id, note).await;
    }
}

/// Decodes the snapshot and runs the server's detector on it.
fn look(state: &AppState, body: &[u8], policy: &Policy) -> Result<Seen, String> {
    let frame = decode(body)?;
    let faces = {
        let mut slot = lock(&state.spot.detector);
        if slot.is_none() {
            let mut d = FaceDetector::new(ModelKind::Back256)
                .map_err(|e| format!("cannot load the face detector: {e}"))?;
            d.set_min_score(0.3);
            *slot = Some(d);
        }
        slot.as_mut()
            .expect("loaded above")
            .detect(&frame)
            .map_err(|e| format!("face detection failed: {e}"))?
    };
    let count = |min: f64| faces.iter().filter(|f| f64::from(f.score) >= min).count();
    Ok(Seen {
        faces: count(policy.min_face_score),
        any_faces: count((policy.min_face_score - NO_FACE_MARGIN).max(0.3)),
        sure_faces: count(policy.multiple_faces_min_score.max(policy.min_face_score)),
        fingerprint: invigil_vision::scene_stats(&frame).fingerprint,
    })
}

/// A JPEG from a candidate's machine, decoded within limits.
fn decode(body: &[u8]) -> Result<Frame, String> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(body), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| format!("the snapshot is not a readable JPEG: {e}"))?
        .to_rgb8();
    let (width, height) = image.dimensions();
    if width < 16 || height < 16 {
        return Err(format!(
            "the snapshot is too small to judge ({width}x{height})"
        ));
    }
    Ok(Frame {
        t_ms: 0,
        width,
        height,
        rgb: image.into_raw(),
    })
}

/// The verdict on a readable snapshot.
async fn compare(
    state: &AppState,
    session_id: &str,
    check: &Check,
    seen: &Seen,
    policy: &Policy,
) -> &'static str {
    let client = check.client_faces.unwrap_or(0);
    let sha = check.sha256.as_deref().unwrap_or("");
    let earlier: Vec<Check> = sqlx::query_as(
        "SELECT id, t_ms, sha256, client_faces, server_any, fingerprint FROM spot_checks \
         WHERE session_id = $1 AND id <> $2 AND verdict IS NOT NULL AND verdict <> 'missing' \
         AND server_any IS NOT NULL ORDER BY t_ms",
    )
    .bind(session_id)
    .bind(&check.id)
    .fetch_all(&state.db.pool)
    .await
    .unwrap_or_default();
    let repeated = earlier.iter().any(|e| {
        e.sha256.as_deref() == Some(sha)
            || e.fingerprint
                .as_deref()
                .and_then(|f| serde_json::from_str::<Vec<f32>>(f).ok())
                .and_then(|cells| Fingerprint { cells }.max_difference(&seen.fingerprint))
                .is_some_and(|d| d <= REPEAT_MAX_CHANGE)
    });
    if repeated {
        return "repeated";
    }
    if seen.any_faces == 0 && client >= 1 {
        return "no_face";
    }
    if seen.sure_faces >= 2 && client <= 1 {
        return "extra_faces";
    }
    // Nobody now, nobody at an earlier check long enough ago for the rules
    // to have flagged it: the client's events must admit an absence.
    let t = check.t_ms.unwrap_or(0);
    let flag_ms = (policy.absence_flag_s * 1000.0) as i64;
    if seen.any_faces == 0 {
        let before = earlier
            .iter()
            .rev()
            .find(|e| e.t_ms.is_some_and(|et| et < t))
            .filter(|e| e.server_any == Some(0));
        if let Some(before) = before {
            let since = before.t_ms.unwrap_or(0);
            if t - since >= flag_ms && !admits_absence(state, session_id, since, t).await {
                return "events_claim_presence";
            }
        }
    }
    "agree"
}

/// Whether the client's events show the candidate away (an absence warning
/// or flag, or a break) at any moment of `[from, to]` (media time).
async fn admits_absence(state: &AppState, session_id: &str, from: i64, to: i64) -> bool {
    use EventKind::*;
    let kinds = [
        AbsenceWarning,
        CandidateAbsent,
        CandidateReturned,
        BreakStarted,
        BreakEnded,
        BreakOverrun,
    ];
    let list: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT t_ms, kind FROM events WHERE session_id = $1 AND t_ms <= $2 AND kind IN ({}) ORDER BY seq",
        list.join(", ")
    ))
    .bind(session_id)
    .bind(to)
    .fetch_all(&state.db.pool)
    .await
    .unwrap_or_default();
    let mut away = false;
    for (t, kind) in rows {
        let starts = kind == AbsenceWarning.as_str()
            || kind == CandidateAbsent.as_str()
            || kind == BreakStarted.as_str();
        if t >= from && starts {
            return true;
        }
        away = if t < from { starts } else { away };
    }
    away
}

/// Notes a disagreement and alerts proctors.
async fn disagree(state: &AppState, session_id: &str, detail: Value) {
    tracing::warn!(session = session_id, "analysis disagreement: {detail}");
    crate::launch::note(state, session_id, "analysis_disagreement", detail, true).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_the_heartbeat_and_batches() {
        assert_eq!(contact_session("/api/v1/sessions/s-1"), Some("s-1"));
        assert_eq!(contact_session("/api/v1/sessions/s-1/events"), Some("s-1"));
        assert_eq!(contact_session("/api/v1/sessions/s-1/end"), None);
        assert_eq!(contact_session("/api/v1/sessions/s-1/media/ab"), None);
        assert_eq!(contact_session("/api/v1/sessions"), None);
        assert_eq!(contact_session("/api/v1/sessions/"), None);
    }

    #[test]
    fn intervals_are_drawn_around_the_mean() {
        for _ in 0..200 {
            let d = draw(60_000);
            assert!((30_000..=90_000).contains(&d), "{d}");
        }
        assert_eq!(draw(0), 0);
    }

    #[test]
    fn hostile_pictures_are_refused_not_decoded() {
        assert!(decode(b"not a jpeg")
            .unwrap_err()
            .contains("not a readable JPEG"));
        assert!(decode(&[0xFF, 0xD8, 0xFF, 0xE0]).is_err());
    }
}
