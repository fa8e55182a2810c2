//! The long pass of the null simulations (docs/forensics.md, "Calibration
//! to 1e-6"): nominal against empirical false-flag rates, honest
//! candidates drawn from the fitted models and from misspecified nulls.
//!
//! ```text
//! cargo run --release -p invigil-forensics --example null_sim -- [DRAWS] [INDEX...]
//! ```
//!
//! DRAWS per index and null (default 10^7); INDEX any of `lz_star`,
//! `person_fit_exact`, `rt_fit`, `fast_items`, `gbt` (default all). 60
//! items; the 2PL and response-time items are the reference sets of `sim`,
//! the nominal response model is fitted to 2,000 simulated candidates, the
//! fast-items thresholds to an exam of 2,000 drawn under the same null.

use invigil_forensics::nrm::{fit_nrm, ChoiceMatrix};
use invigil_forensics::null::{
    fast_rates, gbt_rates, lz_exact_rates, lz_star_rates, rt_rates, wilson_99, Null, Rates,
};
use invigil_forensics::rt::{fit_rt, log_times};
use invigil_forensics::sim::{exam, graded_2pl, graded_rt, Rng};

const LEVELS: [f64; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

fn main() {
    let mut args = std::env::args().skip(1);
    let draws: u64 = args
        .next()
        .map(|a| a.parse().expect("DRAWS: a whole number"))
        .unwrap_or(10_000_000);
    let only: Vec<String> = args.collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let items = graded_2pl(60);
    let rt_items = graded_rt(60);
    let mut rng = Rng::new(1);
    let rows = invigil_forensics::sim::lognormal_rows(&rt_items, 2000, 0.4, &mut rng);
    let ids = (0..60).map(|j| format!("q{j}")).collect();
    let cal = fit_rt(&log_times(ids, &rows), 500, 1e-6).expect("fits");

    println!(
        "| index | null | draws | {} |",
        LEVELS.map(|l| format!("below {l:e}")).join(" | ")
    );
    println!("|---|---|---|{}", "---|".repeat(LEVELS.len()));
    let started = std::time::Instant::now();
    let done = |what: &str| eprintln!("{what} done in {:.0?}", started.elapsed());
    if wanted("lz_star") {
        row(
            "lz*",
            "2PL model",
            &lz_star_rates(&items, draws, &LEVELS, 2),
        );
        done("lz*");
    }
    if wanted("person_fit_exact") {
        row(
            "person_fit_exact",
            "2PL model",
            &lz_exact_rates(&items, draws, &LEVELS, 12),
        );
        done("person_fit_exact");
    }
    let nulls = [
        ("lognormal model", Null::Model, 3),
        ("t(5) residuals", Null::HeavyTails(5), 4),
        ("t(10) residuals", Null::HeavyTails(10), 5),
        ("speed with ability 0.5", Null::SpeedWithAbility(0.5), 6),
        ("steadiness exp(0.25 Z)", Null::PersonSpread(0.25), 7),
        ("steadiness exp(0.5 Z)", Null::PersonSpread(0.5), 8),
    ];
    if wanted("rt_fit") {
        for (name, null, seed) in &nulls[..3] {
            row(
                "RT fit",
                name,
                &rt_rates(&cal, *null, draws, &LEVELS, *seed),
            );
            done(&format!("RT fit, {name}"));
        }
    }
    if wanted("fast_items") {
        for (name, null, seed) in &nulls {
            row(
                "fast_items",
                name,
                &fast_rates(&cal, *null, 2000, draws, &LEVELS, seed + 20),
            );
            done(&format!("fast_items, {name}"));
        }
    }
    if wanted("gbt") {
        let r = exam(2000, 60, &[], 9);
        let m = ChoiceMatrix::from_responses(&r).expect("options");
        let nrm = fit_nrm(&m, 500, 1e-4).expect("fits");
        row(
            "gbt (pairs)",
            "nominal response model",
            &gbt_rates(&nrm.items, draws, &LEVELS, 10),
        );
        done("gbt");
    }
}

fn row(index: &str, null: &str, r: &Rates) {
    let n = r.draws - r.undefined;
    let cells: Vec<String> = r
        .below
        .iter()
        .map(|(level, k)| {
            let (lo, hi) = wilson_99(*k, n);
            format!(
                "{k} ({:.2}x; {:.2}-{:.2})",
                *k as f64 / n as f64 / level,
                lo / level,
                hi / level
            )
        })
        .collect();
    println!("| {index} | {null} | {n} | {} |", cells.join(" | "));
}
