//! Exams and enrolments: admins define an exam and its rules, enrol its
//! candidates (one by one or a CSV roster) and get their launch codes;
//! proctors read them.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use invigil_core::protocol::{
    Accommodations, Enrol, Enrolment, EnrolmentList, ErrorBody, Exam, ExamList, Issued, IssuedCode,
    NewEnrolment, NewExam, Reissue, RosterUpload,
};
use serde_json::{json, Map, Value};

use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::exams::{
    check_enrolment, check_exam, check_overrides, code_hash, new_code, parse_roster, ticket_for,
    validate_exam_id, ExamRow, EXAM_COLUMNS, MAX_ROSTER_ROWS,
};
use crate::json::{body_bytes, StrictJson};
use crate::{now_ms, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exams", post(create_exam).get(list_exams))
        .route("/api/v1/exams/{id}", get(get_exam).put(update_exam))
        .route(
            "/api/v1/exams/{id}/enrolments",
            post(enrol).get(list_enrolments),
        )
        .route("/api/v1/exams/{id}/roster", post(enrol_roster))
        .route(
            "/api/v1/exams/{id}/enrolments/{candidate}",
            put(set_accommodations),
        )
        .route("/api/v1/exams/{id}/codes", post(reissue_codes))
}

/// Creates an exam.
#[utoipa::path(post, path = "/api/v1/exams", tag = "exams",
    request_body = NewExam,
    responses(
        (status = 201, description = "Created", body = Exam),
        (status = 400, description = "A field is invalid (the policy is checked as `invigil policy --check` does)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn create_exam(
    State(state): State<AppState>,
    caller: Caller,
    StrictJson(body): StrictJson<NewExam>,
) -> ApiResult<(StatusCode, Json<Exam>)> {
    let admin = caller.admin()?.to_owned();
    check_exam(&body)?;
    let id = body
        .id
        .clone()
        .unwrap_or_else(|| auth::new_id()[..12].to_owned());
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO exams (id, title, opens_ms, closes_ms, policy, checkin, aids, created_by, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(body.title.trim())
    .bind(body.opens_ms)
    .bind(body.closes_ms)
    .bind(Value::Object(body.policy.clone()).to_string())
    .bind(json!(body.checkin).to_string())
    .bind(json!(body.aids).to_string())
    .bind(&admin)
    .bind(now)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::conflict(
            "exam_exists",
            format!("an exam with id `{id}` exists already"),
        ));
    }
    audit(&state, &id, None, &admin, "created", json!(body)).await?;
    tracing::info!(exam = id, by = admin, "exam created");
    Ok((StatusCode::CREATED, Json(load_exam(&state, &id).await?)))
}

/// Lists exams, soonest closing first.
#[utoipa::path(get, path = "/api/v1/exams", tag = "exams",
    responses(
        (status = 200, description = "Exams", body = ExamList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn list_exams(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ExamList>> {
    caller.proctor()?;
    let rows: Vec<ExamRow> = sqlx::query_as(&format!(
        "SELECT {EXAM_COLUMNS} FROM exams x ORDER BY x.closes_ms DESC, x.id LIMIT 5000"
    ))
    .fetch_all(&state.db.pool)
    .await?;
    let mut exams = Vec::with_capacity(rows.len());
    for row in rows {
        exams.push(with_counts(&state, row).await?);
    }
    Ok(Json(ExamList { exams }))
}

/// One exam.
#[utoipa::path(get, path = "/api/v1/exams/{id}", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    responses(
        (status = 200, description = "The exam", body = Exam),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn get_exam(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Exam>> {
    caller.proctor()?;
    Ok(Json(load_exam(&state, &id).await?))
}

/// Changes an exam, only while no session of it has started.
#[utoipa::path(put, path = "/api/v1/exams/{id}", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    request_body = NewExam,
    responses(
        (status = 200, description = "Changed", body = Exam),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 409, description = "A session of the exam has started", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn update_exam(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<NewExam>,
) -> ApiResult<Json<Exam>> {
    let admin = caller.admin()?.to_owned();
    check_exam(&body)?;
    if body.id.as_ref().is_some_and(|b| *b != id) {
        return Err(ApiError::invalid_field(
            "id",
            "an exam's id cannot change; leave `id` out or give the same one",
        ));
    }
    let exam = load_exam(&state, &id).await?;
    // Every accommodation must still make a valid policy.
    for e in enrolments_of(&state, &id).await? {
        check_overrides(
            &format!("accommodations of {}", e.candidate_id),
            &body.policy,
            &e.overrides,
        )?;
    }
    let changed = sqlx::query(
        "UPDATE exams SET title = $1, opens_ms = $2, closes_ms = $3, policy = $4, checkin = $5, aids = $6, updated_ms = $7 \
         WHERE id = $8 AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.exam_id = $8)",
    )
    .bind(body.title.trim())
    .bind(body.opens_ms)
    .bind(body.closes_ms)
    .bind(Value::Object(body.policy.clone()).to_string())
    .bind(json!(body.checkin).to_string())
    .bind(json!(body.aids).to_string())
    .bind(now_ms())
    .bind(&id)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::conflict(
            "exam_started",
            format!(
                "exam {id} has {} session(s); an exam cannot change once a session has started",
                exam.started.max(1)
            ),
        ));
    }
    audit(&state, &id, None, &admin, "updated", json!(body)).await?;
    Ok(Json(load_exam(&state, &id).await?))
}

/// Enrols candidates (all or none) and issues their launch codes, shown
/// this once.
#[utoipa::path(post, path = "/api/v1/exams/{id}/enrolments", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    request_body = Enrol,
    responses(
        (status = 201, description = "Enrolled; the codes", body = Issued),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 409, description = "A candidate is enrolled already", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<Enrol>,
) -> ApiResult<(StatusCode, Json<Issued>)> {
    let admin = caller.admin()?.to_owned();
    if body.candidates.is_empty() || body.candidates.len() > MAX_ROSTER_ROWS {
        return Err(ApiError::invalid_field(
            "candidates",
            format!("enrol 1 to {MAX_ROSTER_ROWS} candidates at a time"),
        ));
    }
    for (i, e) in body.candidates.iter().enumerate() {
        check_enrolment(&format!("candidates[{i}]"), e)?;
    }
    let issued = insert_enrolments(&state, &id, &admin, body.candidates).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Enrols a CSV roster (`candidate_id,name,email`, `Content-Type:
/// text/csv`), all or none, and issues the launch codes.
#[utoipa::path(post, path = "/api/v1/exams/{id}/roster", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    request_body(content = String, content_type = "text/csv", description = "candidate_id,name,email lines; a header line is optional (or JSON `RosterUpload`)"),
    responses(
        (status = 201, description = "Enrolled; the codes", body = Issued),
        (status = 400, description = "A line is invalid (named in `field`)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 409, description = "A candidate is enrolled already", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn enrol_roster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Issued>)> {
    let admin = caller.admin()?.to_owned();
    let content_type = crate::json::content_type(&req);
    let json = content_type.starts_with("application/json");
    if !json && !content_type.starts_with("text/csv") && !content_type.starts_with("text/plain") {
        return Err(ApiError::bad_request(
            "a roster is sent as `Content-Type: text/csv` (or JSON `{\"csv\": ...}`)",
        ));
    }
    let bytes = body_bytes(req, &state).await?;
    let candidates = if json {
        let RosterUpload { csv } = crate::json::parse(&bytes)?;
        parse_roster(&csv)?
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ApiError::invalid_field(
                "roster",
                format!(
                    "the roster is not UTF-8 text (byte {}); save it as UTF-8 CSV",
                    e.valid_up_to()
                ),
            )
        })?;
        parse_roster(text)?
    };
    let issued = insert_enrolments(&state, &id, &admin, candidates).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// An exam's enrolments (never their codes).
#[utoipa::path(get, path = "/api/v1/exams/{id}/enrolments", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    responses(
        (status = 200, description = "Enrolments", body = EnrolmentList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn list_enrolments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EnrolmentList>> {
    caller.proctor()?;
    load_row(&state, &id).await?;
    Ok(Json(EnrolmentList {
        enrolments: enrolments_of(&state, &id).await?,
    }))
}

/// Sets a candidate's accommodations (replacing earlier ones), until the
/// candidate's session starts; kept in the exam's audit trail.
#[utoipa::path(put, path = "/api/v1/exams/{id}/enrolments/{candidate}", tag = "exams",
    params(("id" = String, Path, description = "Exam id"), ("candidate" = String, Path, description = "Candidate id")),
    request_body = Accommodations,
    responses(
        (status = 200, description = "Set", body = Enrolment),
        (status = 400, description = "The policy keys are invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam or enrolment", body = ErrorBody),
        (status = 409, description = "The candidate's session has started", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn set_accommodations(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, candidate)): Path<(String, String)>,
    StrictJson(body): StrictJson<Accommodations>,
) -> ApiResult<Json<Enrolment>> {
    let admin = caller.admin()?.to_owned();
    let exam = load_row(&state, &id).await?;
    check_overrides("overrides", &exam.policy(), &body.overrides)?;
    if body.reason.chars().count() > 2000
        || body.reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid_field(
            "reason",
            "`reason` must be at most 2000 characters, without control characters",
        ));
    }
    let before = enrolments_of(&state, &id)
        .await?
        .into_iter()
        .find(|e| e.candidate_id == candidate)
        .ok_or_else(|| ApiError::not_found(format!("{candidate} is not enrolled in exam {id}")))?;
    let changed = sqlx::query(
        "UPDATE enrolments SET overrides = $1 WHERE exam_id = $2 AND candidate_id = $3 AND session_id IS NULL",
    )
    .bind(Value::Object(body.overrides.clone()).to_string())
    .bind(&id)
    .bind(&candidate)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::conflict(
            "session_started",
            format!("{candidate}'s session of exam {id} has started; accommodations are fixed from then"),
        ));
    }
    audit(
        &state,
        &id,
        Some(&candidate),
        &admin,
        "accommodations",
        json!({"before": before.overrides, "after": body.overrides, "reason": body.reason}),
    )
    .await?;
    enrolments_of(&state, &id)
        .await?
        .into_iter()
        .find(|e| e.candidate_id == candidate)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("{candidate} is not enrolled in exam {id}")))
}

/// Issues new launch codes for enrolments whose code is unused; their old
/// codes stop working.
#[utoipa::path(post, path = "/api/v1/exams/{id}/codes", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    request_body = Reissue,
    responses(
        (status = 200, description = "The new codes", body = Issued),
        (status = 400, description = "A field is invalid", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam or enrolment", body = ErrorBody),
        (status = 409, description = "A named candidate's code has been used", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn reissue_codes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<Reissue>,
) -> ApiResult<Json<Issued>> {
    let admin = caller.admin()?.to_owned();
    let exam = load_row(&state, &id).await?;
    let all = enrolments_of(&state, &id).await?;
    let chosen: Vec<&Enrolment> = match &body.candidates {
        None => all.iter().filter(|e| e.session_id.is_none()).collect(),
        Some(names) => {
            let mut chosen = Vec::new();
            for name in names {
                let e = all
                    .iter()
                    .find(|e| &e.candidate_id == name)
                    .ok_or_else(|| {
                        ApiError::not_found(format!("{name} is not enrolled in exam {id}"))
                    })?;
                if e.session_id.is_some() {
                    return Err(ApiError::conflict(
                        "launch_code_used",
                        format!(
                            "{name}'s launch code has started a session; it cannot be replaced"
                        ),
                    ));
                }
                chosen.push(e);
            }
            chosen
        }
    };
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let mut codes = Vec::with_capacity(chosen.len());
    for e in chosen {
        let code = new_code();
        sqlx::query(
            "UPDATE enrolments SET code_hash = $1 WHERE exam_id = $2 AND candidate_id = $3 AND session_id IS NULL",
        )
        .bind(code_hash(&code))
        .bind(&id)
        .bind(&e.candidate_id)
        .execute(&mut *tx)
        .await?;
        codes.push(IssuedCode {
            candidate_id: e.candidate_id.clone(),
            name: e.name.clone(),
            email: e.email.clone(),
            code,
            ticket: ticket_for(&state.signer, &exam, &e.candidate_id, &e.overrides, now)?,
        });
    }
    tx.commit().await?;
    let who: Vec<&str> = codes.iter().map(|c| c.candidate_id.as_str()).collect();
    audit(
        &state,
        &id,
        None,
        &admin,
        "codes_issued",
        json!({"candidates": who}),
    )
    .await?;
    Ok(Json(Issued { exam_id: id, codes }))
}

// ---------------------------------------------------------------- helpers

async fn insert_enrolments(
    state: &AppState,
    exam_id: &str,
    admin: &str,
    candidates: Vec<NewEnrolment>,
) -> ApiResult<Issued> {
    let exam = load_row(state, exam_id).await?;
    let exam_policy = exam.policy();
    let mut seen = std::collections::HashSet::new();
    for (i, e) in candidates.iter().enumerate() {
        if !seen.insert(e.candidate_id.clone()) {
            return Err(ApiError::invalid_field(
                format!("candidates[{i}].candidate_id"),
                format!("{} is listed twice", e.candidate_id),
            ));
        }
        check_overrides(
            &format!("candidates[{i}].overrides"),
            &exam_policy,
            &e.overrides,
        )?;
    }
    let existing: Vec<(String,)> =
        sqlx::query_as("SELECT candidate_id FROM enrolments WHERE exam_id = $1")
            .bind(exam_id)
            .fetch_all(&state.db.pool)
            .await?;
    let taken: Vec<&str> = existing
        .iter()
        .map(|(c,)| c.as_str())
        .filter(|c| seen.contains(*c))
        .collect();
    if !taken.is_empty() {
        let shown: Vec<&str> = taken.iter().take(10).copied().collect();
        return Err(ApiError::conflict(
            "already_enrolled",
            format!(
                "{} candidate(s) are enrolled in exam {exam_id} already ({}{}); nobody was enrolled",
                taken.len(),
                shown.join(", "),
                if taken.len() > shown.len() { ", ..." } else { "" }
            ),
        )
        .with_detail(json!({ "candidates": taken })));
    }
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let mut codes = Vec::with_capacity(candidates.len());
    for e in candidates {
        let code = new_code();
        let inserted = sqlx::query(
            "INSERT INTO enrolments (exam_id, candidate_id, name, email, overrides, code_hash, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(exam_id)
        .bind(&e.candidate_id)
        .bind(&e.name)
        .bind(&e.email)
        .bind(Value::Object(e.overrides.clone()).to_string())
        .bind(code_hash(&code))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Enrolled by a concurrent request: all or none.
            return Err(ApiError::conflict(
                "already_enrolled",
                format!(
                    "{} was enrolled in exam {exam_id} meanwhile; nobody was enrolled",
                    e.candidate_id
                ),
            ));
        }
        let ticket = ticket_for(&state.signer, &exam, &e.candidate_id, &e.overrides, now)?;
        codes.push(IssuedCode {
            candidate_id: e.candidate_id,
            name: e.name,
            email: e.email,
            code,
            ticket,
        });
    }
    tx.commit().await?;
    let enrolled: Vec<&str> = codes.iter().map(|c| c.candidate_id.as_str()).collect();
    audit(
        state,
        exam_id,
        None,
        admin,
        "enrolled",
        json!({ "candidates": enrolled }),
    )
    .await?;
    tracing::info!(
        exam = exam_id,
        by = admin,
        count = codes.len(),
        "candidates enrolled"
    );
    Ok(Issued {
        exam_id: exam_id.to_owned(),
        codes,
    })
}

pub(crate) async fn load_row(state: &AppState, id: &str) -> ApiResult<ExamRow> {
    validate_exam_id(id).map_err(|_| ApiError::not_found(format!("no exam {id}")))?;
    sqlx::query_as(&format!(
        "SELECT {EXAM_COLUMNS} FROM exams x WHERE x.id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no exam {id}")))
}

async fn load_exam(state: &AppState, id: &str) -> ApiResult<Exam> {
    let row = load_row(state, id).await?;
    with_counts(state, row).await
}

async fn with_counts(state: &AppState, row: ExamRow) -> ApiResult<Exam> {
    let (enrolled,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enrolments WHERE exam_id = $1")
        .bind(&row.id)
        .fetch_one(&state.db.pool)
        .await?;
    let (started,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE exam_id = $1")
        .bind(&row.id)
        .fetch_one(&state.db.pool)
        .await?;
    let (results_analysed_ms,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(at_ms) FROM forensics_runs WHERE exam_id = $1")
            .bind(&row.id)
            .fetch_one(&state.db.pool)
            .await?;
    Ok(Exam {
        policy: row.policy(),
        checkin: row.checkin(),
        aids: row.aids(),
        id: row.id,
        title: row.title,
        opens_ms: row.opens_ms,
        closes_ms: row.closes_ms,
        created_by: row.created_by,
        created_ms: row.created_ms,
        updated_ms: row.updated_ms,
        enrolled,
        started,
        results_analysed_ms,
    })
}

#[derive(sqlx::FromRow)]
struct EnrolmentRow {
    exam_id: String,
    candidate_id: String,
    name: String,
    email: String,
    overrides: String,
    created_ms: i64,
    session_id: Option<String>,
    redeemed_ms: Option<i64>,
}

async fn enrolments_of(state: &AppState, exam_id: &str) -> ApiResult<Vec<Enrolment>> {
    let rows: Vec<EnrolmentRow> = sqlx::query_as(
        "SELECT exam_id, candidate_id, name, email, overrides, created_ms, session_id, redeemed_ms \
         FROM enrolments WHERE exam_id = $1 ORDER BY candidate_id",
    )
    .bind(exam_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Enrolment {
            exam_id: r.exam_id,
            candidate_id: r.candidate_id,
            name: r.name,
            email: r.email,
            overrides: serde_json::from_str::<Map<String, Value>>(&r.overrides).unwrap_or_default(),
            created_ms: r.created_ms,
            session_id: r.session_id,
            redeemed_ms: r.redeemed_ms,
        })
        .collect())
}

/// Records who changed what in an exam's audit trail.
pub(crate) async fn audit(
    state: &AppState,
    exam_id: &str,
    candidate_id: Option<&str>,
    actor: &str,
    action: &str,
    detail: Value,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO exam_audit (id, exam_id, candidate_id, at_ms, actor, action, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(auth::new_id())
    .bind(exam_id)
    .bind(candidate_id)
    .bind(now_ms())
    .bind(format!("proctor:{actor}"))
    .bind(action)
    .bind(detail.to_string())
    .execute(&state.db.pool)
    .await?;
    Ok(())
}
