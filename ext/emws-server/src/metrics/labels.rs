//! The values each label may take: a fixed set, whatever the peers send.

use emws_core::OutKind;

/// `type` of a message received or sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Text,
    Binary,
    /// Pings, pongs and close frames.
    Control,
}

impl MessageType {
    pub const ALL: [MessageType; 3] =
        [MessageType::Text, MessageType::Binary, MessageType::Control];

    pub fn label(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Binary => "binary",
            MessageType::Control => "control",
        }
    }
}

impl From<OutKind> for MessageType {
    fn from(kind: OutKind) -> MessageType {
        match kind {
            OutKind::Text => MessageType::Text,
            OutKind::Binary => MessageType::Binary,
            OutKind::Ping | OutKind::Pong => MessageType::Control,
        }
    }
}

/// `reason` a connection never became a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// The request was not a WebSocket upgrade this server accepts
    /// (malformed, unsupported version, too large).
    Invalid,
    /// Not completed within `:handshake_timeout`.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// Refused with a 503 beyond `:max_connections`.
    MaxConnections,
    /// `:proxy_protocol`: no valid PROXY protocol header.
    ProxyHeader,
    /// The peer closed the connection before completing its request.
    ClosedEarly,
    /// The application refused it (`ws.onupgrade`).
    Refused,
}

impl HandshakeFailure {
    pub const ALL: [HandshakeFailure; 7] = [
        HandshakeFailure::Invalid,
        HandshakeFailure::Timeout,
        HandshakeFailure::Tls,
        HandshakeFailure::MaxConnections,
        HandshakeFailure::ProxyHeader,
        HandshakeFailure::ClosedEarly,
        HandshakeFailure::Refused,
    ];

    pub fn label(self) -> &'static str {
        match self {
            HandshakeFailure::Invalid => "invalid_request",
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Tls => "tls",
            HandshakeFailure::MaxConnections => "max_connections",
            HandshakeFailure::ProxyHeader => "proxy_header",
            HandshakeFailure::ClosedEarly => "closed_early",
            HandshakeFailure::Refused => "refused",
        }
    }
}

/// `code` of a close frame: the codes RFC 6455 and IANA define, each as
/// itself; the ranges left to applications and libraries as one value each.
pub struct CloseCode;

/// Codes 1000 to 1015 are counted one by one.
const FIRST_DEFINED: u16 = 1000;
const DEFINED: usize = 16;

impl CloseCode {
    /// The defined codes, then "3000-3999", "4000-4999", "other" (anything
    /// else a peer sent), "none" (a close frame without a code).
    pub const BUCKETS: usize = DEFINED + 4;

    pub fn bucket(code: Option<u16>) -> usize {
        match code {
            Some(code @ FIRST_DEFINED..=1015) => usize::from(code - FIRST_DEFINED),
            Some(3000..=3999) => DEFINED,
            Some(4000..=4999) => DEFINED + 1,
            Some(_) => DEFINED + 2,
            None => DEFINED + 3,
        }
    }

    pub fn label(bucket: usize) -> String {
        match bucket {
            b if b < DEFINED => (FIRST_DEFINED as usize + b).to_string(),
            b if b == DEFINED => "3000-3999".into(),
            b if b == DEFINED + 1 => "4000-4999".into(),
            b if b == DEFINED + 2 => "other".into(),
            _ => "none".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_fall_in_a_fixed_set_of_buckets() {
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(1000))), "1000");
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(1015))), "1015");
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(1016))), "other");
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(3001))), "3000-3999");
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(4999))), "4000-4999");
        assert_eq!(CloseCode::label(CloseCode::bucket(Some(65535))), "other");
        assert_eq!(CloseCode::label(CloseCode::bucket(None)), "none");
        for code in 0..=u16::MAX {
            assert!(CloseCode::bucket(Some(code)) < CloseCode::BUCKETS);
        }
    }
}
