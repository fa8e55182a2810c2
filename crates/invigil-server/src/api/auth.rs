//! Signing in and out, and who the caller is.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use invigil_core::protocol::{ErrorBody, Login, Me, SignedIn};

use crate::auth::{self, Caller, ClientAddr};
use crate::error::{ApiError, ApiResult};
use crate::json::StrictJson;
use crate::{now_ms, AppState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}

/// Signs a proctor in: a token for 12 hours, also set as an HttpOnly
/// cookie for the console.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = SignedIn),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong user name or password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins from this address or for this user; see Retry-After", body = ErrorBody),
    ))]
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    StrictJson(body): StrictJson<Login>,
) -> ApiResult<Response> {
    let admin = auth::sign_in(&state, addr, &body.username, &body.password, "login").await?;
    let token = auth::new_token(auth::PROCTOR_PREFIX);
    let now = now_ms();
    // Expired sign-ins are of no use to anyone: drop them.
    sqlx::query("DELETE FROM proctor_tokens WHERE expires_ms <= $1")
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    let expires = now + auth::PROCTOR_TOKEN_TTL_MS;
    sqlx::query("INSERT INTO proctor_tokens (token_hash, username, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
        .bind(auth::token_hash(&token))
        .bind(&body.username)
        .bind(now)
        .bind(expires)
        .execute(&state.db.pool)
        .await?;
    let cookie = format!(
        "invigil_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        auth::PROCTOR_TOKEN_TTL_MS / 1000,
        secure_attr(&headers, &state)
    );
    let mut response = Json(SignedIn {
        token,
        username: body.username,
        expires_ms: expires,
        admin,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Ends a proctor's sign-in (the token and the cookie).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A candidate token", body = ErrorBody),
    ),
    security(("proctor" = [])))]
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.proctor()?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| auth::cookie_token(&headers));
    if let Some(token) = token {
        sqlx::query("DELETE FROM proctor_tokens WHERE token_hash = $1")
            .bind(auth::token_hash(&token))
            .execute(&state.db.pool)
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "invigil_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure_attr(&headers, &state)
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Who the caller is: a proctor (user name) or a candidate (session id).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("proctor" = []), ("candidate" = [])))]
pub(super) async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(match caller {
        Caller::Proctor { username, admin } => Me::Proctor { username, admin },
        Caller::Candidate { session_id } => Me::Candidate { session_id },
    }))
}

/// `; Secure` when the console is reached over HTTPS.
fn secure_attr(headers: &HeaderMap, state: &AppState) -> &'static str {
    if auth::secure_cookies(headers, state) {
        "; Secure"
    } else {
        ""
    }
}
