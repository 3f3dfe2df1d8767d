//! Decoding the header of a frame received from a client.

use super::mask::Mask;
use super::opcode::Numbering;
use crate::error::ProtocolError;

/// How a draft lays out a frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Drafts 01-03: a MORE bit where later drafts have FIN; never masked.
    Draft03,
    /// Drafts 05-06: a 4-byte masking key precedes the frame and masks the
    /// header as well as the payload.
    Draft05,
    /// Drafts 07+ and RFC 6455 §5.2: FIN bit, MASK bit, then the masking key
    /// after the length.
    Rfc6455,
}

impl Layout {
    pub fn numbering(self) -> Numbering {
        match self {
            Layout::Draft03 | Layout::Draft05 => Numbering::Draft03,
            Layout::Rfc6455 => Numbering::Rfc6455,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// This frame ends its message.
    pub fin: bool,
    /// RSV1-3 as the three low bits: non-zero only with a negotiated extension.
    pub rsv: u8,
    /// The 4-bit opcode number, still to be interpreted by the draft's [`Numbering`].
    pub opcode: u8,
    pub mask: Option<Mask>,
    pub payload_len: u64,
    /// Bytes before the payload, masking key included.
    pub len: usize,
}

impl Header {
    /// Decodes the header at the front of `buf`: `Ok(None)` while it is incomplete.
    pub fn parse(buf: &[u8], layout: Layout) -> Result<Option<Header>, ProtocolError> {
        let (key_before, rest) = match layout {
            Layout::Draft05 => match buf.split_first_chunk::<4>() {
                Some((key, rest)) => (Some(*key), rest),
                None => return Ok(None),
            },
            Layout::Draft03 | Layout::Rfc6455 => (None, buf),
        };
        let byte = |i: usize| -> Option<u8> {
            let b = *rest.get(i)?;
            Some(match key_before {
                Some(key) => b ^ key[i % 4],
                None => b,
            })
        };
        let bytes = |from: usize, out: &mut [u8]| -> Option<()> {
            for (i, b) in out.iter_mut().enumerate() {
                *b = byte(from + i)?;
            }
            Some(())
        };

        let (Some(b0), Some(b1)) = (byte(0), byte(1)) else {
            return Ok(None);
        };
        let fin = match layout {
            // MORE set means more frames follow.
            Layout::Draft03 => b0 & 0x80 == 0,
            Layout::Draft05 | Layout::Rfc6455 => b0 & 0x80 != 0,
        };
        let mut pos = 2;
        let payload_len = match b1 & 0x7F {
            126 => {
                let mut n = [0; 2];
                if bytes(pos, &mut n).is_none() {
                    return Ok(None);
                }
                pos += 2;
                u64::from(u16::from_be_bytes(n))
            }
            127 => {
                let mut n = [0; 8];
                if bytes(pos, &mut n).is_none() {
                    return Ok(None);
                }
                pos += 8;
                let n = u64::from_be_bytes(n);
                // RFC 6455 §5.2: "the most significant bit MUST be 0".
                if n >> 63 != 0 {
                    return Err(ProtocolError::protocol(
                        "Invalid frame length: most significant bit of 64-bit length set",
                    ));
                }
                n
            }
            n => u64::from(n),
        };
        let mask = match (layout, key_before) {
            (Layout::Draft05, Some(key)) => Some(Mask {
                key,
                // The header so far: at most 14 bytes.
                offset: pos as u8,
            }),
            // Under drafts 01-06 this bit is RSV4, which em-websocket ignores.
            (Layout::Rfc6455, _) if b1 & 0x80 != 0 => {
                let mut key = [0; 4];
                if bytes(pos, &mut key).is_none() {
                    return Ok(None);
                }
                pos += 4;
                Some(Mask { key, offset: 0 })
            }
            _ => None,
        };
        Ok(Some(Header {
            fin,
            rsv: (b0 >> 4) & 0x07,
            opcode: b0 & 0x0F,
            mask,
            payload_len,
            len: pos + key_before.map_or(0, |k| k.len()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Option<Header> {
        Header::parse(buf, Layout::Rfc6455).unwrap()
    }

    #[test]
    fn unmasked_hello() {
        let h = parse(&[0x81, 0x05, 0x48, 0x65]).unwrap();
        assert!(h.fin);
        assert_eq!((h.rsv, h.opcode, h.payload_len, h.len), (0, 1, 5, 2));
        assert_eq!(h.mask, None);
    }

    #[test]
    fn masked_hello() {
        let h = parse(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]).unwrap();
        assert_eq!((h.payload_len, h.len), (5, 6));
        assert_eq!(
            h.mask,
            Some(Mask {
                key: [0x37, 0xfa, 0x21, 0x3d],
                offset: 0
            })
        );
    }

    #[test]
    fn sixteen_bit_length() {
        // RFC 6455 §5.7: 256 bytes binary message in a single unmasked frame.
        let h = parse(&[0x82, 0x7E, 0x01, 0x00]).unwrap();
        assert_eq!((h.opcode, h.payload_len, h.len), (2, 256, 4));
    }

    #[test]
    fn sixty_four_bit_length_is_read_whole() {
        // RFC 6455 §5.7: 64KiB binary message.
        let h = parse(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!((h.payload_len, h.len), (65536, 10));
        // All eight bytes count: em-websocket read only the low four.
        let h = parse(&[0x82, 0x7F, 0, 0, 0, 1, 0, 0, 0, 5]).unwrap();
        assert_eq!(h.payload_len, (1 << 32) + 5);
    }

    #[test]
    fn sixty_four_bit_length_with_top_bit_set_is_a_protocol_error() {
        let err =
            Header::parse(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1], Layout::Rfc6455).unwrap_err();
        assert_eq!(err.code(), 1002);
    }

    #[test]
    fn incomplete_headers_wait_for_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4];
        for end in 0..full.len() {
            assert_eq!(parse(&full[..end]), None, "{end} bytes");
        }
        let h = parse(&full).unwrap();
        assert_eq!((h.payload_len, h.len), (65536, 14));
        assert_eq!(h.mask.unwrap().key, [1, 2, 3, 4]);
    }

    #[test]
    fn flags() {
        let h = parse(&[0x71, 0x00]).unwrap();
        assert!(!h.fin);
        assert_eq!((h.rsv, h.opcode), (7, 1));
    }

    #[test]
    fn draft03_more_bit_is_the_inverse_of_fin() {
        let h = Header::parse(&[0x84, 0x02], Layout::Draft03)
            .unwrap()
            .unwrap();
        assert!(!h.fin);
        assert_eq!((h.opcode, h.payload_len, h.mask), (4, 2, None));
        let h = Header::parse(&[0x04, 0x82], Layout::Draft03)
            .unwrap()
            .unwrap();
        assert!(h.fin);
        // The high bit of the second byte is RSV4, not a mask flag.
        assert_eq!((h.payload_len, h.mask, h.len), (2, None, 2));
    }

    #[test]
    fn draft05_key_masks_the_header_too() {
        let key = [0x11, 0x22, 0x33, 0x44];
        // FIN + text (4), 16-bit length 300.
        let plain = [0x84, 126, 0x01, 0x2C];
        let mut frame = key.to_vec();
        frame.extend(plain.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        for end in 0..frame.len() {
            assert_eq!(Header::parse(&frame[..end], Layout::Draft05).unwrap(), None);
        }
        let h = Header::parse(&frame, Layout::Draft05).unwrap().unwrap();
        assert!(h.fin);
        assert_eq!((h.opcode, h.payload_len, h.len), (4, 300, 8));
        assert_eq!(h.mask, Some(Mask { key, offset: 4 }));
    }
}
