//! Message contents: a 16-byte header naming the sender and sequence number,
//! then a fixed body, so every echo or delivery can be checked byte for byte
//! with one comparison.

use anyhow::{ensure, Result};

use crate::ws::{Opcode, Rng};

pub const HEADER: usize = 16;

pub struct Pattern {
    pub opcode: Opcode,
    body: Vec<u8>,
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
        Pattern { opcode, body }
    }

    pub fn size(&self) -> usize {
        HEADER + self.body.len()
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
        ensure!(
            data.len() == self.size(),
            "expected {} bytes, got {} (header {:?})",
            self.size(),
            data.len(),
            String::from_utf8_lossy(&data[..data.len().min(HEADER)])
        );
        let got = parse_header(data);
        ensure!(
            got == Some((sender, seq)),
            "out of order or foreign message: expected sender {sender} seq {seq}, got {got:?}"
        );
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
