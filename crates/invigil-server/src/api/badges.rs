//! Badges: admins define an exam's achievement and record passes (the
//! server issues the credentials), revoke or suspend them; anyone reads a
//! badge's public page, credential, baked image, the status lists and the
//! issuer's DID document (docs/badges.md).

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use invigil_badges::status::Purpose;
use invigil_core::protocol::{
    Achievement, Badge, BadgeList, BadgeStatus, ErrorBody, NewAchievement, NewBadgeStatus, Passes,
    PassesCsv, PassesRecorded,
};
use serde_json::{json, Value};

use super::exams::{audit, load_row};
use crate::auth::Caller;
use crate::badges::{self, AchievementText, BadgeRow, BADGE_COLUMNS};
use crate::error::{ApiError, ApiResult};
use crate::json::{body_bytes, StrictJson};
use crate::{now_ms, AppState};

/// Largest badge image (PNG) an admin may upload.
pub const MAX_IMAGE_BYTES: usize = 256 << 10;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exams/{id}/achievement", put(set_achievement))
        .route("/api/v1/exams/{id}/passes", post(record_passes))
        .route("/api/v1/exams/{id}/badges", get(list_badges))
        .route("/api/v1/badges/{id}/status", post(set_status))
        .route("/api/v1/sessions/{id}/badge", get(session_badge))
        // Public: no sign-in.
        .route("/.well-known/did.json", get(did_document))
        .route("/badges/status/{list}/{purpose}", get(status_list))
        .route("/badges/achievements/{exam}", get(achievement_public))
        .route(
            "/badges/achievements/{exam}/image.png",
            get(achievement_image),
        )
        .route("/badges/{id}", get(badge_page).post(badge_page_verify))
        .route("/badges/{id}/credential.json", get(credential))
        .route("/badges/{id}/badge.png", get(baked))
}

fn check_text(field: &str, text: &str, min: usize, max: usize) -> ApiResult<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must have {min}-{max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` contains control characters"),
        ));
    }
    Ok(t.to_owned())
}

/// Sets what the exam's badge says (and its image).
#[utoipa::path(put, path = "/api/v1/exams/{id}/achievement", tag = "badges",
    params(("id" = String, Path, description = "Exam id")),
    request_body = NewAchievement,
    responses(
        (status = 200, description = "Set", body = Achievement),
        (status = 400, description = "A field is invalid (the image: not a PNG, or over 256 KiB)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn set_achievement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<NewAchievement>,
) -> ApiResult<Json<Achievement>> {
    let admin = caller.admin()?.to_owned();
    load_row(&state, &id).await?;
    let text = AchievementText {
        name: check_text("name", &body.name, 1, 200)?,
        description: check_text("description", &body.description, 0, 2000)?,
        criteria: check_text("criteria", &body.criteria, 1, 2000)?,
        valid_months: body.valid_months,
    };
    if text.valid_months.is_some_and(|m| m == 0 || m > 1200) {
        return Err(ApiError::invalid_field(
            "valid_months",
            "`valid_months` must be 1-1200 (or absent: no expiry)",
        ));
    }
    let image = match &body.image_png_base64 {
        None => None,
        Some(b64) => {
            let png = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    ApiError::invalid_field("image_png_base64", format!("not base64: {e}"))
                })?;
            if png.len() > MAX_IMAGE_BYTES {
                return Err(ApiError::invalid_field(
                    "image_png_base64",
                    format!(
                        "the image is {} KiB; at most {} KiB",
                        png.len() >> 10,
                        MAX_IMAGE_BYTES >> 10
                    ),
                ));
            }
            let (w, h) = invigil_badges::bake::check_png(&png).map_err(|e| {
                ApiError::invalid_field("image_png_base64", format!("not a usable PNG: {e}"))
            })?;
            if w > 4096 || h > 4096 {
                return Err(ApiError::invalid_field(
                    "image_png_base64",
                    format!("the image is {w}x{h}; at most 4096x4096"),
                ));
            }
            Some(base64::engine::general_purpose::STANDARD.encode(&png))
        }
    };
    let stored = serde_json::to_string(&text).map_err(ApiError::internal)?;
    match &image {
        Some(img) => {
            sqlx::query("UPDATE exams SET achievement = $1, achievement_image = $2, updated_ms = $3 WHERE id = $4")
                .bind(&stored)
                .bind(img)
                .bind(now_ms())
                .bind(&id)
                .execute(&state.db.pool)
                .await?
        }
        None => {
            sqlx::query("UPDATE exams SET achievement = $1, updated_ms = $2 WHERE id = $3")
                .bind(&stored)
                .bind(now_ms())
                .bind(&id)
                .execute(&state.db.pool)
                .await?
        }
    };
    audit(
        &state,
        &id,
        None,
        &admin,
        "achievement",
        json!({ "name": text.name, "image": image.is_some() }),
    )
    .await?;
    let (text, has_image) = badges::achievement_of(&state, &id)
        .await?
        .ok_or_else(|| ApiError::internal("the achievement vanished"))?;
    Ok(Json(badges::achievement_view(
        &state, &id, &text, has_image,
    )))
}

/// Records passes and issues their badges: all or none.
#[utoipa::path(post, path = "/api/v1/exams/{id}/passes", tag = "badges",
    params(("id" = String, Path, description = "Exam id")),
    request_body(content = Passes, description = "`{\"candidate_ids\": [...]}`, or a results CSV as `{\"csv\": ...}` or `Content-Type: text/csv` (a `candidate_id` column, optionally `passed`)"),
    responses(
        (status = 201, description = "Issued (and those already issued)", body = PassesRecorded),
        (status = 400, description = "A candidate is not enrolled, has no email, has not ended, or was invalidated (`field` and message name it); a CSV line is malformed", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 409, description = "The exam defines no achievement", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn record_passes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<PassesRecorded>)> {
    let admin = caller.admin()?.to_owned();
    load_row(&state, &id).await?;
    let content_type = crate::json::content_type(&req);
    let bytes = body_bytes(req, &state).await?;
    let (ids, not_passed) = if content_type.starts_with("application/json") {
        let v: Value = crate::json::parse(&bytes)?;
        if v.get("csv").is_some() {
            let up: PassesCsv = crate::json::parse(&bytes)?;
            badges::parse_passes(&up.csv)?
        } else {
            let p: Passes = crate::json::parse(&bytes)?;
            (p.candidate_ids, 0)
        }
    } else if content_type.starts_with("text/csv") || content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ApiError::invalid_field("csv", format!("not UTF-8 text (byte {})", e.valid_up_to()))
        })?;
        badges::parse_passes(text)?
    } else {
        return Err(ApiError::bad_request(
            "send `{\"candidate_ids\": [...]}` or `{\"csv\": ...}` as JSON, or the results file as `Content-Type: text/csv`",
        ));
    };
    if ids.len() > crate::exams::MAX_ROSTER_ROWS {
        return Err(ApiError::invalid_field(
            "candidate_ids",
            format!("at most {} at once", crate::exams::MAX_ROSTER_ROWS),
        ));
    }
    if badges::achievement_of(&state, &id).await?.is_none() {
        return Err(ApiError::conflict(
            "no_achievement",
            format!("exam {id} defines no achievement: set one (PUT /api/v1/exams/{id}/achievement) first"),
        ));
    }
    let mut eligible = Vec::new();
    let mut already = Vec::new();
    for cid in &ids {
        match badges::check_pass(&state, &id, cid).await? {
            Ok(e) => {
                if !eligible
                    .iter()
                    .any(|x: &badges::Eligible| x.candidate_id == e.candidate_id)
                {
                    eligible.push(e)
                }
            }
            Err(existing) => already.push(existing.view(&state.issuing)),
        }
    }
    let issued = badges::issue(&state, &id, eligible, &admin).await?;
    if !issued.is_empty() {
        audit(
            &state,
            &id,
            None,
            &admin,
            "badges_issued",
            json!({ "badges": issued.iter().map(|b| json!({"id": b.id, "candidate_id": b.candidate_id})).collect::<Vec<_>>() }),
        )
        .await?;
    }
    tracing::info!(exam = %id, admin = %admin, "issued {} badges ({} already)", issued.len(), already.len());
    Ok((
        StatusCode::CREATED,
        Json(PassesRecorded {
            issued,
            already,
            not_passed,
        }),
    ))
}

/// The exam's achievement and badges.
#[utoipa::path(get, path = "/api/v1/exams/{id}/badges", tag = "badges",
    params(("id" = String, Path, description = "Exam id")),
    responses(
        (status = 200, description = "The achievement (if any) and the badges issued", body = BadgeList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn list_badges(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BadgeList>> {
    caller.proctor()?;
    load_row(&state, &id).await?;
    let achievement = badges::achievement_of(&state, &id)
        .await?
        .map(|(a, img)| badges::achievement_view(&state, &id, &a, img));
    let rows: Vec<BadgeRow> = sqlx::query_as(&format!(
        "SELECT {BADGE_COLUMNS} FROM badges WHERE exam_id = $1 ORDER BY issued_ms, candidate_id"
    ))
    .bind(&id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(BadgeList {
        achievement,
        badges: rows.into_iter().map(|r| r.view(&state.issuing)).collect(),
    }))
}

/// Revokes (for good), suspends or reinstates a badge.
#[utoipa::path(post, path = "/api/v1/badges/{id}/status", tag = "badges",
    params(("id" = String, Path, description = "Badge id (the credential's uuid)")),
    request_body = NewBadgeStatus,
    responses(
        (status = 200, description = "Changed", body = Badge),
        (status = 400, description = "No reason, or a reason too long", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such badge", body = ErrorBody),
        (status = 409, description = "Revoked badges stay revoked; or it already has that status", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<NewBadgeStatus>,
) -> ApiResult<Json<Badge>> {
    let admin = caller.admin()?.to_owned();
    let reason = check_text("reason", &body.reason, 1, 500)?;
    let row = badges::badge(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no badge {id}")))?;
    let current = BadgeStatus::parse(&row.status).unwrap_or(BadgeStatus::Revoked);
    if current == BadgeStatus::Revoked {
        return Err(ApiError::conflict(
            "badge_revoked",
            format!("badge {id} is revoked; a revocation is final"),
        ));
    }
    if current == body.status {
        return Err(ApiError::conflict(
            "badge_unchanged",
            format!("badge {id} is already {}", current.as_str()),
        ));
    }
    let changed = sqlx::query(
        "UPDATE badges SET status = $1, status_reason = $2, status_ms = $3, status_actor = $4 \
         WHERE id = $5 AND status = $6",
    )
    .bind(body.status.as_str())
    .bind(&reason)
    .bind(now_ms())
    .bind(format!("proctor:{admin}"))
    .bind(&id)
    .bind(current.as_str())
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::conflict(
            "badge_changed",
            format!("badge {id} changed meanwhile; reload it"),
        ));
    }
    audit(
        &state,
        &row.exam_id,
        Some(&row.candidate_id),
        &admin,
        "badge_status",
        json!({ "badge": id, "from": current.as_str(), "to": body.status.as_str(), "reason": reason }),
    )
    .await?;
    let row = badges::badge(&state, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no badge {id}")))?;
    Ok(Json(row.view(&state.issuing)))
}

/// The badge of the caller's own session (the candidate app shows it).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/badge", tag = "badges",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session's badge", body = Badge),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Another session's token", body = ErrorBody),
        (status = 404, description = "No badge (yet) for this session", body = ErrorBody),
    ),
    security(("candidate" = []), ("proctor" = [])))]
pub(super) async fn session_badge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Badge>> {
    caller.reader_of(&id)?;
    let row: Option<BadgeRow> = sqlx::query_as(&format!(
        "SELECT {BADGE_COLUMNS} FROM badges WHERE session_id = $1"
    ))
    .bind(&id)
    .fetch_optional(&state.db.pool)
    .await?;
    row.map(|r| Json(r.view(&state.issuing)))
        .ok_or_else(|| ApiError::not_found(format!("no badge for session {id}")))
}

// ------------------------------------------------------------------ public

fn json_response(value: &Value, content_type: &'static str) -> Response {
    let mut res = Json(value).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// The issuer's DID document (`did:web`): every key, old ones included.
pub(super) async fn did_document(State(state): State<AppState>) -> ApiResult<Response> {
    if state.issuing.did != badges::DidMethod::Web {
        return Err(ApiError::not_found(
            "this server names its badge issuer with did:key (serve with --public-url https://... or --badge-did web for did:web)",
        ));
    }
    let did = state.issuing.web_did();
    Ok(json_response(
        &invigil_badges::verify::did_document(&did, &own_keys(&state)),
        "application/did+json",
    ))
}

fn own_keys(state: &AppState) -> Vec<(String, invigil_badges::key::PublicKey)> {
    state
        .badge_keys
        .all()
        .iter()
        .map(|(id, k)| (id.clone(), k.public()))
        .collect()
}

/// A signed Bitstring Status List credential.
pub(super) async fn status_list(
    State(state): State<AppState>,
    Path((list, purpose)): Path<(String, String)>,
) -> ApiResult<Response> {
    let list: i64 = list
        .parse()
        .map_err(|_| ApiError::not_found(format!("no status list {list}")))?;
    let purpose = Purpose::parse(&purpose).ok_or_else(|| {
        ApiError::not_found(format!(
            "no status list purpose {purpose:?} (revocation or suspension)"
        ))
    })?;
    let doc = badges::status_list(&state, list, purpose).await?;
    let mut res = json_response(&doc, "application/vc+ld+json");
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    Ok(res)
}

pub(super) async fn achievement_public(
    State(state): State<AppState>,
    Path(exam): Path<String>,
) -> ApiResult<Response> {
    load_row(&state, &exam).await?;
    let (a, _) = badges::achievement_of(&state, &exam)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("exam {exam} gives no badge")))?;
    let url = state.issuing.achievement_url(&exam);
    let doc = json!({
        "@context": [invigil_badges::canon::VC_V2, invigil_badges::canon::OB_V3],
        "id": url,
        "type": ["Achievement"],
        "name": a.name,
        "description": a.description,
        "criteria": { "narrative": a.criteria },
        "image": { "id": format!("{url}/image.png"), "type": "Image" },
    });
    Ok(json_response(&doc, "application/ld+json"))
}

fn png_response(bytes: Vec<u8>, download: Option<&str>) -> Response {
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(name) =
        download.and_then(|n| HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")).ok())
    {
        h.insert(header::CONTENT_DISPOSITION, name);
    }
    res
}

async fn image_of(state: &AppState, exam: &str) -> ApiResult<Vec<u8>> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT achievement, achievement_image FROM exams WHERE id = $1")
            .bind(exam)
            .fetch_optional(&state.db.pool)
            .await?;
    match row {
        Some((Some(_), Some(b64))) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(ApiError::internal),
        Some((Some(_), None)) => Ok(invigil_badges::bake::default_image(256, [28, 93, 153])),
        _ => Err(ApiError::not_found(format!("exam {exam} gives no badge"))),
    }
}

pub(super) async fn achievement_image(
    State(state): State<AppState>,
    Path(exam): Path<String>,
) -> ApiResult<Response> {
    Ok(png_response(image_of(&state, &exam).await?, None))
}

async fn stored_credential(state: &AppState, id: &str) -> ApiResult<(BadgeRow, Value)> {
    let row = badges::badge(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no badge {id}")))?;
    let (text,): (String,) = sqlx::query_as("SELECT credential FROM badges WHERE id = $1")
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok((
        row,
        serde_json::from_str(&text).map_err(ApiError::internal)?,
    ))
}

pub(super) async fn credential(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (_, doc) = stored_credential(&state, &id).await?;
    let mut res = json_response(&doc, "application/vc+ld+json");
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"badge-{id}.json\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

pub(super) async fn baked(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (row, doc) = stored_credential(&state, &id).await?;
    let image = image_of(&state, &row.exam_id).await?;
    let png = invigil_badges::bake::bake(&image, &doc.to_string()).map_err(ApiError::internal)?;
    Ok(png_response(png, Some(&format!("badge-{id}.png"))))
}

#[derive(serde::Deserialize)]
pub(super) struct VerifyForm {
    #[serde(default)]
    email: String,
}

pub(super) async fn badge_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    page(&state, &id, None).await
}

pub(super) async fn badge_page_verify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<VerifyForm>,
) -> ApiResult<Response> {
    page(&state, &id, Some(form.email)).await
}

async fn page(state: &AppState, id: &str, email: Option<String>) -> ApiResult<Response> {
    let found = match badges::badge(state, id).await? {
        Some(_) => Some(stored_credential(state, id).await?),
        None => None,
    };
    let Some((row, doc)) = found else {
        let html = crate::badge_page::not_found(id);
        return Ok((StatusCode::NOT_FOUND, Html(html)).into_response());
    };
    let own_did = (state.issuing.did == badges::DidMethod::Web).then(|| {
        let did = state.issuing.web_did();
        let doc = invigil_badges::verify::did_document(&did, &own_keys(state));
        (did, doc)
    });
    let html = crate::badge_page::render(&row, &doc, email.as_deref(), now_ms(), own_did.as_ref());
    let mut res = Html(html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
