//! Answer similarity between two candidates, with exact tails
//! ([`crate::tail`]) under the nominal response model ([`crate::nrm`]):
//!
//! - **ω** (Wollack 1997), directional: does the suspected copier `c`
//!   match the source `s` more than `c`'s ability explains? Item `j`
//!   matches with probability `P_j(s's option | θ_c)`; ω is the
//!   standardized number of matches, and its p-value here is the exact
//!   Poisson-binomial upper tail (Wollack used the normal approximation).
//! - **GBT**, the generalized binomial test (van der Linden & Sotaridona
//!   2006), symmetric: item `j` matches by chance with probability
//!   `Σ_k P_jk(θ_a) P_jk(θ_b)`, both candidates choosing option `k`
//!   independently; the p-value is the same exact tail.
//!
//! Only items both candidates answered count. Abilities are each
//! candidate's EAP under the model (finite for every candidate).
//!
//! Every pair of an exam is screened first from its mean alone (O(items)):
//! the median of a count of independent trials is the floor or the ceiling
//! of its mean (Jogdeo & Samuels 1968), so a pair with no more matches
//! than the floor of the mean has p at least 1/2 and is passed over; the
//! exact tail (O(items²)) is computed for every other pair, so no pair
//! whose exact p-value is below the level is missed. (An earlier screen
//! skipped pairs whose Bernstein bound was above the level; a bound above
//! the level says nothing about the p-value, and pairs below the level were
//! missed — the honest-pair rates measured with it were too low.)

use crate::nrm::{ability_eap, ChoiceMatrix, ItemNrm};
use crate::tail;

/// Which index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Omega,
    Gbt,
}

impl Index {
    pub fn name(self) -> &'static str {
        match self {
            Index::Omega => "omega",
            Index::Gbt => "gbt",
        }
    }
}

/// One pair's result.
#[derive(Clone, Debug, PartialEq)]
pub struct PairResult {
    pub index: Index,
    /// ω: the suspected copier; GBT: the first of the pair.
    pub a: usize,
    /// ω: the source; GBT: the second.
    pub b: usize,
    /// Items both answered.
    pub compared: usize,
    pub matches: usize,
    /// Expected matches under independent work.
    pub expected: f64,
    /// `(matches - expected) / sd`.
    pub z: f64,
    /// Exact `P(matches or more)` under independent work.
    pub p: f64,
}

/// Every candidate's option probabilities at their own ability, computed
/// once for an exam: `probs[i][j]` (empty when `i` did not answer `j`).
pub struct Prepared {
    pub thetas: Vec<f64>,
    probs: Vec<Vec<Vec<f64>>>,
}

impl Prepared {
    pub fn new(items: &[ItemNrm], m: &ChoiceMatrix) -> Self {
        let thetas: Vec<f64> = (0..m.choices.persons)
            .map(|i| ability_eap(items, m.choices.row(i)))
            .collect();
        let probs = thetas
            .iter()
            .map(|t| items.iter().map(|it| it.probabilities(*t)).collect())
            .collect();
        Self { thetas, probs }
    }

    /// The match probabilities and match count of a pair.
    fn trials(
        &self,
        index: Index,
        m: &ChoiceMatrix,
        a: usize,
        b: usize,
        ps: &mut Vec<f64>,
    ) -> usize {
        ps.clear();
        let mut matches = 0;
        for (j, (xa, xb)) in m.choices.row(a).iter().zip(m.choices.row(b)).enumerate() {
            let (Some(xa), Some(xb)) = (xa, xb) else {
                continue;
            };
            let p = match index {
                Index::Omega => self.probs[a][j][*xb as usize],
                Index::Gbt => self.probs[a][j]
                    .iter()
                    .zip(&self.probs[b][j])
                    .map(|(pa, pb)| pa * pb)
                    .sum(),
            };
            ps.push(p.clamp(0.0, 1.0));
            if xa == xb {
                matches += 1;
            }
        }
        matches
    }

    /// One pair's index, with its exact p-value.
    pub fn pair(&self, index: Index, m: &ChoiceMatrix, a: usize, b: usize) -> PairResult {
        let mut ps = Vec::new();
        let matches = self.trials(index, m, a, b, &mut ps);
        finish(index, a, b, matches, &ps)
    }

    /// Every pair (ordered for ω, unordered for GBT) whose exact p-value
    /// is below `level`, most significant first.
    pub fn scan(&self, index: Index, m: &ChoiceMatrix, level: f64) -> Vec<PairResult> {
        let mut out = Vec::new();
        let mut ps = Vec::new();
        for a in 0..m.choices.persons {
            for b in 0..m.choices.persons {
                if a == b || (index == Index::Gbt && b < a) {
                    continue;
                }
                let matches = self.trials(index, m, a, b, &mut ps);
                if surely_above_half(&ps, matches) {
                    continue;
                }
                let r = finish(index, a, b, matches, &ps);
                if r.p < level {
                    out.push(r);
                }
            }
        }
        out.sort_by(|x, y| x.p.total_cmp(&y.p));
        out
    }
}

fn moments(ps: &[f64]) -> (f64, f64) {
    ps.iter()
        .fold((0.0, 0.0), |(m, v), p| (m + p, v + p * (1.0 - p)))
}

fn finish(index: Index, a: usize, b: usize, matches: usize, ps: &[f64]) -> PairResult {
    let (expected, var) = moments(ps);
    let z = if var > 0.0 {
        (matches as f64 - expected) / var.sqrt()
    } else {
        0.0
    };
    let p = tail::upper_tail(ps, matches).expect("probabilities are clamped");
    PairResult {
        index,
        a,
        b,
        compared: ps.len(),
        matches,
        expected,
        z,
        p,
    }
}

/// Whether `P(X >= matches) >= 1/2` is sure from the mean alone: the
/// median of a count of independent trials is the floor or the ceiling of
/// its mean, so `P(X >= floor(mean)) >= 1/2`.
pub fn surely_above_half(ps: &[f64], matches: usize) -> bool {
    let mean: f64 = ps.iter().sum();
    // A hair below the mean, so rounding cannot lift a count over it.
    (matches as f64) <= (mean - 1e-9).floor()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nrm::fit_nrm;
    use crate::nrm::tests::{choose, items, simulate};
    use crate::sim::Rng;

    #[test]
    fn the_screen_never_hides_a_significant_pair() {
        // Wherever the screen passes a count over, the exact tail is at
        // least 1/2.
        let mut rng = Rng::new(9);
        let mut passed = 0;
        for _ in 0..2000 {
            let n = 1 + (rng.uniform() * 60.0) as usize;
            let skew = rng.uniform();
            let ps: Vec<f64> = (0..n)
                .map(|_| rng.uniform().powf(4.0 * skew + 0.2))
                .collect();
            for x in 0..=n {
                if surely_above_half(&ps, x) {
                    passed += 1;
                    let exact = tail::upper_tail(&ps, x).unwrap();
                    assert!(exact >= 0.5, "{ps:?} {x}: {exact}");
                }
            }
        }
        assert!(passed > 10_000, "{passed}");
    }

    #[test]
    fn the_scan_finds_what_every_pair_exactly_finds() {
        let truth = items(20, 35);
        let (m, _) = simulate(&truth, 120, 36);
        let fit = fit_nrm(&m, 500, 1e-4).unwrap();
        let prep = Prepared::new(&fit.items, &m);
        for index in [Index::Omega, Index::Gbt] {
            let level = 0.01;
            let mut want = 0;
            for a in 0..120 {
                for b in 0..120 {
                    if a != b && (index == Index::Omega || a < b) {
                        want += usize::from(prep.pair(index, &m, a, b).p < level);
                    }
                }
            }
            let got = prep.scan(index, &m, level).len();
            assert!(want > 0 && got == want, "{}: {got} of {want}", index.name());
        }
    }

    #[test]
    fn honest_pairs_stay_within_the_level_and_copiers_stand_out() {
        let truth = items(40, 31);
        let (mut m, _) = simulate(&truth, 300, 32);
        // Candidate 0 copies 16 of 40 answers (40 %) from candidate 1.
        let mut rows: Vec<Vec<Option<u8>>> = (0..m.choices.persons)
            .map(|i| m.choices.row(i).to_vec())
            .collect();
        let mut rng = Rng::new(33);
        for j in 0..40 {
            if j % 5 < 2 {
                rows[0][j] = rows[1][j];
            } else {
                rows[0][j] = Some(choose(&truth[j], -0.5, &mut rng));
            }
        }
        m = ChoiceMatrix::new(m.choices.item_ids.clone(), m.options.clone(), &rows);
        let fit = fit_nrm(&m, 500, 1e-4).unwrap();
        let prep = Prepared::new(&fit.items, &m);
        let level = 1e-3;
        for index in [Index::Omega, Index::Gbt] {
            // Honest pairs' standardized matches: about standard normal.
            let zs: Vec<f64> = (2..300)
                .flat_map(|a| (2..300).filter(move |b| *b != a).map(move |b| (a, b)))
                .take(20_000)
                .map(|(a, b)| prep.pair(index, &m, a, b).z)
                .collect();
            let mz = zs.iter().sum::<f64>() / zs.len() as f64;
            let sz = (zs.iter().map(|z| (z - mz).powi(2)).sum::<f64>() / zs.len() as f64).sqrt();
            println!("{}: z mean {mz:.3} sd {sz:.3}", index.name());
            assert!(mz.abs() < 0.1 && (0.8..1.1).contains(&sz), "{mz} {sz}");
            let flagged = prep.scan(index, &m, level);
            let honest = flagged
                .iter()
                .filter(|r| !matches!((r.a, r.b), (0, 1) | (1, 0)))
                .count();
            let pairs = if index == Index::Omega {
                300 * 299
            } else {
                300 * 299 / 2
            };
            let rate = honest as f64 / pairs as f64;
            println!(
                "{}: {honest} honest pairs of {pairs} below {level} ({rate:.2e}); copier {:?}",
                index.name(),
                prep.pair(index, &m, 0, 1).p
            );
            // Exact tails of a discrete count are conservative.
            assert!(rate <= level, "{}: {rate}", index.name());
            // 40 % copied: far out (1e-6 to 1e-7 here).
            let copier = prep.pair(index, &m, 0, 1);
            assert!(copier.p < 1e-5, "{copier:?}");
            assert_eq!(flagged[0].a.min(flagged[0].b), 0, "{:?}", flagged[0]);
        }
    }
}
