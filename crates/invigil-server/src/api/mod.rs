//! Routes and handlers of `/api/v1`, one module per resource, each with its
//! own router. Documented in docs/api.md and by the OpenAPI document
//! generated from the handlers and the protocol types (served at
//! `/api/v1/openapi.json`).

mod alerts;
mod auth;
mod badges;
mod console;
mod decisions;
mod exams;
mod forensics;
mod media;
mod sessions;

use std::sync::OnceLock;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use invigil_core::protocol::{ServerInfo, ServerKey};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::AppState;

pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let max_media = state.config.max_media_bytes;
    let body_timeout = state.config.connections.body_timeout;
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/server", get(server_info))
        .route("/api/v1/server-key", get(server_key))
        .merge(auth::router())
        .merge(
            sessions::router().route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::spot::ask,
            )),
        )
        .merge(decisions::router())
        .merge(alerts::router())
        .merge(exams::router())
        .merge(badges::router())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(move |req, next| {
            crate::serve::declared_length(max_body, req, next)
        }))
        .merge(
            media::router(max_media).layer(middleware::from_fn(move |req, next| {
                crate::serve::declared_length(max_media, req, next)
            })),
        )
        .merge(forensics::router().layer(middleware::from_fn(|req, next| {
            crate::serve::declared_length(forensics::MAX_RESULTS_BYTES, req, next)
        })))
        .fallback(not_found)
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ));
    app = match &state.config.console_dir {
        Some(dir) => app.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        ),
        None => app.fallback(console::console_asset),
    };
    app.with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Liveness: `ok`.
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "ok", content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// What a candidate's app shows before anything is sent: how long the
/// evidence is kept.
#[utoipa::path(get, path = "/api/v1/server", tag = "server",
    responses((status = 200, description = "The server", body = ServerInfo)))]
async fn server_info(State(state): State<AppState>) -> Json<ServerInfo> {
    Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        retention_days: state.config.retention_days,
    })
}

/// The public key batch receipts are signed with (docs/receipts.md).
#[utoipa::path(get, path = "/api/v1/server-key", tag = "server",
    responses((status = 200, description = "The signing key", body = ServerKey)))]
async fn server_key(State(state): State<AppState>) -> Json<ServerKey> {
    Json(state.signer.public().clone())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "invigil proctor backend",
        version = "1",
        description = "Sessions, hash-chained event ingest, media and live alerts. Every error is {\"error\": {\"code\", \"message\", \"field\"?, \"detail\"?}} (`ErrorBody`). See docs/api.md."
    ),
    paths(
        healthz,
        server_info,
        server_key,
        auth::login,
        auth::logout,
        auth::me,
        sessions::create_session,
        sessions::list_sessions,
        sessions::session_status,
        sessions::append_events,
        sessions::end_session,
        sessions::timeline,
        decisions::decide,
        media::upload_media,
        media::get_media,
        alerts::alerts,
        exams::create_exam,
        exams::list_exams,
        exams::get_exam,
        exams::update_exam,
        exams::enrol,
        exams::enrol_roster,
        exams::list_enrolments,
        exams::set_accommodations,
        exams::reissue_codes,
        forensics::upload_responses,
        forensics::get_forensics,
        badges::set_achievement,
        badges::record_passes,
        badges::list_badges,
        badges::set_status,
        badges::session_badge,
    ),
    components(schemas(
        invigil_core::protocol::Alert,
        invigil_core::protocol::Decided,
        invigil_core::protocol::Lagged,
        invigil_core::protocol::NoteAlert,
        invigil_core::protocol::DeliveryStatus,
        invigil_core::protocol::PassesCsv,
    )),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let scheme = |kind: HttpAuthScheme, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(kind)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "candidate",
            scheme(
                HttpAuthScheme::Bearer,
                "Candidate token `ivc_...` of one session: writes that session's events and media, reads its status.",
            ),
        );
        components.add_security_scheme(
            "proctor",
            scheme(
                HttpAuthScheme::Bearer,
                "Proctor token `ivp_...` from /api/v1/auth/login (also accepted from the `invigil_session` cookie).",
            ),
        );
        components.add_security_scheme(
            "proctorBasic",
            scheme(
                HttpAuthScheme::Basic,
                "Proctor user name and password, for scripts.",
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers and the protocol
/// types.
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}
