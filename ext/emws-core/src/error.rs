//! The two ways a connection can go wrong: during the opening handshake, and
//! once frames flow.

use std::fmt;

/// The opening handshake was rejected.
///
/// There is no WebSocket connection yet to close cleanly, so the connection is
/// aborted (em-websocket's `HandshakeError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeError {
    pub message: String,
}

impl HandshakeError {
    pub fn new(message: impl Into<String>) -> Self {
        HandshakeError {
            message: message.into(),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandshakeError {}

/// Why a connection has to be failed, which decides its close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolErrorKind {
    /// The peer broke the framing rules (em-websocket's `WSProtocolError`).
    Protocol,
    /// A text message or close reason was not UTF-8 (`InvalidDataError`).
    InvalidData,
    /// A frame or message exceeded the configured bounds (`WSMessageTooBigError`).
    MessageTooBig,
}

impl ProtocolErrorKind {
    /// The close code sent when failing the connection (RFC 6455 §7.4.1).
    pub fn code(self) -> u16 {
        match self {
            ProtocolErrorKind::Protocol => 1002,
            ProtocolErrorKind::InvalidData => 1007,
            ProtocolErrorKind::MessageTooBig => 1009,
        }
    }
}

/// The peer violated the protocol: the connection must be failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub kind: ProtocolErrorKind,
    pub message: String,
}

impl ProtocolError {
    pub fn new(kind: ProtocolErrorKind, message: impl Into<String>) -> Self {
        ProtocolError {
            kind,
            message: message.into(),
        }
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ProtocolErrorKind::Protocol, message)
    }

    pub fn invalid_data(message: impl Into<String>) -> Self {
        Self::new(ProtocolErrorKind::InvalidData, message)
    }

    pub fn too_big(message: impl Into<String>) -> Self {
        Self::new(ProtocolErrorKind::MessageTooBig, message)
    }

    /// The close code this error is reported with.
    pub fn code(&self) -> u16 {
        self.kind.code()
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_rfc6455_close_codes() {
        assert_eq!(ProtocolErrorKind::Protocol.code(), 1002);
        assert_eq!(ProtocolErrorKind::InvalidData.code(), 1007);
        assert_eq!(ProtocolErrorKind::MessageTooBig.code(), 1009);
    }

    #[test]
    fn display_is_the_message() {
        assert_eq!(
            ProtocolError::protocol("Unknown opcode 3").to_string(),
            "Unknown opcode 3"
        );
        assert_eq!(
            HandshakeError::new("Must be GET request").to_string(),
            "Must be GET request"
        );
    }
}
