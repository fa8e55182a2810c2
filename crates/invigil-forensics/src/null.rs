//! Null simulations: how often an honest candidate's nominal p-value falls
//! below a level, by drawing honest candidates from a fitted model (the
//! null the index assumes) or from a misspecified one (what real data look
//! like: heavier-tailed response times, speed that depends on ability).
//! The 1e-6 invalidation conditions are only as good as these rates
//! (docs/forensics.md, "Calibration to 1e-6"). Unit tests run a short pass
//! at 1e-3; `examples/null_sim.rs` runs 10^7 draws per index.

use crate::conditional::Conditional;
use crate::fast::{FastNull, QUANTILES};
use crate::irt::Item2pl;
use crate::personfit::lz_star;
use crate::rt::{rt_fit, ItemRt, RtCalibration};
use crate::sim::Rng;

/// How honest candidates are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Null {
    /// From the model the index assumes.
    Model,
    /// Log-time residuals from a t distribution with this many degrees of
    /// freedom (scaled to the model's variance): heavier tails.
    HeavyTails(u32),
    /// Speed correlated with ability (`ρ`): the fitted model's items, but
    /// abilities and speeds drawn together.
    SpeedWithAbility(f64),
    /// Candidates unequally steady: each one's log-time residuals scaled by
    /// `exp(σ Z)`, `Z` standard normal, with this `σ`.
    PersonSpread(f64),
}

/// Counts of draws whose p-value fell below each level.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    pub draws: u64,
    /// `(level, count)` pairs, as asked.
    pub below: Vec<(f64, u64)>,
    /// Draws with no statistic (a perfect score, too few items).
    pub undefined: u64,
}

impl Rates {
    fn new(levels: &[f64]) -> Self {
        Self {
            draws: 0,
            below: levels.iter().map(|l| (*l, 0)).collect(),
            undefined: 0,
        }
    }

    fn add(&mut self, p: Option<f64>) {
        self.draws += 1;
        match p {
            Some(p) => {
                for (level, n) in &mut self.below {
                    if p < *level {
                        *n += 1;
                    }
                }
            }
            None => self.undefined += 1,
        }
    }
}

/// lz* of honest candidates (abilities standard normal) on `items`.
pub fn lz_star_rates(items: &[Item2pl], draws: u64, levels: &[f64], seed: u64) -> Rates {
    let mut rng = Rng::new(seed);
    let mut rates = Rates::new(levels);
    let mut scores = vec![None; items.len()];
    for _ in 0..draws {
        let theta = rng.normal();
        for (s, it) in scores.iter_mut().zip(items) {
            *s = Some(f64::from(u8::from(rng.bernoulli(it.p(theta)))));
        }
        rates.add(lz_star(items, &scores).map(|f| f.p));
    }
    rates
}

/// The exact conditional person fit ([`crate::conditional`]) of honest
/// candidates, abilities standard normal.
pub fn lz_exact_rates(items: &[Item2pl], draws: u64, levels: &[f64], seed: u64) -> Rates {
    let mut rng = Rng::new(seed);
    let mut rates = Rates::new(levels);
    let mut test = Conditional::person_fit(items);
    let mut scores = vec![None; items.len()];
    for _ in 0..draws {
        let theta = rng.normal();
        for (s, it) in scores.iter_mut().zip(items) {
            *s = Some(f64::from(u8::from(rng.bernoulli(it.p(theta)))));
        }
        rates.add(test.test(&scores).map(|e| e.p));
    }
    rates
}

/// GBT between pairs of honest candidates working independently, each
/// drawn from the nominal response model `items` (abilities standard
/// normal, then estimated as the analysis does).
pub fn gbt_rates(items: &[crate::nrm::ItemNrm], draws: u64, levels: &[f64], seed: u64) -> Rates {
    let mut rng = Rng::new(seed);
    let mut rates = Rates::new(levels);
    let mut probs = Vec::new();
    let mut draw = |rng: &mut Rng| -> Vec<Option<u8>> {
        let theta = rng.normal();
        items
            .iter()
            .map(|it| {
                it.probabilities_into(theta, &mut probs);
                let u = rng.uniform();
                let mut acc = 0.0;
                let mut k = probs.len() - 1;
                for (o, p) in probs.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        k = o;
                        break;
                    }
                }
                Some(k as u8)
            })
            .collect()
    };
    let mut ps = Vec::with_capacity(items.len());
    for _ in 0..draws {
        let (a, b) = (draw(&mut rng), draw(&mut rng));
        let (ta, tb) = (
            crate::nrm::ability_eap(items, &a),
            crate::nrm::ability_eap(items, &b),
        );
        ps.clear();
        let mut matches = 0;
        for ((it, xa), xb) in items.iter().zip(&a).zip(&b) {
            let (pa, pb) = (it.probabilities(ta), it.probabilities(tb));
            let p: f64 = pa
                .iter()
                .zip(&pb)
                .map(|(x, y)| x * y)
                .sum::<f64>()
                .clamp(0.0, 1.0);
            ps.push(p);
            matches += usize::from(xa == xb);
        }
        // As the scan: pairs the screen passes over have p >= 1/2.
        if crate::similarity::surely_above_half(&ps, matches) {
            rates.add(Some(1.0));
        } else {
            rates.add(Some(
                crate::tail::upper_tail(&ps, matches).expect("clamped"),
            ));
        }
    }
    rates
}

/// One honest candidate's log times under `null`.
fn draw_times(cal: &RtCalibration, null: Null, rng: &mut Rng, times: &mut [Option<f64>]) {
    let sd = cal.speed_var.sqrt();
    let tau = match null {
        Null::SpeedWithAbility(rho) => {
            // Speed from ability and noise; the times only see speed,
            // so this is the model again unless ability also moves the
            // times, which it does through the items below.
            let theta = rng.normal();
            sd * (rho * theta + (1.0 - rho * rho).sqrt() * rng.normal())
        }
        _ => sd * rng.normal(),
    };
    let spread = match null {
        Null::PersonSpread(sigma) => (sigma * rng.normal()).exp(),
        _ => 1.0,
    };
    for (t, it) in times.iter_mut().zip(&cal.items) {
        *t = Some(draw_log_time(it, tau, spread, null, rng));
    }
}

/// The fast-items count ([`crate::fast`]) of honest candidates drawn under
/// `null`, its thresholds taken, as an exam's would be, from an exam of
/// `exam` candidates drawn under the same null.
pub fn fast_rates(
    cal: &RtCalibration,
    null: Null,
    exam: usize,
    draws: u64,
    levels: &[f64],
    seed: u64,
) -> Rates {
    let mut rng = Rng::new(seed);
    let mut times = vec![None; cal.items.len()];
    let rows: Vec<Vec<Option<f64>>> = (0..exam)
        .map(|_| {
            draw_times(cal, null, &mut rng, &mut times);
            times.clone()
        })
        .collect();
    let ids = (0..cal.items.len()).map(|j| format!("q{j}")).collect();
    let m = crate::matrix::Matrix::new(ids, &rows);
    let fast = FastNull::fit(cal, &m, &QUANTILES).expect("an exam of at least 50");
    let mut rates = Rates::new(levels);
    for _ in 0..draws {
        draw_times(cal, null, &mut rng, &mut times);
        rates.add(fast.test(&times).map(|f| f.p));
    }
    rates
}

/// The response-time person fit of honest candidates drawn under `null`.
pub fn rt_rates(cal: &RtCalibration, null: Null, draws: u64, levels: &[f64], seed: u64) -> Rates {
    let mut rng = Rng::new(seed);
    let mut rates = Rates::new(levels);
    let mut times = vec![None; cal.items.len()];
    for _ in 0..draws {
        draw_times(cal, null, &mut rng, &mut times);
        rates.add(rt_fit(cal, &times).map(|f| f.p));
    }
    rates
}

fn draw_log_time(it: &ItemRt, tau: f64, spread: f64, null: Null, rng: &mut Rng) -> f64 {
    let e = match null {
        Null::HeavyTails(df) => {
            // Student t, scaled to unit variance.
            let df = f64::from(df.max(3));
            let chi2: f64 = (0..df as u32).map(|_| rng.normal().powi(2)).sum();
            rng.normal() / (chi2 / df).sqrt() / (df / (df - 2.0)).sqrt()
        }
        _ => rng.normal(),
    };
    it.beta - tau + spread * e / it.alpha
}

/// The two-sided 99 % interval of a binomial rate (Wilson), to judge an
/// empirical rate against its nominal level.
pub fn wilson_99(hits: u64, n: u64) -> (f64, f64) {
    let z = 2.575_829_303_548_901;
    let (h, n) = (hits as f64, n as f64);
    let p = h / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (centre - half, centre + half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{fit_rt, log_times};

    /// The short pass CI runs: at 1e-3, 2·10^5 honest candidates. A
    /// measured property, not a wish: lz*'s nominal (normal) p-values are
    /// liberal in the far tail (the log-likelihood is skewed), about 2.8
    /// times the level at 1e-3 on 60 items, so the 1e-6 conditions cannot
    /// rest on them (docs/forensics.md).
    #[test]
    fn lz_star_nominal_p_values_are_liberal_in_the_tail() {
        let rates = lz_star_rates(&crate::sim::graded_2pl(60), 200_000, &[1e-2, 1e-3], 61);
        let defined = rates.draws - rates.undefined;
        for (level, n) in &rates.below {
            let (lo, hi) = wilson_99(*n, defined);
            println!("lz*: {n} of {defined} below {level} (99 % interval {lo:.2e} to {hi:.2e})");
        }
        let (_, n) = rates.below[1];
        let (lo, hi) = wilson_99(n, defined);
        assert!(lo > 1e-3 && hi < 5e-3, "{n} of {defined}");
    }

    #[test]
    fn rt_fit_is_nominal_under_the_model_and_not_under_heavy_tails() {
        let items = crate::sim::graded_rt(40);
        // Fit the model to data drawn from it, as the analysis would.
        let mut rng = Rng::new(71);
        let rows = crate::sim::lognormal_rows(&items, 1500, 0.4, &mut rng);
        let ids = (0..items.len()).map(|j| format!("q{j}")).collect();
        let cal = fit_rt(&log_times(ids, &rows), 500, 1e-6).unwrap();
        let model = rt_rates(&cal, Null::Model, 100_000, &[1e-3], 72);
        let (_, n) = model.below[0];
        let (lo, hi) = wilson_99(n, model.draws);
        println!(
            "RT fit, model: {n} of {} below 1e-3 ({lo:.2e} to {hi:.2e})",
            model.draws
        );
        assert!(lo <= 1e-3 && 1e-3 <= hi * 1.5, "{n}");
        // t with 5 degrees of freedom: many more than nominal.
        let heavy = rt_rates(&cal, Null::HeavyTails(5), 100_000, &[1e-3], 73);
        let (_, h) = heavy.below[0];
        println!("RT fit, t(5) residuals: {h} of {} below 1e-3", heavy.draws);
        assert!(h > 5 * n.max(20), "{h} vs {n}");
    }

    /// The indices the 1e-6 conditions rest on hold their level: the
    /// exact conditional person fit (discrete, so at most the level), and
    /// the fast-items count under the model and under t(5) residuals
    /// (empirical thresholds). Unequally steady candidates make the count
    /// liberal; how much is printed here and measured in the bench.
    #[test]
    fn the_calibrated_indices_hold_their_level() {
        let check = |name: &str, r: &Rates| {
            let defined = r.draws - r.undefined;
            let (_, n) = r.below[0];
            let (lo, hi) = wilson_99(n, defined);
            println!("{name}: {n} of {defined} below 1e-3 ({lo:.2e} to {hi:.2e})");
            (lo, hi)
        };
        let (lo, hi) = check(
            "lz exact",
            &lz_exact_rates(&crate::sim::graded_2pl(60), 200_000, &[1e-3], 81),
        );
        assert!(lo <= 1e-3 && hi >= 0.3e-3, "{lo} {hi}");

        let items = crate::sim::graded_rt(60);
        let mut rng = Rng::new(82);
        let rows = crate::sim::lognormal_rows(&items, 1500, 0.4, &mut rng);
        let ids = (0..items.len()).map(|j| format!("q{j}")).collect();
        let cal = fit_rt(&log_times(ids, &rows), 500, 1e-6).unwrap();
        for (name, null, seed) in [
            ("fast items, model", Null::Model, 83),
            ("fast items, t(5)", Null::HeavyTails(5), 84),
        ] {
            let (lo, _) = check(name, &fast_rates(&cal, null, 2000, 200_000, &[1e-3], seed));
            assert!(lo <= 1e-3, "{name}: {lo}");
        }
        // GBT between honest pairs, the nominal response model fitted to a
        // simulated exam as the analysis fits it.
        let r = crate::sim::exam(1000, 40, &[], 86);
        let m = crate::nrm::ChoiceMatrix::from_responses(&r).unwrap();
        let nrm = crate::nrm::fit_nrm(&m, 500, 1e-4).unwrap();
        let (lo, _) = check("gbt pairs", &gbt_rates(&nrm.items, 50_000, &[1e-3], 87));
        assert!(lo <= 1e-3, "gbt: {lo}");
        check(
            "fast items, spread sd 0.25",
            &fast_rates(&cal, Null::PersonSpread(0.25), 2000, 100_000, &[1e-3], 85),
        );
    }
}
