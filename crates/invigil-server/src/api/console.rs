//! The proctor console: its pages, embedded at build time (see build.rs).

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};

mod assets {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// What the console's pages may load: only this server; no framing.
const CONSOLE_CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// Serves the proctor console embedded at build time (see build.rs). The
/// pages themselves hold no data: everything they show comes from the API,
/// which needs a proctor's sign-in.
pub(super) async fn console_asset(req: Request) -> Response {
    let path = req.uri().path();
    let readable =
        req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD;
    if !readable || path.starts_with("/api/") {
        return super::not_found(req).await.into_response();
    }
    let path = if path == "/" { "/index.html" } else { path };
    let (content_type, body): (&str, &'static [u8]) =
        match assets::CONSOLE.iter().find(|(p, ..)| *p == path) {
            Some((_, ct, bytes)) => (ct, bytes),
            None if path == "/index.html" => (
                "text/html; charset=utf-8",
                b"<!doctype html><title>invigil console</title><h1>The proctor console was not built</h1>\
                  <p>Install Node.js and npm, then rebuild invigil (cargo build); the build runs \
                  <code>npm ci && npm run build</code> in <code>console/</code>.</p>",
            ),
            None => return super::not_found(req).await.into_response(),
        };
    let cache = if path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
            (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}
