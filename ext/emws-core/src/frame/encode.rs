//! Headers of the frames the server sends. Server frames are never masked, and
//! lengths use the shortest form that holds them.

use super::opcode::Numbering;
use super::OpCode;

/// The longest header: a draft 76 length-prefixed frame (type byte + 10 base-128
/// digits of a 64-bit length); hybi headers need at most 10 bytes.
const CAPACITY: usize = 11;

/// An encoded frame header, kept inline so that a large payload can be written
/// after it without being copied.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; CAPACITY],
    len: u8,
}

impl FrameHeader {
    pub fn empty() -> Self {
        FrameHeader {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    /// A final, unmasked hybi frame: drafts 01-03 (`fin_bit == false`: their
    /// MORE bit stays clear) or 05+ (FIN bit set).
    pub fn hybi(numbering: Numbering, fin_bit: bool, op: OpCode, payload_len: usize) -> Self {
        let mut header = Self::empty();
        let first = numbering.encode(op) | if fin_bit { 0x80 } else { 0 };
        header.push(&[first]);
        match payload_len {
            0..=125 => header.push(&[payload_len as u8]),
            126..=0xFFFF => {
                header.push(&[126]);
                header.push(&(payload_len as u16).to_be_bytes());
            }
            _ => {
                header.push(&[127]);
                header.push(&(payload_len as u64).to_be_bytes());
            }
        }
        header
    }

    /// The same hybi header with RSV1 set: the frame starts a message
    /// compressed with permessage-deflate (RFC 7692 §6).
    pub fn with_rsv1(mut self) -> Self {
        if self.len > 0 {
            self.bytes[0] |= 0x40;
        }
        self
    }

    /// Drafts 75/76: a single 0x00 opens a text frame, closed by 0xFF.
    pub fn hixie_text() -> Self {
        let mut header = Self::empty();
        header.push(&[0x00]);
        header
    }

    /// Drafts 75/76: frame type 0x80 followed by the length in base 128, most
    /// significant digit first, every digit but the last with its high bit set.
    pub fn hixie_length_prefixed(payload_len: usize) -> Self {
        let mut digits = [0u8; CAPACITY - 1];
        let mut n = payload_len as u64;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                break;
            }
        }
        let last = digits.len() - 1;
        for digit in &mut digits[start..last] {
            *digit |= 0x80;
        }
        let mut header = Self::empty();
        header.push(&[0x80]);
        header.push(&digits[start..]);
        header
    }

    fn push(&mut self, bytes: &[u8]) {
        let len = usize::from(self.len);
        self.bytes[len..len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len() as u8;
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for FrameHeader {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for FrameHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FrameHeader")
            .field(&self.as_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc(op: OpCode, len: usize) -> Vec<u8> {
        FrameHeader::hybi(Numbering::Rfc6455, true, op, len)
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn lengths_are_minimal() {
        assert_eq!(rfc(OpCode::Text, 0), [0x81, 0]);
        assert_eq!(rfc(OpCode::Text, 5), [0x81, 5]);
        assert_eq!(rfc(OpCode::Text, 125), [0x81, 125]);
        assert_eq!(rfc(OpCode::Binary, 126), [0x82, 126, 0, 126]);
        assert_eq!(rfc(OpCode::Binary, 256), [0x82, 126, 1, 0]);
        assert_eq!(rfc(OpCode::Binary, 65535), [0x82, 126, 0xFF, 0xFF]);
        assert_eq!(
            rfc(OpCode::Binary, 65536),
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn control_opcodes() {
        assert_eq!(rfc(OpCode::Close, 2), [0x88, 2]);
        assert_eq!(rfc(OpCode::Ping, 5), [0x89, 5]);
        assert_eq!(rfc(OpCode::Pong, 5), [0x8A, 5]);
    }

    #[test]
    fn rsv1_marks_a_compressed_message() {
        let h = FrameHeader::hybi(Numbering::Rfc6455, true, OpCode::Text, 300).with_rsv1();
        assert_eq!(h.as_bytes(), [0xC1, 126, 1, 44]);
        assert_eq!(FrameHeader::empty().with_rsv1().as_bytes(), []);
    }

    #[test]
    fn draft03_leaves_the_more_bit_clear() {
        let h = FrameHeader::hybi(Numbering::Draft03, false, OpCode::Text, 3);
        assert_eq!(h.as_bytes(), [0x04, 3]);
    }

    #[test]
    fn hixie_headers() {
        assert_eq!(FrameHeader::hixie_text().as_bytes(), [0x00]);
        assert_eq!(FrameHeader::hixie_length_prefixed(0).as_bytes(), [0x80, 0]);
        assert_eq!(
            FrameHeader::hixie_length_prefixed(127).as_bytes(),
            [0x80, 0x7F]
        );
        assert_eq!(
            FrameHeader::hixie_length_prefixed(128).as_bytes(),
            [0x80, 0x81, 0x00]
        );
        assert_eq!(
            FrameHeader::hixie_length_prefixed(300).as_bytes(),
            [0x80, 0x82, 0x2C]
        );
        assert_eq!(
            FrameHeader::hixie_length_prefixed(usize::MAX)
                .as_ref()
                .len(),
            if usize::BITS == 64 { 11 } else { 6 }
        );
    }
}
