//! What a running server's tasks share: its settings, where their events go,
//! its open connections, and the counts `stop` and `max_connections` read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::bridge::Bridge;
use emws_core::HandshakeConfig;

use crate::handle::ConnectionHandle;
use crate::options::ServerConfig;
use crate::sync::lock;

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
}

#[derive(Default)]
struct Registry {
    stopping: bool,
    handles: HashMap<u64, Arc<ConnectionHandle>>,
}

impl ServerState {
    pub(crate) fn new(id: u32, config: ServerConfig, bridge: Arc<Bridge>) -> ServerState {
        ServerState {
            id,
            handshake: config.handshake(),
            config,
            bridge,
            shutdown: watch::channel(false).0,
            live: Mutex::new(0),
            all_done: Condvar::new(),
            connections: AtomicUsize::new(0),
            registry: Mutex::new(Registry::default()),
        }
    }

    /// Keeps a connection to be ended by `stop` (or ends it now if stopping).
    pub(crate) fn register(&self, handle: &Arc<ConnectionHandle>) {
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

    /// Ends every connection, and any registered from now on.
    pub(crate) fn shut_down_all(&self) {
        let handles: Vec<Arc<ConnectionHandle>> = {
            let mut registry = lock(&self.registry);
            registry.stopping = true;
            registry.handles.values().cloned().collect()
        };
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
