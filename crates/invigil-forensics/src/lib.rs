//! Data forensics on exam results (issue 15, docs/forensics.md): statistical
//! signs, after the exam, that a result is not the candidate's own work —
//! answers too alike between two candidates, scores that do not fit a
//! candidate's ability, responses too fast for the items. Forensics never
//! invalidates by itself: it flags with p-values, and a person decides.
//!
//! Built so far:
//! - [`data`]: the item-level results of an exam delivery and the optional
//!   item and candidate files, read strictly from CSV (every error names
//!   the file, row and column);
//! - [`tail`]: the exact Poisson-binomial distribution of a count of
//!   independent events with unequal probabilities (the number of matching
//!   answers between two candidates, under the null of independent work),
//!   whose upper tail the similarity indices need far below 1e-6, where a
//!   normal approximation is off by orders of magnitude;
//! - [`irt`]: the two-parameter logistic model for scores, fitted by
//!   marginal maximum likelihood (Bock-Aitkin EM), and abilities by
//!   maximum likelihood;
//! - [`personfit`]: Snijders' lz*, the standardized log-likelihood of a
//!   candidate's scores corrected for the estimated ability;
//! - [`sim`]: a seeded random source for simulations.
//!
//! Pure computation, no I/O beyond reading the files it is given.

pub mod analyze;
pub mod conditional;
pub mod data;
pub mod fast;
pub mod html;
pub mod irt;
pub mod matrix;
pub mod nrm;
pub mod null;
pub mod personfit;
pub mod preknowledge;
pub mod rt;
pub mod sim;
pub mod similarity;
pub mod tail;

pub use data::{
    read_candidates, read_items, read_responses, Candidate, DataError, Item, Response, Responses,
};
