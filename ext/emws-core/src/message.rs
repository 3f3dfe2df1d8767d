//! Reassembly of data messages, which may arrive in several fragments with
//! control frames interleaved (RFC 6455 §5.4), and inflated when they were
//! compressed (RFC 7692).

use bytes::Bytes;

use crate::deflate::Inflater;
use crate::error::ProtocolError;
use crate::utf8::Utf8Validator;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Binary,
}

/// What the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message, validated as UTF-8.
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// The peer's close frame. `code` is `None` when it had none (em-websocket
    /// then reports 1005) and for drafts without close codes.
    Close {
        code: Option<u16>,
        reason: Bytes,
    },
}

/// A data message whose frames are still arriving.
#[derive(Debug)]
pub struct IncomingMessage {
    kind: MessageKind,
    /// Payloads of the non-final fragments received so far; for a
    /// compressed message, everything inflated so far.
    fragments: Vec<u8>,
    /// RSV1 was set on the first frame (permessage-deflate).
    compressed: bool,
    /// Payload bytes announced by the frame headers so far.
    len: u64,
    utf8: Utf8Validator,
}

impl IncomingMessage {
    pub fn new(kind: MessageKind) -> Self {
        IncomingMessage {
            kind,
            fragments: Vec::new(),
            compressed: false,
            len: 0,
            utf8: Utf8Validator::new(),
        }
    }

    /// A message whose frames carry deflate data (RSV1 on its first frame).
    pub fn compressed(kind: MessageKind) -> Self {
        IncomingMessage {
            compressed: true,
            ..Self::new(kind)
        }
    }

    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Accounts for a frame whose header announced `payload_len` bytes, before
    /// any of them is buffered. `max` bounds the whole message; 0 means no bound.
    pub fn reserve(&mut self, payload_len: u64, max: usize) -> Result<(), ProtocolError> {
        let len = self.len.saturating_add(payload_len);
        if max != 0 && len > max as u64 {
            return Err(ProtocolError::too_big(format!(
                "Message too large ({len} bytes)"
            )));
        }
        self.len = len;
        Ok(())
    }

    /// Checks payload bytes as they arrive, so invalid text fails the
    /// connection without waiting for the rest of the message. Compressed
    /// bytes are not text: their text is checked as it is inflated.
    pub fn validate(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        if self.compressed {
            return Ok(());
        }
        match self.kind {
            MessageKind::Text => self.utf8.feed(payload).map_err(|_| invalid_utf8()),
            MessageKind::Binary => Ok(()),
        }
    }

    /// Keeps a non-final fragment (already validated).
    pub fn push(&mut self, fragment: &[u8]) {
        self.fragments.extend_from_slice(fragment);
    }

    /// Inflates a fragment of a compressed message, keeping at most `limit`
    /// bytes, and checks the text it yields.
    pub fn push_compressed(
        &mut self,
        fragment: &[u8],
        inflater: &mut Inflater,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let start = self.fragments.len();
        inflater.inflate(fragment, &mut self.fragments, limit)?;
        self.validate_inflated(start)
    }

    /// Completes a compressed message with its final fragment.
    pub fn finish_compressed(
        mut self,
        last: &[u8],
        inflater: &mut Inflater,
        limit: usize,
    ) -> Result<Incoming, ProtocolError> {
        self.push_compressed(last, inflater, limit)?;
        let start = self.fragments.len();
        inflater.finish(&mut self.fragments, limit)?;
        self.validate_inflated(start)?;
        self.finish(Bytes::new())
    }

    fn validate_inflated(&mut self, from: usize) -> Result<(), ProtocolError> {
        match self.kind {
            MessageKind::Text => self
                .utf8
                .feed(&self.fragments[from..])
                .map_err(|_| invalid_utf8()),
            MessageKind::Binary => Ok(()),
        }
    }

    /// Completes the message with its final fragment (already validated).
    pub fn finish(mut self, last: Bytes) -> Result<Incoming, ProtocolError> {
        if self.kind == MessageKind::Text {
            self.utf8.finish().map_err(|_| invalid_utf8())?;
        }
        // A message in a single frame is handed over without a copy.
        let data = if self.fragments.is_empty() {
            last
        } else {
            self.fragments.extend_from_slice(&last);
            Bytes::from(self.fragments)
        };
        Ok(match self.kind {
            MessageKind::Text => Incoming::Text(data),
            MessageKind::Binary => Incoming::Binary(data),
        })
    }
}

fn invalid_utf8() -> ProtocolError {
    ProtocolError::invalid_data("Invalid UTF8 data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_frame_message_is_not_copied() {
        let payload = Bytes::from_static(b"Hello");
        let mut m = IncomingMessage::new(MessageKind::Text);
        m.reserve(5, 0).unwrap();
        m.validate(&payload).unwrap();
        let Incoming::Text(text) = m.finish(payload.clone()).unwrap() else {
            panic!("not text")
        };
        assert_eq!(text.as_ptr(), payload.as_ptr());
    }

    #[test]
    fn fragments_are_joined() {
        let mut m = IncomingMessage::new(MessageKind::Binary);
        m.push(b"Hel");
        m.push(b"");
        assert_eq!(
            m.finish(Bytes::from_static(b"lo")).unwrap(),
            Incoming::Binary(Bytes::from_static(b"Hello"))
        );
    }

    #[test]
    fn size_bound_counts_every_fragment() {
        let mut m = IncomingMessage::new(MessageKind::Binary);
        m.reserve(6, 10).unwrap();
        m.reserve(4, 10).unwrap();
        let err = m.reserve(1, 10).unwrap_err();
        assert_eq!(err.code(), 1009);
        assert_eq!(err.message, "Message too large (11 bytes)");
        // 0: unbounded.
        let mut m = IncomingMessage::new(MessageKind::Binary);
        m.reserve(u64::MAX, 0).unwrap();
    }

    #[test]
    fn text_is_validated_across_fragments() {
        let mut m = IncomingMessage::new(MessageKind::Text);
        m.validate(&[0xE2, 0x82]).unwrap();
        m.push(&[0xE2, 0x82]);
        m.validate(&[0xAC]).unwrap();
        assert_eq!(
            m.finish(Bytes::from_static(&[0xAC])).unwrap(),
            Incoming::Text(Bytes::from("€"))
        );

        let mut m = IncomingMessage::new(MessageKind::Text);
        m.validate(&[0xE2, 0x82]).unwrap();
        let err = m.validate(b"(").unwrap_err();
        assert_eq!(
            (err.code(), err.message.as_str()),
            (1007, "Invalid UTF8 data")
        );

        let mut m = IncomingMessage::new(MessageKind::Text);
        m.validate(&[0xE2, 0x82]).unwrap();
        let err = m.finish(Bytes::from_static(&[0xE2, 0x82])).unwrap_err();
        assert_eq!(err.code(), 1007);
    }

    #[test]
    fn binary_is_not_validated() {
        let mut m = IncomingMessage::new(MessageKind::Binary);
        m.validate(&[0xFF, 0xFE]).unwrap();
        assert!(m.finish(Bytes::from_static(&[0xFF])).is_ok());
    }
}
