//! A small seeded random source for simulations (null distributions,
//! parameter recovery, simulated cheaters): SplitMix64, uniform and normal
//! draws. Reproducible from the seed on every platform; not for secrets.

/// SplitMix64 (Steele, Lea & Flood 2014).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// A second normal draw kept from the last Box-Muller pair.
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        let r = (-2.0 * u.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * v).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    /// True with probability `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

/// A reference 2PL test for simulations: slopes 0.8 to 1.6 in a repeating
/// pattern, difficulties evenly from -2 to 2 in item order.
pub fn graded_2pl(n: usize) -> Vec<crate::irt::Item2pl> {
    (0..n)
        .map(|j| crate::irt::Item2pl {
            a: 0.8 + 0.8 * ((j * 7) % 5) as f64 / 4.0,
            b: -2.0 + 4.0 * j as f64 / (n.max(2) - 1) as f64,
        })
        .collect()
}

/// A reference response-time test for simulations: time intensities 3.0
/// to 3.9 (about 20 to 50 s) and precisions 1.5 to 2.3, in repeating
/// patterns.
pub fn graded_rt(n: usize) -> Vec<crate::rt::ItemRt> {
    (0..n)
        .map(|j| crate::rt::ItemRt {
            beta: 3.0 + (j % 7) as f64 * 0.15,
            alpha: 1.5 + (j % 5) as f64 * 0.2,
        })
        .collect()
}

/// Seconds of `persons` candidates on `items` under the lognormal model,
/// speeds normal with sd `speed_sd`: `rows[i][j]`, drawn from `rng`.
pub fn lognormal_rows(
    items: &[crate::rt::ItemRt],
    persons: usize,
    speed_sd: f64,
    rng: &mut Rng,
) -> Vec<Vec<Option<f64>>> {
    (0..persons)
        .map(|_| {
            let tau = speed_sd * rng.normal();
            items
                .iter()
                .map(|it| Some((it.beta - tau + rng.normal() / it.alpha).exp()))
                .collect()
        })
        .collect()
}

/// Candidates of `r` from the fewest full-credit answers to the most.
pub fn by_score(r: &crate::data::Responses) -> Vec<usize> {
    let mut right = vec![0usize; r.candidates.len()];
    for row in r.rows.iter().filter(|row| row.score == 1.0) {
        right[row.candidate] += 1;
    }
    let mut order: Vec<usize> = (0..r.candidates.len()).collect();
    order.sort_by_key(|&i| right[i]);
    order
}

/// How a simulated candidate cheats.
#[derive(Clone, Debug, PartialEq)]
pub enum Cheat {
    /// Copies this candidate's option on this share of the items (a
    /// random subset).
    Copier { source: usize, share: f64 },
    /// Knows the key of these items: right on them, in a quarter of the
    /// usual time.
    PreKnowledge { items: Vec<usize> },
    /// Rapid-guesses the last this many items: a random option in 2 to 5
    /// seconds.
    Speeder { items: usize },
}

/// A simulated exam delivery: `n` candidates on [`graded_2pl`] and
/// [`graded_rt`] items with four options `A`-`D` (the key `A`; a wrong
/// answer picks a distractor with probabilities 0.5, 0.3, 0.2), ability and
/// speed standard normal and normal with sd 0.4, correlated 0.3. The
/// candidates of `cheats` cheat; candidates are `c0000`..., items `q00`...
pub fn exam(
    n: usize,
    items: usize,
    cheats: &[(usize, Cheat)],
    seed: u64,
) -> crate::data::Responses {
    use crate::data::{Response, Responses};
    let mut rng = Rng::new(seed);
    let irt = graded_2pl(items);
    let rt = graded_rt(items);
    let mut choice = vec![vec![0u8; items]; n];
    let mut score = vec![vec![0.0; items]; n];
    let mut seconds = vec![vec![0.0; items]; n];
    let wrong = |rng: &mut Rng| -> u8 {
        let u = rng.uniform();
        if u < 0.5 {
            1
        } else if u < 0.8 {
            2
        } else {
            3
        }
    };
    for i in 0..n {
        let theta = rng.normal();
        let tau = 0.4 * (0.3 * theta + 0.953_939 * rng.normal());
        for j in 0..items {
            let right = rng.bernoulli(irt[j].p(theta));
            choice[i][j] = if right { 0 } else { wrong(&mut rng) };
            seconds[i][j] = (rt[j].beta - tau + rng.normal() / rt[j].alpha).exp();
        }
    }
    // Sources first, so a copier copies what the source finally answered.
    let mut ordered: Vec<&(usize, Cheat)> = cheats.iter().collect();
    ordered.sort_by_key(|(_, c)| matches!(c, Cheat::Copier { .. }));
    for (i, cheat) in ordered {
        match cheat {
            Cheat::Copier { source, share } => {
                let from = choice[*source].clone();
                for (mine, theirs) in choice[*i].iter_mut().zip(from) {
                    if rng.uniform() < *share {
                        *mine = theirs;
                    }
                }
            }
            Cheat::PreKnowledge { items: known } => {
                for &j in known {
                    choice[*i][j] = 0;
                    seconds[*i][j] *= 0.25;
                }
            }
            Cheat::Speeder { items: k } => {
                for j in items.saturating_sub(*k)..items {
                    choice[*i][j] = (rng.uniform() * 4.0).min(3.0) as u8;
                    seconds[*i][j] = 2.0 + 3.0 * rng.uniform();
                }
            }
        }
    }
    let mut rows = Vec::with_capacity(n * items);
    for i in 0..n {
        for j in 0..items {
            score[i][j] = if choice[i][j] == 0 { 1.0 } else { 0.0 };
            rows.push(Response {
                candidate: i,
                item: j,
                response: Some(["A", "B", "C", "D"][choice[i][j] as usize].to_string()),
                score: score[i][j],
                rt_s: Some((seconds[i][j] * 10.0).round() / 10.0),
                position: Some(j as u32 + 1),
                changes: None,
            });
        }
    }
    Responses {
        candidates: (0..n).map(|i| format!("c{i:04}")).collect(),
        items: (0..items).map(|j| format!("q{j:02}")).collect(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_right_moments() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut s, mut s2, mut u) = (0.0, 0.0, 0.0);
        for _ in 0..n {
            let z = rng.normal();
            s += z;
            s2 += z * z;
            u += rng.uniform();
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
        assert!((u / n as f64 - 0.5).abs() < 0.005);
        // The same seed, the same stream.
        assert_eq!(Rng::new(3).next_u64(), Rng::new(3).next_u64());
        assert_ne!(Rng::new(3).next_u64(), Rng::new(4).next_u64());
    }
}
