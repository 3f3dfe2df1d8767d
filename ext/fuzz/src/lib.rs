//! Fuzz targets for emws-core, shared by the libFuzzer binaries in
//! `fuzz_targets/` (`cargo fuzz`) and by the stable-toolchain driver
//! `fuzz-stable`, so that both engines test exactly the same properties.
//!
//! Every target reads its input as [`Input`]: two knob bytes (which draft,
//! which limits, how to split the stream) and then the bytes a client sends.
//! Each asserts, beyond "no panic":
//!
//! * bounded buffering: what the core keeps between reads never exceeds the
//!   limit that applies (the request head bound, `max_frame_size`, the
//!   inflated message bound);
//! * splitting the byte stream anywhere changes nothing: the same events,
//!   the same replies, the same error;
//! * what comes out is well formed (UTF-8 text, bounded control frames, a
//!   response head no client header can break).

pub mod frames;
pub mod handshake;
pub mod inflate;
pub mod mutate;
pub mod seeds;

/// A fuzz input: knobs, then the client's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Target-specific choices (draft, limits, options), one bit field.
    pub knobs: u8,
    /// Seeds how the stream is cut into reads.
    pub split_seed: u8,
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Self {
        match data {
            [knobs, split_seed, stream @ ..] => Input {
                knobs: *knobs,
                split_seed: *split_seed,
                stream,
            },
            _ => Input {
                knobs: 0,
                split_seed: 0,
                stream: data,
            },
        }
    }

    /// The stream cut into reads of pseudo-random lengths: mostly a few
    /// bytes (header fields split across reads), sometimes kilobytes.
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        let mut rng = XorShift::new(u64::from(self.split_seed));
        let mut rest = self.stream;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let r = rng.next_u64();
            let len = match r % 8 {
                0 => 1,
                1..=5 => 1 + (r >> 8) as usize % 16,
                6 => 1 + (r >> 8) as usize % 256,
                _ => 1 + (r >> 8) as usize % 4096,
            };
            let (chunk, tail) = rest.split_at(len.min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        chunks
    }
}

/// xorshift64*: small, deterministic, good enough to pick split points and
/// mutations (a failure replays from its input alone).
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Never zero, which xorshift cannot leave.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A fuzz target: takes raw fuzzer bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// Every target by name, as `cargo fuzz` and `fuzz-stable` know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("handshake", handshake::run),
    ("frames_rfc6455", frames::rfc6455),
    ("frames_hybi_legacy", frames::hybi_legacy),
    ("frames_hixie", frames::hixie),
    ("inflate", inflate::run),
];

pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
