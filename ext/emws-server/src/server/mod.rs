//! A running server: listeners, the accept loop, and `stop`.
//!
//! * `listen`: binding every address of the host, and accepting.
//! * `spawn`: each accepted connection's task, where it runs, and refusals.
//! * `metrics_endpoint`: `GET /metrics` on a listener of its own.
//! * `proxy_header`: the PROXY protocol header before a connection's first byte.

mod listen;
mod metrics_endpoint;
mod proxy_header;
mod spawn;

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::bridge::Bridge;
use crate::executor::runtime;
use crate::metrics::{self, Snapshot};
use crate::options::{MetricsEndpoint, ServerConfig};
use crate::server_state::{Live, ServerState};
use crate::tls::TlsConfig;

static NEXT_SERVER_ID: AtomicU32 = AtomicU32::new(1);

/// What a listener does with each connection it accepts.
type Serve = fn(tokio::net::TcpStream, SocketAddr, &Arc<ServerState>);

/// How long `stop` waits for the last connections before it polls the
/// reactor thread's tasks again.
const STOP_POLL: Duration = Duration::from_millis(1);
/// The longest drain (a day): beyond it, deadlines would not be real ones.
const MAX_DRAIN: Duration = Duration::from_secs(24 * 3600);
/// How long a drain waits for its listeners to close.
const LISTENERS_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A running server: its listeners accept until `stop`.
pub struct Server {
    state: Arc<ServerState>,
    local_addrs: Vec<SocketAddr>,
    /// Where `metrics: { port: }` listens.
    metrics_addr: Option<SocketAddr>,
}

impl Server {
    /// Binds every address `host` resolves to (in the calling thread, so that
    /// a port in use is reported to the caller) and starts accepting.
    pub fn start(config: ServerConfig, bridge: Arc<Bridge>) -> io::Result<Server> {
        let listeners = listen::bind_all(&config)?;
        let local_addrs = listeners
            .iter()
            .map(StdTcpListener::local_addr)
            .collect::<io::Result<Vec<_>>>()?;
        let metrics_listener = match &config.metrics {
            Some(MetricsEndpoint::Separate { host, port }) => {
                Some(metrics_endpoint::bind(host, *port)?)
            }
            _ => None,
        };
        let metrics_addr = metrics_listener
            .as_ref()
            .map(StdTcpListener::local_addr)
            .transpose()?;
        let id = NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ServerState::new(id, config, bridge));
        metrics::register(&state);
        let runtime = runtime::get()?;
        let _entered = runtime.enter();
        let metrics_listener = metrics_listener.map(|l| (l, metrics_endpoint::serve as Serve));
        let listeners = listeners
            .into_iter()
            .map(|l| (l, spawn::spawn_connection as Serve))
            .chain(metrics_listener);
        for (listener, serve) in listeners {
            let listener = TcpListener::from_std(listener)?;
            let live = Live::new(&state);
            state.listening.fetch_add(1, Ordering::AcqRel);
            // Subscribed here, not in the task: a `stop` before the task first
            // runs must still reach it.
            let shutdown = state.shutdown.subscribe();
            let accepting = listen::accept_loop(listener, shutdown, state.clone(), live, serve);
            runtime.spawn(accepting);
        }
        Ok(Server {
            state,
            local_addrs,
            metrics_addr,
        })
    }

    pub fn id(&self) -> u32 {
        self.state.id
    }

    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// What this server has counted, and its gauges now.
    pub fn stats(&self) -> Snapshot {
        Snapshot::of_server(&self.state)
    }

    /// A graceful drain: the listeners close at once (the port is free for
    /// the next process), and every connection is sent a close frame 1001
    /// "Going away" after what the application queued, its peer given
    /// `within` to answer. Returns at once; `stop` ends what is left.
    pub fn drain(&self, within: Duration) {
        self.state.shutdown.send_replace(true);
        self.state.drain(within.min(MAX_DRAIN));
        // The accept loops close their listeners on the workers; the port
        // is free once they have.
        let deadline = Instant::now() + LISTENERS_CLOSE_WAIT;
        while self.state.listening.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(STOP_POLL);
        }
    }

    /// Whether this server serves `wss://` (and so has TLS settings to reload).
    pub fn is_secure(&self) -> bool {
        self.state.tls().is_some()
    }

    /// Answers the TLS handshakes of connections accepted from now on with
    /// `tls` (a renewed certificate, other server names); sessions already
    /// established go on with theirs. False, and nothing changed, on a
    /// server that does not serve `wss://`.
    #[must_use]
    pub fn reload_tls(&self, tls: TlsConfig) -> bool {
        self.state.replace_tls(tls)
    }

    /// Connections not yet ended: a drain is done when none is left.
    pub fn open_connections(&self) -> usize {
        self.state.open_connections()
    }

    /// Closes the listeners and every connection, and waits (up to `wait`)
    /// until all of them are gone, so that the port can be bound again at once.
    /// Returns whether everything ended in time.
    pub fn stop(&self, wait: Duration) -> bool {
        self.state.shutdown.send_replace(true);
        self.state.shut_down_all();
        let deadline = Instant::now() + wait;
        loop {
            // The tasks polled on the reactor thread (this one) end only
            // when polled here.
            self.state.bridge.run_tasks();
            let now = Instant::now();
            if now >= deadline {
                return self.state.wait_until_done(Duration::ZERO);
            }
            let pause = if self.state.bridge.tasks_ready() {
                Duration::ZERO
            } else {
                STOP_POLL.min(deadline - now)
            };
            if self.state.wait_until_done(pause) {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_can_be_bound_again_as_soon_as_stop_returns() {
        let bridge = Arc::new(Bridge::new().unwrap());
        let config = |port| ServerConfig::listening_on("127.0.0.1", port);
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

    /// A plain connection's task is allocated as it is, by the reactor
    /// thread's executor: idle memory per connection grows with it (384
    /// bytes is one of mimalloc's sizes; the next is 448).
    #[test]
    fn a_plain_connection_task_takes_at_most_384_bytes() {
        use crate::connection::{CatchPanic, Task};
        use crate::executor::io::LocalStream;
        use crate::server_state::ConnectionSlot;
        type Spawned = CatchPanic<Task<LocalStream>, ConnectionSlot>;
        let size = crate::executor::local::allocation_size::<Spawned>();
        assert!(size <= 384, "a connection's task takes {size} bytes");
    }
}
