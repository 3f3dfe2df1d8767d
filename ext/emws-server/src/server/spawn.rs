//! Each accepted connection: its handle, where its task runs, and what a
//! connection beyond `max_connections` is told.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proxy_header;
use crate::connection::{self, CatchPanic};
use crate::event::Event;
use crate::executor::local;
use crate::handle::ConnectionHandle;
use crate::metrics::HandshakeFailure;
use crate::server_state::{ConnectionSlot, Live, ServerState};
use crate::tls::{TlsConfig, TlsConn};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// What a client beyond `max_connections` is told before it is closed.
const SERVICE_UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\nToo many connections";

/// Starts the task of an accepted connection (after its PROXY protocol
/// header, with `proxy_protocol`). Where the task runs is the server's
/// `:framing`: on the reactor thread, its socket moved to that thread's
/// epoll set, so that no thread stands between the socket and the Ruby code
/// it feeds; or on the runtime's workers, beside the application. A TLS
/// session's handshake and cryptography run where its task does.
pub(super) fn spawn_connection(stream: TcpStream, peer: SocketAddr, state: &Arc<ServerState>) {
    let _ = stream.set_nodelay(true);
    state.metrics.accepted.inc();
    let Some(slot) = state.admit() else {
        state
            .metrics
            .handshake_failed(HandshakeFailure::MaxConnections);
        refuse(stream, state);
        return;
    };
    if !state.config.proxy_protocol {
        return start(stream, peer, state, slot);
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut stream = stream;
        match proxy_header::read(&mut stream, &state).await {
            Ok(client) => start(stream, client.unwrap_or(peer), &state, slot),
            // Dropped unseen: the application never hears of it.
            Err(()) => state
                .metrics
                .handshake_failed(HandshakeFailure::ProxyHeader),
        }
    });
}

fn start(stream: TcpStream, peer: SocketAddr, state: &Arc<ServerState>, slot: ConnectionSlot) {
    let fd = stream.as_raw_fd();
    let tls = state.tls();
    if state.config.frames_on_reactor() {
        let registered = stream
            .into_std()
            .ok()
            .and_then(|std| state.bridge.io().register(std).ok());
        // A socket the epoll set will not take (out of memory) is closed, unseen.
        let Some(socket) = registered else {
            return;
        };
        let handle = accepted(state, peer, fd, true);
        let executor = state.bridge.executor();
        match tls {
            None => {
                let task = connection::run(socket, state.clone(), handle.clone());
                local::spawn(executor, CatchPanic::new(task, handle, slot));
            }
            Some(tls) => {
                let task = serve_tls(tls, socket, state.clone(), handle.clone());
                local::spawn(executor, CatchPanic::new(task, handle, slot));
            }
        }
        return;
    }
    let handle = accepted(state, peer, fd, false);
    match tls {
        None => {
            let task = connection::run(stream, state.clone(), handle.clone());
            tokio::spawn(CatchPanic::new(task, handle, slot));
        }
        Some(tls) => {
            let task = serve_tls(tls, stream, state.clone(), handle.clone());
            tokio::spawn(CatchPanic::new(task, handle, slot));
        }
    }
}

/// A TLS connection's task: the handshake, then the WebSocket connection on
/// the session.
async fn serve_tls<S>(
    tls: TlsConfig,
    stream: S,
    state: Arc<ServerState>,
    handle: Arc<ConnectionHandle>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Here, after `Accepted` is queued, so that the reactor never waits for
    // a TLS handshake; a failed one still goes through the connection's task,
    // which reports the end to the Ruby side.
    let stream = accept_tls(&tls, stream, &state).await;
    if let Some(name) = stream.server_name() {
        state.bridge.push(Event::ServerName {
            id: handle.id,
            name: name.to_string(),
        });
    }
    connection::run(stream, state, handle).await;
}

/// The handle of a connection being started, registered for `stop`, and
/// the `Accepted` event that makes the reactor thread run the application's block.
fn accepted(
    state: &Arc<ServerState>,
    peer: SocketAddr,
    fd: RawFd,
    on_reactor: bool,
) -> Arc<ConnectionHandle> {
    let handle = Arc::new(ConnectionHandle::new(
        NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
        peer,
        fd,
        state.config.outbound_limit,
        state.config.drain_threshold,
        on_reactor,
    ));
    state.register(&handle);
    state.bridge.push(Event::Accepted {
        server: state.id,
        handle: handle.clone(),
    });
    handle
}

/// Answers a connection over `max_connections` with a 503, without the
/// application ever seeing it.
fn refuse(stream: TcpStream, state: &Arc<ServerState>) {
    let live = Live::new(state);
    tokio::spawn(async move {
        let _live = live;
        let mut stream = stream;
        let answer = async {
            stream.write_all(SERVICE_UNAVAILABLE).await?;
            stream.shutdown().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
    });
}

/// The TLS handshake, bounded by the handshake timeout and cut short by `stop`.
async fn accept_tls<S>(tls: &TlsConfig, stream: S, state: &ServerState) -> TlsConn<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut shutdown = state.shutdown.subscribe();
    if *shutdown.borrow_and_update() {
        return TlsConn::Down;
    }
    let conn = tokio::select! {
        _ = shutdown.changed() => return TlsConn::Down,
        conn = tls.accept(stream, state.config.handshake_timeout) => conn,
    };
    if matches!(conn, TlsConn::Down) {
        state.metrics.handshake_failed(HandshakeFailure::Tls);
    }
    conn
}
