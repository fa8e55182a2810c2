//! The long pass of the null simulations (docs/forensics.md, "Calibration
//! to 1e-6"): nominal against empirical false-flag rates of the person-fit
//! indices, honest candidates drawn from the model and from misspecified
//! nulls.
//!
//! ```text
//! cargo run --release -p invigil-forensics --example null_sim -- [DRAWS]
//! ```
//!
//! DRAWS per index and null (default 10^7). 60 items; 2PL slopes 0.8-1.6,
//! difficulties -2 to 2; response-time items fitted to 2000 simulated
//! candidates of the lognormal model.

use invigil_forensics::null::{lz_star_rates, rt_rates, wilson_99, Null, Rates};
use invigil_forensics::rt::{fit_rt, log_times};
use invigil_forensics::sim::{graded_2pl, graded_rt, Rng};

const LEVELS: [f64; 5] = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];

fn main() {
    let draws: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("DRAWS: a whole number"))
        .unwrap_or(10_000_000);
    let items = graded_2pl(60);
    let rt_items = graded_rt(60);
    let mut rng = Rng::new(1);
    let rows: Vec<Vec<Option<f64>>> = (0..2000)
        .map(|_| {
            let tau = 0.4 * rng.normal();
            rt_items
                .iter()
                .map(|it| Some((it.beta - tau + rng.normal() / it.alpha).exp()))
                .collect()
        })
        .collect();
    let ids = (0..60).map(|j| format!("q{j}")).collect();
    let cal = fit_rt(&log_times(ids, &rows), 500, 1e-6).expect("fits");

    println!(
        "| index | null | draws | {} |",
        LEVELS.map(|l| format!("below {l:e}")).join(" | ")
    );
    println!("|---|---|---|{}", "---|".repeat(LEVELS.len()));
    let started = std::time::Instant::now();
    row(
        "lz*",
        "2PL model",
        &lz_star_rates(&items, draws, &LEVELS, 2),
    );
    eprintln!("lz* done in {:.0?}", started.elapsed());
    for (name, null, seed) in [
        ("lognormal model", Null::Model, 3),
        ("t(5) residuals", Null::HeavyTails(5), 4),
        ("t(10) residuals", Null::HeavyTails(10), 5),
    ] {
        row("RT fit", name, &rt_rates(&cal, null, draws, &LEVELS, seed));
        eprintln!("RT fit, {name} done in {:.0?}", started.elapsed());
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
