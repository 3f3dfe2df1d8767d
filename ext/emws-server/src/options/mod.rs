//! The options a server is started with, each declared once: its name, what
//! it takes, its default and what it does. [`ServerConfig`] holds them
//! checked and typed; [`OPTIONS`] describes them (the README's table of
//! options is made from it, and a spec keeps the two the same).
//!
//! A new option is one entry in `server_options!` below, then its use.

mod kinds;
mod value;

use std::time::Duration;

use emws_core::HandshakeConfig;

use kinds::{
    Compression, Count, CountOrZero, Flag, Host, Metrics, OptionalCount, Port, Positive, Protocols,
    Seconds, TrustedProxies,
};
pub use kinds::{Framing, Kind, MetricsEndpoint, RateLimitAction, Tls};
pub use value::{OptionError, OptionValue};

use crate::tls::TlsConfig;

/// One option as the documentation shows it.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    /// The default, as the README shows it.
    pub default: &'static str,
    pub doc: &'static str,
}

macro_rules! server_options {
    (@default required) => { Err(OptionError::Required) };
    (@default (fallible $value:expr)) => { $value };
    (@default ($value:expr)) => { Ok($value) };
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $kind:ty = $default:tt, shown $shown:literal;
    )*) => {
        /// Everything a server is started with, checked.
        #[derive(Debug, Clone)]
        pub struct ServerConfig {
            $( $(#[doc = $doc])+ pub $name: <$kind as Kind>::Value, )*
        }

        /// Every option, in the order the documentation lists them.
        pub const OPTIONS: &[OptionSpec] = &[
            $( OptionSpec {
                name: stringify!($name),
                default: $shown,
                doc: concat!($($doc, "\n"),+),
            }, )*
        ];

        impl ServerConfig {
            /// Reads every option from `given` (by name; `Nil` when not
            /// given), using the default of each that is not. An error names
            /// the option it is about.
            pub fn from_options(
                mut given: impl FnMut(&str) -> OptionValue,
            ) -> Result<ServerConfig, (&'static str, OptionError)> {
                Ok(ServerConfig {
                    $( $name: {
                        let name = stringify!($name);
                        match given(name) {
                            OptionValue::Nil => server_options!(@default $default),
                            value => <$kind as Kind>::read(&value),
                        }
                        .map_err(|error| (name, error))?
                    }, )*
                })
            }
        }
    };
}

server_options! {
    /// address or name to listen on; a name is bound on every address it
    /// resolves to (IPv4 and IPv6)
    host: Host = ("0.0.0.0".to_string()), shown "`\"0.0.0.0\"`";
    /// port; `0` picks a free one (`EM::WebSocket.run(...).port` tells which)
    port: Port = required, shown "required";
    /// print each connection's events, as em-websocket does
    debug: Flag = (false), shown "`false`";
    /// serve `wss://` (see TLS below)
    secure: Flag = (false), shown "off";
    /// with `:secure`: the certificate and key (see TLS below)
    tls_options: Tls = (None), shown "none";
    /// TLS is terminated in front of the server: `handshake.secure?` is true
    /// and drafts 75/76 answer with `wss://`
    secure_proxy: Flag = (false), shown "`false`";
    /// seconds the client has to answer our close frame
    close_timeout: Seconds = (None), shown "`EM::WebSocket.close_timeout` (60)";
    /// bytes queued for a slow reader beyond which a send aborts the
    /// connection (returns 0)
    outbound_limit: CountOrZero = (0), shown "`0` (none)";
    /// permessage-deflate (RFC 7692): `true`, or a Hash of
    /// `:server_no_context_takeover`, `:client_no_context_takeover`
    /// (true/false), `:server_max_window_bits`, `:client_max_window_bits`
    /// (8-15), `:min_size` (bytes, default 64), `:level` (zlib's, 1-9,
    /// default 1: the fastest); see Compression below
    compression: Compression = (None), shown "off";
    /// subprotocols in server preference order; the first one the client
    /// offers is chosen and answered (`handshake.protocol`)
    protocols: Protocols = (Vec::new()), shown "none";
    /// bound on a reassembled fragmented message (1009 "Message too large
    /// (N bytes)" beyond it; `0` for none); em-websocket bounds frames only
    max_message_size: CountOrZero = (64 * 1024 * 1024), shown "64 MiB";
    /// connections beyond this many are answered `503 Service Unavailable`
    /// and closed; the application never sees them
    max_connections: OptionalCount = (None), shown "none";
    /// ping a connection the peer has been silent on for this many seconds
    /// (drafts with ping)
    ping_interval: Seconds = (None), shown "none";
    /// a ping unanswered (nothing at all received) this long drops the
    /// connection: `onerror` gets `WSProtocolError` "Ping unanswered after
    /// Ns, closing tcp connection", then `onclose` 1006
    ping_timeout: Seconds = (None), shown "`:ping_interval`";
    /// `ws.ondrain { }` fires once the outbound buffer has been written out
    /// after a send found it above this many bytes; `buffered_amount` is 0
    /// inside it (a drain the application refilled before hearing of it is
    /// reported when the refill is written)
    drain_threshold: CountOrZero = (64 * 1024), shown "64 KiB";
    /// bound on the request head; a larger one is a `HandshakeError` and the
    /// connection is dropped
    max_handshake_size: Count = (16 * 1024), shown "16 KiB";
    /// a client that has not completed its handshake by then is dropped
    /// (slowloris)
    handshake_timeout: Seconds = (Some(Duration::from_secs(30))), shown "30 s";
    /// fail (1002) unmasked client frames, as RFC 6455 requires; off by
    /// default because em-websocket accepts them
    strict_masking: Flag = (false), shown "`false`";
    /// `SO_REUSEPORT`, so that several forked processes can serve one port
    reuse_port: Flag = (false), shown "`false`";
    /// listen backlog
    backlog: Count = (1024), shown "1024";
    /// Prometheus metrics: `true` answers `GET /metrics` on this port (the
    /// application never sees it); `{ port: 9394 }` serves them on a
    /// listener of their own instead (`:host` defaults to `"127.0.0.1"`);
    /// see In production below
    metrics: Metrics = (None), shown "off";
    /// proxies (addresses or CIDR ranges) whose `Forwarded` or
    /// `X-Forwarded-For` is believed: when the peer is one, `ws.remote_ip`
    /// and `get_peername` give the client they name (the rightmost address
    /// that is not itself trusted); an untrusted peer's headers are ignored
    trusted_proxies: TrustedProxies = (Default::default()), shown "none";
    /// every connection starts with a PROXY protocol header (v1 or v2, as
    /// HAProxy sends it) whose source address becomes the client's; a
    /// connection without a valid one is dropped unseen, and counted
    proxy_protocol: Flag = (false), shown "`false`";
    /// messages (text and binary) a connection may send per second, on
    /// average; checked before a message reaches Ruby (see Rate limits below)
    max_messages_per_second: Positive = (None), shown "none";
    /// payload bytes a connection may send per second, on average
    max_bytes_per_second: Positive = (None), shown "none";
    /// how far a connection may run ahead of its rates: each bucket holds
    /// this many seconds' worth
    burst: Positive = (None), shown "1 (second)";
    /// `:close` closes a connection over a limit with 1008 "Rate limit
    /// exceeded"; `:drop` drops its excess messages and keeps it open
    rate_limit_action: RateLimitAction = (RateLimitAction::Close), shown "`:close`";
    /// where connections are read, unmasked, checked and written (and
    /// decrypted and encrypted): `:reactor` (EventMachine's thread, beside
    /// the application), `:pool` (the core's worker threads), or `:auto`:
    /// the pool when `:compression` is on, else the reactor (see Where
    /// framing runs below)
    framing: Framing = (fallible Framing::from_environment()), shown "`:auto` (or `EMWS_FRAMING`)";
}

impl ServerConfig {
    /// Every option at its default, listening on `host:port` (for tests).
    pub fn listening_on(host: &str, port: u16) -> ServerConfig {
        let host = host.to_string();
        ServerConfig::from_options(|name| match name {
            "host" => OptionValue::Str(host.clone()),
            "port" => OptionValue::Int(port.into()),
            _ => OptionValue::Nil,
        })
        .expect("the defaults are valid")
    }

    /// The handshake's settings (made once per server).
    pub(crate) fn handshake(&self) -> HandshakeConfig {
        HandshakeConfig {
            secure: self.secure || self.secure_proxy,
            protocols: self.protocols.clone(),
            compression: self.compression,
        }
    }

    /// How long a keep-alive ping may go unanswered: `:ping_timeout`, else
    /// the interval.
    pub(crate) fn ping_timeout(&self) -> Option<Duration> {
        self.ping_timeout.or(self.ping_interval)
    }

    /// The loaded TLS configuration when serving `wss://` (`:tls_options`
    /// alone does nothing, as in em-websocket).
    pub(crate) fn tls(&self) -> Option<&TlsConfig> {
        self.tls_options.as_ref().filter(|_| self.secure)
    }

    /// Whether plain connections are framed on the reactor thread (see
    /// [`Framing`]).
    pub fn frames_on_reactor(&self) -> bool {
        match self.framing {
            Framing::Reactor => true,
            Framing::Pool => false,
            Framing::Auto => self.compression.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(given: &[(&str, OptionValue)]) -> Result<ServerConfig, (&'static str, OptionError)> {
        ServerConfig::from_options(|name| {
            given
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(OptionValue::Nil, |(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let config = config(&[("port", OptionValue::Int(8080))]).unwrap();
        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.max_handshake_size, 16 * 1024);
        assert_eq!(config.handshake_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.max_connections, None);
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(config(&[]).unwrap_err(), ("port", OptionError::Required));
        let bad = config(&[
            ("port", OptionValue::Int(1)),
            ("backlog", OptionValue::Int(0)),
        ]);
        assert_eq!(
            bad.unwrap_err(),
            ("backlog", OptionError::Expected("an Integer >= 1"))
        );
        let bad = config(&[("port", OptionValue::Int(70_000))]);
        assert_eq!(
            bad.unwrap_err().1.message("port", "70000"),
            ":port must be an Integer from 0 to 65535, got 70000"
        );
    }

    #[test]
    fn compression_settings_are_checked_one_by_one() {
        let sym = |s: &str| OptionValue::Symbol(s.into());
        let compression = |entries| {
            config(&[
                ("port", OptionValue::Int(1)),
                ("compression", OptionValue::Map(entries)),
            ])
        };
        let ok = compression(vec![(sym("server_max_window_bits"), OptionValue::Int(10))]).unwrap();
        assert_eq!(ok.compression.unwrap().server_max_window_bits, 10);
        let bad = compression(vec![(sym("min_size"), OptionValue::Int(-1))]).unwrap_err();
        assert_eq!(
            bad.1,
            OptionError::Message(":compression's :min_size must be an Integer >= 0, got -1".into())
        );
        let level = compression(vec![(sym("level"), OptionValue::Int(6))]).unwrap();
        assert_eq!(level.compression.unwrap().level, 6);
        let bad = compression(vec![(sym("level"), OptionValue::Int(0))]).unwrap_err();
        assert_eq!(
            bad.1,
            OptionError::Message(
                ":compression's :level must be an Integer from 1 to 9, got 0".into()
            )
        );
        let unknown = compression(vec![(sym("quality"), OptionValue::Int(9))]).unwrap_err();
        assert!(
            matches!(unknown.1, OptionError::Message(m) if m.starts_with(":compression has unknown keys :quality"))
        );
    }

    #[test]
    fn auto_framing_puts_compressed_servers_on_the_pool() {
        let sym = |s: &str| OptionValue::Symbol(s.into());
        let placed = |framing: &str, compression: OptionValue| {
            config(&[
                ("port", OptionValue::Int(1)),
                ("framing", sym(framing)),
                ("compression", compression),
            ])
            .unwrap()
            .frames_on_reactor()
        };
        assert!(placed("auto", OptionValue::Nil));
        assert!(!placed("auto", OptionValue::Bool(true)));
        assert!(placed("reactor", OptionValue::Bool(true)));
        assert!(!placed("pool", OptionValue::Nil));
        let bad = config(&[("port", OptionValue::Int(1)), ("framing", sym("gpu"))]);
        assert_eq!(
            bad.unwrap_err(),
            ("framing", OptionError::Expected(":auto, :reactor or :pool"))
        );
    }

    #[test]
    fn every_option_is_documented() {
        for option in OPTIONS {
            assert!(!option.doc.trim().is_empty(), "{}", option.name);
        }
        assert!(OPTIONS.iter().any(|o| o.name == "strict_masking"));
    }
}
