//! Compressing and inflating messages (RFC 7692 §7.2).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::ProtocolError;

/// What §7.2.1 strips from the end of a compressed message (an empty stored
/// block's LEN and NLEN), and §7.2.2 appends before inflating it.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Inflated bytes produced per step at most, so that a message over its bound
/// is caught before much more than the bound is allocated.
const INFLATE_STEP: usize = 64 * 1024;

/// flate2 takes 9 to 15 (zlib cannot deflate raw data with 8 bits); a 9-bit
/// window serves 8 too (see the module docs of `deflate`).
fn flate2_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Compresses the messages we send.
pub struct Compressor {
    /// Made on first use: the zlib state is a few hundred KiB, which an idle
    /// connection should not hold.
    deflate: Option<Compress>,
    window_bits: u8,
    no_context_takeover: bool,
    level: u8,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Compressor {
    pub fn new(window_bits: u8, no_context_takeover: bool, level: u8) -> Self {
        Compressor {
            deflate: None,
            window_bits: flate2_window_bits(window_bits),
            no_context_takeover,
            level,
        }
    }

    /// The compressed payload of a message: deflated, flushed to a byte
    /// boundary with an empty stored block, whose 4-byte tail is removed.
    /// With context takeover the next message may refer back into this one.
    pub fn compress(&mut self, message: &[u8]) -> Vec<u8> {
        let (window_bits, level) = (self.window_bits, self.level);
        let deflate = self.deflate.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level.into()), false, window_bits)
        });
        let mut out = Vec::with_capacity(message.len() / 2 + 64);
        let start_in = deflate.total_in();
        loop {
            let consumed = (deflate.total_in() - start_in) as usize;
            let status = deflate
                .compress_vec(&message[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate on a valid stream cannot fail");
            let done = (deflate.total_in() - start_in) as usize == message.len()
                && out.len() < out.capacity();
            // BufError: nothing left to do (the flush had exactly filled `out`).
            if done || status == Status::BufError {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.is_empty() {
            // zlib had nothing to flush (an empty message after another):
            // nothing at all would make the peer read the next message as a
            // stored block's data. A single 0x00 is an empty message
            // (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        if self.no_context_takeover {
            deflate.reset();
        }
        out
    }
}

/// Inflates the messages we receive, bounding their size as it goes.
pub struct Inflater {
    inflate: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
    /// The current message ended its deflate stream with a BFINAL block
    /// (§7.2.3.4): what follows in the message is padding (an empty stored
    /// block's header, completed by §7.2.2's tail), and is skipped, as zlib
    /// leaves it unused.
    stream_ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            inflate: None,
            window_bits: flate2_window_bits(window_bits),
            no_context_takeover,
            stream_ended: false,
        }
    }

    /// Inflates one frame's payload of a compressed message onto `out`,
    /// failing with 1009 as soon as `out` would hold more than `limit` bytes
    /// (a small frame may inflate to gigabytes), and with 1007 on data that
    /// is not deflate.
    pub fn inflate(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        if self.stream_ended {
            return Ok(());
        }
        let window_bits = self.window_bits;
        let inflate = self
            .inflate
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, window_bits));
        let start_in = inflate.total_in();
        loop {
            let consumed = (inflate.total_in() - start_in) as usize;
            if out.len() == out.capacity() {
                // One byte past the limit is enough to know it is passed.
                let room = (limit + 1).saturating_sub(out.len()).clamp(1, INFLATE_STEP);
                out.reserve_exact(room);
            }
            let before_out = out.len();
            let status = inflate
                .decompress_vec(&payload[consumed..], out, FlushDecompress::Sync)
                .map_err(|e| invalid(&e.to_string()))?;
            if out.len() > limit {
                return Err(ProtocolError::too_big(format!(
                    "Inflated message too large (over {limit} bytes)"
                )));
            }
            let consumed = (inflate.total_in() - start_in) as usize;
            match status {
                Status::StreamEnd => {
                    self.stream_ended = true;
                    return Ok(());
                }
                // All input taken and all output given: nothing pending.
                _ if consumed == payload.len() && out.len() < out.capacity() => return Ok(()),
                Status::BufError if out.len() == before_out => return Ok(()),
                _ => {}
            }
        }
    }

    /// Ends a compressed message: inflates §7.2.2's tail, which flushes what
    /// the last block still held, and forgets the window unless the client
    /// takes it over into its next message.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        let result = if self.stream_ended {
            Ok(())
        } else {
            self.inflate(&TAIL, out, limit)
        };
        if self.no_context_takeover || self.stream_ended {
            // A stream that ended cannot go on into the next message.
            if let Some(inflate) = self.inflate.as_mut() {
                inflate.reset(false);
            }
        }
        self.stream_ended = false;
        result
    }
}

fn invalid(detail: &str) -> ProtocolError {
    ProtocolError::invalid_data(format!("Invalid compressed data: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::{distances, DEFAULT_LEVEL};

    const LIMIT: usize = 1 << 20;

    #[test]
    fn every_level_inflates_back_and_higher_levels_compress_more() {
        let json: Vec<u8> = (0..200)
            .flat_map(|i| {
                format!(
                    "{{\"id\":{i},\"user\":\"user{}\",\"text\":\"hello {i}\"}},",
                    i % 17
                )
                .into_bytes()
            })
            .collect();
        let sizes: Vec<usize> = (1..=9)
            .map(|level| {
                let mut compressor = Compressor::new(15, false, level);
                let mut inflater = Inflater::new(15, false);
                let mut total = 0;
                for _ in 0..3 {
                    let compressed = compressor.compress(&json);
                    total += compressed.len();
                    assert_eq!(
                        inflate_message(&mut inflater, &[&compressed]).unwrap(),
                        json
                    );
                }
                total
            })
            .collect();
        assert!(
            sizes[8] < sizes[0],
            "level 9 {} vs level 1 {}",
            sizes[8],
            sizes[0]
        );
    }

    fn inflate_message(
        inflater: &mut Inflater,
        frames: &[&[u8]],
    ) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::new();
        for frame in frames {
            inflater.inflate(frame, &mut out, LIMIT)?;
        }
        inflater.finish(&mut out, LIMIT)?;
        Ok(out)
    }

    /// Text with repeats near and far, as messages of an application are.
    fn sample(len: usize) -> Vec<u8> {
        let words = ["alpha ", "beta ", "gamma ", "delta ", "epsilon ", "zeta "];
        let mut x: u32 = 12345;
        let mut text = Vec::with_capacity(len + 8);
        while text.len() < len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            text.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
            text.extend_from_slice(format!("{} ", x % 1000).as_bytes());
        }
        text.truncate(len);
        text
    }

    #[test]
    fn rfc7692_examples_inflate() {
        let mut inflater = Inflater::new(15, false);
        // §7.2.3.1: "Hello", whole and in two fragments.
        let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_message(&mut inflater, &[hello]).unwrap(), b"Hello");
        let mut inflater = Inflater::new(15, false);
        assert_eq!(
            inflate_message(&mut inflater, &[&hello[..3], &hello[3..]]).unwrap(),
            b"Hello"
        );
        // §7.2.3.2: the second "Hello" refers to the first one's window.
        assert_eq!(
            inflate_message(&mut inflater, &[&[0xf2, 0x00, 0x11, 0x00, 0x00]]).unwrap(),
            b"Hello"
        );
        // §7.2.3.3: a stored block; §7.2.3.4: a block with BFINAL set, after
        // which the next message starts a new stream.
        let stored: &[u8] = &[
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let bfinal: &[u8] = &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        let bfinal_alone = &bfinal[..7];
        let mut inflater = Inflater::new(15, false);
        for message in [stored, bfinal, bfinal_alone, bfinal, stored] {
            assert_eq!(
                inflate_message(&mut inflater, &[message]).unwrap(),
                b"Hello"
            );
        }
        // §7.2.3.6: an empty message.
        assert_eq!(inflate_message(&mut inflater, &[&[0x00]]).unwrap(), b"");
    }

    #[test]
    fn compressed_messages_drop_the_flush_tail() {
        let mut compressor = Compressor::new(15, false, DEFAULT_LEVEL);
        let compressed = compressor.compress(b"Hello");
        // zlib's own bytes for "Hello" (RFC 7692 §7.2.3.1).
        assert_eq!(compressed, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert!(!compressor.compress(b"").ends_with(&TAIL));
    }

    #[test]
    fn context_takeover_refers_back_to_earlier_messages() {
        let message = sample(2000);
        let mut compressor = Compressor::new(15, false, DEFAULT_LEVEL);
        let mut inflater = Inflater::new(15, false);
        let first = compressor.compress(&message);
        let second = compressor.compress(&message);
        // The second is a few long matches into the first.
        assert!(
            second.len() * 10 < first.len() && first.len() > 200,
            "{} {}",
            first.len(),
            second.len()
        );
        assert_eq!(inflate_message(&mut inflater, &[&first]).unwrap(), message);
        assert_eq!(inflate_message(&mut inflater, &[&second]).unwrap(), message);
        // An inflater that forgot the first message cannot read the second.
        let mut forgetful = Inflater::new(15, true);
        inflate_message(&mut forgetful, &[&first]).unwrap();
        assert_eq!(
            inflate_message(&mut forgetful, &[&second])
                .unwrap_err()
                .code(),
            1007
        );
    }

    #[test]
    fn no_context_takeover_compresses_each_message_alone() {
        let message = sample(2000);
        let mut compressor = Compressor::new(15, true, DEFAULT_LEVEL);
        let first = compressor.compress(&message);
        assert_eq!(compressor.compress(&message), first);
        let mut inflater = Inflater::new(15, true);
        for _ in 0..3 {
            assert_eq!(inflate_message(&mut inflater, &[&first]).unwrap(), message);
        }
    }

    /// Whether every match of these messages (tails restored) reaches back
    /// at most `2^bits` bytes.
    fn fits_window(bits: u8, messages: &[Vec<u8>]) -> bool {
        messages
            .iter()
            .all(|m| distances::max_distance(&[&m[..], &TAIL].concat()) <= 1 << bits)
    }

    /// Bytes that repeat nowhere but where repeated on purpose.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn server_max_window_bits_bounds_every_match() {
        // Repeats 257 bytes to 4 KiB back, within and across messages.
        let noise = noise(4096);
        let messages = |bits: u8| -> Vec<Vec<u8>> {
            let mut compressor = Compressor::new(bits, false, DEFAULT_LEVEL);
            [
                [&noise[..257], &noise[..257]].concat(),
                noise[..1000].to_vec(),
                noise.clone(),
                noise.clone(),
            ]
            .iter()
            .map(|m| compressor.compress(m))
            .collect()
        };
        for bits in 8..=15 {
            assert!(fits_window(bits, &messages(bits)), "{bits} bits");
        }
        // The check has teeth: a 15-bit stream does not fit 8 or 10 bits.
        assert!(!fits_window(8, &messages(15)));
        assert!(!fits_window(10, &messages(15)));
    }

    #[test]
    fn every_window_size_round_trips() {
        for bits in 8..=15 {
            let mut compressor = Compressor::new(bits, false, DEFAULT_LEVEL);
            let mut inflater = Inflater::new(bits, false);
            for len in [0, 1, 100, 5000, 70_000] {
                let message = sample(len);
                let compressed = compressor.compress(&message);
                assert_eq!(
                    inflate_message(&mut inflater, &[&compressed]).unwrap(),
                    message
                );
            }
        }
    }

    #[test]
    fn a_bomb_is_stopped_at_the_limit() {
        let zeros = vec![0u8; 50 << 20];
        // An attacker compresses as hard as zlib can.
        let bomb = Compressor::new(15, true, 9).compress(&zeros);
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        let err = inflater.inflate(&bomb, &mut out, LIMIT).unwrap_err();
        assert_eq!(err.code(), 1009);
        assert_eq!(
            err.message,
            format!("Inflated message too large (over {LIMIT} bytes)")
        );
        // Stopped while inflating: never much more than the limit in memory.
        assert!(
            out.capacity() <= LIMIT + INFLATE_STEP + 1,
            "{}",
            out.capacity()
        );
        // Exactly the limit is fine.
        let mut inflater = Inflater::new(15, false);
        let exact = Compressor::new(15, true, DEFAULT_LEVEL).compress(&zeros[..LIMIT]);
        assert_eq!(
            inflate_message(&mut inflater, &[&exact]).unwrap().len(),
            LIMIT
        );
    }

    #[test]
    fn corrupt_data_is_invalid() {
        let mut inflater = Inflater::new(15, false);
        // BTYPE 11 is reserved.
        let err = inflate_message(&mut inflater, &[&[0xff, 0xff]]).unwrap_err();
        assert_eq!(err.code(), 1007);
        assert!(
            err.message.starts_with("Invalid compressed data"),
            "{}",
            err.message
        );
        // A stream cut short.
        let mut inflater = Inflater::new(15, false);
        let full = Compressor::new(15, true, DEFAULT_LEVEL).compress(&noise(1000));
        let mut out = Vec::new();
        inflater.inflate(&full[..500], &mut out, LIMIT).unwrap();
        assert!(inflater.finish(&mut out, LIMIT).is_err() || out.len() < 1000);
    }
}
