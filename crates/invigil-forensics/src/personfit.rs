//! Person fit for scores: Snijders' (2001) lz*, the standardized
//! log-likelihood of a candidate's item scores under the 2PL, corrected for
//! the ability being estimated from the same scores. A candidate who
//! answers hard items right and easy ones wrong (pre-knowledge of some
//! items, a proxy for part of the exam) has a log-likelihood far below its
//! expectation: lz* strongly negative. Under the model lz* is close to
//! standard normal; the uncorrected lz is not (its variance is too small
//! for short tests), which is why the correction matters.
//!
//! With the maximum-likelihood ability θ̂ and the 2PL, writing
//! `P_j = P_j(θ̂)`, `w_j = log(P_j / (1 - P_j))` and `P'_j = a_j P_j (1 - P_j)`:
//!
//! ```text
//! W    = Σ (x_j - P_j) w_j                 (the centred log-likelihood)
//! c    = Σ P'_j w_j / Σ P'_j a_j
//! τ²   = Σ (w_j - c a_j)² P_j (1 - P_j)
//! lz*  = W / τ
//! ```
//!
//! The p-value is the lower normal tail, a nominal figure: how far it is
//! from the actual rate on real data is for the calibration
//! (docs/forensics.md).

use crate::irt::{ability_ml, Item2pl};

/// A candidate's lz* and what it rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PersonFit {
    /// The ability estimate it is computed at.
    pub theta: f64,
    pub lz_star: f64,
    /// The uncorrected lz, for comparison.
    pub lz: f64,
    /// Nominal lower-tail p-value of lz*.
    pub p: f64,
    /// Items the candidate took.
    pub items: usize,
}

/// lz* of one candidate's scores (`None` for an item not taken). `None`
/// when the ability has no finite estimate (every score 0 or every
/// score 1) or fewer than 5 items were taken.
pub fn lz_star(items: &[Item2pl], scores: &[Option<f64>]) -> Option<PersonFit> {
    let taken = scores.iter().filter(|s| s.is_some()).count();
    if taken < 5 {
        return None;
    }
    let theta = ability_ml(items, scores)?;
    let (mut w_sum, mut num, mut den) = (0.0, 0.0, 0.0);
    let mut terms = Vec::with_capacity(taken);
    for (it, x) in items.iter().zip(scores) {
        let Some(x) = x else { continue };
        let p = it.p(theta).clamp(1e-12, 1.0 - 1e-12);
        let w = (p / (1.0 - p)).ln();
        let dp = it.a * p * (1.0 - p);
        w_sum += (x - p) * w;
        num += dp * w;
        den += dp * it.a;
        terms.push((it.a, p, w));
    }
    let c = if den > 0.0 { num / den } else { 0.0 };
    let (mut tau2, mut var0) = (0.0, 0.0);
    for (a, p, w) in terms {
        tau2 += (w - c * a).powi(2) * p * (1.0 - p);
        var0 += w * w * p * (1.0 - p);
    }
    if tau2 <= 0.0 || var0 <= 0.0 {
        return None;
    }
    let lz_star = w_sum / tau2.sqrt();
    Some(PersonFit {
        theta,
        lz_star,
        lz: w_sum / var0.sqrt(),
        p: normal_lower_tail(lz_star),
        items: taken,
    })
}

/// `P(Z <= z)` for a standard normal `Z`, with a relative error under
/// 1.2e-7 in both tails (the complementary error function of Numerical
/// Recipes' `erfcc`, a Chebyshev fit).
pub fn normal_lower_tail(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * poly.exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    #[test]
    fn the_normal_tail_is_accurate_far_out() {
        // Reference values (Abramowitz & Stegun; scipy.stats.norm.cdf).
        for (z, want) in [
            (0.0, 0.5),
            (-1.0, 0.158_655_253_931_457_05),
            (-3.0, 1.349_898_031_630_094_6e-3),
            (-4.753_424_308_822_899, 1e-6),
            (-8.0, 6.220_960_574_271_785e-16),
            (2.0, 0.977_249_868_051_820_8),
        ] {
            let got = normal_lower_tail(z);
            assert!((got / want - 1.0).abs() < 2e-7, "z {z}: {got} vs {want}");
        }
    }

    #[test]
    fn lz_star_is_near_standard_normal_for_honest_candidates() {
        let items = crate::sim::graded_2pl(40);
        let mut rng = Rng::new(11);
        let mut values = Vec::new();
        for _ in 0..4000 {
            let theta = rng.normal();
            let scores: Vec<Option<f64>> = items
                .iter()
                .map(|it| Some(f64::from(u8::from(rng.bernoulli(it.p(theta))))))
                .collect();
            if let Some(f) = lz_star(&items, &scores) {
                values.push(f);
            }
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|f| f.lz_star).sum::<f64>() / n;
        let sd = (values
            .iter()
            .map(|f| (f.lz_star - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        println!("lz*: mean {mean:.3}, sd {sd:.3} over {n}");
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((sd - 1.0).abs() < 0.1, "sd {sd}");
        let at_5 = values.iter().filter(|f| f.p < 0.05).count() as f64 / n;
        assert!((0.03..0.07).contains(&at_5), "{at_5} below nominal 0.05");
        // The uncorrected lz is too narrow (the point of the correction).
        let sd_lz = (values.iter().map(|f| f.lz.powi(2)).sum::<f64>() / n).sqrt();
        assert!(sd_lz < sd, "{sd_lz} vs {sd}");
    }

    #[test]
    fn answers_known_in_advance_do_not_fit() {
        // A weak candidate who knew the 12 hardest items.
        let items = crate::sim::graded_2pl(40);
        let mut rng = Rng::new(5);
        let mut flagged = 0;
        for _ in 0..100 {
            let scores: Vec<Option<f64>> = items
                .iter()
                .enumerate()
                .map(|(j, it)| {
                    let right = j >= 28 || rng.bernoulli(it.p(-1.5));
                    Some(f64::from(u8::from(right)))
                })
                .collect();
            let f = lz_star(&items, &scores).unwrap();
            if f.lz_star < -3.0 {
                flagged += 1;
            }
        }
        assert!(flagged >= 90, "{flagged} of 100 below -3");
        // Too few items, or a perfect score: no statistic.
        assert_eq!(
            lz_star(&items[..4], &[Some(1.0), Some(0.0), Some(1.0), Some(0.0)]),
            None
        );
        assert_eq!(lz_star(&items, &vec![Some(1.0); 40]), None);
    }
}
