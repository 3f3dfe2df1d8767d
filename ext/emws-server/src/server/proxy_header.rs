//! `proxy_protocol: true`: the PROXY protocol header every connection starts
//! with, read before anything else (the TLS handshake included).

use std::net::SocketAddr;
use std::time::Duration;

use emws_core::proxy::{parse_proxy_header, ProxyHeader};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::server_state::ServerState;

/// How long a header may take without `:handshake_timeout`.
const DEFAULT_LIMIT: Duration = Duration::from_secs(30);
/// Bytes looked at per read: a v1 line, or a v2 header with a few TLVs.
const PEEK: usize = 512;

/// What the header said: `Ok(Some(client))`, or `Ok(None)` for a header
/// naming no address (v2 LOCAL, v1 UNKNOWN: the proxy's own connection).
/// `Err` when there is no valid header in time, or the server stops.
pub(super) async fn read(
    stream: &mut TcpStream,
    state: &ServerState,
) -> Result<Option<SocketAddr>, ()> {
    let limit = state.config.handshake_timeout.unwrap_or(DEFAULT_LIMIT);
    let mut shutdown = state.shutdown.subscribe();
    if *shutdown.borrow_and_update() {
        return Err(());
    }
    tokio::select! {
        _ = shutdown.changed() => Err(()),
        read = tokio::time::timeout(limit, read_header(stream)) => match read {
            Ok(Some(source)) => Ok(source),
            _ => Err(()),
        },
    }
}

/// Takes exactly the header's bytes from the socket, never one more: what
/// follows (a request, a TLS ClientHello) stays for the connection. Bytes
/// are only consumed once the parser has seen that they all belong to the
/// header; the rest of a read is left in the socket (peeked).
async fn read_header(stream: &mut TcpStream) -> Option<Option<SocketAddr>> {
    let mut header = Vec::new();
    let mut peeked = [0u8; PEEK];
    loop {
        let available = stream.peek(&mut peeked).await.ok()?;
        if available == 0 {
            return None;
        }
        let before = header.len();
        header.extend_from_slice(&peeked[..available]);
        match parse_proxy_header(&header).ok()? {
            ProxyHeader::Complete { len, source } => {
                let mut rest = vec![0; len - before];
                stream.read_exact(&mut rest).await.ok()?;
                return Some(source);
            }
            ProxyHeader::Incomplete => {
                // All of it is header: take it, and wait for more.
                stream.read_exact(&mut peeked[..available]).await.ok()?;
            }
        }
    }
}
