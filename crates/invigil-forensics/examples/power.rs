//! Power of the analysis (docs/forensics.md, "Power"): simulated exams
//! with cheaters of one kind, analysed as `invigil forensics analyze`
//! would, counting how many cheaters are flagged for review, meet the
//! statistical part of the invalidation conditions (a calibrated index
//! within its share of the 1e-6 budget), and meet the whole conditions
//! (with a second, independent piece of evidence from the data alone; the
//! server can add a proctoring violation). Honest candidates' flags are
//! counted too.
//!
//! ```text
//! cargo run --release -p invigil-forensics --example power -- [EXAMS] [CANDIDATES]
//! ```
//!
//! EXAMS per scenario (default 10), CANDIDATES per exam (default 500), 60
//! items, 10 cheaters per exam.

use std::collections::HashSet;

use invigil_forensics::analyze::{analyze, Options};
use invigil_forensics::data::Item;
use invigil_forensics::sim::{exam, Cheat, Rng};

const ITEMS: usize = 60;

/// A name, how a cheater of it is drawn (rng, cheater, exam size), and
/// whether the analysis gets the list of compromised items.
type Scenario = (&'static str, fn(&mut Rng, usize, usize) -> Cheat, bool);
const CHEATERS: usize = 10;

fn main() {
    let mut args = std::env::args().skip(1);
    let exams: u64 = args.next().map(|a| a.parse().expect("EXAMS")).unwrap_or(10);
    let n: usize = args
        .next()
        .map(|a| a.parse().expect("CANDIDATES"))
        .unwrap_or(500);
    println!("| scenario | cheaters | review | statistical (1e-6 share) | invalidation | honest flagged | honest invalidated |");
    println!("|---|---|---|---|---|---|---|");
    let scenarios: [Scenario; 8] = [
        (
            "copies 10 % from a neighbour",
            |r, i, n| copier(r, i, n, 0.1),
            false,
        ),
        (
            "copies 20 % from a neighbour",
            |r, i, n| copier(r, i, n, 0.2),
            false,
        ),
        (
            "copies 40 % from a neighbour",
            |r, i, n| copier(r, i, n, 0.4),
            false,
        ),
        (
            "knows 10 of 60 items, list given",
            |r, _, _| known(r, 10),
            true,
        ),
        (
            "knows 10 of 60 items, no list",
            |r, _, _| known(r, 10),
            false,
        ),
        (
            "knows 20 of 60 items, list given",
            |r, _, _| known(r, 20),
            true,
        ),
        (
            "rapid-guesses the last 10 items",
            |_, _, _| Cheat::Speeder { items: 10 },
            false,
        ),
        (
            "rapid-guesses the last 20 items",
            |_, _, _| Cheat::Speeder { items: 20 },
            false,
        ),
    ];
    let started = std::time::Instant::now();
    for (s, (name, make, list)) in scenarios.iter().enumerate() {
        let mut rng = Rng::new(100 + s as u64);
        let (mut total, mut review, mut statistical, mut invalid) = (0, 0, 0, 0);
        let (mut honest, mut honest_flagged, mut honest_invalid) = (0, 0, 0);
        // Every exam leaks the same items (the first of a shuffled list).
        for e in 0..exams {
            let cheaters: Vec<usize> = (0..CHEATERS).map(|k| k * (n / CHEATERS)).collect();
            let cheats: Vec<(usize, Cheat)> = cheaters
                .iter()
                .map(|&i| (i, make(&mut rng, i, n)))
                .collect();
            let leaked: HashSet<usize> = cheats
                .iter()
                .flat_map(|(_, c)| match c {
                    Cheat::PreKnowledge { items } => items.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let r = exam(n, ITEMS, &cheats, 1000 * s as u64 + e);
            let items: Vec<Item> = (0..ITEMS)
                .map(|j| Item {
                    item_id: r.items[j].clone(),
                    key: Some("A".into()),
                    options: Some(4),
                    compromised: leaked.contains(&j),
                })
                .collect();
            let report = analyze(&r, list.then_some(&items[..]), None, &Options::default())
                .expect("the simulated exam calibrates");
            let id = |i: usize| r.candidates[i].clone();
            let cheater_ids: HashSet<String> = cheaters.iter().map(|&i| id(i)).collect();
            for c in &cheater_ids {
                let mine: Vec<_> = report
                    .flags
                    .iter()
                    .filter(|f| f.candidates.contains(c))
                    .collect();
                total += 1;
                review += usize::from(!mine.is_empty());
                statistical += usize::from(
                    mine.iter()
                        .any(|f| f.invalidation_level.is_some_and(|level| f.p <= level)),
                );
                invalid += usize::from(mine.iter().any(|f| f.invalidation));
            }
            for c in &r.candidates {
                if cheater_ids.contains(c) {
                    continue;
                }
                // A copier's source is honest, but flagged with the copier.
                let mine: Vec<_> = report
                    .flags
                    .iter()
                    .filter(|f| {
                        f.candidates.contains(c)
                            && f.candidates.iter().all(|x| !cheater_ids.contains(x))
                    })
                    .collect();
                honest += 1;
                honest_flagged += usize::from(!mine.is_empty());
                honest_invalid += usize::from(mine.iter().any(|f| f.invalidation));
            }
        }
        let pct = |k: usize, of: usize| format!("{k} ({:.0} %)", 100.0 * k as f64 / of as f64);
        println!(
            "| {name} | {total} | {} | {} | {} | {} of {honest} | {honest_invalid} |",
            pct(review, total),
            pct(statistical, total),
            pct(invalid, total),
            honest_flagged,
        );
        eprintln!("{name} done in {:.0?}", started.elapsed());
    }
}

/// Copies from a random other candidate.
fn copier(rng: &mut Rng, i: usize, n: usize, share: f64) -> Cheat {
    let mut source = (rng.uniform() * n as f64) as usize % n;
    if source == i {
        source = (i + 1) % n;
    }
    Cheat::Copier { source, share }
}

/// Knows `k` items: the same leaked set for everyone in an exam would be
/// more realistic; a fixed set (every sixth item from the first) is.
fn known(_rng: &mut Rng, k: usize) -> Cheat {
    Cheat::PreKnowledge {
        items: (0..k).map(|j| (j * ITEMS / k + 1) % ITEMS).collect(),
    }
}
