//! How a channel's messages look in Redis.
//!
//! A text message is published as its UTF-8 bytes, so that any Redis client
//! (`redis-cli PUBLISH chat hello`, a Rails app, a job) can publish into a
//! channel and reach its WebSocket subscribers as a text message, and any
//! subscriber reads the gem's text as it was sent. A binary message is
//! published as the byte 0xFF followed by its bytes: 0xFF never occurs in
//! UTF-8, so no text message can be taken for one. A message from another
//! publisher that is not valid UTF-8 is delivered as binary, whole.

use bytes::{BufMut, Bytes, BytesMut};
use emws_core::OutKind;

/// What marks a binary message.
const BINARY: u8 = 0xFF;

/// The bytes to publish for a message of `kind`.
pub fn encode(kind: OutKind, payload: &[u8]) -> Bytes {
    match kind {
        OutKind::Binary => {
            let mut out = BytesMut::with_capacity(payload.len() + 1);
            out.put_u8(BINARY);
            out.put_slice(payload);
            out.freeze()
        }
        _ => Bytes::copy_from_slice(payload),
    }
}

/// The message a published payload stands for.
pub fn decode(published: &[u8]) -> (OutKind, Bytes) {
    match published.split_first() {
        Some((&BINARY, rest)) => (OutKind::Binary, Bytes::copy_from_slice(rest)),
        _ if std::str::from_utf8(published).is_ok() => {
            (OutKind::Text, Bytes::copy_from_slice(published))
        }
        _ => (OutKind::Binary, Bytes::copy_from_slice(published)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_come_back_as_they_were_sent() {
        for (kind, payload) in [
            (OutKind::Text, &b"hello \xc3\xa9"[..]),
            (OutKind::Text, b""),
            (OutKind::Binary, b"\x00\xff\x10"),
            (OutKind::Binary, b""),
            (OutKind::Binary, b"plain ascii"),
        ] {
            let (decoded_kind, decoded) = decode(&encode(kind, payload));
            assert_eq!((decoded_kind, &decoded[..]), (kind, payload));
        }
    }

    #[test]
    fn what_other_publishers_send() {
        assert_eq!(
            decode(b"hello"),
            (OutKind::Text, Bytes::from_static(b"hello"))
        );
        // Not UTF-8, not marked: binary, whole.
        assert_eq!(
            decode(b"\xc3\x28"),
            (OutKind::Binary, Bytes::from_static(b"\xc3\x28"))
        );
    }
}
