//! Mutations of an input: bit flips, interesting values, insertions,
//! deletions, copies, splices with another input, numbers in text, and
//! tokens of the target's format.

/// A small, fast, seedable generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const INTERESTING_BYTES: [u8; 9] = [0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'\n', b' '];
const INTERESTING_INTS: [u64; 12] = [
    0,
    1,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    (1 << 53) + 1,
    i64::MAX as u64,
    u64::MAX,
];
const INTERESTING_NUMBERS: [&str; 16] = [
    "0",
    "-1",
    "1",
    "241",
    "65535",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "-1e308",
    "NaN",
    "0.0000001",
    "1.5",
];

/// Mutates `input` in place, 1 to 4 stacked changes; `others` are the
/// corpus for splicing, `tokens` the target's format words.
pub fn mutate(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    others: &[Vec<u8>],
    tokens: &[&[u8]],
    max_len: usize,
) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(11) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 if input.len() >= 8 => {
                let v = INTERESTING_INTS[rng.below(INTERESTING_INTS.len())];
                let width = [2usize, 4, 8][rng.below(3)];
                let i = rng.below(input.len() - width + 1);
                let bytes = if rng.chance(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let bytes = if rng.chance(2) {
                    &bytes[..width]
                } else {
                    &bytes[8 - width..]
                };
                input[i..i + width].copy_from_slice(bytes);
            }
            3 => {
                let i = rng.below(input.len() + 1);
                let n = 1 + rng.below(16);
                let fresh: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                input.splice(i..i, fresh);
            }
            4 if !input.is_empty() => {
                let i = rng.below(input.len());
                let n = 1 + rng.below((input.len() - i).min(64));
                input.drain(i..i + n);
            }
            5 if !input.is_empty() => {
                let i = rng.below(input.len());
                let n = 1 + rng.below((input.len() - i).min(256));
                let chunk = input[i..i + n].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            6 if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                if !other.is_empty() {
                    let cut = rng.below(input.len() + 1);
                    let from = rng.below(other.len());
                    input.truncate(cut);
                    input.extend_from_slice(&other[from..]);
                }
            }
            7 => replace_number(rng, input),
            8 if !tokens.is_empty() => {
                let token = tokens[rng.below(tokens.len())];
                let at = rng.below(input.len() + 1);
                if rng.chance(2) && at + token.len() <= input.len() {
                    input[at..at + token.len()].copy_from_slice(token);
                } else {
                    input.splice(at..at, token.iter().copied());
                }
            }
            9 if !input.is_empty() => {
                let keep = rng.below(input.len());
                input.truncate(keep);
            }
            _ => {
                // Repeat a byte run (long fields, deep nesting).
                if !input.is_empty() {
                    let i = rng.below(input.len());
                    let b = input[i];
                    let n = 1 + rng.below(512);
                    input.splice(i..i, std::iter::repeat_n(b, n));
                }
            }
        }
    }
    input.truncate(max_len);
}

/// Replaces a run of ASCII digits with an interesting number.
fn replace_number(rng: &mut Rng, input: &mut Vec<u8>) {
    let digits: Vec<usize> = input
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    if digits.is_empty() {
        return;
    }
    let mut start = digits[rng.below(digits.len())];
    while start > 0 && input[start - 1].is_ascii_digit() {
        start -= 1;
    }
    let mut end = start;
    while end < input.len() && (input[end].is_ascii_digit() || input[end] == b'.') {
        end += 1;
    }
    let number = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
    input.splice(start..end, number.bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_respect_the_length_cap() {
        let mut rng = Rng::new(7);
        let seed = b"YUV4MPEG2 W2 H2 F10:1\nFRAME\n123456".to_vec();
        let mut changed = 0;
        for _ in 0..1000 {
            let mut m = seed.clone();
            mutate(
                &mut rng,
                &mut m,
                std::slice::from_ref(&seed),
                &[b"FRAME\n"],
                64,
            );
            assert!(m.len() <= 64);
            changed += usize::from(m != seed);
        }
        assert!(changed > 900, "{changed}");
        let mut text = b"fps = 10".to_vec();
        replace_number(&mut rng, &mut text);
        assert!(
            text.starts_with(b"fps = ") && text != b"fps = 10",
            "{}",
            String::from_utf8_lossy(&text)
        );
    }
}
