//! Data forensics on an exam's results (docs/forensics.md): the upload,
//! the stored report and the flags proctors and admins review.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `POST /api/v1/exams/{id}/responses`: the files of
/// `invigil forensics analyze`, as CSV text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResponsesUpload {
    /// The results, long or wide layout.
    pub responses: String,
    /// The item file (key, options, compromised).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub items: Option<String>,
    /// The candidate file (centre, attempt).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub candidates: Option<String>,
}

/// One flag on one candidate; a pair's flag appears once for each member,
/// with the other as `partner_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ForensicFlag {
    pub id: String,
    pub exam_id: String,
    pub candidate_id: String,
    /// The candidate's session of the exam, when enrolled and started.
    pub session_id: Option<String>,
    /// The other member of a pair.
    pub partner_id: Option<String>,
    pub partner_session_id: Option<String>,
    /// `gbt`, `person_fit_exact`, `preknowledge_exact`, `fast_items`,
    /// `preknowledge_speed`, `speed_given_ability`.
    pub index: String,
    pub statistic: f64,
    pub p: f64,
    /// The p-value at or below which the index is the first piece of
    /// evidence for invalidation (none: review only).
    pub invalidation_level: Option<f64>,
    /// Whether the invalidation conditions are met (a person still
    /// decides).
    pub invalidation: bool,
    /// `answers` or `times`.
    pub source: String,
    pub detail: String,
    /// The second, independent piece of evidence: another index on the
    /// other kind of data, or the proctoring violations of the session.
    pub corroboration: Option<String>,
}

/// `GET /api/v1/exams/{id}/forensics`: the latest analysis of an exam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ForensicsReport {
    pub exam_id: String,
    pub run_id: String,
    pub at_ms: i64,
    /// The admin who uploaded the results.
    pub by: String,
    pub candidates: i64,
    pub items: i64,
    /// Flags meeting the invalidation conditions.
    pub invalidations: i64,
    /// Every flag, the invalidation conditions' first, then by p-value.
    pub flags: Vec<ForensicFlag>,
    /// What the analysis could not do, and candidates of the results who
    /// are not enrolled in the exam.
    pub notes: Vec<String>,
    /// The budget and levels applied (docs/forensics.md).
    pub budget: f64,
    pub review_level: f64,
}
