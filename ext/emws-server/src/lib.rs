//! The tokio side of em-websocket-rs: listeners, one task per connection, and
//! the bridge that carries their events to the reactor (Ruby) thread.
//! Nothing here knows Ruby; the binding crate is the only one that does.
//!
//! * [`server`]: listeners, the accept loop and `stop`; [`options`]: what
//!   a server is started with, each option declared once; [`tls`]: `wss://`
//!   through rustls.
//! * [`handle`]: a connection as the reactor thread sees it;
//!   [`wake_policy`]: when a send wakes the connection's task; [`fanout`]:
//!   one message to many connections.
//! * [`upgrade`]: the application's decision on an upgrade (`ws.onupgrade`).
//! * `connection`: a connection's task (socket, protocol, timers).
//! * [`metrics`]: what a server counts, as a Hash's figures or Prometheus text.
//! * [`event`]: what the tasks report; [`bridge`]: their queue to the
//!   reactor thread, and what else that thread runs for the servers.
//! * [`executor`]: where tasks run: the runtime's workers (accept loops,
//!   timers, the connections of servers framed on the pool) or the reactor
//!   thread itself (the others, their sockets in an epoll set that thread
//!   watches).

pub mod bridge;
mod connection;
pub mod event;
pub mod executor;
pub mod fanout;
pub mod handle;
mod message_bytes;
pub mod metrics;
pub mod options;
pub mod server;
mod server_state;
pub mod sync;
pub mod tls;
pub mod upgrade;
pub mod wake_policy;

pub use bridge::Bridge;
pub use event::{CloseInfo, ErrorKind, Event, Opened};
pub use fanout::Fanout;
pub use handle::{ConnectionHandle, Input, Payload, Sent, DEFAULT_MAX_FRAME_SIZE};
pub use message_bytes::{MessageBytes, INLINE_BYTES};
pub use options::{OptionError, OptionSpec, OptionValue, ServerConfig, OPTIONS};
pub use server::Server;
pub use tls::{Pem, TlsConfig, TlsError, TlsOptions};
