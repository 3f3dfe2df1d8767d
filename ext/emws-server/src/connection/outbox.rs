//! Bytes waiting to be written to one peer.
//!
//! Small pieces are coalesced into one buffer so that a burst of small frames
//! leaves in one system call; large payloads are kept as the `Bytes` the
//! application handed over and written with `writev`, never copied again.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;

/// Payloads up to this size are copied next to their header; larger ones are
/// written from their own buffer.
const COALESCE_LIMIT: usize = 4096;
/// A frame's bytes beyond its payload, at most: a 10-byte header (server
/// frames are not masked), or draft 75/76's two markers.
const MAX_FRAME_OVERHEAD: usize = 10;
/// At most this many buffers are handed to one `writev`.
const MAX_IOVECS: usize = 64;

#[derive(Default)]
pub struct Outbox {
    chunks: VecDeque<Bytes>,
    tail: Vec<u8>,
    len: usize,
    unflushed: bool,
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `write_to` has work: bytes to write, or a flush owed to a
    /// buffering stream (TLS) after the last write.
    pub fn has_work(&self) -> bool {
        self.len > 0 || self.unflushed
    }

    /// Makes room in one allocation for the frames of payloads of these
    /// lengths that will be coalesced.
    pub fn reserve_frames(&mut self, payloads: impl Iterator<Item = usize>) {
        let room: usize = payloads
            .filter(|&len| len <= COALESCE_LIMIT)
            .map(|len| len + MAX_FRAME_OVERHEAD)
            .sum();
        self.tail.reserve(room);
    }

    pub fn push_slice(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        self.len += data.len();
    }

    pub fn push_bytes(&mut self, data: Bytes) {
        if data.len() <= COALESCE_LIMIT {
            self.push_slice(&data);
            return;
        }
        self.seal_tail();
        self.len += data.len();
        self.chunks.push_back(data);
    }

    /// A buffer the caller may append encoded bytes to; call `commit` after.
    pub fn tail_mut(&mut self) -> &mut Vec<u8> {
        &mut self.tail
    }

    /// Accounts for bytes appended through `tail_mut` since `before` (its old length).
    pub fn commit(&mut self, before: usize) {
        self.len += self.tail.len() - before;
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks
                .push_back(Bytes::from(std::mem::take(&mut self.tail)));
        }
    }

    /// Writes as much as one `write` (or `writev`) takes, or flushes once everything is
    /// written. Returns the number of bytes written.
    pub fn poll_write_to<W: AsyncWrite>(
        &mut self,
        mut writer: Pin<&mut W>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if self.len == 0 {
            ready!(writer.as_mut().poll_flush(cx))?;
            self.unflushed = false;
            return Poll::Ready(Ok(0));
        }
        let written = if self.chunks.is_empty() {
            // Only small pieces: written from the tail itself, so that no
            // queue of chunks is allocated (an idle connection would keep it)
            // and no `Bytes` is made of the tail.
            ready!(writer.poll_write(cx, &self.tail))?
        } else {
            self.seal_tail();
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = self.chunks.len().min(MAX_IOVECS);
            for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slice = IoSlice::new(chunk);
            }
            ready!(writer.poll_write_vectored(cx, &slices[..count]))?
        };
        if written == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        if self.chunks.is_empty() && written == self.tail.len() {
            self.len -= written;
            self.tail = Vec::new();
        } else {
            // The rest of a partly written tail waits as a chunk, so that
            // it is not moved to the front of its buffer.
            self.seal_tail();
            self.consume(written);
        }
        self.unflushed = true;
        Poll::Ready(Ok(written))
    }

    fn consume(&mut self, mut written: usize) {
        self.len -= written;
        while written > 0 {
            let front = self.chunks.front_mut().expect("written bytes were queued");
            if front.len() <= written {
                written -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
        // Give the queue back once it has drained: idle connections hold nothing.
        if self.len == 0 {
            self.chunks = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn write(outbox: &mut Outbox, sink: &mut Vec<u8>) {
        std::future::poll_fn(|cx| outbox.poll_write_to(Pin::new(&mut *sink), cx))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn writes_small_and_large_pieces_in_order() {
        let mut outbox = Outbox::default();
        outbox.push_slice(b"head");
        let big = Bytes::from(vec![7u8; COALESCE_LIMIT + 1]);
        outbox.push_bytes(big.clone());
        outbox.push_bytes(Bytes::from_static(b"tail"));
        assert_eq!(outbox.len(), 8 + big.len());

        let mut sink: Vec<u8> = Vec::new();
        while !outbox.is_empty() {
            write(&mut outbox, &mut sink).await;
        }
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"tail");
        assert_eq!(sink, expected);
        assert!(outbox.has_work(), "a flush is owed after writing");
        write(&mut outbox, &mut sink).await;
        assert!(!outbox.has_work());
    }

    /// Takes at most `limit` bytes per write.
    struct Trickle {
        limit: usize,
        data: Vec<u8>,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.data.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn partly_written_pieces_keep_their_order_and_a_drained_outbox_holds_nothing() {
        let mut outbox = Outbox::default();
        let mut sink = Trickle {
            limit: 3,
            data: Vec::new(),
        };
        outbox.push_slice(b"small frames");
        std::future::poll_fn(|cx| outbox.poll_write_to(Pin::new(&mut sink), cx))
            .await
            .unwrap();
        outbox.push_slice(b", then more");
        let big = Bytes::from(vec![7u8; COALESCE_LIMIT + 1]);
        outbox.push_bytes(big.clone());
        sink.limit = 1000;
        while !outbox.is_empty() {
            std::future::poll_fn(|cx| outbox.poll_write_to(Pin::new(&mut sink), cx))
                .await
                .unwrap();
        }
        let mut expected = b"small frames, then more".to_vec();
        expected.extend_from_slice(&big);
        assert_eq!(sink.data, expected);
        assert_eq!(outbox.chunks.capacity(), 0, "no queue kept");
        assert_eq!(outbox.tail.capacity(), 0, "no buffer kept");

        outbox.push_slice(b"a reply");
        write(&mut outbox, &mut sink.data).await;
        assert!(outbox.is_empty());
        assert_eq!(outbox.chunks.capacity(), 0, "small writes need no queue");
        assert_eq!(outbox.tail.capacity(), 0);
    }
}
