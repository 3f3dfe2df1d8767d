//! A small byte mutator for the stable-toolchain driver (`fuzz-stable`),
//! which has no coverage feedback: libFuzzer's cheap mutations (bit flips,
//! interesting bytes, inserts, deletes, repeats, splices, dictionary
//! tokens) applied to the corpus, so that inputs stay close to valid
//! handshakes and frames and reach deep into the decoders.

use crate::XorShift;

/// Bytes that mean something in a frame header or a request head.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x7E, 0x7F, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8A, 0xC3, 0xE2, 0xFF, b'\r',
    b'\n', b':', b' ', b'0', b'9',
];

/// Tokens of the opening handshake (libFuzzer reads the same from
/// `handshake.dict`).
const TOKENS: &[&[u8]] = &[
    b"GET ",
    b" HTTP/1.1\r\n",
    b"\r\n",
    b"\r\n\r\n",
    b"Host: ",
    b"Upgrade: websocket\r\n",
    b"Connection: Upgrade\r\n",
    b"Sec-WebSocket-Key: ",
    b"Sec-WebSocket-Version: ",
    b"Sec-WebSocket-Key1: ",
    b"Sec-WebSocket-Key2: ",
    b"Sec-WebSocket-Draft: ",
    b"Sec-WebSocket-Protocol: ",
    b"Sec-WebSocket-Extensions: permessage-deflate; ",
    b"client_max_window_bits",
    b"Origin: ",
    b"/healthcheck",
    b"<policy-file-request/>",
    b"13",
    b"76",
];

/// The largest input the driver builds.
pub const MAX_LEN: usize = 64 * 1024;

/// Mutates `input` in place, one to four times, drawing splices from `pool`.
pub fn mutate(input: &mut Vec<u8>, pool: &[Vec<u8>], rng: &mut XorShift) {
    for _ in 0..=rng.below(4) {
        mutate_once(input, pool, rng);
    }
    input.truncate(MAX_LEN);
}

fn mutate_once(input: &mut Vec<u8>, pool: &[Vec<u8>], rng: &mut XorShift) {
    if input.is_empty() {
        input.push(rng.next_u64() as u8);
        return;
    }
    let at = rng.below(input.len());
    match rng.below(9) {
        0 => input[at] ^= 1 << rng.below(8),
        1 => input[at] = INTERESTING[rng.below(INTERESTING.len())],
        2 => {
            let bytes: Vec<u8> = (0..=rng.below(8)).map(|_| rng.next_u64() as u8).collect();
            input.splice(at..at, bytes);
        }
        3 => {
            let end = (at + 1 + rng.below(16)).min(input.len());
            input.drain(at..end);
        }
        4 => {
            // Repeat a range: floods of pings, long length prefixes.
            let end = (at + 1 + rng.below(32)).min(input.len());
            let range = input[at..end].to_vec();
            for _ in 0..=rng.below(16) {
                input.splice(end..end, range.iter().copied());
            }
        }
        5 => {
            let other = &pool[rng.below(pool.len())];
            if !other.is_empty() {
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(64)).min(other.len());
                input.splice(at..at, other[from..to].iter().copied());
            }
        }
        6 => {
            // The knob bytes: another draft, other limits, other splits.
            let knob = rng.below(input.len().min(2));
            input[knob] = rng.next_u64() as u8;
        }
        7 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            input.splice(at..at, token.iter().copied());
        }
        _ => {
            // A frame length field's worth of random bytes.
            let end = (at + 8).min(input.len());
            for b in &mut input[at..end] {
                *b = rng.next_u64() as u8;
            }
        }
    }
}
