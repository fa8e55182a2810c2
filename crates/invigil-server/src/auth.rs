//! Who is calling: a candidate (bearer token of one session) or a proctor
//! (account: bearer token from `/api/v1/auth/login`, or HTTP Basic).
//!
//! Tokens are 256 random bits; the database keeps only their SHA-256.
//! Candidate tokens start `ivc_`, proctor tokens `ivp_`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Instant;

use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::throttle::{retry_after_secs, Key};
use crate::{now_ms, AppState};

pub const CANDIDATE_PREFIX: &str = "ivc_";
pub const PROCTOR_PREFIX: &str = "ivp_";
/// How long a proctor sign-in lasts.
pub const PROCTOR_TOKEN_TTL_MS: i64 = 12 * 3600 * 1000;

/// A new random token with a prefix.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("{prefix}{}", invigil_core::chain::hex(&bytes))
}

/// Random hex id (notes, generated session ids).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    invigil_core::chain::hex(&bytes)
}

pub fn token_hash(token: &str) -> String {
    invigil_core::chain::hex(&Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Candidate {
        session_id: String,
    },
    Proctor {
        username: String,
        /// An `admin` account (manages exams, enrolments and accounts).
        admin: bool,
    },
}

impl Caller {
    /// Proctors only; candidates get 403.
    pub fn proctor(&self) -> Result<&str, ApiError> {
        match self {
            Caller::Proctor { username, .. } => Ok(username),
            Caller::Candidate { .. } => Err(ApiError::forbidden(
                "this endpoint is for proctors; a candidate token cannot use it",
            )),
        }
    }

    /// Admins only; proctors and candidates get 403.
    pub fn admin(&self) -> Result<&str, ApiError> {
        match self {
            Caller::Proctor {
                username,
                admin: true,
            } => Ok(username),
            _ => Err(ApiError::forbidden(
                "this endpoint is for admins; ask an admin of this server to do it",
            )),
        }
    }

    /// The candidate of `session_id` only.
    pub fn candidate_of(&self, session_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Candidate { session_id: own } if own == session_id => Ok(()),
            Caller::Candidate { .. } => Err(ApiError::forbidden(format!(
                "this token belongs to another session and cannot write session {session_id}"
            ))),
            Caller::Proctor { .. } => Err(ApiError::forbidden(
                "only the session's candidate token can write its events and media",
            )),
        }
    }

    /// A proctor, or the candidate of `session_id`.
    pub fn reader_of(&self, session_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Proctor { .. } => Ok(()),
            Caller::Candidate { session_id: own } if own == session_id => Ok(()),
            Caller::Candidate { .. } => Err(ApiError::forbidden(format!(
                "this token belongs to another session and cannot read session {session_id}"
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(value) = header {
            if let Some(token) = value.strip_prefix("Bearer ") {
                return token_caller(state, token.trim()).await;
            }
            if let Some(basic) = value.strip_prefix("Basic ") {
                let addr = client_addr(parts, state);
                return basic_caller(state, addr, basic.trim()).await;
            }
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <token>` or `Basic <credentials>`",
            ));
        }
        if let Some(token) = cookie_token(&parts.headers) {
            check_same_origin(parts, state)?;
            return token_caller(state, &token).await;
        }
        Err(ApiError::unauthorized(
            "this endpoint needs credentials: a session token or a proctor sign-in",
        ))
    }
}

/// The client's address (see [`client_addr`]), for handlers.
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientAddr(client_addr(parts, state)))
    }
}

/// The console's sign-in cookie, if sent.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("invigil_session="))
        .map(str::to_owned)
}

/// Cross-site request forgery: a write authenticated by the cookie alone
/// must be JSON (a cross-site form or `text/plain` fetch cannot send that
/// without a CORS preflight, which this server never grants) and must come
/// from this server's own origin.
fn check_same_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    use axum::http::{header, Method};
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::forbidden(
            "a write signed in by cookie must send `Content-Type: application/json`",
        ));
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let same = match origin {
        Some(origin) => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let forwarded = state.config.behind_proxy.then(|| {
                parts
                    .headers
                    .get("x-forwarded-host")
                    .and_then(|v| v.to_str().ok())
            });
            authority.is_some_and(|a| {
                a.eq_ignore_ascii_case(host)
                    || forwarded
                        .flatten()
                        .is_some_and(|f| a.eq_ignore_ascii_case(f))
            })
        }
        None => parts
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v == "same-origin"),
    };
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "a write signed in by cookie must come from this server's own pages (Origin {})",
            origin.unwrap_or("missing")
        )))
    }
}

/// The client's address: the connection's peer, or behind a trusted proxy
/// (`Config::behind_proxy`) the last address of `X-Forwarded-For`.
pub(crate) fn client_addr(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    if !state.config.behind_proxy {
        return peer;
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer)
}

/// Whether the client reached the server over HTTPS (directly, or as a
/// trusted proxy says), or the operator asked for `Secure` cookies always.
pub(crate) fn secure_cookies(headers: &HeaderMap, state: &AppState) -> bool {
    state.config.secure_cookies
        || (state.config.behind_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
}

async fn token_caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let hash = token_hash(token);
    if token.starts_with(CANDIDATE_PREFIX) {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM sessions WHERE token_hash = $1")
                .bind(&hash)
                .fetch_optional(&state.db.pool)
                .await?;
        if let Some((session_id,)) = row {
            // Proctors see when a candidate's client last reached us (its
            // heartbeat, every 30 s when idle); at most one write per 5 s.
            let now = now_ms();
            sqlx::query(
                "UPDATE sessions SET last_seen_ms = $1 WHERE id = $2 \
                 AND (last_seen_ms IS NULL OR last_seen_ms < $3)",
            )
            .bind(now)
            .bind(&session_id)
            .bind(now - 5000)
            .execute(&state.db.pool)
            .await?;
            return Ok(Caller::Candidate { session_id });
        }
    } else if token.starts_with(PROCTOR_PREFIX) {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT t.username, p.role FROM proctor_tokens t JOIN proctors p ON p.username = t.username \
             WHERE t.token_hash = $1 AND t.expires_ms > $2",
        )
        .bind(&hash)
        .bind(now_ms())
        .fetch_optional(&state.db.pool)
        .await?;
        if let Some((username, role)) = row {
            return Ok(Caller::Proctor {
                username,
                admin: role == "admin",
            });
        }
    }
    Err(ApiError::unauthorized(
        "the token is unknown, expired or signed out",
    ))
}

async fn basic_caller(state: &AppState, addr: IpAddr, encoded: &str) -> Result<Caller, ApiError> {
    let bad = || ApiError::unauthorized("wrong user name or password");
    let decoded = base64_decode(encoded).ok_or_else(bad)?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    let admin = sign_in(state, addr, user, password, "basic").await?;
    Ok(Caller::Proctor {
        username: user.to_owned(),
        admin,
    })
}

/// Checks a proctor's user name and password, through the sign-in
/// throttle (429 with `Retry-After` while the address or the user name
/// must wait), and logs the outcome (never the password). `how` names the
/// way in for the log: `login` or `basic`. True for an admin account.
pub async fn sign_in(
    state: &AppState,
    addr: IpAddr,
    user: &str,
    password: &str,
    how: &str,
) -> Result<bool, ApiError> {
    let keys = [Key::Address(addr), Key::User(user.to_ascii_lowercase())];
    if let Some(wait) = state.sign_in.wait(&keys, Instant::now()) {
        tracing::warn!(
            user = user.escape_debug().to_string(),
            %addr,
            how,
            "sign-in refused: too many failures, {} s to wait",
            retry_after_secs(wait)
        );
        return Err(ApiError::too_many(
            wait,
            format!(
                "too many failed sign-ins from this address or for this user; try again in {} s",
                retry_after_secs(wait)
            ),
        ));
    }
    if let Some(role) = check_proctor(state, user, password).await? {
        state.sign_in.succeeded(&keys);
        tracing::info!(user, %addr, how, role, "signed in");
        Ok(role == "admin")
    } else {
        state.sign_in.failed(&keys, Instant::now());
        tracing::warn!(
            user = user.escape_debug().to_string(),
            %addr,
            how,
            "sign-in failed: wrong user name or password"
        );
        Err(ApiError::unauthorized("wrong user name or password"))
    }
}

/// A hash no password matches, checked for unknown users so that they take
/// as long as known ones (user names do not leak by timing).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&new_id()).expect("argon2 hashes a random password"))
}

/// The role of the account `user`/`password` names, if the password is
/// right. Runs argon2 off the async threads, at most one check per core at
/// a time (each takes ~19 MiB).
pub async fn check_proctor(
    state: &AppState,
    user: &str,
    password: &str,
) -> Result<Option<String>, ApiError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT password_hash, role FROM proctors WHERE username = $1")
            .bind(user)
            .fetch_optional(&state.db.pool)
            .await?;
    let (phc, role) = match row {
        Some((phc, role)) => (phc, Some(role)),
        None => (dummy_hash().to_owned(), None),
    };
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    use std::sync::atomic::Ordering;
    let running = state.password_checks_running.fetch_add(1, Ordering::SeqCst) + 1;
    state
        .password_checks_peak
        .fetch_max(running, Ordering::SeqCst);
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await;
    state.password_checks_running.fetch_sub(1, Ordering::SeqCst);
    Ok(role.filter(|_| matches!(ok, Ok(true))))
}

/// Standard base64 (RFC 4648, with padding), as HTTP Basic uses.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(base64_decode("YWxpY2U6czNjcmV0").unwrap(), b"alice:s3cret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a$b=").is_none());
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = new_token(CANDIDATE_PREFIX);
        assert!(a.starts_with("ivc_") && a.len() == 68);
        assert_ne!(a, new_token(CANDIDATE_PREFIX));
    }
}
