//! Data forensics on the server (docs/forensics.md): an exam's results are
//! analysed by `invigil-forensics` when an admin uploads them, and the
//! flags are stored per candidate, matched to the candidate's session
//! through the exam's enrolments. A flag whose index is within its share of
//! the 1e-6 budget but has no second piece of evidence in the data gets one
//! here when the candidate's session (or the partner's) holds a proctoring
//! violation that no proctor dismissed.

use std::collections::HashMap;

use invigil_core::protocol::{ForensicFlag, ForensicsReport};
use invigil_forensics::analyze::{Flag, Report};
use sqlx::FromRow;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::{now_ms, AppState};

/// Added to the review priority's raw score per flag on the session, and
/// again (twice) per flag meeting the invalidation conditions
/// (docs/console.md).
pub const REVIEW_WEIGHT: f64 = 5.0;

#[derive(FromRow)]
struct FlagRow {
    id: String,
    exam_id: String,
    candidate_id: String,
    session_id: Option<String>,
    partner_id: Option<String>,
    partner_session_id: Option<String>,
    idx: String,
    statistic: f64,
    p: f64,
    invalidation_level: Option<f64>,
    invalidation: i64,
    source: String,
    detail: String,
    corroboration: Option<String>,
}

const FLAG_COLUMNS: &str =
    "id, exam_id, candidate_id, session_id, partner_id, partner_session_id, \
     idx, statistic, p, invalidation_level, invalidation, source, detail, corroboration";

impl From<FlagRow> for ForensicFlag {
    fn from(r: FlagRow) -> Self {
        ForensicFlag {
            id: r.id,
            exam_id: r.exam_id,
            candidate_id: r.candidate_id,
            session_id: r.session_id,
            partner_id: r.partner_id,
            partner_session_id: r.partner_session_id,
            index: r.idx,
            statistic: r.statistic,
            p: r.p,
            invalidation_level: r.invalidation_level,
            invalidation: r.invalidation != 0,
            source: r.source,
            detail: r.detail,
            corroboration: r.corroboration,
        }
    }
}

/// The proctoring violations of a session that no proctor dismissed:
/// `(count, kinds)`.
async fn violations(state: &AppState, session_id: &str) -> ApiResult<(i64, Vec<String>)> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT e.seq, e.kind FROM events e WHERE e.session_id = $1 AND e.severity = 'violation' \
         AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.session_id = e.session_id \
         AND d.event_seq = e.seq AND d.action = 'dismiss') ORDER BY e.seq",
    )
    .bind(session_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut kinds: Vec<String> = rows.iter().map(|(_, k)| k.clone()).collect();
    kinds.sort();
    kinds.dedup();
    Ok((rows.len() as i64, kinds))
}

/// Stores an analysis of exam `exam_id` by `actor` as a new run, with
/// the proctoring record as evidence; returns the stored report.
pub async fn store(
    state: &AppState,
    exam_id: &str,
    actor: &str,
    mut report: Report,
) -> ApiResult<ForensicsReport> {
    let sessions: HashMap<String, Option<String>> = sqlx::query_as::<_, (String, Option<String>)>(
        "SELECT candidate_id, session_id FROM enrolments WHERE exam_id = $1",
    )
    .bind(exam_id)
    .fetch_all(&state.db.pool)
    .await?
    .into_iter()
    .collect();
    let unknown: Vec<&str> = report
        .candidate_summaries
        .iter()
        .map(|c| c.candidate_id.as_str())
        .filter(|c| !sessions.contains_key(*c))
        .collect();
    if unknown.len() == report.candidates {
        return Err(ApiError::invalid_field(
            "responses",
            format!(
                "no candidate of the results is enrolled in exam {exam_id} (the first is `{}`): \
                 the results' candidate_id must be the enrolment's",
                unknown.first().copied().unwrap_or("")
            ),
        ));
    }
    if !unknown.is_empty() {
        let shown: Vec<&str> = unknown.iter().take(10).copied().collect();
        report.notes.push(format!(
            "{} candidate(s) of the results are not enrolled in the exam: {}{}",
            unknown.len(),
            shown.join(", "),
            if unknown.len() > 10 { ", ..." } else { "" }
        ));
    }
    let session_of = |c: &str| sessions.get(c).cloned().flatten();

    // The third kind of evidence: the proctoring record.
    let mut cache: HashMap<String, (i64, Vec<String>)> = HashMap::new();
    for f in &mut report.flags {
        let first = f.invalidation_level.is_some_and(|level| f.p <= level);
        if !first || f.invalidation {
            continue;
        }
        for c in f.candidates.clone() {
            let Some(session) = session_of(&c) else {
                continue;
            };
            if !cache.contains_key(&session) {
                cache.insert(session.clone(), violations(state, &session).await?);
            }
            let (n, kinds) = &cache[&session];
            if *n > 0 {
                f.invalidation = true;
                f.corroboration = Some(format!(
                    "{c}: {n} proctoring violation(s) not dismissed in session {session} ({})",
                    kinds.join(", ")
                ));
                report.invalidations += 1;
                break;
            }
        }
    }
    report.flags.sort_by(|x, y| {
        y.invalidation
            .cmp(&x.invalidation)
            .then(x.p.total_cmp(&y.p))
    });

    let run_id = auth::new_id();
    let at_ms = now_ms();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO forensics_runs (id, exam_id, at_ms, actor, candidates, items, invalidations, \
         budget, review_level, notes, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&run_id)
    .bind(exam_id)
    .bind(at_ms)
    .bind(actor)
    .bind(report.candidates as i64)
    .bind(report.items as i64)
    .bind(report.invalidations as i64)
    .bind(report.levels.budget)
    .bind(report.levels.review)
    .bind(serde_json::to_string(&report.notes).map_err(ApiError::internal)?)
    .bind(serde_json::to_string(&report).map_err(ApiError::internal)?)
    .execute(&mut *tx)
    .await?;
    let mut ord = 0i64;
    for f in &report.flags {
        for (k, c) in f.candidates.iter().enumerate() {
            let partner = f
                .candidates
                .get(1 - k.min(1))
                .filter(|_| f.candidates.len() == 2);
            sqlx::query(&format!(
                "INSERT INTO forensics_flags ({FLAG_COLUMNS}, run_id, ord) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ))
            .bind(auth::new_id())
            .bind(exam_id)
            .bind(c)
            .bind(session_of(c))
            .bind(partner)
            .bind(partner.and_then(|p| session_of(p)))
            .bind(&f.index)
            .bind(finite(f.statistic))
            .bind(f.p)
            .bind(f.invalidation_level)
            .bind(i64::from(f.invalidation))
            .bind(source_name(f))
            .bind(&f.detail)
            .bind(&f.corroboration)
            .bind(&run_id)
            .bind(ord)
            .execute(&mut *tx)
            .await?;
            ord += 1;
        }
    }
    tx.commit().await?;
    // The review priority of every session flagged now or by the last run.
    let touched: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT f.session_id FROM forensics_flags f WHERE f.exam_id = $1 \
         AND f.session_id IS NOT NULL",
    )
    .bind(exam_id)
    .fetch_all(&state.db.pool)
    .await?;
    for (session,) in touched {
        crate::review::refresh(state, &session).await?;
    }
    latest(state, exam_id)
        .await?
        .ok_or_else(|| ApiError::internal("the stored analysis is missing"))
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn source_name(f: &Flag) -> &'static str {
    match f.source {
        invigil_forensics::analyze::Source::Answers => "answers",
        invigil_forensics::analyze::Source::Times => "times",
    }
}

/// A run as `latest` reads it: id, at_ms, actor, candidates, items,
/// invalidations, budget, review level, notes.
type RunRow = (String, i64, String, i64, i64, i64, f64, f64, String);

/// The latest run of an exam, or none.
pub async fn latest(state: &AppState, exam_id: &str) -> ApiResult<Option<ForensicsReport>> {
    let run: Option<RunRow> = sqlx::query_as(
        "SELECT id, at_ms, actor, candidates, items, invalidations, budget, review_level, notes \
         FROM forensics_runs WHERE exam_id = $1 ORDER BY at_ms DESC, id LIMIT 1",
    )
    .bind(exam_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((run_id, at_ms, by, candidates, items, invalidations, budget, review_level, notes)) =
        run
    else {
        return Ok(None);
    };
    let rows: Vec<FlagRow> = sqlx::query_as(&format!(
        "SELECT {FLAG_COLUMNS} FROM forensics_flags WHERE run_id = $1 ORDER BY ord"
    ))
    .bind(&run_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Some(ForensicsReport {
        exam_id: exam_id.to_owned(),
        run_id,
        at_ms,
        by,
        candidates,
        items,
        invalidations,
        flags: rows.into_iter().map(ForensicFlag::from).collect(),
        notes: serde_json::from_str(&notes).unwrap_or_default(),
        budget,
        review_level,
    }))
}

/// The flags on a session from the latest run of its exam.
pub async fn of_session(state: &AppState, session_id: &str) -> ApiResult<Vec<ForensicFlag>> {
    let rows: Vec<FlagRow> = sqlx::query_as(&format!(
        "SELECT {FLAG_COLUMNS} FROM forensics_flags f WHERE f.session_id = $1 AND f.run_id = \
         (SELECT r.id FROM forensics_runs r WHERE r.exam_id = f.exam_id ORDER BY r.at_ms DESC, r.id \
         LIMIT 1) ORDER BY f.ord"
    ))
    .bind(session_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows.into_iter().map(ForensicFlag::from).collect())
}

/// Flags by id (any run), in the order asked; ids not found are left out.
pub async fn by_ids(state: &AppState, ids: &[String]) -> ApiResult<Vec<ForensicFlag>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<FlagRow> = sqlx::query_as(&format!(
            "SELECT {FLAG_COLUMNS} FROM forensics_flags WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
        out.extend(row.map(ForensicFlag::from));
    }
    Ok(out)
}

/// `(flags, flags meeting the invalidation conditions)` on a session, for
/// its review priority.
pub async fn counts(state: &AppState, session_id: &str) -> ApiResult<(i64, i64)> {
    let flags = of_session(state, session_id).await?;
    let invalid = flags.iter().filter(|f| f.invalidation).count() as i64;
    Ok((flags.len() as i64, invalid))
}
