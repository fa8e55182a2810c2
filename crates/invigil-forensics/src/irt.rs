//! The two-parameter logistic item response model (2PL) for scores:
//! `P(correct | θ) = 1 / (1 + exp(-a (θ - b)))`, fitted by marginal maximum
//! likelihood with the EM algorithm of Bock & Aitkin (1981): abilities
//! integrated out over a fixed standard normal on 41 quadrature points
//! (-5 to 5), items re-estimated by Newton's method on the expected counts.
//! A weak normal prior on each slope (mean 1, sd 2) and intercept (mean 0,
//! sd 5) keeps items that nearly everyone gets right or wrong finite
//! (Bayes modal estimation, as in Mislevy 1986); its pull is negligible
//! with hundreds of candidates.
//!
//! Partial credit (a score between 0 and 1) enters as a fractional count,
//! a quasi-likelihood; items no one took, or that every candidate scored
//! alike, cannot be calibrated and are named in the error.

use thiserror::Error;

use crate::matrix::Matrix;

/// Candidates' scores (0 to 1), candidates by items; `None`: the item was
/// not on the candidate's form. `Matrix::of(responses, |r| Some(r.score))`
/// makes one from a results file.
pub type ScoreMatrix = Matrix<f64>;

/// One item's 2PL parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Item2pl {
    /// Discrimination (slope).
    pub a: f64,
    /// Difficulty: the ability with even odds.
    pub b: f64,
}

impl Item2pl {
    /// The probability of a correct answer at ability `theta`.
    pub fn p(&self, theta: f64) -> f64 {
        logistic(self.a * (theta - self.b))
    }
}

pub fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Why a calibration cannot be made.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum FitError {
    #[error("{0} candidates are too few to calibrate items (at least {MIN_PERSONS})")]
    TooFewPersons(usize),
    #[error(
        "item `{item}`: {why}; it cannot be calibrated (leave it out of the item file's analysis)"
    )]
    Item { item: String, why: String },
}

/// At least this many candidates for a calibration.
pub const MIN_PERSONS: usize = 50;

/// Settings of the EM algorithm.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub max_iterations: u32,
    /// Converged when no slope or intercept moves more than this.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_iterations: 500,
            tolerance: 1e-4,
        }
    }
}

/// A fitted 2PL model.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub items: Vec<Item2pl>,
    pub iterations: u32,
    pub converged: bool,
    /// The marginal log-likelihood at the end.
    pub log_likelihood: f64,
}

/// Quadrature: points and standard normal weights (summing to 1).
pub fn quadrature() -> (Vec<f64>, Vec<f64>) {
    let points: Vec<f64> = (0..41).map(|q| -5.0 + 0.25 * q as f64).collect();
    let raw: Vec<f64> = points.iter().map(|t| (-0.5 * t * t).exp()).collect();
    let total: f64 = raw.iter().sum();
    (points, raw.into_iter().map(|w| w / total).collect())
}

const PRIOR_A: (f64, f64) = (1.0, 2.0);
const PRIOR_C_SD: f64 = 5.0;

/// Fits the 2PL to `m` by marginal maximum likelihood (EM).
pub fn fit_2pl(m: &ScoreMatrix, options: &FitOptions) -> Result<Calibration, FitError> {
    if m.persons < MIN_PERSONS {
        return Err(FitError::TooFewPersons(m.persons));
    }
    for j in 0..m.items() {
        let scores: Vec<f64> = (0..m.persons).filter_map(|i| m.get(i, j)).collect();
        let item = m.item_ids[j].clone();
        if scores.len() < 10 {
            return Err(FitError::Item {
                item,
                why: format!("only {} candidates took it", scores.len()),
            });
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        if mean <= 0.0 || mean >= 1.0 {
            return Err(FitError::Item {
                item,
                why: format!("every candidate who took it scored {mean}"),
            });
        }
    }
    let (points, weights) = quadrature();
    let q = points.len();
    // Slope and intercept (logit = a θ + c), started from a flat slope and
    // the items' proportions correct.
    let mut params: Vec<(f64, f64)> = (0..m.items())
        .map(|j| {
            let scores: Vec<f64> = (0..m.persons).filter_map(|i| m.get(i, j)).collect();
            let p = (scores.iter().sum::<f64>() / scores.len() as f64).clamp(0.02, 0.98);
            (1.0, (p / (1.0 - p)).ln())
        })
        .collect();
    let mut log_likelihood = f64::NEG_INFINITY;
    let mut converged = false;
    let mut iterations = 0;
    let mut post = vec![0.0; q];
    while iterations < options.max_iterations {
        iterations += 1;
        // E-step: expected takers (n) and correct (r) per item and point.
        let mut n = vec![0.0; m.items() * q];
        let mut r = vec![0.0; m.items() * q];
        let mut ll = 0.0;
        let log_p: Vec<(f64, f64)> = params
            .iter()
            .flat_map(|&(a, c)| {
                points.iter().map(move |t| {
                    let p = logistic(a * t + c);
                    (p.max(1e-300).ln(), (1.0 - p).max(1e-300).ln())
                })
            })
            .collect();
        for i in 0..m.persons {
            let row = m.row(i);
            for (k, w) in weights.iter().enumerate() {
                post[k] = w.ln();
            }
            for (j, x) in row.iter().enumerate() {
                if let Some(x) = x {
                    for k in 0..q {
                        let (lp, lq) = log_p[j * q + k];
                        post[k] += x * lp + (1.0 - x) * lq;
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
                    for k in 0..q {
                        let w = post[k] / total;
                        n[j * q + k] += w;
                        r[j * q + k] += w * x;
                    }
                }
            }
        }
        log_likelihood = ll;
        // M-step: each item by Newton's method on its expected counts.
        let mut moved = 0.0f64;
        for (j, param) in params.iter_mut().enumerate() {
            let new = m_step(
                *param,
                &points,
                &n[j * q..(j + 1) * q],
                &r[j * q..(j + 1) * q],
            );
            moved = moved
                .max((new.0 - param.0).abs())
                .max((new.1 - param.1).abs());
            *param = new;
        }
        if moved < options.tolerance {
            converged = true;
            break;
        }
    }
    Ok(Calibration {
        items: params
            .into_iter()
            .map(|(a, c)| Item2pl { a, b: -c / a })
            .collect(),
        iterations,
        converged,
        log_likelihood,
    })
}

/// The penalized expected log-likelihood of one item and its gradient and
/// Hessian in (a, c).
fn objective(a: f64, c: f64, points: &[f64], n: &[f64], r: &[f64]) -> (f64, [f64; 2], [f64; 3]) {
    let (mut f, mut ga, mut gc, mut haa, mut hac, mut hcc) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for ((t, n), r) in points.iter().zip(n).zip(r) {
        let z = a * t + c;
        let p = logistic(z);
        // r z - n log(1 + e^z), computed stably.
        let softplus = if z > 0.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        };
        f += r * z - n * softplus;
        let e = r - n * p;
        ga += e * t;
        gc += e;
        let v = n * p * (1.0 - p);
        haa -= v * t * t;
        hac -= v * t;
        hcc -= v;
    }
    let (ma, sa) = PRIOR_A;
    f -= 0.5 * ((a - ma) / sa).powi(2) + 0.5 * (c / PRIOR_C_SD).powi(2);
    ga -= (a - ma) / (sa * sa);
    gc -= c / (PRIOR_C_SD * PRIOR_C_SD);
    haa -= 1.0 / (sa * sa);
    hcc -= 1.0 / (PRIOR_C_SD * PRIOR_C_SD);
    (f, [ga, gc], [haa, hac, hcc])
}

fn m_step(start: (f64, f64), points: &[f64], n: &[f64], r: &[f64]) -> (f64, f64) {
    let (mut a, mut c) = start;
    for _ in 0..20 {
        let (f, [ga, gc], [haa, hac, hcc]) = objective(a, c, points, n, r);
        let det = haa * hcc - hac * hac;
        if det.abs() < 1e-12 {
            break;
        }
        // Newton step: -H^-1 g.
        let da = -(hcc * ga - hac * gc) / det;
        let dc = -(-hac * ga + haa * gc) / det;
        let mut step = 1.0;
        loop {
            let (na, nc) = ((a + step * da).clamp(0.05, 8.0), c + step * dc);
            if objective(na, nc, points, n, r).0 >= f - 1e-12 || step < 1e-4 {
                a = na;
                c = nc;
                break;
            }
            step /= 2.0;
        }
        if (step * da).abs() < 1e-8 && (step * dc).abs() < 1e-8 {
            break;
        }
    }
    (a, c)
}

/// A candidate's ability by maximum likelihood on the items they took, in
/// [-5, 5]; `None` when every score is 0 or every score is 1 (no finite
/// estimate) or no item was taken.
pub fn ability_ml(items: &[Item2pl], scores: &[Option<f64>]) -> Option<f64> {
    let taken: Vec<(&Item2pl, f64)> = items
        .iter()
        .zip(scores)
        .filter_map(|(it, s)| s.map(|s| (it, s)))
        .collect();
    let total: f64 = taken.iter().map(|(_, s)| s).sum();
    if taken.is_empty() || total <= 0.0 || total >= taken.len() as f64 {
        return None;
    }
    let mut theta = 0.0f64;
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (it, x) in &taken {
            let p = it.p(theta);
            g += it.a * (x - p);
            h -= it.a * it.a * p * (1.0 - p);
        }
        if h.abs() < 1e-12 {
            break;
        }
        let step = (-g / h).clamp(-1.0, 1.0);
        theta = (theta + step).clamp(-5.0, 5.0);
        if step.abs() < 1e-9 {
            break;
        }
    }
    Some(theta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    /// Scores of `persons` simulated candidates (abilities standard
    /// normal) on items `truth`.
    pub(crate) fn simulate(
        truth: &[Item2pl],
        persons: usize,
        seed: u64,
    ) -> (ScoreMatrix, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let mut thetas = Vec::with_capacity(persons);
        let rows: Vec<Vec<Option<f64>>> = (0..persons)
            .map(|_| {
                let theta = rng.normal();
                thetas.push(theta);
                truth
                    .iter()
                    .map(|it| Some(if rng.bernoulli(it.p(theta)) { 1.0 } else { 0.0 }))
                    .collect()
            })
            .collect();
        let ids = (0..truth.len()).map(|j| format!("q{j}")).collect();
        (ScoreMatrix::new(ids, &rows), thetas)
    }

    pub(crate) fn items(n: usize, seed: u64) -> Vec<Item2pl> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| Item2pl {
                a: 0.6 + 1.4 * rng.uniform(),
                b: -2.0 + 4.0 * rng.uniform(),
            })
            .collect()
    }

    #[test]
    fn the_estimator_recovers_simulated_items() {
        let truth = items(30, 1);
        let (m, _) = simulate(&truth, 2000, 2);
        let fit = fit_2pl(&m, &FitOptions::default()).unwrap();
        assert!(fit.converged, "{} iterations", fit.iterations);
        let rmse = |f: fn(&Item2pl) -> f64| {
            (truth
                .iter()
                .zip(&fit.items)
                .map(|(t, e)| (f(t) - f(e)).powi(2))
                .sum::<f64>()
                / truth.len() as f64)
                .sqrt()
        };
        let (ra, rb) = (rmse(|i| i.a), rmse(|i| i.b));
        println!(
            "{} iterations: slope RMSE {ra:.3}, difficulty RMSE {rb:.3}",
            fit.iterations
        );
        assert!(ra < 0.12, "slope RMSE {ra}");
        assert!(rb < 0.12, "difficulty RMSE {rb}");
    }

    #[test]
    fn abilities_by_maximum_likelihood() {
        let truth = items(60, 3);
        let (m, thetas) = simulate(&truth, 300, 4);
        let mut err = 0.0;
        let mut n = 0;
        for (i, t) in thetas.iter().enumerate() {
            if let Some(est) = ability_ml(&truth, m.row(i)) {
                err += (est - t).powi(2);
                n += 1;
            }
        }
        let rmse = (err / n as f64).sqrt();
        // 60 items measure ability to about 0.3.
        assert!(rmse < 0.4 && n > 290, "{rmse} over {n}");
        assert_eq!(ability_ml(&truth, &vec![Some(1.0); 60]), None);
        assert_eq!(ability_ml(&truth, &vec![None; 60]), None);
    }

    #[test]
    fn items_that_cannot_be_calibrated_are_named() {
        let truth = items(5, 5);
        let (m, _) = simulate(&truth, 40, 6);
        assert_eq!(
            fit_2pl(&m, &FitOptions::default()).unwrap_err(),
            FitError::TooFewPersons(40)
        );
        let rows: Vec<Vec<Option<f64>>> = (0..100)
            .map(|i| vec![Some((i % 2) as f64), Some(1.0)])
            .collect();
        let m = ScoreMatrix::new(vec!["ok".into(), "easy".into()], &rows);
        let err = fit_2pl(&m, &FitOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("item `easy`: every candidate who took it scored 1"),
            "{err}"
        );
    }
}
