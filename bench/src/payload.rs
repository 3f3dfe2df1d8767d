//! Message contents: a 16-byte header naming the sender and sequence number,
//! then a fixed body, so every echo or delivery can be checked byte for byte
//! with one comparison. `--payload json` makes JSON-like text instead, which
//! differs from message to message (for honest compression) and is rebuilt
//! from the sender and sequence number to be checked.

use std::cell::RefCell;
use std::io::Write;

use anyhow::{ensure, Result};
use clap::ValueEnum;

use crate::ws::{Conn, Opcode, Rng};

pub const HEADER: usize = 16;

/// What messages carry (`--payload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Payload {
    /// The header, then the same body in every message (text or binary).
    Fixed,
    /// A JSON object of events, text, built anew for every message.
    Json,
}

/// `{"id":"<header>","events":[` ... `],"pad":"` ... `"}`
const JSON_HEAD: &[u8] = b"{\"id\":\"";
const JSON_EVENTS: &[u8] = b"\",\"events\":[";
const JSON_PAD: &[u8] = b"],\"pad\":\"";
const JSON_END: &[u8] = b"\"}";
/// The smallest JSON message: an empty list of events and no padding.
pub const JSON_MIN: usize =
    JSON_HEAD.len() + HEADER + JSON_EVENTS.len() + JSON_PAD.len() + JSON_END.len();

pub struct Pattern {
    pub opcode: Opcode,
    body: Vec<u8>,
    /// JSON messages of this size, else None.
    json: Option<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Pattern {
    /// A body for messages of `size` bytes: valid UTF-8 mixing one-, two- and
    /// three-byte characters for text; arbitrary bytes for binary.
    pub fn new(size: usize, binary: bool) -> Self {
        assert!(size >= HEADER, "messages carry a {HEADER}-byte header");
        let mut rng = Rng::new(size as u64);
        let len = size - HEADER;
        let mut body = Vec::with_capacity(len);
        if binary {
            while body.len() < len {
                body.push(rng.next_u64() as u8);
            }
        } else {
            const CHARS: [char; 6] = ['a', 'q', 'Z', '7', 'é', '€'];
            let mut utf8 = [0; 4];
            while body.len() < len {
                let c = CHARS[(rng.next_u64() % CHARS.len() as u64) as usize];
                let c = if c.len_utf8() <= len - body.len() {
                    c
                } else {
                    'x'
                };
                body.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        Pattern {
            opcode,
            body,
            json: None,
        }
    }

    /// JSON-like text messages of exactly `size` bytes (at least JSON_MIN).
    pub fn json(size: usize) -> Self {
        assert!(
            size >= JSON_MIN,
            "JSON messages take at least {JSON_MIN} bytes"
        );
        Pattern {
            opcode: Opcode::Text,
            body: Vec::new(),
            json: Some(size),
        }
    }

    /// The pattern `--payload`, `--size` and `--binary` ask for.
    pub fn for_args(payload: Payload, size: usize, binary: bool) -> Result<Self> {
        match payload {
            Payload::Fixed => Ok(Pattern::new(size, binary)),
            Payload::Json => {
                ensure!(!binary, "--payload json is text: drop --binary");
                ensure!(
                    size >= JSON_MIN,
                    "--payload json needs --size {JSON_MIN} or more"
                );
                Ok(Pattern::json(size))
            }
        }
    }

    pub fn is_json(&self) -> bool {
        self.json.is_some()
    }

    pub fn size(&self) -> usize {
        self.json.unwrap_or(HEADER + self.body.len())
    }

    /// Queues message `seq` of `sender` on `conn`.
    pub fn send(&self, conn: &mut Conn, sender: u32, seq: u32) {
        match self.json {
            None => conn.send(self.opcode, &[&header(sender, seq), &self.body]),
            Some(size) => SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                json_message(size, sender, seq, &mut scratch);
                conn.send(self.opcode, &[&scratch]);
            }),
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Checks a received message against the one `sender` sent as `seq`.
    pub fn verify(&self, opcode: Opcode, data: &[u8], sender: u32, seq: u32) -> Result<()> {
        ensure!(
            opcode == self.opcode,
            "expected a {:?} message, got {opcode:?}",
            self.opcode
        );
        let offset = if self.json.is_some() {
            JSON_HEAD.len()
        } else {
            0
        };
        ensure!(
            data.len() == self.size(),
            "expected {} bytes, got {} (starting {:?})",
            self.size(),
            data.len(),
            String::from_utf8_lossy(&data[..data.len().min(offset + HEADER)])
        );
        let got = parse_header(&data[offset..]);
        ensure!(
            got == Some((sender, seq)),
            "out of order or foreign message: expected sender {sender} seq {seq}, got {got:?}"
        );
        if let Some(size) = self.json {
            return SCRATCH.with(|scratch| {
                let mut expected = scratch.borrow_mut();
                json_message(size, sender, seq, &mut expected);
                ensure!(
                    data == &expected[..],
                    "payload of sender {sender} seq {seq} differs at byte {}",
                    first_difference(data, &expected)
                );
                Ok(())
            });
        }
        ensure!(
            data[HEADER..] == self.body[..],
            "payload of sender {sender} seq {seq} differs at byte {}",
            HEADER + first_difference(&data[HEADER..], &self.body)
        );
        Ok(())
    }
}

/// `sender` and `seq` as sixteen lowercase hex digits.
pub fn header(sender: u32, seq: u32) -> [u8; HEADER] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value = (u64::from(sender) << 32) | u64::from(seq);
    let mut out = [0; HEADER];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = HEX[((value >> (60 - 4 * i)) & 0xF) as usize];
    }
    out
}

/// Message `seq` of `sender` as JSON text of exactly `size` bytes, into `out`:
/// `{"id":"<header>","events":[{...},...],"pad":"..."}`, the events' keys
/// repeated as in real traffic and their values drawn per message.
fn json_message(size: usize, sender: u32, seq: u32, out: &mut Vec<u8>) {
    const USERS: [&str; 10] = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    ];
    const ACTIONS: [&str; 6] = ["create", "update", "delete", "view", "like", "share"];
    const TAGS: [&str; 8] = ["red", "green", "blue", "sale", "new", "hot", "eco", "gift"];
    let mut rng = Rng::new((u64::from(sender) << 32 | u64::from(seq)) ^ 0x6a73_6f6e);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    out.clear();
    out.extend_from_slice(JSON_HEAD);
    out.extend_from_slice(&header(sender, seq));
    out.extend_from_slice(JSON_EVENTS);
    let tail = JSON_PAD.len() + JSON_END.len();
    for i in 0.. {
        let before = out.len();
        if i > 0 {
            out.push(b',');
        }
        let (user, action) = (USERS[pick(USERS.len())], ACTIONS[pick(ACTIONS.len())]);
        let (tag1, tag2) = (TAGS[pick(TAGS.len())], TAGS[pick(TAGS.len())]);
        write!(
            out,
            "{{\"ts\":{},\"user\":\"{user}_{}\",\"action\":\"{action}\",\"item\":{},\
             \"price\":{}.{:02},\"qty\":{},\"tags\":[\"{tag1}\",\"{tag2}\"],\"ok\":{}}}",
            1_764_900_000_000u64 + u64::from(seq) * 37 + i as u64,
            pick(1000),
            pick(100_000),
            pick(500),
            pick(100),
            1 + pick(9),
            pick(4) != 0
        )
        .expect("writing to a Vec");
        if out.len() + tail > size {
            out.truncate(before);
            break;
        }
    }
    let pad = size - tail - out.len();
    out.extend_from_slice(JSON_PAD);
    out.extend((0..pad).map(|_| b'a' + pick(26) as u8));
    out.extend_from_slice(JSON_END);
    debug_assert_eq!(out.len(), size);
}

/// The (sender, seq) a message claims, if it starts with a well-formed header.
pub fn parse_header(data: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(data.get(..HEADER)?).ok()?;
    let value = u64::from_str_radix(text, 16).ok()?;
    Some(((value >> 32) as u32, value as u32))
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = header(0xdead_beef, 42);
        assert_eq!(&h, b"deadbeef0000002a");
        assert_eq!(parse_header(&h), Some((0xdead_beef, 42)));
    }

    #[test]
    fn text_bodies_are_utf8_of_exact_size() {
        for size in [16, 17, 32, 100, 16384] {
            let p = Pattern::new(size, false);
            assert_eq!(p.size(), size);
            assert!(std::str::from_utf8(p.body()).is_ok());
        }
    }

    #[test]
    fn json_messages_have_exact_size_and_verify() {
        for size in [JSON_MIN, 64, 256, 4096] {
            let p = Pattern::json(size);
            let mut msg = Vec::new();
            json_message(size, 7, 3, &mut msg);
            assert_eq!(msg.len(), size);
            assert!(std::str::from_utf8(&msg).is_ok());
            assert!(p.verify(Opcode::Text, &msg, 7, 3).is_ok());
            assert!(p.verify(Opcode::Text, &msg, 7, 4).is_err());
            let mut other = Vec::new();
            json_message(size, 7, 4, &mut other);
            if size >= 256 {
                assert_ne!(msg[40..], other[40..], "messages vary");
            }
            let last = msg.len() - 3;
            msg[last] ^= 1;
            assert!(p.verify(Opcode::Text, &msg, 7, 3).is_err());
        }
    }

    #[test]
    fn verify_catches_corruption() {
        let p = Pattern::new(64, true);
        let mut msg = header(3, 9).to_vec();
        msg.extend_from_slice(p.body());
        assert!(p.verify(Opcode::Binary, &msg, 3, 9).is_ok());
        assert!(p.verify(Opcode::Text, &msg, 3, 9).is_err());
        assert!(p.verify(Opcode::Binary, &msg, 3, 10).is_err());
        msg[40] ^= 1;
        assert!(p.verify(Opcode::Binary, &msg, 3, 9).is_err());
    }
}
