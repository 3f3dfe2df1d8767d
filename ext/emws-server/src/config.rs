//! What a server is started with.

use std::time::Duration;

use emws_core::HandshakeConfig;

use crate::tls::TlsConfig;

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
