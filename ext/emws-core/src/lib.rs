//! The sans-I/O protocol core of em-websocket-rs.
//!
//! Bytes in, events and bytes out: nothing here knows about sockets, threads,
//! timers or Ruby. The server crate owns the I/O and the clock; this crate owns
//! every protocol rule, so each rule can be unit-tested on its own.
//!
//! * [`handshake`]: reading the opening bytes of a connection (an upgrade
//!   request, `GET /healthcheck`, a Flash policy request) and answering them.
//! * [`frame`]: frame headers, their coding and masking.
//! * [`utf8`]: incremental UTF-8 validation (fails fast across fragments).
//! * [`close`]: close codes and close-frame payloads.
//! * [`message`]: reassembly of fragmented messages.
//! * [`protocol`]: the state machine of an open connection.
//! * [`deflate`]: permessage-deflate (RFC 7692): negotiation and codec.
//! * [`proxy`]: the client's address behind proxies: PROXY protocol headers,
//!   and forwarding headers from trusted proxies.

pub mod close;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod protocol;
pub mod proxy;
pub mod utf8;

pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{HandshakeError, ProtocolError, ProtocolErrorKind};
pub use handshake::{Accepted, HandshakeConfig, Preface, Request};
pub use protocol::{Config, Draft, Incoming, OutFrame, OutKind, Protocol, State};
