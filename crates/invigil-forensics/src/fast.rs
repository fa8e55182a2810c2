//! Responses much faster than the candidate's own pace, on many items, with
//! an empirical null: the response-time index whose p-values hold up where
//! the lognormal model's person fit does not (real times have heavier
//! tails than the model, and candidates differ in how steady they are).
//!
//! For each candidate and item the residual of the log time is taken
//! about the candidate's **robust** pace, so a block of rushed items (up
//! to 40 % of them) does not hide itself by moving the pace:
//!
//! ```text
//! d_j = β_j - log t_j               (how much faster than the item's norm)
//! τ̃   = weighted mean of the middle fifth of d_j, weights α_j²
//! z_j = α_j (τ̃ - d_j)               (negative: faster than own pace)
//! ```
//!
//! Residuals are not divided by the candidate's own spread: the spread
//! estimated from the same items moves every item's residual together, and
//! the count then spreads more than independent trials do (measured: 2.3
//! times the level at 1e-2 on 60 items). Candidates do differ in how
//! steady they are, though, and a less steady one has more fast items by
//! chance: with the rates taken as equal for everyone the count was 29
//! times its level at 1e-3 when steadiness varied by a factor of
//! `exp(0.25 Z)`. So the null is an empirical one in the sense of Efron:
//! each candidate's chance of a fast item is the item's rate times a
//! multiplier `u`, lognormal with mean 1, whose spread is estimated from how
//! widely the counts spread across the exam's candidates, and the p-value
//! is the tail averaged over `u`.
//!
//! An item counts as **fast** for the candidate when `z_j` is at or below
//! the item's empirical lower quantile among all the exam's candidates,
//! and the item's null rate `π_j` is the share of the exam's candidates at
//! or below it: taken from the data, whatever the shape of its tails.
//! Under the null the count of fast items is a sum of independent trials
//! with probabilities `π_j` (residuals are independent given the pace), so
//! its p-value is the exact Poisson-binomial upper tail ([`crate::tail`]).
//! Two quantiles are counted, 5 % (many moderately fast items) and 1 %
//! (fewer, extremely fast: rapid guesses), the latter only on items with
//! at least 200 times; the p-value is the smaller of the two times the
//! number counted (Bonferroni). Its actual false-flag rate under the model and under
//! misspecified nulls is measured in docs/forensics.md.

use crate::rt::{ItemRt, RtCalibration, TimeMatrix};
use crate::tail;

/// The lower quantiles an item's time must fall to, to count, and the
/// fewest times an item needs for each.
pub const QUANTILES: [(f64, usize); 2] = [(0.05, 20), (0.01, 200)];

/// Purification: candidates below this p-value are left out of the
/// thresholds, for at most this many rounds.
const PURIFY_BELOW: f64 = 1e-3;
const PURIFY_ROUNDS: usize = 3;

/// The share of weight cut from each end for the pace: up to 40 % of the
/// items may be rushed without moving it much.
const TRIM: f64 = 0.4;

/// One candidate's count of fast items.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastItems {
    /// Robust pace (log-speed units).
    pub pace: f64,
    /// The quantile whose count gave the p-value.
    pub quantile: f64,
    /// Items at or below their fast threshold at that quantile.
    pub fast: usize,
    /// Items with a time.
    pub items: usize,
    /// Expected count under the null.
    pub expected: f64,
    /// Exact `P(count >= fast)` under the null, times the number of
    /// quantiles counted.
    pub p: f64,
}

/// The thresholds and null rates of one quantile.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub quantile: f64,
    /// `z` at or below which item `j` counts (`None`: too few times).
    pub thresholds: Vec<Option<f64>>,
    /// Share of the exam's candidates at or below the threshold.
    pub rates: Vec<f64>,
    /// How unequal candidates are in their chance of a fast item: the sd
    /// `s` of the log of each one's multiplier `u` on the rates, estimated
    /// from the spread of the counts across the exam (0: the counts
    /// spread as independent trials do).
    pub spread: f64,
}

/// One candidate's count at one level: `(fast, rates of the items with a
/// time)`.
fn count(level: &Level, z: &[Option<f64>], ps: &mut Vec<f64>) -> usize {
    ps.clear();
    let mut fast = 0;
    for ((z, t), pi) in z.iter().zip(&level.thresholds).zip(&level.rates) {
        if let (Some(z), Some(t)) = (z, t) {
            ps.push(*pi);
            fast += usize::from(z <= t);
        }
    }
    fast
}

/// The spread `s` at which the mixture predicts as many candidates with at
/// most `c` fast items as the exam has, by bisection on [0, 2].
fn fit_spread(level: &Level, residuals: &[Vec<Option<f64>>]) -> f64 {
    use std::collections::HashMap;
    // Candidates grouped by the items they have times on (usually one
    // group): `(rates, candidates, counts)`.
    let mut groups: HashMap<Vec<bool>, (Vec<f64>, Vec<usize>)> = HashMap::new();
    let mut ps = Vec::new();
    for z in residuals {
        let k = count(level, z, &mut ps);
        let key: Vec<bool> = z
            .iter()
            .zip(&level.thresholds)
            .map(|(z, t)| z.is_some() && t.is_some())
            .collect();
        groups
            .entry(key)
            .or_insert_with(|| (ps.clone(), Vec::new()))
            .1
            .push(k);
    }
    let n: usize = groups.values().map(|g| g.1.len()).sum();
    if n == 0 {
        return 0.0;
    }
    let mean_mu = groups
        .values()
        .map(|(ps, ks)| ps.iter().sum::<f64>() * ks.len() as f64)
        .sum::<f64>()
        / n as f64;
    let c = (mean_mu / 2.0).floor() as usize;
    let observed = groups
        .values()
        .map(|(_, ks)| ks.iter().filter(|&&k| k <= c).count())
        .sum::<usize>() as f64
        / n as f64;
    let predicted = |s: f64| -> f64 {
        groups
            .values()
            .map(|(ps, ks)| (1.0 - mixed_tail_all(ps, c + 1, s)) * ks.len() as f64)
            .sum::<f64>()
            / n as f64
    };
    if predicted(0.0) >= observed {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0, 2.0);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if predicted(mid) < observed {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// `P(K >= k)` for a count of trials with probabilities `u π_j`, averaged
/// over `u = exp(s Z - s²/2)` (mean 1), `Z` standard normal: a grid of
/// 0.1 in `Z` from -6 to 8, which holds the tail to far below 1e-6.
fn mixed_tail(ps: &[f64], k: usize, s: f64) -> f64 {
    let nominal = tail::upper_tail(ps, k).expect("rates are shares");
    // Far from any flag: the unmixed tail says as much, for a fraction of
    // the work.
    if s < 1e-3 || nominal >= 0.05 {
        return nominal;
    }
    mixed_tail_all(ps, k, s)
}

/// [`mixed_tail`] without the shortcut.
fn mixed_tail_all(ps: &[f64], k: usize, s: f64) -> f64 {
    let mut scaled = vec![0.0; ps.len()];
    let (mut sum, mut weights) = (0.0, 0.0);
    for step in 0..=140 {
        let z = -6.0 + 0.1 * f64::from(step);
        let w = (-0.5 * z * z).exp();
        let u = (s * z - 0.5 * s * s).exp();
        for (out, p) in scaled.iter_mut().zip(ps) {
            *out = (p * u).min(1.0);
        }
        sum += w * tail::upper_tail(&scaled, k).expect("clamped");
        weights += w;
    }
    (sum / weights).min(1.0)
}

/// The per-item thresholds and null rates of an exam.
#[derive(Clone, Debug, PartialEq)]
pub struct FastNull {
    items: Vec<ItemRt>,
    pub levels: Vec<Level>,
}

/// A candidate's pace and standardized residuals (`None` where no time);
/// `None` with fewer than 5 times.
pub fn residuals(items: &[ItemRt], log_times: &[Option<f64>]) -> Option<(f64, Vec<Option<f64>>)> {
    let mut d: Vec<(f64, f64)> = items
        .iter()
        .zip(log_times)
        .filter_map(|(it, lt)| lt.map(|lt| (it.beta - lt, it.alpha * it.alpha)))
        .collect();
    if d.len() < 5 {
        return None;
    }
    d.sort_by(|x, y| x.0.total_cmp(&y.0));
    // The weighted mean of the middle fifth (by weight): steadier than
    // the median (the pace's error moves every residual together), and
    // as hard to move by a block of rushed items.
    let total = d.iter().map(|(_, w)| w).sum::<f64>();
    let (from, to) = (TRIM * total, (1.0 - TRIM) * total);
    let (mut acc, mut num, mut den) = (0.0, 0.0, 0.0);
    for (v, w) in &d {
        let kept = (acc + w).min(to) - acc.max(from);
        if kept > 0.0 {
            num += kept * v;
            den += kept;
        }
        acc += w;
    }
    let pace = num / den;
    let e = items
        .iter()
        .zip(log_times)
        .map(|(it, lt)| lt.map(|lt| it.alpha * (pace - (it.beta - lt))))
        .collect();
    Some((pace, e))
}

impl FastNull {
    /// The thresholds at each of `quantiles` (with the fewest times an
    /// item needs) from every candidate of `m`; `None` with fewer than 50
    /// candidates.
    pub fn fit(cal: &RtCalibration, m: &TimeMatrix, quantiles: &[(f64, usize)]) -> Option<Self> {
        if m.persons < 50 {
            return None;
        }
        let all: Vec<Vec<Option<f64>>> = (0..m.persons)
            .filter_map(|i| residuals(&cal.items, m.row(i)).map(|(_, z)| z))
            .collect();
        // Purification: candidates who are far out are left out of the
        // thresholds and the spread, and both are fitted again, until no
        // more leave. Without it, a group who rushed or knew the same items
        // (more than the quantile's share of the exam) becomes the items'
        // fast tail, and the rates no longer describe honest candidates.
        let mut kept: Vec<bool> = vec![true; all.len()];
        let mut null = Self::fit_on(cal, &all, &kept, quantiles);
        for _ in 0..PURIFY_ROUNDS {
            let next: Vec<bool> = all
                .iter()
                .map(|z| {
                    null.test_residuals(0.0, z)
                        .is_none_or(|f| f.p >= PURIFY_BELOW)
                })
                .collect();
            if next == kept {
                break;
            }
            kept = next;
            null = Self::fit_on(cal, &all, &kept, quantiles);
        }
        Some(null)
    }

    fn fit_on(
        cal: &RtCalibration,
        all: &[Vec<Option<f64>>],
        kept: &[bool],
        quantiles: &[(f64, usize)],
    ) -> Self {
        let used: Vec<&Vec<Option<f64>>> = all
            .iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(z, _)| z)
            .collect();
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); cal.items.len()];
        for z in &used {
            for (col, z) in columns.iter_mut().zip(z.iter()) {
                if let Some(z) = z {
                    col.push(*z);
                }
            }
        }
        for col in &mut columns {
            col.sort_by(f64::total_cmp);
        }
        let mut levels = quantiles
            .iter()
            .map(|&(quantile, fewest)| {
                let (thresholds, rates) = columns
                    .iter()
                    .map(|col| {
                        if col.len() < fewest.max(20) {
                            return (None, 0.0);
                        }
                        let k = ((quantile * col.len() as f64).ceil() as usize).max(1);
                        let t = col[k - 1];
                        let at_or_below = col.partition_point(|z| *z <= t);
                        (Some(t), at_or_below as f64 / col.len() as f64)
                    })
                    .unzip();
                Level {
                    quantile,
                    thresholds,
                    rates,
                    spread: 0.0,
                }
            })
            .collect::<Vec<Level>>();
        // The spread of each level's counts, fitted to the share of
        // candidates with at most `c` fast items (`c` half the expected
        // count): the low counts are where honest candidates are, so a few
        // who rushed or knew items cannot move it (a fit to the variance
        // was dominated by them).
        let used: Vec<Vec<Option<f64>>> = used.into_iter().cloned().collect();
        for level in &mut levels {
            level.spread = fit_spread(level, &used);
        }
        Self {
            items: cal.items.clone(),
            levels,
        }
    }

    /// The test of one candidate's log times.
    pub fn test(&self, log_times: &[Option<f64>]) -> Option<FastItems> {
        let (pace, z) = residuals(&self.items, log_times)?;
        self.test_residuals(pace, &z)
    }

    fn test_residuals(&self, pace: f64, z: &[Option<f64>]) -> Option<FastItems> {
        let mut best: Option<FastItems> = None;
        let mut counted = 0.0;
        let mut ps = Vec::new();
        for level in &self.levels {
            let fast = count(level, z, &mut ps);
            if ps.len() < 5 {
                continue;
            }
            counted += 1.0;
            let p = mixed_tail(&ps, fast, level.spread);
            if best.is_none_or(|b| p < b.p) {
                best = Some(FastItems {
                    pace,
                    quantile: level.quantile,
                    fast,
                    items: ps.len(),
                    expected: ps.iter().sum(),
                    p,
                });
            }
        }
        best.map(|b| FastItems {
            p: (b.p * counted).min(1.0),
            ..b
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{fit_rt, log_times};
    use crate::sim::{graded_rt, Rng};

    #[test]
    fn rushed_items_stand_out_and_honest_ones_do_not() {
        let items = graded_rt(60);
        let mut rng = Rng::new(17);
        let mut rows = crate::sim::lognormal_rows(&items, 1500, 0.4, &mut rng);
        // Candidate 0 answered 12 items in 3 seconds (rapid guesses);
        // candidate 1 is the same but slow everywhere else; candidate 2
        // is honest but half again as unsteady as the rest.
        for (j, t) in rows[0].iter_mut().enumerate().take(12) {
            *t = Some(3.0 + j as f64 * 0.1);
        }
        rows[1] = rows[0].clone();
        for t in rows[1].iter_mut().skip(12) {
            *t = t.map(|t| t * 3.0);
        }
        rows[2] = items
            .iter()
            .map(|it| Some((it.beta + 1.5 * rng.normal() / it.alpha).exp()))
            .collect();
        let ids = (0..items.len()).map(|j| format!("q{j}")).collect();
        let m = log_times(ids, &rows);
        let cal = fit_rt(&m, 500, 1e-6).unwrap();
        let null = FastNull::fit(&cal, &m, &QUANTILES).unwrap();
        println!(
            "spreads {:?}",
            null.levels.iter().map(|l| l.spread).collect::<Vec<_>>()
        );
        for level in &null.levels {
            let q = level.quantile;
            assert!(
                level.rates.iter().all(|r| (q..q + 0.002).contains(r)),
                "{q}: {:?}",
                level.rates
            );
        }
        for i in [0, 1] {
            let f = null.test(m.row(i)).unwrap();
            assert!(
                f.quantile == 0.01 && f.fast >= 8 && f.p < 1e-6,
                "{i}: {f:?}"
            );
        }
        let honest = (3..m.persons)
            .filter(|&i| null.test(m.row(i)).unwrap().p < 0.01)
            .count();
        println!("{honest} honest below 0.01 of {}", m.persons - 3);
        assert!((2..25).contains(&honest), "{honest} honest below 0.01");
        let f = null.test(m.row(2)).unwrap();
        assert!(f.p > 1e-4, "unsteady: {f:?}");

        assert!(null.test(&[Some(1.0); 4]).is_none());
    }
}
