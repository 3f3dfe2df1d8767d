//! What a running server's tasks share: its settings, where their events go,
//! its open connections, its counters, and the counts `stop` and
//! `max_connections` read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::bridge::Bridge;
use emws_core::HandshakeConfig;

use bytes::Bytes;

use crate::handle::ConnectionHandle;
use crate::metrics::{Gauges, Metrics};
use crate::options::ServerConfig;
use crate::sync::lock;
use crate::tls::TlsConfig;

pub(crate) struct ServerState {
    pub(crate) id: u32,
    pub(crate) config: ServerConfig,
    /// The handshake's settings, made from `config` once.
    pub(crate) handshake: HandshakeConfig,
    pub(crate) bridge: Arc<Bridge>,
    /// Set once by `stop`: the accept loops and TLS handshakes end.
    pub(crate) shutdown: watch::Sender<bool>,
    /// Tasks still running (accept loops and connections).
    live: Mutex<usize>,
    all_done: Condvar,
    /// Open WebSocket (or not yet WebSocket) connections, for `max_connections`.
    connections: AtomicUsize,
    /// Every running connection, to be ended by `stop`.
    registry: Mutex<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    /// A drain has begun: connections are being closed with 1001.
    draining: AtomicBool,
    /// Listeners still open (accept loops not yet ended).
    pub(crate) listening: AtomicUsize,
    /// What new connections' TLS handshakes use (`None`: plain `ws://`);
    /// `Server::reload_tls` replaces it, established sessions keep theirs.
    tls: RwLock<Option<TlsConfig>>,
}

#[derive(Default)]
struct Registry {
    stopping: bool,
    /// While draining, each connection registered is closed as it comes.
    drain: Option<Duration>,
    handles: HashMap<u64, Arc<ConnectionHandle>>,
}

/// What a drain closes every connection with.
const GOING_AWAY: u16 = 1001;
const GOING_AWAY_REASON: &[u8] = b"Going away";
/// How long past a drain's deadline a connection's own close timeout is.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

impl ServerState {
    pub(crate) fn new(id: u32, config: ServerConfig, bridge: Arc<Bridge>) -> ServerState {
        ServerState {
            id,
            handshake: config.handshake(),
            tls: RwLock::new(config.tls().cloned()),
            config,
            bridge,
            shutdown: watch::channel(false).0,
            live: Mutex::new(0),
            all_done: Condvar::new(),
            connections: AtomicUsize::new(0),
            registry: Mutex::new(Registry::default()),
            metrics: Arc::default(),
            draining: AtomicBool::new(false),
            listening: AtomicUsize::new(0),
        }
    }

    /// Keeps a connection to be ended by `stop` (or ends it now if stopping).
    pub(crate) fn register(&self, handle: &Arc<ConnectionHandle>) {
        let mut registry = lock(&self.registry);
        if registry.stopping {
            handle.shut_down();
            return;
        }
        if let Some(within) = registry.drain {
            going_away(handle, within);
        }
        registry.handles.insert(handle.id, handle.clone());
    }

    /// Starts the closing handshake of every connection, and of any
    /// registered from now on, with 1001 "Going away"; each peer has
    /// `within` to answer. What the application queued before is written first.
    pub(crate) fn drain(&self, within: Duration) {
        self.draining.store(true, Ordering::Relaxed);
        let handles: Vec<Arc<ConnectionHandle>> = {
            let mut registry = lock(&self.registry);
            registry.drain = Some(within);
            registry.handles.values().cloned().collect()
        };
        for handle in handles {
            going_away(&handle, within);
        }
    }

    /// The gauges, read from what the server tracks anyway.
    pub(crate) fn gauges(&self) -> Gauges {
        let mut gauges = Gauges {
            connections: self.connections.load(Ordering::Relaxed) as u64,
            draining: self.draining.load(Ordering::Relaxed),
            ..Gauges::default()
        };
        for handle in lock(&self.registry).handles.values() {
            let buffered = handle.outbound_bytes() as u64;
            if buffered > 0 {
                gauges.buffered_bytes += buffered;
                gauges.buffered_connections += 1;
            }
        }
        gauges
    }

    /// The TLS configuration for a connection accepted now, or `None`.
    pub(crate) fn tls(&self) -> Option<TlsConfig> {
        // Only a clone is done under the lock: a panic cannot leave it half-made.
        let tls = self.tls.read().unwrap_or_else(PoisonError::into_inner);
        tls.clone()
    }

    /// Has connections accepted from now on use `tls`; false (and nothing
    /// changed) for a server that does not serve `wss://`.
    pub(crate) fn replace_tls(&self, tls: TlsConfig) -> bool {
        let mut current = self.tls.write().unwrap_or_else(PoisonError::into_inner);
        match current.as_mut() {
            Some(current) => {
                *current = tls;
                true
            }
            None => false,
        }
    }

    /// Connections not yet ended (for a drain to know when it is done).
    pub(crate) fn open_connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// A connection has ended.
    pub(crate) fn forget(&self, id: u64) {
        lock(&self.registry).handles.remove(&id);
    }

    /// Ends every connection, and any registered from now on.
    pub(crate) fn shut_down_all(&self) {
        let handles: Vec<Arc<ConnectionHandle>> = {
            let mut registry = lock(&self.registry);
            registry.stopping = true;
            registry.handles.values().cloned().collect()
        };
        if self.draining.swap(false, Ordering::Relaxed) {
            let left = handles.iter().filter(|h| !h.is_finished()).count();
            self.metrics.drain_dropped.add(left as u64);
        }
        for handle in handles {
            handle.shut_down();
        }
    }

    /// Counts a new connection in, unless `max_connections` are open.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let open = self.connections.fetch_add(1, Ordering::AcqRel);
        if self.config.max_connections.is_some_and(|max| open >= max) {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot(Live::new(self)))
    }

    /// Waits up to `pause` for the running tasks to end; true once none is left.
    pub(crate) fn wait_until_done(&self, pause: Duration) -> bool {
        let live = lock(&self.live);
        if *live == 0 {
            return true;
        }
        let (live, _) = self
            .all_done
            .wait_timeout(live, pause)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *live == 0
    }
}

/// The drain's deadline ends what is left (`stop`, counted as dropped by
/// the drain): a connection's own close timeout is set past it.
fn going_away(handle: &ConnectionHandle, within: Duration) {
    handle.close(
        Some(GOING_AWAY),
        Bytes::from_static(GOING_AWAY_REASON),
        within.saturating_add(DRAIN_GRACE),
    );
}

/// Counts one running task of a server (an accept loop, a connection, a
/// refusal) until dropped.
pub(crate) struct Live(Arc<ServerState>);

impl Live {
    pub(crate) fn new(state: &Arc<ServerState>) -> Live {
        *lock(&state.live) += 1;
        Live(state.clone())
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

/// An admitted connection, counted for `max_connections` and `stop` until
/// dropped (after the connection has reported its end).
pub(crate) struct ConnectionSlot(Live);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        (self.0).0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}
