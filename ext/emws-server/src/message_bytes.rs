//! A message's bytes on their way between the Ruby thread and a connection
//! task, inline when small.

use std::ops::Deref;

use bytes::Bytes;

/// Messages up to this many bytes travel inline: the largest that keeps a
/// `Command` at 56 bytes and an `Event` at 64 (both unit-tested).
pub const INLINE_BYTES: usize = 46;

/// Inline up to [`INLINE_BYTES`], shared beyond. A small message crosses
/// threads with no allocation freed on the other thread and no reference
/// count both threads touch; a large one is not copied.
#[derive(Clone)]
pub enum MessageBytes {
    Inline { len: u8, bytes: [u8; INLINE_BYTES] },
    Shared(Bytes),
}

impl MessageBytes {
    /// Copies `data` if it fits inline, else into a new shared buffer.
    pub fn copy_from(data: &[u8]) -> MessageBytes {
        if data.len() <= INLINE_BYTES {
            let mut bytes = [0; INLINE_BYTES];
            bytes[..data.len()].copy_from_slice(data);
            MessageBytes::Inline {
                len: data.len() as u8,
                bytes,
            }
        } else {
            MessageBytes::Shared(Bytes::copy_from_slice(data))
        }
    }

    /// Copies small `data` inline (letting its buffer go here, on this
    /// thread); keeps larger data as it is.
    pub fn small_inline(data: Bytes) -> MessageBytes {
        if data.len() <= INLINE_BYTES {
            MessageBytes::copy_from(&data)
        } else {
            MessageBytes::Shared(data)
        }
    }
}

impl Deref for MessageBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            MessageBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            MessageBytes::Shared(bytes) => bytes,
        }
    }
}

impl std::fmt::Debug for MessageBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MessageBytes").field(&&self[..]).finish()
    }
}

impl PartialEq for MessageBytes {
    fn eq(&self, other: &MessageBytes) -> bool {
        self[..] == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_is_inline_large_is_shared() {
        let small = MessageBytes::copy_from(b"hello");
        assert!(matches!(small, MessageBytes::Inline { len: 5, .. }));
        assert_eq!(&small[..], b"hello");
        let edge = MessageBytes::copy_from(&[1; INLINE_BYTES]);
        assert!(matches!(edge, MessageBytes::Inline { .. }));
        assert_eq!(edge.len(), INLINE_BYTES);
        let large = MessageBytes::copy_from(&[2; INLINE_BYTES + 1]);
        assert!(matches!(large, MessageBytes::Shared(ref b) if b.len() == INLINE_BYTES + 1));
        assert!(matches!(
            MessageBytes::small_inline(Bytes::from_static(b"")),
            MessageBytes::Inline { len: 0, .. }
        ));
        let kept = Bytes::from(vec![3; 100]);
        let MessageBytes::Shared(same) = MessageBytes::small_inline(kept.clone()) else {
            panic!("large data is kept shared");
        };
        assert_eq!(same.as_ptr(), kept.as_ptr(), "not copied");
    }

    #[test]
    fn an_event_with_inline_bytes_fits_a_cache_line() {
        assert!(std::mem::size_of::<crate::event::Event>() <= 64);
    }
}
