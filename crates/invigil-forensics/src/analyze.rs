//! One exam delivery's analysis: fit the models, run every index, and
//! apply the review levels and the invalidation conditions
//! (docs/forensics.md, "Flags and the 1e-6 budget").
//!
//! - **Budget.** The chance that a valid result meets the invalidation
//!   conditions is at most [`Options::budget`] (1e-6) per candidate,
//!   summed over every index and every partner: half of it goes to answer
//!   similarity, split evenly over the candidate's partners (Bonferroni),
//!   the other half evenly over the calibrated person indices.
//! - **Calibrated indices** (the only ones that can invalidate): GBT with
//!   its exact tail (pairs; answers), the exact conditional person fit
//!   (scores), exact pre-knowledge on a compromised-item list (scores),
//!   and the fast-items count with its empirical null (times).
//! - **Review-only indices**, with nominal p-values: Sinharay's speed test
//!   on the compromised items, speed against ability.
//! - **Invalidation** needs two independent pieces of evidence: a
//!   calibrated index at its share of the budget, and an index on the other
//!   kind of data (times against answers) at the review level, for the
//!   candidate or either member of a pair. Under the null, answers and
//!   times are independent given ability and speed, and the first piece
//!   alone already has chance at most the budget. The server adds a third
//!   kind: a proctoring violation in the candidate's session.
//! - **Review flags**: any index at [`Options::review`] (1e-3) per
//!   candidate, divided over partners for pairs.

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use crate::conditional::Conditional;
use crate::data::{Candidate, Item, Responses};
use crate::fast::{FastNull, QUANTILES};
use crate::irt::{fit_2pl, FitError, FitOptions, ScoreMatrix};
use crate::matrix::Matrix;
use crate::nrm::{fit_nrm, ChoiceMatrix, NrmError};
use crate::preknowledge;
use crate::rt::{fit_rt, log_times_of, speed, SpeedGivenAbility};
use crate::similarity::{Index, Prepared};

/// Settings of an analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The false-invalidation budget per candidate.
    pub budget: f64,
    /// The review level per candidate and index.
    pub review: f64,
    /// Above this many candidates, pairs are compared within a test centre
    /// only (when the candidate file gives centres).
    pub all_pairs_up_to: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            budget: 1e-6,
            review: 1e-3,
            all_pairs_up_to: 5000,
        }
    }
}

/// Why an analysis cannot run.
#[derive(Debug, Error)]
pub enum AnalyzeError {
    #[error("the scores cannot be calibrated: {0}")]
    Scores(#[from] FitError),
    #[error("the answers cannot be calibrated: {0}")]
    Answers(#[from] NrmError),
    #[error("the item file names `{0}`, which the responses do not have")]
    UnknownItem(String),
    #[error("the candidate file names `{0}`, which the responses do not have")]
    UnknownCandidate(String),
    #[error("{0}")]
    Options(String),
}

/// What kind of data an index reads: evidence counts as independent only
/// across kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Answers,
    Times,
}

/// One candidate or pair flagged for review.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flag {
    /// Candidate ids: one, or the two of a pair.
    pub candidates: Vec<String>,
    /// The index (docs/forensics.md lists them).
    pub index: String,
    pub statistic: f64,
    pub p: f64,
    /// Whether the invalidation conditions are met.
    pub invalidation: bool,
    /// Whether the p-value is calibrated (an index that can invalidate) or
    /// nominal (review only).
    pub calibrated: bool,
    pub source: Source,
    /// The p-value at or below which this index is the first piece of
    /// evidence for invalidation (`None`: review only).
    pub invalidation_level: Option<f64>,
    /// What the statistic means here, in words.
    pub detail: String,
    /// The second piece of evidence, when there is one.
    pub corroboration: Option<String>,
}

/// A candidate's line in the report (for the plots and the tables).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateSummary {
    pub candidate_id: String,
    pub centre: Option<String>,
    /// Sum of scores.
    pub score: f64,
    pub items: usize,
    /// Total seconds on the items with a time.
    pub seconds: f64,
    pub ability: Option<f64>,
    pub speed: Option<f64>,
}

/// An item's line in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ItemSummary {
    pub item_id: String,
    pub a: f64,
    pub b: f64,
    /// Share of full credit.
    pub p_value: f64,
    pub compromised: bool,
    /// Seconds at the 5th, 25th, 50th, 75th and 95th percentiles.
    pub seconds: Option<[f64; 5]>,
}

/// How the models fitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelFit {
    pub model: String,
    pub iterations: u32,
    pub converged: bool,
}

/// The levels the flags were judged at.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Levels {
    pub budget: f64,
    pub review: f64,
    /// Per pair, for invalidation and for review.
    pub pair_invalidation: f64,
    pub pair_review: f64,
    /// Per calibrated person index.
    pub person_invalidation: f64,
    /// Calibrated person indices the budget is split over.
    pub person_indices: Vec<String>,
    /// Largest number of partners a candidate was compared with.
    pub partners: usize,
    /// Whether pairs were compared within test centres only.
    pub within_centres: bool,
}

/// The analysis of one exam delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub candidates: usize,
    pub items: usize,
    pub flags: Vec<Flag>,
    pub invalidations: usize,
    pub levels: Levels,
    pub models: Vec<ModelFit>,
    /// What the analysis could not do, and why.
    pub notes: Vec<String>,
    pub candidate_summaries: Vec<CandidateSummary>,
    pub item_summaries: Vec<ItemSummary>,
}

/// Runs every index on `responses` (with the optional item and candidate
/// files) and judges the flags.
pub fn analyze(
    responses: &Responses,
    items: Option<&[Item]>,
    candidates: Option<&[Candidate]>,
    options: &Options,
) -> Result<Report, AnalyzeError> {
    if !(options.budget > 0.0 && options.budget < options.review && options.review < 1.0) {
        return Err(AnalyzeError::Options(format!(
            "the budget ({}) must be above 0 and below the review level ({}), itself below 1",
            options.budget, options.review
        )));
    }
    let n = responses.candidates.len();
    let n_items = responses.items.len();
    let mut notes = Vec::new();

    // The item and candidate files, by index.
    let mut compromised = vec![false; n_items];
    if let Some(items) = items {
        let index: HashMap<&str, usize> = responses
            .items
            .iter()
            .enumerate()
            .map(|(j, id)| (id.as_str(), j))
            .collect();
        for it in items {
            let j = *index
                .get(it.item_id.as_str())
                .ok_or_else(|| AnalyzeError::UnknownItem(it.item_id.clone()))?;
            compromised[j] = it.compromised;
        }
    }
    let mut centres: Vec<Option<String>> = vec![None; n];
    if let Some(candidates) = candidates {
        let index: HashMap<&str, usize> = responses
            .candidates
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        for c in candidates {
            let i = *index
                .get(c.candidate_id.as_str())
                .ok_or_else(|| AnalyzeError::UnknownCandidate(c.candidate_id.clone()))?;
            centres[i] = c.centre.clone();
        }
    }
    let id = |i: usize| responses.candidates[i].clone();

    // Models.
    let scores: ScoreMatrix = Matrix::of(responses, |r| Some(r.score));
    let cal = fit_2pl(&scores, &FitOptions::default())?;
    let mut models = vec![ModelFit {
        model: "2PL (scores)".into(),
        iterations: cal.iterations,
        converged: cal.converged,
    }];
    let choices = ChoiceMatrix::from_responses(responses)?;
    let answered = (0..n_items).all(|j| choices.options[j].len() >= 2);
    let nrm = if answered {
        let nrm = fit_nrm(&choices, 500, 1e-4)?;
        models.push(ModelFit {
            model: "nominal response (options)".into(),
            iterations: nrm.iterations,
            converged: nrm.converged,
        });
        Some(nrm)
    } else {
        notes.push(
            "answer similarity not run: some item has fewer than two options chosen \
             (the responses carry no options?)"
                .into(),
        );
        None
    };
    let times = log_times_of(responses);
    let rt = fit_rt(&times, 500, 1e-6);
    match &rt {
        Some(rt) => models.push(ModelFit {
            model: "lognormal response times".into(),
            iterations: rt.iterations,
            converged: rt.converged,
        }),
        None => notes.push(
            "response-time indices not run: fewer than 50 candidates or an item with \
             fewer than 10 times"
                .into(),
        ),
    }
    for m in &models {
        if !m.converged {
            notes.push(format!(
                "the {} model did not converge in {} iterations: treat its flags with care",
                m.model, m.iterations
            ));
        }
    }

    // The budget.
    let any_compromised = compromised.iter().any(|c| *c);
    let mut person_indices = vec!["person_fit_exact".to_string()];
    if any_compromised {
        person_indices.push("preknowledge_exact".into());
    }
    if rt.is_some() {
        person_indices.push("fast_items".into());
    }
    let within_centres = n > options.all_pairs_up_to && centres.iter().all(|c| c.is_some());
    if n > options.all_pairs_up_to && !within_centres {
        notes.push(format!(
            "{n} candidates and no test centre for every one: all pairs compared, which \
             takes long"
        ));
    }
    let group_of = |i: usize| -> Option<&str> {
        if within_centres {
            centres[i].as_deref()
        } else {
            None
        }
    };
    let mut group_sizes: HashMap<Option<&str>, usize> = HashMap::new();
    for i in 0..n {
        *group_sizes.entry(group_of(i)).or_default() += 1;
    }
    let partners = group_sizes
        .values()
        .max()
        .copied()
        .unwrap_or(1)
        .saturating_sub(1)
        .max(1);
    let levels = Levels {
        budget: options.budget,
        review: options.review,
        pair_invalidation: options.budget / 2.0 / partners as f64,
        pair_review: options.review / partners as f64,
        person_invalidation: options.budget / 2.0 / person_indices.len() as f64,
        person_indices,
        partners,
        within_centres,
    };

    let mut flags: Vec<Flag> = Vec::new();
    let person_flag = |flags: &mut Vec<Flag>,
                       i: usize,
                       index: &str,
                       statistic: f64,
                       p: f64,
                       calibrated: bool,
                       source: Source,
                       detail: String| {
        if p <= options.review {
            flags.push(Flag {
                candidates: vec![id(i)],
                index: index.into(),
                statistic,
                p,
                invalidation: false,
                calibrated,
                source,
                invalidation_level: calibrated.then_some(levels.person_invalidation),
                detail,
                corroboration: None,
            });
        }
    };

    // Person indices on scores.
    let abilities: Vec<Option<f64>> = (0..n)
        .map(|i| crate::irt::ability_ml(&cal.items, scores.row(i)))
        .collect();
    let mut fit_test = Conditional::person_fit(&cal.items);
    let mut pk_test = any_compromised.then(|| Conditional::preknowledge(&cal.items, &compromised));
    for i in 0..n {
        let row = scores.row(i);
        if let Some(e) = fit_test.test(row) {
            person_flag(
                &mut flags,
                i,
                "person_fit_exact",
                e.statistic,
                e.p,
                true,
                Source::Answers,
                format!(
                    "right on harder items than the score explains: Σ a·b over right answers \
                     {:.2} against {:.2} expected given the score ({} items)",
                    e.statistic, e.expected, e.items
                ),
            );
        }
        if let Some(test) = pk_test.as_mut() {
            if let Some(e) = test.test(row) {
                person_flag(
                    &mut flags,
                    i,
                    "preknowledge_exact",
                    e.statistic,
                    e.p,
                    true,
                    Source::Answers,
                    format!(
                        "weighted score on the compromised items {:.2} against {:.2} expected \
                         given the whole score",
                        e.statistic, e.expected
                    ),
                );
            }
        }
    }

    // Person indices on times.
    let mut speeds: Vec<Option<f64>> = vec![None; n];
    if let Some(rt) = &rt {
        let fast = FastNull::fit(rt, &times, &QUANTILES);
        let mut pairs = Vec::new();
        for i in 0..n {
            let row = times.row(i);
            if row.iter().any(|t| t.is_some()) {
                let (tau, _) = speed(&rt.items, rt.speed_var, row);
                speeds[i] = Some(tau);
                if let Some(theta) = abilities[i] {
                    pairs.push((theta, tau));
                }
            }
            if let Some(f) = fast.as_ref().and_then(|f| f.test(row)) {
                person_flag(
                    &mut flags,
                    i,
                    "fast_items",
                    f.fast as f64,
                    f.p,
                    true,
                    Source::Times,
                    format!(
                        "{} of {} items faster than their {:.0} % quantile for the candidate's \
                         own pace, {:.1} expected",
                        f.fast,
                        f.items,
                        f.quantile * 100.0,
                        f.expected
                    ),
                );
            }
            if any_compromised {
                if let Some(pk) = preknowledge::speed_test(&rt.items, row, &compromised) {
                    person_flag(
                        &mut flags,
                        i,
                        "preknowledge_speed",
                        pk.z,
                        pk.p,
                        false,
                        Source::Times,
                        format!(
                            "speed {:.2} on the compromised items against {:.2} on the others",
                            pk.on_compromised, pk.on_others
                        ),
                    );
                }
            }
        }
        if let Some(line) = SpeedGivenAbility::fit(&pairs) {
            for i in 0..n {
                if let (Some(theta), Some(tau)) = (abilities[i], speeds[i]) {
                    let (z, p) = line.aberrant(theta, tau);
                    person_flag(
                        &mut flags,
                        i,
                        "speed_given_ability",
                        z,
                        p,
                        false,
                        Source::Times,
                        format!("speed {tau:.2}, {z:.1} sd above what ability {theta:.2} predicts"),
                    );
                }
            }
        }
    }

    // Answer similarity.
    if let Some(nrm) = &nrm {
        let prepared = Prepared::new(&nrm.items, &choices);
        for r in prepared.scan(Index::Gbt, &choices, levels.pair_review) {
            if group_of(r.a) != group_of(r.b) {
                continue;
            }
            // Who matches whom more than their ability explains (ω, both
            // ways), to say in words.
            let ab = prepared.pair(Index::Omega, &choices, r.a, r.b);
            let ba = prepared.pair(Index::Omega, &choices, r.b, r.a);
            flags.push(Flag {
                candidates: vec![id(r.a), id(r.b)],
                index: "gbt".into(),
                statistic: r.matches as f64,
                p: r.p,
                invalidation: false,
                calibrated: true,
                source: Source::Answers,
                invalidation_level: Some(levels.pair_invalidation),
                detail: format!(
                    "{} of {} answers alike, {:.1} expected by chance; ω {} → {}: p {:.2e}, \
                     {} → {}: p {:.2e}",
                    r.matches,
                    r.compared,
                    r.expected,
                    id(r.a),
                    id(r.b),
                    ab.p,
                    id(r.b),
                    id(r.a),
                    ba.p
                ),
                corroboration: None,
            });
        }
    }

    // Invalidation: a calibrated index at its share of the budget and an
    // index on the other kind of data at the review level.
    let mut by_source: HashMap<(String, Source), (String, f64)> = HashMap::new();
    for f in flags.iter().filter(|f| f.candidates.len() == 1) {
        let key = (f.candidates[0].clone(), f.source);
        let best = by_source.entry(key).or_insert((f.index.clone(), f.p));
        if f.p < best.1 {
            *best = (f.index.clone(), f.p);
        }
    }
    let mut invalidations = 0;
    for f in &mut flags {
        let Some(level) = f.invalidation_level else {
            continue;
        };
        if f.p > level {
            continue;
        }
        let other = match f.source {
            Source::Answers => Source::Times,
            Source::Times => Source::Answers,
        };
        let second = f.candidates.iter().find_map(|c| {
            by_source
                .get(&(c.clone(), other))
                .map(|(index, p)| format!("{c}: {index} p {p:.2e}"))
        });
        if let Some(second) = second {
            f.invalidation = true;
            f.corroboration = Some(second);
            invalidations += 1;
        }
    }
    flags.sort_by(|x, y| {
        y.invalidation
            .cmp(&x.invalidation)
            .then(x.p.total_cmp(&y.p))
    });

    // Summaries.
    let mut candidate_summaries: Vec<CandidateSummary> = (0..n)
        .map(|i| CandidateSummary {
            candidate_id: id(i),
            centre: centres[i].clone(),
            score: 0.0,
            items: 0,
            seconds: 0.0,
            ability: abilities[i],
            speed: speeds[i],
        })
        .collect();
    let mut item_times: Vec<Vec<f64>> = vec![Vec::new(); n_items];
    let mut item_scores = vec![(0.0, 0usize); n_items];
    for r in &responses.rows {
        let c = &mut candidate_summaries[r.candidate];
        c.score += r.score;
        c.items += 1;
        item_scores[r.item].0 += r.score;
        item_scores[r.item].1 += 1;
        if let Some(t) = r.rt_s {
            c.seconds += t;
            item_times[r.item].push(t);
        }
    }
    let item_summaries = (0..n_items)
        .map(|j| {
            let t = &mut item_times[j];
            t.sort_by(f64::total_cmp);
            let q = |f: f64| t[((t.len() - 1) as f64 * f).round() as usize];
            ItemSummary {
                item_id: responses.items[j].clone(),
                a: cal.items[j].a,
                b: cal.items[j].b,
                p_value: item_scores[j].0 / item_scores[j].1.max(1) as f64,
                compromised: compromised[j],
                seconds: (!t.is_empty()).then(|| [q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)]),
            }
        })
        .collect();

    Ok(Report {
        candidates: n,
        items: n_items,
        flags,
        invalidations,
        levels,
        models,
        notes,
        candidate_summaries,
        item_summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{exam, Cheat};

    #[test]
    fn cheaters_are_flagged_and_invalidated_only_on_two_kinds_of_evidence() {
        let known: Vec<usize> = (0..60).filter(|j| j % 3 == 2).collect();
        // The honest data do not depend on who cheats: the weakest
        // candidate is the source (copying a strong one's right answers is
        // what chance predicts anyway).
        let honest = exam(300, 60, &[], 11);
        let source = crate::sim::by_score(&honest)[0];
        let source_id = format!("c{source:04}");
        let cheats = [
            // Copies 80 % from the source: answers only.
            (0, Cheat::Copier { source, share: 0.8 }),
            // Knows 20 items: right and fast on them.
            (
                2,
                Cheat::PreKnowledge {
                    items: known.clone(),
                },
            ),
            // Rapid-guesses the last 12.
            (3, Cheat::Speeder { items: 12 }),
        ];
        let r = exam(300, 60, &cheats, 11);
        let items: Vec<Item> = (0..60)
            .map(|j| Item {
                item_id: format!("q{j:02}"),
                key: Some("A".into()),
                options: Some(4),
                compromised: known.contains(&j),
            })
            .collect();
        let report = analyze(&r, Some(&items), None, &Options::default()).unwrap();
        for f in &report.flags {
            println!(
                "{:?} {} {:.2e} {} {}",
                f.candidates, f.index, f.p, f.invalidation, f.detail
            );
        }
        let has = |who: &[&str], index: &str| {
            report.flags.iter().find(|f| {
                f.index == index && who.iter().all(|w| f.candidates.iter().any(|c| c == w))
            })
        };
        let copy = has(&["c0000", &source_id], "gbt").expect("the copier pair");
        assert!(copy.p <= report.levels.pair_invalidation, "{copy:?}");
        // Answers alone: flagged, not invalidated.
        assert!(!copy.invalidation);
        // Pre-knowledge shows in answers and in times: invalidation.
        let pk = report
            .flags
            .iter()
            .find(|f| f.candidates == ["c0002"] && f.invalidation)
            .expect("pre-knowledge invalidated");
        assert!(
            pk.corroboration.as_deref().unwrap().contains("c0002"),
            "{pk:?}"
        );
        let fast = has(&["c0003"], "fast_items").expect("the speeder");
        assert!(fast.p < 1e-6, "{fast:?}");
        // Honest candidates: few review flags, no invalidation.
        let honest: Vec<&Flag> = report
            .flags
            .iter()
            .filter(|f| {
                f.candidates
                    .iter()
                    .all(|c| !["c0000", "c0002", "c0003", source_id.as_str()].contains(&c.as_str()))
            })
            .collect();
        assert!(honest.iter().all(|f| !f.invalidation), "{honest:?}");
        assert!(honest.len() <= 8, "{} honest flags", honest.len());
        assert_eq!(report.candidates, 300);
        assert!(
            report.models.iter().all(|m| m.converged),
            "{:?}",
            report.models
        );
        assert_eq!(report.item_summaries.len(), 60);
    }

    #[test]
    fn files_that_do_not_match_are_refused() {
        let r = exam(60, 10, &[], 3);
        let item = Item {
            item_id: "nope".into(),
            key: None,
            options: None,
            compromised: true,
        };
        let err = analyze(&r, Some(&[item]), None, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
        let small = exam(20, 10, &[], 3);
        let err = analyze(&small, None, None, &Options::default()).unwrap_err();
        assert!(err.to_string().contains("too few"), "{err}");
        let bad = Options {
            budget: 0.1,
            ..Options::default()
        };
        assert!(analyze(&r, None, None, &bad).is_err());
    }
}
