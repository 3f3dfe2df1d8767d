//! The stream a connection on a TLS port runs on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::TlsConfig;

/// The TLS session, or nothing when its handshake failed or timed out.
///
/// A failed connection still goes through the connection task: its reads end
/// and its writes fail, so the task ends as soon as the Ruby side has started
/// it, and reports `Closed` (never opened, so no `onclose`) like any other.
/// `S` is the socket: a tokio `TcpStream` for a session on the workers, the
/// reactor thread's own socket for one framed there.
pub(crate) enum TlsConn<S = TcpStream> {
    Up(Box<TlsStream<S>>),
    Down,
}

impl TlsConfig {
    /// Runs the TLS handshake on `stream`, for at most `timeout`.
    pub(crate) async fn accept<S>(&self, stream: S, timeout: Option<Duration>) -> TlsConn<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = TlsAcceptor::from(self.0.clone()).accept(stream);
        let result = match timeout {
            Some(timeout) => match tokio::time::timeout(timeout, handshake).await {
                Ok(result) => result,
                Err(_elapsed) => return TlsConn::Down,
            },
            None => handshake.await,
        };
        // A client speaking plain HTTP or garbage lands here: rustls has
        // already sent it an alert, and nobody else is affected.
        result.map_or(TlsConn::Down, |tls| TlsConn::Up(Box::new(tls)))
    }
}

impl<S> TlsConn<S> {
    /// The server name the client asked for (SNI), if it did.
    pub(crate) fn server_name(&self) -> Option<&str> {
        match self {
            TlsConn::Up(tls) => tls.get_ref().1.server_name(),
            TlsConn::Down => None,
        }
    }
}

/// Records are encrypted with the session the task owns: nobody else writes.
fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the TLS handshake failed")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsConn<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsConn::Up(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            // End of stream.
            TlsConn::Down => Poll::Ready(Ok(())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsConn<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsConn::Up(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            TlsConn::Down => Poll::Ready(Err(not_connected())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            TlsConn::Up(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
            TlsConn::Down => Poll::Ready(Err(not_connected())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            TlsConn::Up(tls) => tls.is_write_vectored(),
            TlsConn::Down => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsConn::Up(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            TlsConn::Down => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            // Sends close_notify, then shuts the TCP write side.
            TlsConn::Up(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            TlsConn::Down => Poll::Ready(Ok(())),
        }
    }
}
