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
