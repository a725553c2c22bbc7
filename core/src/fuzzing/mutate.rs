//! A seeded input generator, for the runners that have no coverage feedback (the
//! stable fuzz loop and the smoke test): one of the seeds, or random bytes, changed
//! by a few mutations aware of the formats the targets read. Besides byte-level
//! changes it swaps numbers for boundary values (where overflows hide), inserts
//! the tokens of JSON, YAML and SSE, and splices in ranges and whole lines of
//! other seeds. The same seed gives the same inputs.

/// Inputs are cut to this size: what the parsers see from clients is larger, but
/// no bug here needs more bytes to show, and small inputs run faster.
pub const MAX_INPUT: usize = 64 << 10;

/// Tokens of the formats the targets read, inserted whole.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"false",
    b"\"\"",
    b"{}",
    b"[]",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\\n",
    b"\xc3",
    b"\xe2\x80",
    b"\xff",
    b"\0",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"data: ",
    b"data:",
    b"event: ",
    b"id: 1",
    b"retry: 5",
    b": ping",
    b"[DONE]",
    b"data: [DONE]\n\n",
    b"- ",
    b": ",
    b"  ",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"~",
    b"|\n",
    b">-\n",
    b"? ",
    b"---\n",
    b"%YAML 1.2\n",
    b"os.environ/KEY",
    b"model",
    b"messages",
    b"role",
    b"content",
    b"usage",
    b"total_tokens",
    b"error",
    b"message",
    b"code",
    b"stream",
    b"cache",
    b"group",
    b"reports",
    b"leases",
    b"minute",
    b"requests",
    b"tokens",
    b"lease",
    b"served",
    b"estimated_tokens",
    b"queue",
    b"priority",
];

/// Numbers at the edges of the integer types, floats out of range, and minute edges.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b"2",
    b"16",
    b"255",
    b"256",
    b"65535",
    b"65536",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"1e308",
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"0.5",
    b"1.5",
    b"-0",
    b"-0.0",
    b"1e18",
    b"1e19",
    b".nan",
    b".inf",
    b"-.inf",
    b"59999",
    b"60000",
    b"60001",
];

/// Draws inputs from a pool of seeds.
#[derive(Debug)]
pub struct Mutator {
    rng: fastrand::Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Self { rng: fastrand::Rng::with_seed(seed) }
    }

    /// The next input: a seed of `pool` changed by one to eight mutations, or now
    /// and then random bytes.
    pub fn input(&mut self, pool: &[Vec<u8>]) -> Vec<u8> {
        if pool.is_empty() || self.rng.u8(..32) == 0 {
            let len = self.rng.usize(..256);
            return std::iter::repeat_with(|| self.rng.u8(..)).take(len).collect();
        }
        let mut data = pool[self.rng.usize(..pool.len())].clone();
        // Mostly few changes, which keep the input close to valid and so deep in the parser.
        let rounds = 1 + self.rng.usize(..8).min(self.rng.usize(..8));
        for _ in 0..rounds {
            self.mutate(&mut data, pool);
        }
        data.truncate(MAX_INPUT);
        data
    }

    fn mutate(&mut self, data: &mut Vec<u8>, pool: &[Vec<u8>]) {
        let at = self.rng.usize(..=data.len());
        match self.rng.u8(..11) {
            0 if !data.is_empty() => {
                let i = self.rng.usize(..data.len());
                data[i] ^= 1 << self.rng.u8(..8);
            }
            1 if !data.is_empty() => {
                let i = self.rng.usize(..data.len());
                data[i] = *self.pick(b"\0\xff\"\\\n\r:{}[],0-.e\x80\xc3 ").unwrap_or(&0);
            }
            2 => {
                let token = self.pick(TOKENS).copied().unwrap_or_default();
                data.splice(at..at, token.iter().copied());
            }
            3 => self.swap_number(data),
            4 if !data.is_empty() => {
                let len = self.rng.usize(1..=(data.len() - at).clamp(1, 64));
                data.drain(at..(at + len).min(data.len()));
            }
            5 if at < data.len() => {
                // A range repeated: long strings, deep nesting, many entries.
                let len = self.rng.usize(1..=(data.len() - at).min(64));
                let piece = data[at..at + len].to_vec();
                let times = 1 + self.rng.usize(..16);
                let to = self.rng.usize(..=data.len());
                data.splice(to..to, piece.iter().copied().cycle().take(len * times));
            }
            6 => {
                let Some(other) = self.pick(pool) else { return };
                if other.is_empty() {
                    return;
                }
                let from = self.rng.usize(..other.len());
                let len = self.rng.usize(1..=(other.len() - from).min(256));
                data.splice(at..at, other[from..from + len].iter().copied());
            }
            7 => {
                // A whole line of another seed, at a line start: a message, a YAML entry, an SSE field.
                let Some(other) = self.pick(pool) else { return };
                let lines: Vec<&[u8]> = other.split_inclusive(|&b| b == b'\n').collect();
                let Some(line) = self.pick(&lines).copied() else { return };
                let starts: Vec<usize> = std::iter::once(0)
                    .chain(data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                    .collect();
                let to = self.pick(&starts).copied().unwrap_or(0);
                data.splice(to..to, line.iter().copied());
            }
            8 => data.truncate(at),
            9 => {
                let len = 1 + self.rng.usize(..8);
                let bytes: Vec<u8> = std::iter::repeat_with(|| self.rng.u8(..)).take(len).collect();
                data.splice(at..at, bytes);
            }
            _ => {
                // Two ranges exchanged: keys and values moved about.
                if data.len() < 4 {
                    return;
                }
                let len = self.rng.usize(1..=(data.len() / 2).min(32));
                let a = self.rng.usize(..=data.len() - 2 * len);
                let b = self.rng.usize(a + len..=data.len() - len);
                let (left, right) = data.split_at_mut(b);
                left[a..a + len].swap_with_slice(&mut right[..len]);
            }
        }
    }

    /// Replaces a run of digits by a boundary number, or inserts one where there is none.
    fn swap_number(&mut self, data: &mut Vec<u8>) {
        let number = self.pick(NUMBERS).copied().unwrap_or(b"0");
        let starts: Vec<usize> = (0..data.len())
            .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
            .collect();
        match self.pick(&starts).copied() {
            Some(start) => {
                let end = data[start..].iter().position(|b| !b.is_ascii_digit()).map_or(data.len(), |n| start + n);
                data.splice(start..end, number.iter().copied());
            }
            None => {
                let at = self.rng.usize(..=data.len());
                data.splice(at..at, number.iter().copied());
            }
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.rng.usize(..items.len())])
    }
}
