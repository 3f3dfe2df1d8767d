//! Client-to-server masking (RFC 6455 §5.3; drafts 05-06 mask the header too).

/// A masking key and where in the masked stream a payload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask {
    pub key: [u8; 4],
    /// How many masked bytes precede the payload: 0 under RFC 6455, the
    /// header's length under drafts 05-06, whose key masks the header too
    /// (at most 14: a byte, so that a frame in progress stays small).
    pub offset: u8,
}

impl Mask {
    /// Unmasks `buf`, which is the payload from byte `position` on.
    pub fn unmask(&self, buf: &mut [u8], position: usize) {
        apply_mask(buf, self.key, usize::from(self.offset) + position);
    }
}

/// XORs `buf` with `key`, where `buf[0]` is byte number `offset` of the masked
/// stream (so it is XORed with `key[offset % 4]`).
///
/// Works a 64-bit word at a time: payloads are often large, and this is the
/// one loop every received byte goes through.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset % 4);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let bytes: &mut [u8; 8] = chunk.try_into().expect("chunks of 8");
        *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
    // A whole number of words keeps the key's phase, so the tail starts at key[0].
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

fn rotate(key: [u8; 4], by: usize) -> [u8; 4] {
    [
        key[by],
        key[(by + 1) % 4],
        key[(by + 2) % 4],
        key[(by + 3) % 4],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc6455_masked_hello() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn matches_bytewise_masking_for_every_length_and_offset() {
        let key = [0x01, 0x23, 0x45, 0x67];
        let data: Vec<u8> = (0..=255u8).cycle().take(70).collect();
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut fast = data[..len].to_vec();
                let mut slow = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len}, offset {offset}");
            }
        }
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_at_once() {
        let mask = Mask {
            key: [9, 8, 7, 6],
            offset: 2,
        };
        let data: Vec<u8> = (0..40).collect();
        let mut whole = data.clone();
        mask.unmask(&mut whole, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(13);
        mask.unmask(a, 0);
        mask.unmask(b, 13);
        assert_eq!(whole, pieces);
    }
}
