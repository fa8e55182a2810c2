//! The exact Poisson-binomial distribution: the number of successes among
//! independent trials whose success probabilities differ. Under the null of
//! independent work, the number of items two candidates answer alike is
//! such a count (item `j` matching with the probability the response model
//! gives), so the answer-similarity indices (Wollack's ω with an exact
//! tail, van der Linden & Sotaridona's generalized binomial test) are its
//! upper tail. That tail is needed far below 1e-6, where the normal
//! approximation is off by orders of magnitude, so it is computed exactly:
//! the distribution is built one trial at a time (every term a sum of
//! non-negative products, so no cancellation), and the upper tail is summed
//! directly rather than as one minus the lower.

use thiserror::Error;

/// A probability that is not one.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("probability {index} is {value}, not a number between 0 and 1")]
pub struct InvalidProbability {
    pub index: usize,
    pub value: f64,
}

fn check(ps: &[f64]) -> Result<(), InvalidProbability> {
    match ps
        .iter()
        .enumerate()
        .find(|(_, p)| !(0.0..=1.0).contains(*p))
    {
        Some((index, &value)) => Err(InvalidProbability { index, value }),
        None => Ok(()),
    }
}

/// `P(X = k)` for `k` in `0..=ps.len()`, where `X` counts successes of
/// independent trials with success probabilities `ps`. O(n²) time.
pub fn pmf(ps: &[f64]) -> Result<Vec<f64>, InvalidProbability> {
    check(ps)?;
    let mut dist = Vec::with_capacity(ps.len() + 1);
    dist.push(1.0);
    for &p in ps {
        let q = 1.0 - p;
        dist.push(0.0);
        // From the top down, so each entry still holds the previous
        // trial's value when it is read.
        for k in (0..dist.len()).rev() {
            let stay = dist[k] * q;
            let rise = if k > 0 { dist[k - 1] * p } else { 0.0 };
            dist[k] = stay + rise;
        }
    }
    Ok(dist)
}

/// `P(X >= k)`: the upper tail, summed from the top (exact to rounding
/// even around 1e-300). `k` above the number of trials gives 0.
pub fn upper_tail(ps: &[f64], k: usize) -> Result<f64, InvalidProbability> {
    let dist = pmf(ps)?;
    Ok(dist.iter().skip(k).rev().sum::<f64>().min(1.0))
}

/// The mean and variance of `X`: the normal approximation's moments, and
/// the standardized statistic `(x - mean) / sd` that ω reports beside its
/// exact p-value.
pub fn moments(ps: &[f64]) -> Result<(f64, f64), InvalidProbability> {
    check(ps)?;
    Ok(ps
        .iter()
        .fold((0.0, 0.0), |(m, v), &p| (m + p, v + p * (1.0 - p))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of probabilities in (0, 1).
    fn probabilities(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// Every outcome of the trials, added up.
    fn brute_force(ps: &[f64]) -> Vec<f64> {
        let n = ps.len();
        let mut dist = vec![0.0; n + 1];
        for outcome in 0u32..(1 << n) {
            let mut prob = 1.0;
            for (j, p) in ps.iter().enumerate() {
                prob *= if outcome & (1 << j) != 0 { *p } else { 1.0 - p };
            }
            dist[outcome.count_ones() as usize] += prob;
        }
        dist
    }

    #[test]
    fn matches_enumerating_every_outcome() {
        for n in 0..=12 {
            for seed in 0..5 {
                let ps = probabilities(n, seed * 31 + n as u64);
                let exact = pmf(&ps).unwrap();
                let brute = brute_force(&ps);
                assert_eq!(exact.len(), n + 1);
                for (k, (a, b)) in exact.iter().zip(&brute).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.max(1e-300),
                        "n {n} k {k}: {a} vs {b}"
                    );
                }
                for k in 0..=n + 1 {
                    let tail: f64 = brute.iter().skip(k).sum();
                    let got = upper_tail(&ps, k).unwrap();
                    assert!(
                        (got - tail).abs() <= 1e-12 * tail.max(1e-300),
                        "{got} {tail}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_far_tail_keeps_its_relative_precision() {
        // Sixty trials of 0.1: every one a success is 1e-60; the normal
        // approximation would say about 1e-119 (z = 23.2), off by 59
        // orders of magnitude.
        let ps = vec![0.1; 60];
        let all = upper_tail(&ps, 60).unwrap();
        assert!((all / 1e-60 - 1.0).abs() < 1e-12, "{all}");
        // Equal probabilities: the binomial, in closed form.
        let ps = vec![0.3; 40];
        let dist = pmf(&ps).unwrap();
        let mut log_choose = 0.0f64;
        for (k, got) in dist.iter().enumerate() {
            if k > 0 {
                log_choose += ((40 - k + 1) as f64).ln() - (k as f64).ln();
            }
            let want = (log_choose + k as f64 * 0.3f64.ln() + (40 - k) as f64 * 0.7f64.ln()).exp();
            assert!((got / want - 1.0).abs() < 1e-10, "k {k}: {got} vs {want}");
        }
        let total: f64 = dist.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn certain_and_impossible_trials() {
        let ps = [1.0, 0.0, 1.0, 0.5];
        assert_eq!(pmf(&ps).unwrap(), vec![0.0, 0.0, 0.5, 0.5, 0.0]);
        assert_eq!(upper_tail(&ps, 0).unwrap(), 1.0);
        assert_eq!(upper_tail(&ps, 4).unwrap(), 0.0);
        assert_eq!(upper_tail(&ps, 9).unwrap(), 0.0);
        assert_eq!(pmf(&[]).unwrap(), vec![1.0]);
        assert_eq!(moments(&[0.5, 0.25]).unwrap(), (0.75, 0.4375));
    }

    #[test]
    fn a_probability_out_of_range_is_named() {
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let err = pmf(&[0.2, bad]).unwrap_err();
            assert_eq!(err.index, 1);
            assert!(err.to_string().contains("probability 1"), "{err}");
        }
    }
}
