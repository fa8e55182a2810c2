//! Writes a simulated exam delivery as the files `invigil forensics
//! analyze` reads: the fixture `tests/fixtures/forensics/` is made by
//!
//! ```text
//! cargo run -p invigil-forensics --example simulate -- tests/fixtures/forensics
//! ```
//!
//! 200 candidates (`c0000`...) on 40 four-option items (`q00`..., key
//! `A`), from the reference item sets of `sim`; the weakest candidate knew
//! the 20 odd-numbered items (listed as compromised in items.csv), right
//! and fast on them; `c0020` copied 90 % of the answers of the second
//! weakest; `c0031` rapid-guessed the last 16 items. Seed 77. It prints
//! who is who.

use std::path::PathBuf;

use invigil_forensics::data::to_long_csv;
use invigil_forensics::sim::{exam, Cheat};

const N: usize = 200;
const ITEMS: usize = 40;
const SEED: u64 = 77;

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: simulate OUT_DIR"));
    std::fs::create_dir_all(&out).expect("creating OUT_DIR");
    let honest = exam(N, ITEMS, &[], SEED);
    // The two weakest candidates: one knew the leaked items, the other was
    // copied from (a strong candidate's right answers are what chance
    // predicts anyway, and so are a strong candidate's right answers on
    // leaked items).
    let by_score = invigil_forensics::sim::by_score(&honest);
    let (knew, weakest) = (by_score[0], by_score[1]);
    let known: Vec<usize> = (0..ITEMS).filter(|j| j % 2 == 1).collect();
    let r = exam(
        N,
        ITEMS,
        &[
            (
                knew,
                Cheat::PreKnowledge {
                    items: known.clone(),
                },
            ),
            (
                20,
                Cheat::Copier {
                    source: weakest,
                    share: 0.9,
                },
            ),
            (31, Cheat::Speeder { items: 16 }),
        ],
        SEED,
    );
    std::fs::write(out.join("responses.csv"), to_long_csv(&r)).expect("writing responses.csv");
    let items: String = std::iter::once("item_id,key,options,compromised\n".to_owned())
        .chain((0..ITEMS).map(|j| format!("q{j:02},A,4,{}\n", u8::from(known.contains(&j)))))
        .collect();
    std::fs::write(out.join("items.csv"), items).expect("writing items.csv");
    let candidates: String = std::iter::once("candidate_id,centre,attempt\n".to_owned())
        .chain((0..N).map(|i| format!("c{i:04},{},1\n", ["north", "south"][i % 2])))
        .collect();
    std::fs::write(out.join("candidates.csv"), candidates).expect("writing candidates.csv");
    println!(
        "c{knew:04} knew the odd items; c0020 copied from c{weakest:04}; c0031 rapid-guessed 16"
    );
}
