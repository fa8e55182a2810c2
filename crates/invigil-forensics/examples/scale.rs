//! How long one delivery's analysis takes (docs/forensics.md, "Speed"):
//! a simulated exam of N candidates and ITEMS items, analysed as
//! `invigil forensics analyze` does.
//!
//! ```text
//! cargo run --release -p invigil-forensics --example scale -- [N] [ITEMS]
//! ```

use std::time::Instant;

use invigil_forensics::analyze::{analyze, Options};
use invigil_forensics::sim::exam;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse().expect("N")).unwrap_or(5000);
    let items: usize = args.next().map(|a| a.parse().expect("ITEMS")).unwrap_or(60);
    let r = exam(n, items, &[], 5);
    let started = Instant::now();
    let report = analyze(&r, None, None, &Options::default()).expect("calibrates");
    println!(
        "{n} candidates x {items} items: {:.1?} ({} pairs, {} flags)",
        started.elapsed(),
        n * (n - 1) / 2,
        report.flags.len()
    );
}
