//! The server's API against a real server on loopback, on SQLite and on
//! PostgreSQL: ingest, idempotency, the hash chain, authorization, limits,
//! media, alerts, and the API's own description.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod badges;
mod connections;
mod described;
mod exams;
mod forensics;
mod hostile;
mod ingest;
mod media;
mod spot;

/// Lowercase hex SHA-256 of a body, as media are named.
fn hex_sha(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    invigil_core::chain::hex(&Sha256::digest(body))
}
