//! Listeners, the accept loop and shutdown.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use emws_core::HandshakeConfig;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::bridge::Bridge;
use crate::connection::{self, CatchPanic, ConnectionHandle};
use crate::event::Event;
use crate::reactor_io::ReactorStream;
use crate::reactor_tasks;
use crate::runtime;
use crate::tls::{TlsConfig, TlsConn};

/// Everything a server is started with; the Ruby side maps its options here.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub handshake: HandshakeConfig,
    pub max_message_size: usize,
    pub max_handshake_size: usize,
    pub handshake_timeout: Option<Duration>,
    pub outbound_limit: usize,
    pub require_masking: bool,
    pub reuse_port: bool,
    pub backlog: i32,
    /// Connections beyond this many get a 503 and are closed at once.
    pub max_connections: Option<usize>,
    /// Keep-alive pings on a connection the peer has been silent on.
    pub ping_interval: Option<Duration>,
    /// How long a keep-alive ping may go unanswered (default: the interval).
    pub ping_timeout: Option<Duration>,
    /// `ondrain` fires once the outbound buffer empties after passing this.
    pub drain_threshold: usize,
    /// Serve `wss://`: every connection starts with a TLS handshake.
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            host: "0.0.0.0".to_string(),
            port: 8080,
            handshake: HandshakeConfig::default(),
            max_message_size: 64 * 1024 * 1024,
            max_handshake_size: 16 * 1024,
            handshake_timeout: Some(Duration::from_secs(30)),
            outbound_limit: 0,
            require_masking: false,
            reuse_port: false,
            backlog: 1024,
            max_connections: None,
            ping_interval: None,
            ping_timeout: None,
            drain_threshold: 64 * 1024,
            tls: None,
        }
    }
}

impl ServerConfig {
    pub(crate) fn ping_timeout(&self) -> Option<Duration> {
        self.ping_timeout.or(self.ping_interval)
    }
}

/// What a server's tasks share.
pub(crate) struct ServerShared {
    pub(crate) id: u32,
    pub(crate) config: ServerConfig,
    pub(crate) bridge: Arc<Bridge>,
    pub(crate) shutdown: watch::Sender<bool>,
    live: Mutex<usize>,
    all_done: Condvar,
    /// Open WebSocket (or not yet WebSocket) connections, for `max_connections`.
    connections: AtomicUsize,
    /// Every running connection, to be ended by `stop`.
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    stopping: bool,
    handles: HashMap<u64, Arc<ConnectionHandle>>,
}

impl ServerShared {
    /// Keeps a connection to be ended by `stop` (or ends it now if stopping).
    fn register(&self, handle: &Arc<ConnectionHandle>) {
        let mut registry = lock(&self.registry);
        if registry.stopping {
            handle.shut_down();
        } else {
            registry.handles.insert(handle.id, handle.clone());
        }
    }

    /// A connection has ended.
    pub(crate) fn forget(&self, id: u64) {
        lock(&self.registry).handles.remove(&id);
    }

    fn shut_down_all(&self) {
        let handles: Vec<Arc<ConnectionHandle>> = {
            let mut registry = lock(&self.registry);
            registry.stopping = true;
            registry.handles.values().cloned().collect()
        };
        for handle in handles {
            handle.shut_down();
        }
    }
}

/// Keeps the count of a server's running tasks.
struct Live(Arc<ServerShared>);

impl Live {
    fn new(shared: &Arc<ServerShared>) -> Live {
        *lock(&shared.live) += 1;
        Live(shared.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut live = lock(&self.0.live);
        *live -= 1;
        if *live == 0 {
            self.0.all_done.notify_all();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

static NEXT_SERVER_ID: AtomicU32 = AtomicU32::new(1);
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// How long `stop` waits for the last connections before it polls the
/// reactor's tasks again.
const STOP_POLL: Duration = Duration::from_millis(1);

/// A running server: its listeners accept until `stop`.
pub struct Server {
    shared: Arc<ServerShared>,
    local_addrs: Vec<SocketAddr>,
}

impl Server {
    /// Binds every address `host` resolves to (in the calling thread, so that
    /// a port in use is reported to the caller) and starts accepting.
    pub fn start(config: ServerConfig, bridge: Arc<Bridge>) -> io::Result<Server> {
        let listeners = bind_all(&config)?;
        let local_addrs = listeners
            .iter()
            .map(StdTcpListener::local_addr)
            .collect::<io::Result<Vec<_>>>()?;
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(ServerShared {
            id: NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed),
            config,
            bridge,
            shutdown,
            live: Mutex::new(0),
            all_done: Condvar::new(),
            connections: AtomicUsize::new(0),
            registry: Mutex::new(Registry::default()),
        });
        let runtime = runtime::get()?;
        let _entered = runtime.enter();
        for listener in listeners {
            let listener = TcpListener::from_std(listener)?;
            let live = Live::new(&shared);
            // Subscribed here, not in the task: a `stop` before the task first
            // runs must still reach it.
            let shutdown = shared.shutdown.subscribe();
            runtime.spawn(accept_loop(listener, shutdown, shared.clone(), live));
        }
        Ok(Server {
            shared,
            local_addrs,
        })
    }

    pub fn id(&self) -> u32 {
        self.shared.id
    }

    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Closes the listeners and every connection, and waits (up to `wait`)
    /// until all of them are gone, so that the port can be bound again at once.
    /// Returns whether everything ended in time.
    pub fn stop(&self, wait: Duration) -> bool {
        self.shared.shutdown.send_replace(true);
        self.shared.shut_down_all();
        let deadline = std::time::Instant::now() + wait;
        loop {
            // The tasks polled on the reactor thread (this one) end only
            // when polled here.
            self.shared.bridge.run_tasks();
            let live = lock(&self.shared.live);
            if *live == 0 {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let pause = if self.shared.bridge.tasks_ready() {
                Duration::ZERO
            } else {
                STOP_POLL.min(deadline - now)
            };
            drop(
                self.shared
                    .all_done
                    .wait_timeout(live, pause)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
        }
    }
}

fn bind_all(config: &ServerConfig) -> io::Result<Vec<StdTcpListener>> {
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
    socket.listen(config.backlog)?;
    Ok(socket.into())
}

async fn accept_loop(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    shared: Arc<ServerShared>,
    live: Live,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => spawn_connection(stream, peer, &shared),
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
    drop(live);
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// What a client beyond `max_connections` is told before it is closed.
const SERVICE_UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\nToo many connections";

fn spawn_connection(stream: TcpStream, peer: SocketAddr, shared: &Arc<ServerShared>) {
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let open = shared.connections.fetch_add(1, Ordering::AcqRel);
    if shared.config.max_connections.is_some_and(|max| open >= max) {
        shared.connections.fetch_sub(1, Ordering::AcqRel);
        refuse(stream, shared);
        return;
    }
    let served = match shared.config.tls {
        None => served_by_reactor(stream, shared),
        _ => Some(Served::Workers(stream)),
    };
    let Some(stream) = served else {
        // Lost between the runtime and the reactor: closed, never seen.
        shared.connections.fetch_sub(1, Ordering::AcqRel);
        return;
    };
    let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
    let handle = Arc::new(ConnectionHandle::new(
        id,
        peer,
        fd,
        shared.config.outbound_limit,
        shared.config.drain_threshold,
        matches!(stream, Served::Reactor(_)),
    ));
    shared.register(&handle);
    shared.bridge.push(Event::Accepted {
        server: shared.id,
        handle: handle.clone(),
    });
    let live = Live::new(shared);
    // Plain and TLS connections are spawned as different futures, so that a
    // plain connection's task does not reserve room for a TLS handshake.
    match (stream, shared.config.tls.clone()) {
        (Served::Reactor(stream), _) => {
            let serve = connection::run(stream, shared.clone(), handle.clone());
            let guarded = CatchPanic::new(serve, handle, ConnectionSlot(live));
            reactor_tasks::spawn(&shared.bridge, guarded);
        }
        (Served::Workers(stream), None) => spawn_guarded(
            connection::run_tcp(stream, shared.clone(), handle.clone()),
            live,
            handle,
        ),
        (Served::Workers(stream), Some(tls)) => {
            let task_shared = shared.clone();
            let task_handle = handle.clone();
            let serve = async move {
                // Here, after `Accepted` is queued, so that the reactor never
                // waits for a TLS handshake; a failed one still goes through
                // `connection::run`, which reports the end to the Ruby side.
                let stream = accept_tls(&tls, stream, &task_shared).await;
                connection::run(stream, task_shared, task_handle).await;
            };
            spawn_guarded(serve, live, handle);
        }
    }
}

/// Where a connection's task runs.
enum Served {
    /// On the reactor thread, its socket in the reactor's epoll set.
    Reactor(ReactorStream),
    /// On the runtime's workers.
    Workers(TcpStream),
}

/// Moves a plain connection's socket to the reactor's epoll set; a socket
/// the set does not take stays with the workers.
fn served_by_reactor(stream: TcpStream, shared: &ServerShared) -> Option<Served> {
    let std = stream.into_std().ok()?;
    match shared.bridge.io().register(std) {
        Ok(registered) => Some(Served::Reactor(registered)),
        Err((_, std)) => TcpStream::from_std(std).ok().map(Served::Workers),
    }
}

/// Spawns a connection's future: a panic in it ends that connection alone,
/// and the server's counts follow the task. The future is spawned as it is,
/// with no `async` block around it that would hold a second copy of it.
fn spawn_guarded<F>(serve: F, live: Live, handle: Arc<ConnectionHandle>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let slot = ConnectionSlot(live);
    tokio::spawn(CatchPanic::new(serve, handle, slot));
}

/// Counts a connection for `max_connections` and `stop` until dropped.
struct ConnectionSlot(Live);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        (self.0).0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection over `max_connections` with a 503, without the
/// application ever seeing it.
fn refuse(stream: TcpStream, shared: &Arc<ServerShared>) {
    let live = Live::new(shared);
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
async fn accept_tls(tls: &TlsConfig, stream: TcpStream, shared: &ServerShared) -> TlsConn {
    let mut shutdown = shared.shutdown.subscribe();
    if *shutdown.borrow_and_update() {
        return TlsConn::Down;
    }
    tokio::select! {
        _ = shutdown.changed() => TlsConn::Down,
        conn = tls.accept(stream, shared.config.handshake_timeout) => conn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_can_be_bound_again_as_soon_as_stop_returns() {
        let bridge = Arc::new(Bridge::new().unwrap());
        let config = |port| ServerConfig {
            host: "127.0.0.1".to_string(),
            port,
            ..ServerConfig::default()
        };
        let first = Server::start(config(0), bridge.clone()).unwrap();
        let port = first.local_addrs()[0].port();
        assert!(first.stop(Duration::from_secs(5)));
        for round in 0..200 {
            let server = Server::start(config(port), bridge.clone())
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(server.stop(Duration::from_secs(5)));
            // A listener still open would make this bind fail.
            let plain = std::net::TcpListener::bind(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            drop(plain);
        }
    }

    /// A plain connection's task is allocated as it is, by the reactor's
    /// executor (`reactor_tasks`): idle memory per connection grows with it.
    #[test]
    fn a_plain_connection_task_takes_at_most_448_bytes() {
        type Spawned = connection::CatchPanic<connection::Task<ReactorStream>, ConnectionSlot>;
        let size = reactor_tasks::allocation_size::<Spawned>();
        assert!(size <= 448, "a connection's task takes {size} bytes");
    }

    /// On the workers (a socket the reactor's epoll set would not take):
    /// what tokio allocates per connection task is its future plus about a
    /// hundred bytes, rounded up to a multiple of 128: a plain connection's
    /// future of up to 408 bytes takes a 512-byte cell, one of 416 a 640-byte
    /// cell (measured with tokio 1.54). Idle memory per connection depends on
    /// staying under that line.
    #[test]
    fn a_plain_connection_task_fits_a_512_byte_cell() {
        type Spawned = connection::CatchPanic<connection::Task<TcpStream>, ConnectionSlot>;
        let size = std::mem::size_of::<Spawned>();
        assert!(size <= 408, "a connection's future is {size} bytes");
    }
}
