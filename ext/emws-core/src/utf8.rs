//! Incremental UTF-8 validation.
//!
//! A text message may arrive in many pieces (fragments, or a single frame in
//! several reads), and a code point may be split between two pieces. RFC 6455
//! wants the connection failed as soon as the data *cannot* become valid
//! UTF-8, not when the message is complete: this validator keeps only the
//! bytes of a code point that is still incomplete.

use std::str;

/// The bytes fed so far can never become valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates UTF-8 text arriving in pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The start of a code point whose remaining bytes have not arrived yet.
    partial: [u8; 4],
    /// How many of `partial` are filled (at most 4; a byte, so that a
    /// connection's protocol state stays small).
    partial_len: u8,
}

impl Utf8Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of text. Fails as soon as a byte makes the text
    /// invalid, whatever may follow.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let filled = usize::from(self.partial_len);
            let width = sequence_width(self.partial[0]);
            let take = (width - filled).min(input.len());
            self.partial[filled..filled + take].copy_from_slice(&input[..take]);
            let filled = filled + take;
            self.partial_len = filled as u8;
            input = &input[take..];
            match str::from_utf8(&self.partial[..filled]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                // Still incomplete, so `input` is exhausted.
                Err(_) => return Ok(()),
            }
        }
        match str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                // `error_len() == None`: the input ends inside a code point
                // that is valid so far (at most 3 bytes).
                let rest = &input[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = rest.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the text: a code point still incomplete makes it invalid.
    /// The validator is ready for the next text afterwards.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// The length of the sequence a leading byte starts. Only called with a byte
/// `str::from_utf8` accepted as the start of an incomplete sequence.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(pieces: &[&[u8]]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        for piece in pieces {
            v.feed(piece)?;
        }
        v.finish()
    }

    #[test]
    fn accepts_whole_text() {
        assert_eq!(feed_all(&["κόσμε".as_bytes()]), Ok(()));
        assert_eq!(feed_all(&[b""]), Ok(()));
    }

    #[test]
    fn accepts_code_points_split_at_every_position() {
        let text = "a€𝄞κb".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert_eq!(
                    feed_all(&[&text[..i], &text[i..j], &text[j..]]),
                    Ok(()),
                    "split at {i}, {j}"
                );
            }
        }
    }

    #[test]
    fn accepts_a_code_point_fed_byte_by_byte() {
        let mut v = Utf8Validator::new();
        for b in "𝄞".as_bytes() {
            assert_eq!(v.feed(&[*b]), Ok(()));
        }
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn fails_as_soon_as_an_invalid_byte_arrives() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"hello"), Ok(()));
        assert_eq!(v.feed(&[0xFF]), Err(InvalidUtf8));
    }

    #[test]
    fn fails_fast_inside_a_split_code_point() {
        // 0xE2 0x82 starts '€'; 0x41 cannot continue it.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xE2]), Ok(()));
        assert_eq!(v.feed(&[0x82]), Ok(()));
        assert_eq!(v.feed(&[0x41, 0x42]), Err(InvalidUtf8));
    }

    #[test]
    fn fails_fast_on_bytes_that_can_never_start_valid_text() {
        // Surrogates (ED A0..), overlongs (C0, E0 80), above U+10FFFF (F4 90).
        for bad in [
            &[0xED, 0xA0][..],
            &[0xC0],
            &[0xE0, 0x80],
            &[0xF4, 0x90],
            &[0xF5],
        ] {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(bad), Err(InvalidUtf8), "{bad:x?}");
        }
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn an_incomplete_code_point_at_the_end_is_invalid() {
        assert_eq!(feed_all(&[b"ab", &[0xE2, 0x82]]), Err(InvalidUtf8));
        assert_eq!(feed_all(&[&[0xF0], &[0x9D], &[0x84]]), Err(InvalidUtf8));
    }

    #[test]
    fn finish_resets_for_the_next_text() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2]).unwrap();
        assert_eq!(v.finish(), Err(InvalidUtf8));
        assert_eq!(v.feed(b"ok"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }
}
