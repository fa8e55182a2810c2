//! Bock's (1972) nominal response model for the options candidates choose:
//! `P(option k | θ) = exp(a_k θ + c_k) / Σ_h exp(a_h θ + c_h)`, the first
//! option of each item the reference (`a = c = 0`). The answer-similarity
//! indices need it: the chance that a candidate of ability θ chooses the
//! option another candidate chose.
//!
//! Fitted like the 2PL ([`crate::irt`]): marginal maximum likelihood by EM
//! over a standard normal ability on the same 41 points, each item's
//! slopes and intercepts by Newton's method on the expected choices, with
//! weak normal priors (slopes sd 2, intercepts sd 5) so that options almost
//! nobody chose stay finite. An unanswered item is left out of the
//! candidate's likelihood (omits are not an option here).

use std::collections::HashMap;

use thiserror::Error;

use crate::data::Responses;
use crate::irt::{quadrature, MIN_PERSONS};
use crate::matrix::Matrix;

/// Most options an item may have (distinct responses seen).
pub const MAX_OPTIONS: usize = 20;

/// Candidates' chosen options: each item's options, and per candidate and
/// item the index of the option chosen (`None`: not answered or not on
/// the form).
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceMatrix {
    /// Each item's options, in order of first appearance.
    pub options: Vec<Vec<String>>,
    pub choices: Matrix<u8>,
}

/// Why the options cannot be modelled.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum NrmError {
    #[error("{0} candidates are too few to calibrate items (at least {MIN_PERSONS})")]
    TooFewPersons(usize),
    #[error("item `{item}`: {why}")]
    Item { item: String, why: String },
}

impl ChoiceMatrix {
    /// `rows[i][j]`: the option index person `i` chose on item `j`.
    pub fn new(item_ids: Vec<String>, options: Vec<Vec<String>>, rows: &[Vec<Option<u8>>]) -> Self {
        Self {
            options,
            choices: Matrix::new(item_ids, rows),
        }
    }

    pub fn from_responses(r: &Responses) -> Result<Self, NrmError> {
        let items = r.items.len();
        let mut options: Vec<Vec<String>> = vec![Vec::new(); items];
        let mut index: Vec<HashMap<String, u8>> = vec![HashMap::new(); items];
        for row in &r.rows {
            let Some(choice) = &row.response else {
                continue;
            };
            if index[row.item].contains_key(choice) {
                continue;
            }
            let known = index[row.item].len();
            if known >= MAX_OPTIONS {
                return Err(NrmError::Item {
                    item: r.items[row.item].clone(),
                    why: format!(
                        "more than {MAX_OPTIONS} different responses: not a multiple-choice item"
                    ),
                });
            }
            index[row.item].insert(choice.clone(), known as u8);
            options[row.item].push(choice.clone());
        }
        let choices = Matrix::of(r, |row| {
            row.response.as_ref().map(|choice| index[row.item][choice])
        });
        Ok(Self { options, choices })
    }
}

/// One item's option parameters (index 0 the reference, both 0).
#[derive(Clone, Debug, PartialEq)]
pub struct ItemNrm {
    pub a: Vec<f64>,
    pub c: Vec<f64>,
}

impl ItemNrm {
    /// Every option's probability at ability `theta`, into `out`.
    pub fn probabilities_into(&self, theta: f64, out: &mut Vec<f64>) {
        out.clear();
        let top = self
            .a
            .iter()
            .zip(&self.c)
            .map(|(a, c)| a * theta + c)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for (a, c) in self.a.iter().zip(&self.c) {
            let e = (a * theta + c - top).exp();
            out.push(e);
            total += e;
        }
        for p in out.iter_mut() {
            *p /= total;
        }
    }

    pub fn probabilities(&self, theta: f64) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.a.len());
        self.probabilities_into(theta, &mut out);
        out
    }
}

/// A fitted nominal response model.
#[derive(Clone, Debug)]
pub struct NrmCalibration {
    pub items: Vec<ItemNrm>,
    pub iterations: u32,
    pub converged: bool,
    pub log_likelihood: f64,
}

const PRIOR_A_SD: f64 = 2.0;
const PRIOR_C_SD: f64 = 5.0;

/// Fits the nominal response model to `m` (EM, at most `max_iterations`,
/// converged when no parameter moves more than `tolerance`).
pub fn fit_nrm(
    m: &ChoiceMatrix,
    max_iterations: u32,
    tolerance: f64,
) -> Result<NrmCalibration, NrmError> {
    if m.choices.persons < MIN_PERSONS {
        return Err(NrmError::TooFewPersons(m.choices.persons));
    }
    for (j, opts) in m.options.iter().enumerate() {
        if opts.len() < 2 {
            return Err(NrmError::Item {
                item: m.choices.item_ids[j].clone(),
                why: format!(
                    "{} different responses: options cannot be compared",
                    opts.len()
                ),
            });
        }
    }
    let (points, weights) = quadrature();
    let q = points.len();
    // Slopes all zero are a stationary point of EM (no option says
    // anything about ability), so start from a proxy of ability: how often
    // a candidate chose the item's most popular option (usually the key),
    // standardized; an option's slope starts at its choosers' mean proxy
    // against the reference option's.
    let popular: Vec<u8> = (0..m.choices.items())
        .map(|j| {
            let mut counts = vec![0usize; m.options[j].len()];
            for i in 0..m.choices.persons {
                if let Some(k) = m.choices.get(i, j) {
                    counts[k as usize] += 1;
                }
            }
            (0..counts.len()).max_by_key(|&k| counts[k]).unwrap_or(0) as u8
        })
        .collect();
    let proxy: Vec<f64> = (0..m.choices.persons)
        .map(|i| {
            m.choices
                .row(i)
                .iter()
                .zip(&popular)
                .filter(|(x, p)| **x == Some(**p))
                .count() as f64
        })
        .collect();
    let mean = proxy.iter().sum::<f64>() / m.choices.persons as f64;
    let sd = (proxy.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m.choices.persons as f64)
        .sqrt()
        .max(1e-9);
    let proxy: Vec<f64> = proxy.iter().map(|v| (v - mean) / sd).collect();
    let mut items: Vec<ItemNrm> = m
        .options
        .iter()
        .enumerate()
        .map(|(j, opts)| {
            let mut counts = vec![0.5f64; opts.len()];
            let mut sums = vec![0.0f64; opts.len()];
            for (i, z) in proxy.iter().enumerate() {
                if let Some(k) = m.choices.get(i, j) {
                    counts[k as usize] += 1.0;
                    sums[k as usize] += z;
                }
            }
            let means: Vec<f64> = sums.iter().zip(&counts).map(|(s, n)| s / n).collect();
            let base = counts[0].ln();
            ItemNrm {
                a: means
                    .iter()
                    .map(|m| (m - means[0]).clamp(-3.0, 3.0))
                    .collect(),
                c: counts.iter().map(|n| n.ln() - base).collect(),
            }
        })
        .collect();
    let mut log_likelihood = f64::NEG_INFINITY;
    let mut converged = false;
    let mut iterations = 0;
    let mut post = vec![0.0; q];
    let mut probs = Vec::new();
    while iterations < max_iterations {
        iterations += 1;
        // log P(option k | θ_q) per item, point and option.
        let log_p: Vec<Vec<f64>> = items
            .iter()
            .map(|it| {
                let mut table = Vec::with_capacity(q * it.a.len());
                for t in &points {
                    it.probabilities_into(*t, &mut probs);
                    table.extend(probs.iter().map(|p| p.max(1e-300).ln()));
                }
                table
            })
            .collect();
        // E-step: expected choices per item, point and option.
        let mut r: Vec<Vec<f64>> = items.iter().map(|it| vec![0.0; q * it.a.len()]).collect();
        let mut ll = 0.0;
        for i in 0..m.choices.persons {
            let row = m.choices.row(i);
            for (k, w) in weights.iter().enumerate() {
                post[k] = w.ln();
            }
            for (j, x) in row.iter().enumerate() {
                if let Some(x) = x {
                    let kk = items[j].a.len();
                    for (k, v) in post.iter_mut().enumerate() {
                        *v += log_p[j][k * kk + *x as usize];
                    }
                }
            }
            let top = post.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for v in post.iter_mut() {
                *v = (*v - top).exp();
                total += *v;
            }
            ll += top + total.ln();
            for (j, x) in row.iter().enumerate() {
                if let Some(x) = x {
                    let kk = items[j].a.len();
                    for (k, v) in post.iter().enumerate() {
                        r[j][k * kk + *x as usize] += v / total;
                    }
                }
            }
        }
        log_likelihood = ll;
        let mut moved = 0.0f64;
        for (it, counts) in items.iter_mut().zip(&r) {
            let new = m_step(it, &points, counts);
            for (old, new) in it.a.iter().chain(&it.c).zip(new.a.iter().chain(&new.c)) {
                moved = moved.max((old - new).abs());
            }
            *it = new;
        }
        if moved < tolerance {
            converged = true;
            break;
        }
    }
    Ok(NrmCalibration {
        items,
        iterations,
        converged,
        log_likelihood,
    })
}

/// The penalized expected log-likelihood of one item at parameters
/// `x = (a_1..a_{K-1}, c_1..c_{K-1})`, with gradient and Hessian.
fn objective(x: &[f64], points: &[f64], r: &[f64], kk: usize) -> (f64, Vec<f64>, Vec<f64>) {
    let free = kk - 1;
    let dim = 2 * free;
    let item = unpack(x, kk);
    let mut f = 0.0;
    let mut g = vec![0.0; dim];
    let mut h = vec![0.0; dim * dim];
    let mut p = Vec::with_capacity(kk);
    for (qi, t) in points.iter().enumerate() {
        let counts = &r[qi * kk..(qi + 1) * kk];
        let n: f64 = counts.iter().sum();
        if n <= 0.0 {
            continue;
        }
        item.probabilities_into(*t, &mut p);
        for k in 0..kk {
            f += counts[k] * p[k].max(1e-300).ln();
        }
        // d/dz_k of Σ r log p = r_k - n p_k (k = 1..K-1); z_k = a_k t + c_k.
        for k in 1..kk {
            let e = counts[k] - n * p[k];
            g[k - 1] += e * t;
            g[free + k - 1] += e;
            for l in 1..kk {
                let cov = n * (if k == l { p[k] } else { 0.0 } - p[k] * p[l]);
                let (ka, kc, la, lc) = (k - 1, free + k - 1, l - 1, free + l - 1);
                h[ka * dim + la] -= cov * t * t;
                h[ka * dim + lc] -= cov * t;
                h[kc * dim + la] -= cov * t;
                h[kc * dim + lc] -= cov;
            }
        }
    }
    for d in 0..dim {
        let sd = if d < free { PRIOR_A_SD } else { PRIOR_C_SD };
        f -= 0.5 * (x[d] / sd).powi(2);
        g[d] -= x[d] / (sd * sd);
        h[d * dim + d] -= 1.0 / (sd * sd);
    }
    (f, g, h)
}

fn pack(it: &ItemNrm) -> Vec<f64> {
    it.a[1..].iter().chain(&it.c[1..]).copied().collect()
}

fn unpack(x: &[f64], kk: usize) -> ItemNrm {
    let free = kk - 1;
    let mut a = vec![0.0];
    a.extend(&x[..free]);
    let mut c = vec![0.0];
    c.extend(&x[free..]);
    ItemNrm { a, c }
}

fn m_step(start: &ItemNrm, points: &[f64], r: &[f64]) -> ItemNrm {
    let kk = start.a.len();
    let mut x = pack(start);
    for _ in 0..20 {
        let (f, g, h) = objective(&x, points, r, kk);
        // Newton: solve (-H) d = g; -H is positive definite (the priors).
        let neg: Vec<f64> = h.iter().map(|v| -v).collect();
        let Some(d) = solve_spd(&neg, &g) else { break };
        let mut step = 1.0;
        loop {
            let trial: Vec<f64> = x
                .iter()
                .zip(&d)
                .map(|(v, dv)| (v + step * dv).clamp(-20.0, 20.0))
                .collect();
            if objective(&trial, points, r, kk).0 >= f - 1e-12 || step < 1e-4 {
                x = trial;
                break;
            }
            step /= 2.0;
        }
        if d.iter().all(|v| (step * v).abs() < 1e-8) {
            break;
        }
    }
    unpack(&x, kk)
}

/// Solves `A x = b` for a symmetric positive definite `A` (row-major) by
/// Cholesky; `None` if it is not positive definite.
fn solve_spd(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

/// A candidate's ability: the mean of its posterior under the model
/// (expected a posteriori, always finite), from the options chosen.
pub fn ability_eap(items: &[ItemNrm], choices: &[Option<u8>]) -> f64 {
    let (points, weights) = quadrature();
    let mut post: Vec<f64> = weights.iter().map(|w| w.ln()).collect();
    let mut probs = Vec::new();
    for (it, x) in items.iter().zip(choices) {
        let Some(x) = x else { continue };
        for (k, t) in points.iter().enumerate() {
            it.probabilities_into(*t, &mut probs);
            post[k] += probs[*x as usize].max(1e-300).ln();
        }
    }
    let top = post.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for (t, v) in points.iter().zip(&post) {
        let w = (v - top).exp();
        num += w * t;
        den += w;
    }
    num / den
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sim::Rng;

    /// Items with 4 options: option 0 the key (steep), the distractors
    /// flatter, of different appeal.
    pub(crate) fn items(n: usize, seed: u64) -> Vec<ItemNrm> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let key_a = 1.0 + rng.uniform();
                let key_c = -1.0 + 2.0 * rng.uniform();
                ItemNrm {
                    // The reference (index 0) is a distractor.
                    a: vec![0.0, key_a, 0.3 * rng.uniform(), -0.2 * rng.uniform()],
                    c: vec![0.0, key_c, -0.5 + rng.uniform(), -0.8 + rng.uniform()],
                }
            })
            .collect()
    }

    pub(crate) fn choose(it: &ItemNrm, theta: f64, rng: &mut Rng) -> u8 {
        let p = it.probabilities(theta);
        let u = rng.uniform();
        let mut acc = 0.0;
        for (k, pk) in p.iter().enumerate() {
            acc += pk;
            if u < acc {
                return k as u8;
            }
        }
        (p.len() - 1) as u8
    }

    pub(crate) fn simulate(
        truth: &[ItemNrm],
        persons: usize,
        seed: u64,
    ) -> (ChoiceMatrix, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let mut thetas = Vec::new();
        let rows: Vec<Vec<Option<u8>>> = (0..persons)
            .map(|_| {
                let t = rng.normal();
                thetas.push(t);
                truth
                    .iter()
                    .map(|it| Some(choose(it, t, &mut rng)))
                    .collect()
            })
            .collect();
        let ids = (0..truth.len()).map(|j| format!("q{j}")).collect();
        let options = truth
            .iter()
            .map(|it| (0..it.a.len()).map(|k| format!("{k}")).collect())
            .collect();
        (ChoiceMatrix::new(ids, options, &rows), thetas)
    }

    #[test]
    fn the_estimator_recovers_simulated_options() {
        let truth = items(20, 21);
        let (m, thetas) = simulate(&truth, 2000, 22);
        let fit = fit_nrm(&m, 500, 1e-4).unwrap();
        assert!(fit.converged, "{} iterations", fit.iterations);
        // Option probabilities along the ability range, the quantity the
        // similarity indices use.
        let mut worst = 0.0f64;
        for (t, e) in truth.iter().zip(&fit.items) {
            for theta in [-2.0, -1.0, 0.0, 1.0, 2.0] {
                for (pt, pe) in t.probabilities(theta).iter().zip(e.probabilities(theta)) {
                    worst = worst.max((pt - pe).abs());
                }
            }
        }
        println!(
            "{} iterations, largest option probability error {worst:.3}",
            fit.iterations
        );
        assert!(worst < 0.08, "{worst}");
        // Abilities from the options chosen.
        let err: f64 = thetas
            .iter()
            .enumerate()
            .map(|(i, t)| (ability_eap(&fit.items, m.choices.row(i)) - t).powi(2))
            .sum::<f64>()
            / thetas.len() as f64;
        assert!(err.sqrt() < 0.5, "ability RMSE {}", err.sqrt());
    }

    #[test]
    fn items_without_options_to_compare_are_named() {
        let rows: Vec<Vec<Option<u8>>> = (0..60)
            .map(|i| vec![Some((i % 3) as u8), Some(0)])
            .collect();
        let m = ChoiceMatrix::new(
            vec!["q1".into(), "q2".into()],
            vec![vec!["A".into(), "B".into(), "C".into()], vec!["A".into()]],
            &rows,
        );
        let err = fit_nrm(&m, 50, 1e-4).unwrap_err().to_string();
        assert!(err.contains("item `q2`: 1 different responses"), "{err}");
        let rows: Vec<Vec<Option<u8>>> = (0..10).map(|i| vec![Some((i % 2) as u8)]).collect();
        let few = ChoiceMatrix::new(vec!["q1".into()], vec![vec!["A".into(), "B".into()]], &rows);
        assert_eq!(
            fit_nrm(&few, 50, 1e-4).unwrap_err(),
            NrmError::TooFewPersons(10)
        );
    }

    #[test]
    fn cholesky_solves() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&a, &[2.0, 1.0]).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(solve_spd(&[-1.0], &[1.0]).is_none());
    }
}
