//! The tokio side of em-websocket-rs: listeners, one task per connection, and
//! the bridge that carries their events to the Ruby thread. The runtime's
//! workers accept, keep the timers and serve TLS sessions; a plain
//! connection's task is polled by the Ruby thread itself, its socket in an
//! epoll set that thread watches (`reactor_tasks`, `reactor_io`). Nothing
//! here knows Ruby; the binding crate is the only one that does.

pub mod bridge;
pub mod connection;
pub mod event;
mod message_bytes;
mod outbox;
mod reactor_io;
mod reactor_tasks;
pub mod runtime;
pub mod server;
pub mod tls;
mod wake_relay;

pub use bridge::Bridge;
pub use connection::{ConnectionHandle, Input, Payload, Sent, DEFAULT_MAX_FRAME_SIZE};
pub use event::{CloseInfo, ErrorKind, Event, Opened};
pub use message_bytes::MessageBytes;
pub use server::{Server, ServerConfig};
pub use tls::{Pem, TlsConfig, TlsError, TlsOptions};
