//! Frames of drafts 75 and 76 (draft-hixie-thewebsocketprotocol-76 §5.3).
//!
//! Text is sent between a 0x00 and a 0xFF byte. Frame types with the high bit
//! set carry a base-128 length instead; clients only ever send one of those,
//! the empty 0xFF frame (0xFF 0x00) that starts the closing handshake.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HixieFrame {
    /// The bytes between 0x00 and 0xFF (not yet validated as UTF-8).
    Text(Bytes),
    /// A length-prefixed frame of length 0: the closing handshake.
    Close,
    /// A length-prefixed frame with a payload, which the draft says to skip.
    Discarded,
}

/// Decodes draft 75/76 frames, remembering how far an incomplete text frame
/// has been searched for its 0xFF so that each byte is searched only once.
#[derive(Debug, Clone, Default)]
pub struct HixieDecoder {
    scanned: usize,
}

impl HixieDecoder {
    /// Removes the frame at the front of `input` and returns it; `Ok(None)`
    /// while it is incomplete.
    ///
    /// Frames over `max_frame_size` fail as soon as that is known, before they
    /// are buffered whole.
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        max_frame_size: usize,
    ) -> Result<Option<HixieFrame>, ProtocolError> {
        match input.first() {
            None => Ok(None),
            Some(&frame_type) if frame_type & 0x80 != 0 => {
                decode_length_prefixed(input, max_frame_size)
            }
            Some(0x00) => self.decode_text(input, max_frame_size),
            // em-websocket gives up: such a buffer can never be matched.
            Some(_) => Err(ProtocolError::protocol("Invalid frame received")),
        }
    }

    fn decode_text(
        &mut self,
        input: &mut BytesMut,
        max_frame_size: usize,
    ) -> Result<Option<HixieFrame>, ProtocolError> {
        let from = self.scanned.max(1);
        let end = input[from..]
            .iter()
            .position(|&b| b == 0xFF)
            .map(|i| from + i);
        // The frame's length so far: the 0x00 and the text.
        let frame_len = end.unwrap_or(input.len());
        if frame_len > max_frame_size {
            self.scanned = 0;
            return Err(too_long(frame_len as u128));
        }
        let Some(end) = end else {
            self.scanned = input.len();
            return Ok(None);
        };
        self.scanned = 0;
        let frame = input.split_to(end + 1).freeze();
        Ok(Some(HixieFrame::Text(frame.slice(1..end))))
    }
}

/// Ten base-128 digits hold any 64-bit length; more can only be leading
/// zeros (0x80), which would otherwise be buffered without end.
const MAX_LENGTH_DIGITS: usize = 10;

fn decode_length_prefixed(
    input: &mut BytesMut,
    max_frame_size: usize,
) -> Result<Option<HixieFrame>, ProtocolError> {
    // u128 holds all ten digits (70 bits). The bound is checked once the
    // length is whole, so that the error reports it as em-websocket does.
    let mut length: u128 = 0;
    let mut pos = 1;
    loop {
        let Some(&digit) = input.get(pos) else {
            return Ok(None);
        };
        pos += 1;
        length = length * 128 + u128::from(digit & 0x7F);
        if digit & 0x80 == 0 {
            break;
        }
        if pos > MAX_LENGTH_DIGITS {
            return Err(ProtocolError::protocol(
                "Invalid frame length: too many digits",
            ));
        }
    }
    if length > max_frame_size as u128 {
        return Err(too_long(length));
    }
    let length = length as usize; // <= max_frame_size
    if input.len() - pos < length {
        return Ok(None);
    }
    input.advance(pos + length);
    // em-websocket closes on any empty length-prefixed frame.
    Ok(Some(if length == 0 {
        HixieFrame::Close
    } else {
        HixieFrame::Discarded
    }))
}

fn too_long(length: u128) -> ProtocolError {
    ProtocolError::too_big(format!("Frame length too long ({length} bytes)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], max: usize) -> Result<Vec<HixieFrame>, ProtocolError> {
        let mut decoder = HixieDecoder::default();
        let mut input = BytesMut::from(bytes);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&mut input, max)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    fn text(s: &str) -> HixieFrame {
        HixieFrame::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn text_frames() {
        assert_eq!(
            decode_all(b"\x00hello\xff\x00\xff\x00wor", 100).unwrap(),
            [text("hello"), text("")]
        );
    }

    #[test]
    fn closing_handshake_and_discarded_frames() {
        assert_eq!(
            decode_all(b"\x80\x03abc\x00x\xff\xff\x00", 100).unwrap(),
            [HixieFrame::Discarded, text("x"), HixieFrame::Close]
        );
    }

    #[test]
    fn frames_split_at_every_position() {
        // A text frame, a 128-byte length-prefixed frame, text, closing frame.
        let mut stream = b"\x00one\xff\x80\x81\x00".to_vec();
        stream.extend_from_slice(&[b'x'; 128]);
        stream.extend_from_slice(b"\x00two\xff\xff\x00");
        let stream = &stream[..];
        let whole = decode_all(stream, 1000).unwrap();
        assert_eq!(
            whole,
            [
                text("one"),
                HixieFrame::Discarded,
                text("two"),
                HixieFrame::Close
            ]
        );
        for split in 0..stream.len() {
            let mut decoder = HixieDecoder::default();
            let mut input = BytesMut::from(&stream[..split]);
            let mut frames = Vec::new();
            while let Some(f) = decoder.decode(&mut input, 1000).unwrap() {
                frames.push(f);
            }
            input.extend_from_slice(&stream[split..]);
            while let Some(f) = decoder.decode(&mut input, 1000).unwrap() {
                frames.push(f);
            }
            assert_eq!(frames, whole, "split at {split}");
        }
    }

    #[test]
    fn text_not_starting_with_zero_is_invalid() {
        let err = decode_all(b"\x01abc\xff", 100).unwrap_err();
        assert_eq!(
            (err.code(), err.message.as_str()),
            (1002, "Invalid frame received")
        );
    }

    #[test]
    fn text_frame_over_the_limit_fails_before_its_end_arrives() {
        let err = decode_all(b"\x00abcdefghijk", 10).unwrap_err();
        assert_eq!(err.code(), 1009);
        assert_eq!(err.message, "Frame length too long (12 bytes)");
        // 0x00 plus ten bytes of text is eleven.
        assert!(decode_all(b"\x00abcdefghi\xff", 10).is_ok());
        assert!(decode_all(b"\x00abcdefghij\xff", 10).is_err());
    }

    #[test]
    fn length_prefix_over_the_limit_fails_without_wrapping() {
        let err = decode_all(b"\x80\x81\x00", 100).unwrap_err();
        assert_eq!(err.message, "Frame length too long (128 bytes)");
        // Ten digits are read whole, and reported as em-websocket computes them.
        let err = decode_all(b"\x80\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 1 << 20).unwrap_err();
        assert_eq!(err.code(), 1009);
        assert_eq!(
            err.message,
            "Frame length too long (1180591620717411303296 bytes)"
        );
        // An endless length prefix fails at its eleventh digit.
        let endless = [0x80].into_iter().chain([0xFF; 64]).collect::<Vec<u8>>();
        let err = decode_all(&endless, usize::MAX).unwrap_err();
        assert_eq!(err.code(), 1002);
    }

    #[test]
    fn endless_leading_zero_digits_fail_instead_of_being_buffered() {
        // 0x80 adds a zero digit and asks for another: the length never grows.
        let mut decoder = HixieDecoder::default();
        let mut input = BytesMut::from(&[0x80; 10][..]);
        assert_eq!(decoder.decode(&mut input, 100), Ok(None));
        input.extend_from_slice(&[0x80]);
        let err = decoder.decode(&mut input, 100).unwrap_err();
        assert_eq!(err.code(), 1002);
        // Nine leading zeros and a last digit are still a length.
        let mut frame = vec![0x80; 9];
        frame.extend_from_slice(&[0x80, 0x02, b'h', b'i']);
        assert_eq!(decode_all(&frame, 100), Ok(vec![HixieFrame::Discarded]));
    }
}
