//! Item pre-knowledge with a list of compromised items (Sinharay 2017):
//! does the candidate do better on the items known to have leaked than
//! their ability on the other items predicts, or answer them faster?
//!
//! - **Ability**: the signed likelihood-ratio statistic comparing one
//!   ability for all items with one for the compromised items and another
//!   for the rest, `sign(θ_c - θ_n) sqrt(2 (ℓ_c + ℓ_n - ℓ))`, about
//!   standard normal under the null; the p-value is its upper tail (better
//!   on the leaked items). Abilities are bounded to ±5, so a perfect score
//!   on the leaked items (what pre-knowledge looks like) still gives a
//!   finite statistic.
//! - **Speed**: under the lognormal model the same comparison of the speed
//!   on the two sets is normal in closed form:
//!   `z = (τ_c - τ_n) / sqrt(1/Σ_c α² + 1/Σ_n α²)`, upper tail (faster on
//!   the leaked items).

use crate::irt::Item2pl;
use crate::personfit::normal_lower_tail;
use crate::rt::ItemRt;

/// One candidate's pre-knowledge statistic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreKnowledge {
    /// Ability (or speed) on the compromised items.
    pub on_compromised: f64,
    /// Ability (or speed) on the other items.
    pub on_others: f64,
    /// Standard normal under the null; large when the candidate does
    /// better (or is faster) on the compromised items.
    pub z: f64,
    /// Nominal upper-tail p-value.
    pub p: f64,
}

/// The largest log-likelihood of `scores` on `items` over θ in [-5, 5],
/// and where it is.
fn best(items: &[&Item2pl], scores: &[f64]) -> (f64, f64) {
    let ll = |t: f64| -> f64 {
        items
            .iter()
            .zip(scores)
            .map(|(it, x)| {
                let p = it.p(t).clamp(1e-300, 1.0 - 1e-16);
                x * p.ln() + (1.0 - x) * (1.0 - p).ln()
            })
            .sum()
    };
    // The log-likelihood is concave in θ: Newton from 0, clamped.
    let mut t = 0.0f64;
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (it, x) in items.iter().zip(scores) {
            let p = it.p(t);
            g += it.a * (x - p);
            h -= it.a * it.a * p * (1.0 - p);
        }
        if h.abs() < 1e-12 {
            break;
        }
        let next = (t - (g / h).clamp(-1.0, 1.0)).clamp(-5.0, 5.0);
        if (next - t).abs() < 1e-10 {
            t = next;
            break;
        }
        t = next;
    }
    (t, ll(t))
}

/// The ability test; `None` with fewer than 3 taken items on either side.
pub fn ability_test(
    items: &[Item2pl],
    scores: &[Option<f64>],
    compromised: &[bool],
) -> Option<PreKnowledge> {
    let split = |want: bool| -> (Vec<&Item2pl>, Vec<f64>) {
        items
            .iter()
            .zip(scores)
            .zip(compromised)
            .filter_map(|((it, s), c)| s.filter(|_| *c == want).map(|s| (it, s)))
            .unzip()
    };
    let (ic, xc) = split(true);
    let (io, xo) = split(false);
    if ic.len() < 3 || io.len() < 3 {
        return None;
    }
    let all_items: Vec<&Item2pl> = ic.iter().chain(&io).copied().collect();
    let all_scores: Vec<f64> = xc.iter().chain(&xo).copied().collect();
    let (tc, lc) = best(&ic, &xc);
    let (tn, ln) = best(&io, &xo);
    let (_, l) = best(&all_items, &all_scores);
    let lr = (2.0 * (lc + ln - l)).max(0.0);
    let z = (tc - tn).signum() * lr.sqrt();
    Some(PreKnowledge {
        on_compromised: tc,
        on_others: tn,
        z,
        p: normal_lower_tail(-z),
    })
}

/// The speed test on log seconds; `None` with fewer than 3 recorded times
/// on either side.
pub fn speed_test(
    items: &[ItemRt],
    log_times: &[Option<f64>],
    compromised: &[bool],
) -> Option<PreKnowledge> {
    // Speed by maximum likelihood on a set: Σ α² (β - log t) / Σ α².
    let side = |want: bool| {
        let (mut num, mut den, mut n) = (0.0, 0.0, 0);
        for ((it, lt), c) in items.iter().zip(log_times).zip(compromised) {
            if let (Some(lt), true) = (lt, *c == want) {
                let w = it.alpha * it.alpha;
                num += w * (it.beta - lt);
                den += w;
                n += 1;
            }
        }
        (n, if den > 0.0 { num / den } else { 0.0 }, den)
    };
    let (nc, tc, wc) = side(true);
    let (nn, tn, wn) = side(false);
    if nc < 3 || nn < 3 {
        return None;
    }
    let z = (tc - tn) / (1.0 / wc + 1.0 / wn).sqrt();
    Some(PreKnowledge {
        on_compromised: tc,
        on_others: tn,
        z,
        p: normal_lower_tail(-z),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    #[test]
    fn known_answers_to_leaked_items_stand_out() {
        // 60 items, 10 of them leaked (spread over difficulty).
        let items = crate::sim::graded_2pl(60);
        let leaked: Vec<bool> = (0..60).map(|j| j % 6 == 0).collect();
        let mut rng = Rng::new(81);
        let (mut honest_below, mut cheaters_below, n) = (0, 0, 4000);
        for _ in 0..n {
            let theta = rng.normal();
            let honest: Vec<Option<f64>> = items
                .iter()
                .map(|it| Some(f64::from(u8::from(rng.bernoulli(it.p(theta))))))
                .collect();
            if ability_test(&items, &honest, &leaked).unwrap().p < 0.01 {
                honest_below += 1;
            }
            // The same kind of candidate who knew the leaked answers.
            let cheat: Vec<Option<f64>> = items
                .iter()
                .zip(&leaked)
                .map(|(it, l)| {
                    Some(if *l {
                        1.0
                    } else {
                        f64::from(u8::from(rng.bernoulli(it.p(theta))))
                    })
                })
                .collect();
            if ability_test(&items, &cheat, &leaked).unwrap().p < 0.01 {
                cheaters_below += 1;
            }
        }
        let (h, c) = (
            honest_below as f64 / n as f64,
            cheaters_below as f64 / n as f64,
        );
        println!("pre-knowledge at 0.01: honest {h:.4}, knew 10 of 60: {c:.3}");
        assert!(h < 0.02, "{h}");
        assert!(c > 0.3, "{c}");
        assert!(ability_test(&items, &[Some(1.0); 60], &[false; 60]).is_none());
    }

    #[test]
    fn racing_through_leaked_items_stands_out() {
        let items = crate::sim::graded_rt(60);
        let leaked: Vec<bool> = (0..60).map(|j| j % 6 == 0).collect();
        let mut rng = Rng::new(82);
        let (mut honest, mut fast) = (0, 0);
        for _ in 0..2000 {
            let tau = 0.4 * rng.normal();
            let times: Vec<Option<f64>> = items
                .iter()
                .zip(&leaked)
                .map(|(it, l)| {
                    let lt = it.beta - tau + rng.normal() / it.alpha;
                    Some(if *l { lt - 1.0 } else { lt })
                })
                .collect();
            let plain: Vec<Option<f64>> = items
                .iter()
                .map(|it| Some(it.beta - tau + rng.normal() / it.alpha))
                .collect();
            if speed_test(&items, &plain, &leaked).unwrap().p < 0.01 {
                honest += 1;
            }
            // A third of the usual time on the leaked items (log -1.0).
            if speed_test(&items, &times, &leaked).unwrap().p < 1e-6 {
                fast += 1;
            }
        }
        println!("speed: honest {honest} of 2000 below 0.01; a third of the time on 10 leaked items: {fast} of 2000 below 1e-6");
        assert!((5..=40).contains(&honest), "{honest}");
        assert!(fast > 1400, "{fast}");
    }
}
