//! Exact conditional tests of a candidate's 0/1 scores under the 2PL,
//! calibrated at any level without asymptotics.
//!
//! Under the 2PL the weighted score `R = Σ a_j x_j` is sufficient for the
//! ability, so given `R` the distribution of the response pattern does not
//! depend on the ability at all:
//!
//! ```text
//! P(x | R = r)  ∝  Π_j exp(c_j x_j)     over patterns with Σ a_j x_j = r
//! ```
//!
//! (`c_j = -a_j b_j`, the item's intercept). Any statistic `S = Σ w_j x_j`
//! then has an exact conditional null distribution, the same for every
//! candidate with the same weighted score, and its tail is the p-value:
//! no estimated ability, no normal approximation, and no dependence on how
//! abilities are distributed. Two statistics use it:
//!
//! - **lz, exact** (person fit): the log-likelihood at the ability
//!   estimate is, given `R`, an increasing function of `Σ c_j x_j`, so
//!   `w_j = a_j b_j` and the upper tail of `S` is the lower tail of the
//!   log-likelihood: right answers on hard items and wrong ones on easy
//!   items, beyond what the candidate's score explains. It is the exact
//!   counterpart of Snijders' lz* (whose normal p-values are liberal far
//!   out, docs/forensics.md).
//! - **pre-knowledge, exact**: `w_j = a_j` on the items known to be
//!   compromised and 0 elsewhere: how much of the weighted score comes from
//!   the leaked items, against what it would be by chance.
//!
//! The joint distribution of `(R, S)` is built once for an exam (per set of
//! items taken) by dynamic programming over the items, with `a_j` and `w_j`
//! on integer grids (at most [`GRID`] steps each over the exam): the test
//! is exact for the model with the slopes so rounded (about 2 % of a slope
//! on a 60-item exam). Ties in `S` count as at least as extreme, so the
//! p-value errs on the safe side.

use std::collections::HashMap;

use crate::irt::{logistic, Item2pl};

/// Grid steps over the whole exam for the weighted score and for the
/// statistic.
pub const GRID: usize = 1500;

/// One candidate's exact conditional test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exact {
    /// The statistic `Σ w_j x_j`.
    pub statistic: f64,
    /// Its conditional mean given the weighted score.
    pub expected: f64,
    /// `P(S >= statistic | R)`, exact for the rounded model.
    pub p: f64,
    /// 0/1 items the test used.
    pub items: usize,
}

/// The joint distribution of `(R, S)` on one set of items.
struct Joint {
    /// Items used, in order.
    used: Vec<usize>,
    s_min: i64,
    width: usize,
    /// `table[r * width + (s - s_min)]`, unnormalized within a row.
    table: Vec<f64>,
}

/// An exact conditional test on an exam's items: the statistic's weights
/// and the distributions built so far, one per set of items taken.
pub struct Conditional {
    items: Vec<Item2pl>,
    weights: Vec<f64>,
    a_unit: f64,
    w_unit: f64,
    joints: HashMap<Vec<usize>, Joint>,
}

impl Conditional {
    /// A test with statistic `Σ weights[j] x_j` (upper tail) on `items`.
    pub fn new(items: &[Item2pl], weights: Vec<f64>) -> Self {
        assert_eq!(items.len(), weights.len(), "one weight per item");
        let a_total: f64 = items.iter().map(|it| it.a.abs()).sum();
        let w_total: f64 = weights.iter().map(|w| w.abs()).sum();
        Self {
            items: items.to_vec(),
            weights,
            a_unit: (a_total / GRID as f64).max(1e-9),
            w_unit: (w_total / GRID as f64).max(1e-9),
            joints: HashMap::new(),
        }
    }

    /// Snijders-free exact person fit: `w_j = a_j b_j`.
    pub fn person_fit(items: &[Item2pl]) -> Self {
        let weights = items.iter().map(|it| it.a * it.b).collect();
        Self::new(items, weights)
    }

    /// Exact pre-knowledge: `w_j = a_j` on the compromised items.
    pub fn preknowledge(items: &[Item2pl], compromised: &[bool]) -> Self {
        let weights = items
            .iter()
            .zip(compromised)
            .map(|(it, c)| if *c { it.a } else { 0.0 })
            .collect();
        Self::new(items, weights)
    }

    fn a_units(&self, j: usize) -> usize {
        ((self.items[j].a / self.a_unit).round() as usize).max(1)
    }

    fn w_units(&self, j: usize) -> i64 {
        (self.weights[j] / self.w_unit).round() as i64
    }

    fn build(&self, used: &[usize]) -> Joint {
        let r_max: usize = used.iter().map(|&j| self.a_units(j)).sum();
        let s_min: i64 = used.iter().map(|&j| self.w_units(j).min(0)).sum();
        let s_max: i64 = used.iter().map(|&j| self.w_units(j).max(0)).sum();
        let width = (s_max - s_min + 1) as usize;
        let mut table = vec![0.0; (r_max + 1) * width];
        table[(-s_min) as usize] = 1.0;
        let mut r_top = 0;
        for &j in used {
            // Probabilities at ability 0: any ability gives the same
            // conditional distribution, and 0 keeps every factor <= 1.
            let p = logistic(-self.items[j].a * self.items[j].b);
            let q = 1.0 - p;
            let (u, v) = (self.a_units(j), self.w_units(j));
            r_top += u;
            // From the top row down, so row r - u still holds the previous
            // item's values when it is read.
            for r in (0..=r_top).rev() {
                let row = r * width;
                if r >= u {
                    let from = (r - u) * width;
                    if v >= 0 {
                        let v = v as usize;
                        for s in (0..width).rev() {
                            let rise = if s >= v { table[from + s - v] * p } else { 0.0 };
                            table[row + s] = table[row + s] * q + rise;
                        }
                    } else {
                        let v = (-v) as usize;
                        for s in 0..width {
                            let rise = if s + v < width {
                                table[from + s + v] * p
                            } else {
                                0.0
                            };
                            table[row + s] = table[row + s] * q + rise;
                        }
                    }
                } else {
                    for cell in &mut table[row..row + width] {
                        *cell *= q;
                    }
                }
            }
        }
        Joint {
            used: used.to_vec(),
            s_min,
            width,
            table,
        }
    }

    /// The test of one candidate's scores (`None`: not taken). Items with
    /// a score other than 0 or 1 are left out. `None` with fewer than 5
    /// items used, or a weighted score no other pattern shares (every item
    /// right or every item wrong), where the test has nothing to compare.
    pub fn test(&mut self, scores: &[Option<f64>]) -> Option<Exact> {
        let used: Vec<usize> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Some(x) if *x == 0.0 || *x == 1.0))
            .map(|(j, _)| j)
            .collect();
        if used.len() < 5 {
            return None;
        }
        let right = |j: usize| scores[j] == Some(1.0);
        let r: usize = used
            .iter()
            .filter(|&&j| right(j))
            .map(|&j| self.a_units(j))
            .sum();
        let s: i64 = used
            .iter()
            .filter(|&&j| right(j))
            .map(|&j| self.w_units(j))
            .sum();
        let statistic: f64 = used
            .iter()
            .filter(|&&j| right(j))
            .map(|&j| self.weights[j])
            .sum();
        if !self.joints.contains_key(&used) {
            let joint = self.build(&used);
            self.joints.insert(used.clone(), joint);
        }
        let joint = &self.joints[&used];
        debug_assert_eq!(joint.used, used);
        let row = &joint.table[r * joint.width..(r + 1) * joint.width];
        let total: f64 = row.iter().sum();
        let at = (s - joint.s_min) as usize;
        // The observed pattern's own probability must not be all the row.
        if total.is_nan() || total <= 0.0 || row[at] >= total * (1.0 - 1e-12) {
            return None;
        }
        let upper: f64 = row[at..].iter().rev().sum();
        let mean_units: f64 = row
            .iter()
            .enumerate()
            .map(|(k, m)| (k as i64 + joint.s_min) as f64 * m)
            .sum::<f64>()
            / total;
        Some(Exact {
            statistic,
            expected: mean_units * self.w_unit,
            p: (upper / total).min(1.0),
            items: used.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{graded_2pl, Rng};

    /// `P(S >= s | R = r)` by enumerating every pattern, on the rounded
    /// grid the test uses.
    fn brute(test: &Conditional, scores: &[f64]) -> f64 {
        let n = scores.len();
        let units = |x: &[f64]| -> (usize, i64) {
            let mut r = 0;
            let mut s = 0;
            for (j, x) in x.iter().enumerate() {
                if *x == 1.0 {
                    r += test.a_units(j);
                    s += test.w_units(j);
                }
            }
            (r, s)
        };
        let (r0, s0) = units(scores);
        let (mut num, mut den) = (0.0, 0.0);
        for mask in 0u32..(1 << n) {
            let x: Vec<f64> = (0..n).map(|j| f64::from((mask >> j) & 1)).collect();
            let (r, s) = units(&x);
            if r != r0 {
                continue;
            }
            // At an ability other than the one the test builds with, on
            // the rounded slopes: the conditional distribution is the same.
            let pr: f64 = test
                .items
                .iter()
                .enumerate()
                .zip(&x)
                .map(|((j, it), x)| {
                    let slope = test.a_units(j) as f64 * test.a_unit;
                    let p = logistic(slope * 0.7 - it.a * it.b);
                    if *x == 1.0 {
                        p
                    } else {
                        1.0 - p
                    }
                })
                .product();
            den += pr;
            if s >= s0 {
                num += pr;
            }
        }
        num / den
    }

    #[test]
    fn matches_enumeration_on_small_item_sets() {
        let mut rng = Rng::new(5);
        let mut compared = 0;
        for n in [6usize, 9, 12] {
            // Slopes on a coarse set so several patterns share a weighted
            // score, as they do on the grid of a real exam.
            let items: Vec<Item2pl> = (0..n)
                .map(|j| Item2pl {
                    a: [0.8, 1.2, 1.6][j % 3],
                    b: -1.5 + 3.0 * j as f64 / n as f64,
                })
                .collect();
            let compromised: Vec<bool> = (0..n).map(|j| j % 4 == 1).collect();
            for mut test in [
                Conditional::person_fit(&items),
                Conditional::preknowledge(&items, &compromised),
            ] {
                for _ in 0..20 {
                    let scores: Vec<f64> = items
                        .iter()
                        .map(|it| f64::from(u8::from(rng.bernoulli(it.p(0.3)))))
                        .collect();
                    let opt: Vec<Option<f64>> = scores.iter().map(|s| Some(*s)).collect();
                    let Some(exact) = test.test(&opt) else {
                        continue;
                    };
                    let want = brute(&test, &scores);
                    compared += 1;
                    assert!(
                        (exact.p - want).abs() < 1e-12 * want.max(1e-300) + 1e-15,
                        "{n} items: {} against enumeration {want}",
                        exact.p
                    );
                }
            }
        }
        assert!(compared >= 80, "only {compared} patterns compared");
    }

    #[test]
    fn calibrated_at_any_ability_and_sensitive_to_misfit() {
        let items = graded_2pl(40);
        let mut test = Conditional::person_fit(&items);
        let mut rng = Rng::new(8);
        let draws = 20_000;
        let mut below = [0u32; 2];
        for i in 0..draws {
            // Abilities far from normal: the test must not care.
            let theta = if i % 2 == 0 { -1.5 } else { 2.0 } + 0.3 * rng.normal();
            let scores: Vec<Option<f64>> = items
                .iter()
                .map(|it| Some(f64::from(u8::from(rng.bernoulli(it.p(theta))))))
                .collect();
            if let Some(e) = test.test(&scores) {
                below[0] += u32::from(e.p < 0.05);
                below[1] += u32::from(e.p < 0.01);
            }
        }
        eprintln!("{below:?} of {draws}");
        // Discrete and conservative: at most the level, not far below it.
        let rate = |k: u32| f64::from(k) / f64::from(draws);
        assert!((0.03..=0.056).contains(&rate(below[0])), "{below:?}");
        assert!((0.004..=0.0125).contains(&rate(below[1])), "{below:?}");
        // Right on the 10 hardest items, wrong on the 10 easiest, half of
        // the middle: the score of an average candidate, the pattern of
        // none.
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|x, y| items[*x].b.total_cmp(&items[*y].b));
        let mut scores = vec![Some(0.0); items.len()];
        for (rank, &j) in order.iter().enumerate() {
            let right = rank >= 30 || (10..30).contains(&rank) && rank % 2 == 0;
            scores[j] = Some(f64::from(u8::from(right)));
        }
        let e = test.test(&scores).unwrap();
        assert!(e.p < 1e-6 && e.statistic > e.expected, "{e:?}");
    }

    #[test]
    fn undefined_where_nothing_compares() {
        let items = graded_2pl(10);
        let mut test = Conditional::person_fit(&items);
        assert!(test.test(&[Some(1.0); 10]).is_none());
        assert!(test.test(&[Some(0.0); 10]).is_none());
        assert!(test
            .test(&[
                Some(1.0),
                Some(0.0),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None
            ])
            .is_none());
        // Partial credit is left out, not rounded.
        let mut scores = [Some(1.0), Some(0.0)].repeat(5);
        scores[0] = Some(0.5);
        assert_eq!(test.test(&scores).map(|e| e.items), Some(9));
    }
}
