//! invigil's verifiable badges (issue 16, docs/badges.md).
//!
//! An Open Badges 3.0 credential is a W3C Verifiable Credential whose
//! subject is an `AchievementSubject`. invigil signs it with a Data Integrity
//! proof (`eddsa-rdfc-2022`: Ed25519 over the RDF-canonical form), names the
//! earner only by a salted hash of their email, and points at a Bitstring
//! Status List so that invalidating the exam revokes it. Everything here is
//! computation on documents it is given: keys come from the caller, the
//! JSON-LD contexts are bundled, nothing is fetched.

pub mod bake;
pub mod canon;
pub mod credential;
pub mod dates;
pub mod key;
pub mod proof;
pub mod status;
pub mod verify;

/// Why a badge could not be made, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum BadgeError {
    /// The document is not a credential invigil can read.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// A key or verification method is unusable.
    #[error("key: {0}")]
    Key(String),
    /// The proof is missing, of an unsupported kind or inconsistent.
    #[error("proof: {0}")]
    Proof(String),
    /// The signature does not match the credential: it was altered after
    /// signing, or signed by another key.
    #[error("invalid signature: the credential was altered after it was signed, or signed by another key")]
    Signature,
    /// A status list credential or entry is unusable.
    #[error("status list: {0}")]
    Status(String),
    /// A baked image is unusable.
    #[error("image: {0}")]
    Image(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl BadgeError {
    pub(crate) fn internal(what: &'static str) -> Self {
        Self::Internal(what)
    }
}
