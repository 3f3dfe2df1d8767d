//! Arbitrary bytes, in arbitrary pieces, never panic or loop, whatever the draft.

use bytes::BytesMut;
use emws_core::deflate::Compressor;
use emws_core::handshake::{accept, read_preface, HandshakeConfig, Preface};
use emws_core::{Config, DeflateParams, Draft, Protocol, State};

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes biased towards what headers are made of, so that frames get decoded.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        const INTERESTING: &[u8] = &[
            0x00, 0x01, 0x02, 0x08, 0x09, 0x0A, 0x80, 0x81, 0x82, 0x88, 0x89, 0x8A, 0x7E, 0x7F,
            0xFF, 0xE2, 0xC3, b'a',
        ];
        (0..len)
            .map(|_| {
                if self.below(2) == 0 {
                    INTERESTING[self.below(INTERESTING.len())]
                } else {
                    self.next() as u8
                }
            })
            .collect()
    }
}

impl Rng {
    /// Mostly well-formed frames of `draft`, some of them corrupted.
    fn stream(&mut self, draft: Draft) -> Vec<u8> {
        let mut stream = Vec::new();
        for _ in 0..self.below(8) {
            let len = self.below(140);
            let mut payload: Vec<u8> = if self.below(3) == 0 {
                self.bytes(len)
            } else {
                "aé€𝄞".repeat(len / 10).into_bytes()
            };
            // permessage-deflate data (valid, until corrupted below), with
            // RSV1 whether or not it is the first frame of a message.
            let rsv1 = draft == Draft::Draft07 && self.below(3) == 0;
            if rsv1 {
                payload =
                    Compressor::new(15, true, emws_core::deflate::DEFAULT_LEVEL).compress(&payload);
            }
            stream.extend(self.frame(draft, &payload, rsv1));
        }
        for _ in 0..self.below(3) {
            if !stream.is_empty() {
                let at = self.below(stream.len());
                stream[at] = self.next() as u8;
            }
        }
        stream
    }

    fn frame(&mut self, draft: Draft, payload: &[u8], rsv1: bool) -> Vec<u8> {
        if draft.is_hixie() {
            return match self.below(10) {
                0 => vec![0xFF, 0x00],
                1 => [
                    &[0x80, payload.len().min(127) as u8][..],
                    &payload[..payload.len().min(127)],
                ]
                .concat(),
                _ => {
                    let text: Vec<u8> = payload.iter().copied().filter(|&b| b != 0xFF).collect();
                    [&[0x00][..], &text, &[0xFF]].concat()
                }
            };
        }
        let opcodes: &[u8] = if draft == Draft::Draft07 {
            &[0, 1, 1, 2, 8, 9, 10]
        } else {
            &[0, 4, 4, 5, 1, 2, 3]
        };
        let opcode = opcodes[self.below(opcodes.len())];
        let fin_bit = if self.below(3) == 0 { 0 } else { 0x80 };
        let rsv1 = if rsv1 { 0x40 } else { 0 };
        let mut header = vec![fin_bit | rsv1 | opcode];
        match payload.len() {
            0..=125 => header.push(payload.len() as u8),
            n => {
                header.push(126);
                header.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        let key = (self.next() as u32).to_be_bytes();
        let masked = |bytes: &[u8], from: usize| -> Vec<u8> {
            bytes
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[(from + i) % 4])
                .collect()
        };
        match draft {
            Draft::Draft05 | Draft::Draft06 => {
                let plain = [&header[..], payload].concat();
                [&key[..], &masked(&plain, 0)].concat()
            }
            Draft::Draft07 if self.below(4) != 0 => {
                header[1] |= 0x80;
                [&header[..], &key, &masked(payload, 0)].concat()
            }
            _ => [&header[..], payload].concat(),
        }
    }
}

#[test]
fn random_frames_in_random_pieces() {
    let drafts = [
        Draft::Draft75,
        Draft::Draft76,
        Draft::Draft03,
        Draft::Draft05,
        Draft::Draft06,
        Draft::Draft07,
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut failed) = (0, 0);
    for round in 0..3000 {
        let draft = drafts[round % drafts.len()];
        let config = Config {
            max_frame_size: 1 + rng.below(300),
            max_message_size: rng.below(400),
            strict_masking: rng.below(2) == 0,
            deflate: (rng.below(2) == 0).then_some(DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: rng.below(2) == 0,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
                min_size: 0,
                level: emws_core::DeflateConfig::default().level,
            }),
        };
        let mut p = Protocol::new(draft, config);
        let stream = rng.stream(draft);
        let mut input = BytesMut::new();
        let (mut out, mut events) = (Vec::new(), Vec::new());
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(1 + rng.below(rest.len()));
            rest = tail;
            input.extend_from_slice(piece);
            if let Err(err) = p.receive(&mut input, &mut out, &mut events) {
                p.fail(&err, &mut out);
                assert_eq!(p.state(), State::Closed);
                failed += 1;
                break;
            }
        }
        decoded += events.len();
    }
    // The streams exercise both paths, not just the first error.
    assert!(
        decoded > 1000 && failed > 1000,
        "{decoded} events, {failed} failures"
    );
}

#[test]
fn random_prefaces() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let head = b"GET /x?y HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: a\r\nSec-WebSocket-Key1: 1 2\r\nSec-WebSocket-Key2: 3 3\r\n\r\n";
    for _ in 0..3000 {
        let mut bytes = head.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] = rng.bytes(1)[0];
        }
        let extra = rng.below(12);
        bytes.extend(rng.bytes(extra));
        if let Ok(Preface::Request(req)) = read_preface(&bytes, 0, 1024) {
            let _ = accept(&req, &HandshakeConfig::default());
        }
    }
}
