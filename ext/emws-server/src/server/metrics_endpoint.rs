//! `metrics: { port: }`: a listener of its own that answers `GET /metrics`
//! with the server's figures, for a scraper kept off the public port.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::metrics::{self, Snapshot};
use crate::server_state::{Live, ServerState};

/// The longest request head read; a scraper's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// A scraper that has not sent its request by then is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nNot found\n";

pub(super) fn bind(host: &str, port: u16) -> io::Result<StdTcpListener> {
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .and_then(|mut addrs| {
            addrs
                .next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::AddrNotAvailable, "no address"))
        })
        .map_err(|e| io::Error::new(e.kind(), format!("metrics: cannot resolve {host}: {e}")))?;
    let listener = StdTcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("metrics: cannot listen on {addr}: {e}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Answers one scraper's connection, on a task of its own.
pub(super) fn serve(stream: TcpStream, _peer: SocketAddr, state: &Arc<ServerState>) {
    let state = state.clone();
    let live = Live::new(&state);
    tokio::spawn(async move {
        let _live = live;
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &state)).await;
    });
}

async fn answer(mut stream: TcpStream, state: &ServerState) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await?;
        if read == 0 || head.len() + read > MAX_REQUEST {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let scrape = words.next() == Some(b"GET")
        && words
            .next()
            .is_some_and(|target| target == b"/metrics" || target.starts_with(b"/metrics?"));
    if scrape {
        let response = metrics::http_response(&Snapshot::of_server(state));
        stream.write_all(&response).await?;
    } else {
        stream.write_all(NOT_FOUND).await?;
    }
    stream.shutdown().await
}
