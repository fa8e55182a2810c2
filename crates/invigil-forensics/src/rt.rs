//! Van der Linden's (2006) lognormal model for response times and its
//! person fit (van der Linden & Guo 2008):
//!
//! ```text
//! log T_ij ~ Normal(β_j - τ_i, 1 / α_j²)
//! ```
//!
//! `β_j` the item's time intensity, `α_j` its precision (discrimination),
//! `τ_i` the candidate's speed, speeds normal with mean 0 (which fixes the
//! scale) and a variance estimated with the items. Fitted by marginal
//! maximum likelihood with EM, in closed form: given the items, a
//! candidate's speed is normal a posteriori (the model is conjugate), and
//! given the expected speeds each item's `β` and `α` are weighted means.
//!
//! Person fit: `l = Σ_j α_j² (log t_ij - β_j + τ̂_i)²`, the sum of squared
//! standardized residuals at the candidate's estimated speed, is χ² with
//! `n - 1` degrees of freedom under the model (one for the speed). Real
//! response times have heavier tails than the lognormal (a candidate
//! pausing on one item), so its nominal p-values flag far more than their
//! level on real data: the calibration has to use an empirical null
//! (docs/forensics.md).

use crate::matrix::Matrix;

/// One item's response-time parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemRt {
    /// Time intensity: mean log seconds of a candidate of speed 0.
    pub beta: f64,
    /// Precision: 1 / the sd of log seconds at a given speed.
    pub alpha: f64,
}

/// A fitted response-time model.
#[derive(Clone, Debug)]
pub struct RtCalibration {
    pub items: Vec<ItemRt>,
    /// The variance of speeds.
    pub speed_var: f64,
    pub iterations: u32,
    pub converged: bool,
}

/// Log seconds, candidates by items (`None`: not recorded or not taken).
pub type TimeMatrix = Matrix<f64>;

/// The shortest time the model takes (seconds): times of 0 count as this,
/// as their logarithm would be infinite.
pub const MIN_TIME_S: f64 = 0.1;

/// Log seconds from seconds, `rows[i][j]` person `i`'s time on item `j`.
pub fn log_times(item_ids: Vec<String>, rows: &[Vec<Option<f64>>]) -> TimeMatrix {
    let logs: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|t| t.map(|t| t.max(MIN_TIME_S).ln()))
                .collect()
        })
        .collect();
    Matrix::new(item_ids, &logs)
}

/// Log seconds of a results file's `rt_s`.
pub fn log_times_of(r: &crate::data::Responses) -> TimeMatrix {
    Matrix::of(r, |row| row.rt_s.map(|t| t.max(MIN_TIME_S).ln()))
}

/// A candidate's speed given the items: posterior mean and variance.
pub fn speed(items: &[ItemRt], speed_var: f64, log_times: &[Option<f64>]) -> (f64, f64) {
    let mut precision = 1.0 / speed_var;
    let mut weighted = 0.0;
    for (it, lt) in items.iter().zip(log_times) {
        if let Some(lt) = lt {
            let w = it.alpha * it.alpha;
            precision += w;
            weighted += w * (it.beta - lt);
        }
    }
    (weighted / precision, 1.0 / precision)
}

/// Fits the lognormal model (EM). `None` when fewer than 50 candidates or
/// an item with fewer than 10 recorded times.
pub fn fit_rt(m: &TimeMatrix, max_iterations: u32, tolerance: f64) -> Option<RtCalibration> {
    if m.persons < 50 {
        return None;
    }
    let n_items = m.items();
    let counts: Vec<usize> = (0..n_items)
        .map(|j| (0..m.persons).filter(|&i| m.get(i, j).is_some()).count())
        .collect();
    if counts.iter().any(|&n| n < 10) {
        return None;
    }
    let mut items: Vec<ItemRt> = (0..n_items)
        .map(|j| {
            let v: Vec<f64> = (0..m.persons).filter_map(|i| m.get(i, j)).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
            ItemRt {
                beta: mean,
                alpha: 1.0 / var.sqrt().max(0.05),
            }
        })
        .collect();
    let mut speed_var = 0.25;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        let speeds: Vec<(f64, f64)> = (0..m.persons)
            .map(|i| speed(&items, speed_var, m.row(i)))
            .collect();
        let mut moved = 0.0f64;
        for (j, it) in items.iter_mut().enumerate() {
            let (mut sum, mut n) = (0.0, 0.0);
            for (i, (tau, _)) in speeds.iter().enumerate() {
                if let Some(lt) = m.get(i, j) {
                    sum += lt + tau;
                    n += 1.0;
                }
            }
            let beta = sum / n;
            let mut ss = 0.0;
            for (i, (tau, v)) in speeds.iter().enumerate() {
                if let Some(lt) = m.get(i, j) {
                    ss += (lt - beta + tau).powi(2) + v;
                }
            }
            let alpha = 1.0 / (ss / n).sqrt().max(1e-3);
            moved = moved
                .max((beta - it.beta).abs())
                .max((alpha - it.alpha).abs() / it.alpha);
            *it = ItemRt { beta, alpha };
        }
        let new_var = speeds.iter().map(|(t, v)| t * t + v).sum::<f64>() / m.persons as f64;
        moved = moved.max((new_var - speed_var).abs());
        speed_var = new_var.max(1e-6);
        if moved < tolerance {
            converged = true;
            break;
        }
    }
    Some(RtCalibration {
        items,
        speed_var,
        iterations,
        converged,
    })
}

/// A candidate's response-time person fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RtFit {
    /// Estimated speed (posterior mean).
    pub speed: f64,
    /// Sum of squared standardized residuals.
    pub statistic: f64,
    pub df: usize,
    /// Nominal upper-tail p-value (χ² with `df` degrees of freedom).
    pub p: f64,
}

/// The person-fit statistic of one candidate's times; `None` with fewer
/// than 3 recorded times.
pub fn rt_fit(cal: &RtCalibration, log_times: &[Option<f64>]) -> Option<RtFit> {
    let n = log_times.iter().filter(|t| t.is_some()).count();
    if n < 3 {
        return None;
    }
    let (tau, _) = speed(&cal.items, cal.speed_var, log_times);
    let statistic: f64 = cal
        .items
        .iter()
        .zip(log_times)
        .filter_map(|(it, lt)| lt.map(|lt| (it.alpha * (lt - it.beta + tau)).powi(2)))
        .sum();
    let df = n - 1;
    Some(RtFit {
        speed: tau,
        statistic,
        df,
        p: chi_square_upper(statistic, df as f64),
    })
}

/// `P(X >= x)` for `X` χ² with `k` degrees of freedom: the regularized
/// upper incomplete gamma function `Q(k/2, x/2)`, by its series below
/// `a + 1` and its continued fraction (modified Lentz) above.
pub fn chi_square_upper(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let (a, x) = (k / 2.0, x / 2.0);
    let log_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by the series, Q = 1 - P.
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_front.exp()).max(0.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_front.exp() * h).min(1.0)
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; ~15 digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    #[test]
    fn chi_square_tails_match_tables() {
        // scipy.stats.chi2.sf
        for (x, k, want) in [
            (3.841_458_820_694_124, 1.0, 0.05),
            (18.307_038_053_275_146, 10.0, 0.05),
            (0.5, 4.0, 0.973_500_978_839_256_1),
            (100.0, 39.0, 2.928_724_090_838_689_7e-7),
            (200.0, 59.0, 3.165_567_822_815_575_5e-17),
        ] {
            let got = chi_square_upper(x, k);
            assert!(
                (got / want - 1.0).abs() < 1e-8,
                "x {x} k {k}: {got} vs {want}"
            );
        }
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    fn simulate(items: &[ItemRt], persons: usize, sd: f64, seed: u64) -> (TimeMatrix, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let mut speeds = Vec::new();
        let rows: Vec<Vec<Option<f64>>> = (0..persons)
            .map(|_| {
                let tau = sd * rng.normal();
                speeds.push(tau);
                items
                    .iter()
                    .map(|it| Some((it.beta - tau + rng.normal() / it.alpha).exp()))
                    .collect()
            })
            .collect();
        let ids = (0..items.len()).map(|j| format!("q{j}")).collect();
        (log_times(ids, &rows), speeds)
    }

    fn items(n: usize, seed: u64) -> Vec<ItemRt> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| ItemRt {
                beta: 3.0 + rng.uniform(),
                alpha: 1.5 + rng.uniform(),
            })
            .collect()
    }

    #[test]
    fn the_estimator_recovers_simulated_items_and_speeds() {
        let truth = items(30, 41);
        let (m, speeds) = simulate(&truth, 1000, 0.4, 42);
        let cal = fit_rt(&m, 500, 1e-6).unwrap();
        assert!(cal.converged, "{}", cal.iterations);
        let rmse = |f: fn(&ItemRt) -> f64| {
            (truth
                .iter()
                .zip(&cal.items)
                .map(|(t, e)| (f(t) - f(e)).powi(2))
                .sum::<f64>()
                / truth.len() as f64)
                .sqrt()
        };
        println!(
            "{} iterations: β RMSE {:.3}, α RMSE {:.3}, speed variance {:.3} (0.16)",
            cal.iterations,
            rmse(|i| i.beta),
            rmse(|i| i.alpha),
            cal.speed_var
        );
        assert!(rmse(|i| i.beta) < 0.05 && rmse(|i| i.alpha) < 0.1);
        assert!((cal.speed_var - 0.16).abs() < 0.03);
        let err: f64 = speeds
            .iter()
            .enumerate()
            .map(|(i, t)| (speed(&cal.items, cal.speed_var, m.row(i)).0 - t).powi(2))
            .sum::<f64>()
            / speeds.len() as f64;
        assert!(err.sqrt() < 0.1, "{}", err.sqrt());
    }

    #[test]
    fn the_person_fit_is_nominal_under_the_model_and_finds_aberrant_times() {
        let truth = items(30, 43);
        let (m, _) = simulate(&truth, 2000, 0.4, 44);
        let cal = fit_rt(&m, 500, 1e-6).unwrap();
        let below = (0..m.persons)
            .filter(|&i| rt_fit(&cal, m.row(i)).unwrap().p < 0.01)
            .count() as f64
            / m.persons as f64;
        println!("{below} below nominal 0.01");
        assert!((0.003..0.02).contains(&below), "{below}");
        // A candidate who raced through 10 items (a tenth of the time each).
        let mut row: Vec<Option<f64>> = truth.iter().map(|it| Some(it.beta.exp())).collect();
        for t in row.iter_mut().take(10) {
            *t = t.map(|t| t * 0.1);
        }
        let m1 = log_times(m.item_ids.clone(), &[row]);
        let fit = rt_fit(&cal, m1.row(0)).unwrap();
        assert!(fit.p < 1e-6, "{fit:?}");
        assert!(rt_fit(&cal, &[Some(1.0), None, Some(1.0)]).is_none());
    }
}

/// How speed goes with ability across an exam's candidates: the
/// least-squares line `τ = intercept + slope θ` and the residual sd. Under
/// van der Linden's hierarchical model (ability and speed bivariate
/// normal) a candidate's speed given their ability is normal about it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedGivenAbility {
    pub intercept: f64,
    pub slope: f64,
    pub residual_sd: f64,
}

impl SpeedGivenAbility {
    /// Fits the line to candidates' (ability, speed) estimates; `None` with
    /// fewer than 10, or no spread in ability or speed.
    pub fn fit(pairs: &[(f64, f64)]) -> Option<Self> {
        let n = pairs.len() as f64;
        if pairs.len() < 10 {
            return None;
        }
        let (mt, ms) = pairs
            .iter()
            .fold((0.0, 0.0), |(a, b), (t, s)| (a + t / n, b + s / n));
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for (t, s) in pairs {
            sxx += (t - mt).powi(2);
            sxy += (t - mt) * (s - ms);
        }
        if sxx <= 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let intercept = ms - slope * mt;
        let rss: f64 = pairs
            .iter()
            .map(|(t, s)| (s - intercept - slope * t).powi(2))
            .sum();
        let residual_sd = (rss / (n - 2.0)).sqrt();
        (residual_sd > 0.0).then_some(Self {
            intercept,
            slope,
            residual_sd,
        })
    }

    /// Aberrant speed: how much faster than their ability predicts a
    /// candidate is, standardized (`z`), and the nominal upper-tail
    /// p-value (faster).
    pub fn aberrant(&self, theta: f64, speed: f64) -> (f64, f64) {
        let z = (speed - self.intercept - self.slope * theta) / self.residual_sd;
        (z, crate::personfit::normal_lower_tail(-z))
    }
}

#[cfg(test)]
mod speed_tests {
    use super::*;
    use crate::sim::Rng;

    #[test]
    fn candidates_far_faster_than_their_ability_predicts() {
        let mut rng = Rng::new(91);
        // Ability and speed correlated 0.4 (speed sd 0.4).
        let pairs: Vec<(f64, f64)> = (0..5000)
            .map(|_| {
                let t = rng.normal();
                (t, 0.4 * (0.4 * t + 0.9165 * rng.normal()))
            })
            .collect();
        let m = SpeedGivenAbility::fit(&pairs).unwrap();
        assert!(
            (m.slope - 0.16).abs() < 0.02 && (m.residual_sd - 0.3666).abs() < 0.02,
            "{m:?}"
        );
        let below = pairs
            .iter()
            .filter(|(t, s)| m.aberrant(*t, *s).1 < 0.01)
            .count();
        assert!((25..=80).contains(&below), "{below} of 5000 below 0.01");
        // Twice as fast as their ability predicts (log speed + 0.7).
        let (z, p) = m.aberrant(0.0, m.intercept + 0.7);
        assert!(z > 1.8 && p < 0.04, "{z} {p}");
        // Four times as fast.
        assert!(m.aberrant(1.0, m.intercept + m.slope + 1.39).1 < 1e-4);
        assert!(SpeedGivenAbility::fit(&pairs[..5]).is_none());
    }
}
