//! Data forensics on an exam's results (docs/forensics.md): admins upload
//! the item-level results after the exam; the analysis runs on the server
//! and its flags join the candidates' sessions.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use invigil_core::protocol::{ErrorBody, ForensicsReport, ResponsesUpload};
use invigil_forensics::analyze::{analyze, Options};
use invigil_forensics::data::{parse_candidates, parse_items, parse_responses, DataError};
use serde_json::json;

use super::exams::{audit, load_row};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::body_bytes;
use crate::AppState;

/// Largest results upload (bytes): 5,000 candidates × 200 items in the
/// long layout fit.
pub const MAX_RESULTS_BYTES: usize = 64 << 20;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exams/{id}/responses", post(upload_responses))
        .route(
            "/api/v1/exams/{id}/forensics",
            axum::routing::get(get_forensics),
        )
        .layer(DefaultBodyLimit::max(MAX_RESULTS_BYTES))
}

fn file_error(e: DataError) -> ApiError {
    let field = match &e {
        DataError::Read { path, .. }
        | DataError::Header { path, .. }
        | DataError::Value { path, .. }
        | DataError::File { path, .. } => path.display().to_string(),
    };
    ApiError::invalid_field(field, e.to_string())
}

/// Uploads an exam's item-level results and analyses them: answer
/// similarity, person fit, pre-knowledge, aberrant speed, with the 1e-6
/// budget and the two-evidence invalidation conditions (the candidate's
/// proctoring violations count as evidence). A new upload adds a run; the
/// latest is the one shown.
#[utoipa::path(post, path = "/api/v1/exams/{id}/responses", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    request_body(content = ResponsesUpload, description = "The files as CSV text (docs/forensics.md); or the responses file alone as `Content-Type: text/csv`"),
    responses(
        (status = 201, description = "Analysed; the report", body = ForensicsReport),
        (status = 400, description = "A file is malformed (`field` names it; the message the line and column), no candidate is enrolled, or the results cannot be calibrated", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 413, description = "Over 64 MiB", body = ErrorBody),
        (status = 429, description = "Another analysis is running", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn upload_responses(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<ForensicsReport>)> {
    let admin = caller.admin()?.to_owned();
    load_row(&state, &id).await?;
    let content_type = crate::json::content_type(&req);
    let bytes = body_bytes(req, &state).await?;
    let upload = if content_type.starts_with("application/json") {
        crate::json::parse::<ResponsesUpload>(&bytes)?
    } else if content_type.starts_with("text/csv") || content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ApiError::invalid_field(
                "responses",
                format!(
                    "the results are not UTF-8 text (byte {}); save them as UTF-8 CSV",
                    e.valid_up_to()
                ),
            )
        })?;
        ResponsesUpload {
            responses: text.to_owned(),
            items: None,
            candidates: None,
        }
    } else {
        return Err(ApiError::bad_request(
            "send the results as JSON `{\"responses\": CSV, \"items\": CSV, \"candidates\": CSV}` \
             or the responses file alone as `Content-Type: text/csv`",
        ));
    };
    let Ok(_permit) = state.analyses.try_acquire() else {
        return Err(ApiError::too_many(
            std::time::Duration::from_secs(30),
            "another analysis is running on this server; try again when it has finished",
        ));
    };
    let report = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let p = std::path::Path::new;
        let responses = parse_responses(p("responses"), &upload.responses).map_err(file_error)?;
        let items = upload
            .items
            .as_deref()
            .map(|t| parse_items(p("items"), t))
            .transpose()
            .map_err(file_error)?;
        let candidates = upload
            .candidates
            .as_deref()
            .map(|t| parse_candidates(p("candidates"), t))
            .transpose()
            .map_err(file_error)?;
        analyze(
            &responses,
            items.as_deref(),
            candidates.as_deref(),
            &Options::default(),
        )
        .map_err(|e| ApiError::invalid_field("responses", e.to_string()))
    })
    .await
    .map_err(ApiError::internal)??;
    let stored = crate::forensics::store(&state, &id, &admin, report).await?;
    audit(
        &state,
        &id,
        None,
        &admin,
        "forensics",
        json!({
            "run_id": stored.run_id,
            "candidates": stored.candidates,
            "items": stored.items,
            "flags": stored.flags.len(),
            "invalidations": stored.invalidations,
        }),
    )
    .await?;
    tracing::info!(
        exam = id,
        by = admin,
        flags = stored.flags.len(),
        invalidations = stored.invalidations,
        "exam results analysed"
    );
    Ok((StatusCode::CREATED, Json(stored)))
}

/// The latest analysis of an exam's results.
#[utoipa::path(get, path = "/api/v1/exams/{id}/forensics", tag = "exams",
    params(("id" = String, Path, description = "Exam id")),
    responses(
        (status = 200, description = "The latest analysis", body = ForensicsReport),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such exam, or its results were never uploaded", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn get_forensics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ForensicsReport>> {
    caller.proctor()?;
    load_row(&state, &id).await?;
    crate::forensics::latest(&state, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("the results of exam {id} were never uploaded")))
}
