//! What connection tasks report to the Ruby thread, in the order it happened.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use emws_core::{Draft, Request};

use crate::handle::ConnectionHandle;
use crate::message_bytes::MessageBytes;

/// How a connection ended, as em-websocket reports it to `onclose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: u16,
    /// `None` for an abnormal closure: em-websocket's event then has no `:reason`.
    pub reason: Option<Bytes>,
    pub was_clean: bool,
}

impl CloseInfo {
    pub fn abnormal() -> CloseInfo {
        CloseInfo {
            code: 1006,
            reason: None,
            was_clean: false,
        }
    }
}

/// Why a connection reports an error; each maps to one of em-websocket's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `HandshakeError`
    Handshake,
    /// `WSProtocolError` (1002), also the close handshake timing out
    Protocol,
    /// `InvalidDataError` (1007)
    InvalidData,
    /// `WSMessageTooBigError` (1009)
    MessageTooBig,
}

impl From<emws_core::ProtocolErrorKind> for ErrorKind {
    fn from(kind: emws_core::ProtocolErrorKind) -> ErrorKind {
        match kind {
            emws_core::ProtocolErrorKind::Protocol => ErrorKind::Protocol,
            emws_core::ProtocolErrorKind::InvalidData => ErrorKind::InvalidData,
            emws_core::ProtocolErrorKind::MessageTooBig => ErrorKind::MessageTooBig,
        }
    }
}

/// The handshake as the application sees it in `onopen`.
#[derive(Debug)]
pub struct Opened {
    pub request: Request,
    pub draft: Draft,
    pub protocol: Option<String>,
    pub secure: bool,
    /// The client a trusted proxy forwarded for (`:trusted_proxies`), when
    /// it is not the connection's peer.
    pub forwarded_for: Option<SocketAddr>,
}

#[derive(Debug)]
pub enum Event {
    /// A TCP (or TLS) connection was accepted: the application's block runs now.
    Accepted {
        server: u32,
        handle: Arc<ConnectionHandle>,
    },
    /// A request the application decides on (`ws.onupgrade`), read and
    /// checked; the task waits for `ConnectionHandle::decide`.
    Upgrade {
        handle: Arc<ConnectionHandle>,
        request: Box<Request>,
        secure: bool,
    },
    /// A TLS session began for a client that asked for this server name
    /// (SNI): EventMachine's `get_sni_hostname`.
    ServerName {
        id: u64,
        name: String,
    },
    /// The handshake has completed; the task reads nothing more until
    /// `ConnectionHandle::consumed`.
    Opened {
        handle: Arc<ConnectionHandle>,
        opened: Box<Opened>,
    },
    Text {
        id: u64,
        data: MessageBytes,
    },
    Binary {
        id: u64,
        data: MessageBytes,
    },
    Ping {
        id: u64,
        data: MessageBytes,
    },
    Pong {
        id: u64,
        data: MessageBytes,
    },
    Error {
        id: u64,
        kind: ErrorKind,
        message: String,
    },
    /// Not for the application: the binding releases it at once
    /// (`ConnectionHandle::release`), which tells the task that every event
    /// before it has been delivered.
    Barrier {
        handle: Arc<ConnectionHandle>,
        barrier: u64,
    },
    /// The outbound buffer has been written out after growing past
    /// `:drain_threshold` (`ondrain`, once `ConnectionHandle::drain_confirmed`
    /// says it is still empty when the Ruby side gets to it).
    Drained {
        handle: Arc<ConnectionHandle>,
    },
    /// Bytes read from a connection whose application reads them first
    /// (`Input::Application`): handed to its `receive_data`, then
    /// `ConnectionHandle::consumed`.
    Received {
        handle: Arc<ConnectionHandle>,
        data: Bytes,
    },
    /// A message from a channel backend for a channel's Ruby listeners
    /// (blocks subscribed to it).
    ChannelMessage {
        listener: u64,
        kind: emws_core::OutKind,
        data: MessageBytes,
    },
    /// A channel backend's fault (Redis unreachable, a lost connection).
    ChannelError {
        message: String,
    },
    /// Always the last event of a connection, exactly once.
    Closed {
        id: u64,
        info: CloseInfo,
        /// Whether `Opened` was reported: em-websocket calls `onclose` only then.
        opened: bool,
    },
}

impl Event {
    pub fn connection_id(&self) -> u64 {
        match self {
            Event::Accepted { handle, .. }
            | Event::Barrier { handle, .. }
            | Event::Drained { handle }
            | Event::Received { handle, .. }
            | Event::Opened { handle, .. }
            | Event::Upgrade { handle, .. } => handle.id,
            Event::Text { id, .. }
            | Event::Binary { id, .. }
            | Event::Ping { id, .. }
            | Event::Pong { id, .. }
            | Event::Error { id, .. }
            | Event::ServerName { id, .. }
            | Event::Closed { id, .. } => *id,
            // Not a connection's.
            Event::ChannelMessage { .. } | Event::ChannelError { .. } => 0,
        }
    }
}
