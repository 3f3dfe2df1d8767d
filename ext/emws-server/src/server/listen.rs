//! Binding every address of the host, and the accept loop.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::options::ServerConfig;
use crate::server_state::{Live, ServerState};

pub(super) fn bind_all(config: &ServerConfig) -> io::Result<Vec<StdTcpListener>> {
    let mut addrs: Vec<SocketAddr> = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot resolve {}:{}: {e}", config.host, config.port),
            )
        })?
        .collect();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{} resolves to no address", config.host),
        ));
    }
    let mut listeners = Vec::with_capacity(addrs.len());
    let mut port = config.port;
    for mut addr in addrs {
        // With port 0 every address of the name shares the port the first got.
        addr.set_port(port);
        let listener = bind(addr, config)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    Ok(listeners)
}

fn bind(addr: SocketAddr, config: &ServerConfig) -> io::Result<StdTcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // "::" then serves IPv6 only, and "0.0.0.0" can be bound beside it.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    if config.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(config.backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Accepts until `shutdown`, handing each connection to `serve` (the
/// WebSocket port's `spawn_connection`, or the metrics listener's answer).
pub(super) async fn accept_loop<F>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    state: Arc<ServerState>,
    live: Live,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, &Arc<ServerState>),
{
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => serve(stream, peer, &state),
                Err(error) => {
                    if is_out_of_descriptors(&error) {
                        // Accepting again at once would spin: wait for a descriptor to free up.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            },
        }
    }
    // The port is free again before `stop` (waiting for `live`) returns:
    // parameters would be dropped in reverse order, `live` first.
    drop(listener);
    state.listening.fetch_sub(1, Ordering::AcqRel);
    drop(live);
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
