//! What each kind of option accepts, and what it becomes.

use std::time::Duration;

use emws_core::proxy::TrustedProxies as TrustedRanges;
use emws_core::DeflateConfig;

use super::value::{OptionError, OptionValue};
use crate::tls::{Pem, SniCertificate, TlsConfig, TlsOptions};

/// A kind of option: which values it takes, and what it makes of them.
pub trait Kind {
    type Value;
    fn read(value: &OptionValue) -> Result<Self::Value, OptionError>;
}

/// A host name or address (a Symbol counts as its name).
pub struct Host;

impl Kind for Host {
    type Value = String;
    fn read(value: &OptionValue) -> Result<String, OptionError> {
        match value {
            OptionValue::Str(s) | OptionValue::Symbol(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(OptionError::Expected("a String")),
        }
    }
}

/// A TCP port (an Integer or its digits); 0 picks a free one.
pub struct Port;

impl Kind for Port {
    type Value = u16;
    fn read(value: &OptionValue) -> Result<u16, OptionError> {
        let port = match value {
            OptionValue::Int(i) => u16::try_from(*i).ok(),
            OptionValue::Str(s) => s.trim().parse::<u16>().ok(),
            _ => None,
        };
        port.ok_or(OptionError::Expected("an Integer from 0 to 65535"))
    }
}

/// On when truthy, as em-websocket reads its flags.
pub struct Flag;

impl Kind for Flag {
    type Value = bool;
    fn read(value: &OptionValue) -> Result<bool, OptionError> {
        Ok(value.is_truthy())
    }
}

/// A number of bytes (or connections): at least 1.
pub struct Count;

impl Kind for Count {
    type Value = usize;
    fn read(value: &OptionValue) -> Result<usize, OptionError> {
        at_least(value, 1, "an Integer >= 1")
    }
}

/// A number of bytes where 0 means none (no limit, never).
pub struct CountOrZero;

impl Kind for CountOrZero {
    type Value = usize;
    fn read(value: &OptionValue) -> Result<usize, OptionError> {
        at_least(value, 0, "an Integer >= 0")
    }
}

/// A count that has no default value: none unless given.
pub struct OptionalCount;

impl Kind for OptionalCount {
    type Value = Option<usize>;
    fn read(value: &OptionValue) -> Result<Option<usize>, OptionError> {
        Count::read(value).map(Some)
    }
}

fn at_least(value: &OptionValue, min: i128, expected: &'static str) -> Result<usize, OptionError> {
    match value {
        OptionValue::Int(i) if *i >= min => Ok(usize::try_from(*i).unwrap_or(usize::MAX)),
        _ => Err(OptionError::Expected(expected)),
    }
}

/// A positive number of seconds.
pub struct Seconds;

impl Kind for Seconds {
    type Value = Option<Duration>;
    fn read(value: &OptionValue) -> Result<Option<Duration>, OptionError> {
        let seconds = match value {
            OptionValue::Int(i) if *i > 0 => *i as f64,
            OptionValue::Float(x) if *x > 0.0 && !x.is_nan() => *x,
            _ => return Err(OptionError::Expected("a positive number of seconds")),
        };
        Ok(Some(
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX),
        ))
    }
}

/// A positive rate (per second), or a multiple: an Integer or a Float.
pub struct Positive;

impl Kind for Positive {
    type Value = Option<f64>;
    fn read(value: &OptionValue) -> Result<Option<f64>, OptionError> {
        match value {
            OptionValue::Int(i) if *i > 0 => Ok(Some(*i as f64)),
            OptionValue::Float(x) if *x > 0.0 && x.is_finite() => Ok(Some(*x)),
            _ => Err(OptionError::Expected("a positive number")),
        }
    }
}

/// What a connection over its rate limit gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitAction {
    /// Closed with 1008 "Rate limit exceeded".
    Close,
    /// Its excess messages are dropped (and counted); it stays open.
    Drop,
}

impl Kind for RateLimitAction {
    type Value = RateLimitAction;
    fn read(value: &OptionValue) -> Result<RateLimitAction, OptionError> {
        match value {
            OptionValue::Symbol(s) | OptionValue::Str(s) if s == "close" => {
                Ok(RateLimitAction::Close)
            }
            OptionValue::Symbol(s) | OptionValue::Str(s) if s == "drop" => {
                Ok(RateLimitAction::Drop)
            }
            _ => Err(OptionError::Expected(":close or :drop")),
        }
    }
}

/// Where connections are framed (and, for `wss://`, where their TLS
/// sessions run).
///
/// On the reactor thread a message reaches Ruby with no thread hand-off,
/// which is what a small message on a few cores pays most for; on the pool,
/// decompressing, unmasking, checking and encrypting run beside the
/// application instead of taking turns with it. The measurements behind
/// `:auto` are in docs/architecture.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The pool when permessage-deflate is on, else the reactor thread.
    Auto,
    Reactor,
    Pool,
}

impl Framing {
    /// `EMWS_FRAMING` (`auto`, `reactor` or `pool`), the process-wide
    /// default of servers not given `:framing`; `auto` when unset.
    pub fn from_environment() -> Result<Framing, OptionError> {
        match std::env::var("EMWS_FRAMING") {
            Err(_) => Ok(Framing::Auto),
            Ok(value) => Framing::read(&OptionValue::Str(value.clone())).map_err(|_| {
                OptionError::Message(format!(
                    "EMWS_FRAMING must be auto, reactor or pool, got {value:?}"
                ))
            }),
        }
    }
}

impl Kind for Framing {
    type Value = Framing;
    fn read(value: &OptionValue) -> Result<Framing, OptionError> {
        let name = match value {
            OptionValue::Symbol(s) | OptionValue::Str(s) => s.as_str(),
            _ => "",
        };
        match name {
            "auto" => Ok(Framing::Auto),
            "reactor" => Ok(Framing::Reactor),
            "pool" => Ok(Framing::Pool),
            _ => Err(OptionError::Expected(":auto, :reactor or :pool")),
        }
    }
}

/// Subprotocol names (HTTP tokens), one or a list.
pub struct Protocols;

impl Kind for Protocols {
    type Value = Vec<String>;
    fn read(value: &OptionValue) -> Result<Vec<String>, OptionError> {
        let items = match value {
            OptionValue::List(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        items
            .iter()
            .map(|item| match item {
                OptionValue::Str(s) if is_token(s) => Ok(s.clone()),
                _ => Err(OptionError::Expected("subprotocol tokens (Strings)")),
            })
            .collect()
    }
}

/// An HTTP token (RFC 7230 §3.2.6).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// permessage-deflate: `true` (the defaults), or a Hash of its settings.
pub struct Compression;

/// The settings `:compression => { ... }` may name.
const COMPRESSION_KEYS: [&str; 6] = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "min_size",
    "level",
];

impl Kind for Compression {
    type Value = Option<DeflateConfig>;
    fn read(value: &OptionValue) -> Result<Option<DeflateConfig>, OptionError> {
        let entries = match value {
            OptionValue::Bool(false) => return Ok(None),
            OptionValue::Bool(true) => return Ok(Some(DeflateConfig::default())),
            OptionValue::Map(entries) => entries,
            _ => return Err(OptionError::Expected("true, false or a Hash")),
        };
        let unknown: Vec<String> = entries
            .iter()
            .filter(|(key, _)| !matches!(key, OptionValue::Symbol(k) if COMPRESSION_KEYS.contains(&k.as_str())))
            .map(|(key, _)| key.to_string())
            .collect();
        if !unknown.is_empty() {
            let known: Vec<String> = COMPRESSION_KEYS.iter().map(|k| format!(":{k}")).collect();
            return Err(OptionError::Message(format!(
                ":compression has unknown keys {} (known: {})",
                unknown.join(", "),
                known.join(", ")
            )));
        }
        let defaults = DeflateConfig::default();
        let setting = |key: &str, expected: &'static str, valid: fn(&OptionValue) -> bool| {
            let value = value.get(key);
            if matches!(value, OptionValue::Nil) || valid(value) {
                Ok(value)
            } else {
                Err(OptionError::Message(format!(
                    ":compression's :{key} must be {expected}, got {value}"
                )))
            }
        };
        let flag = |key: &str, default: bool| {
            setting(key, "true or false", |v| matches!(v, OptionValue::Bool(_))).map(|v| match v {
                OptionValue::Bool(b) => *b,
                _ => default,
            })
        };
        let bits = |key: &str, default: u8| {
            setting(key, "an Integer from 8 to 15", |v| {
                matches!(v, OptionValue::Int(8..=15))
            })
            .map(|v| match v {
                OptionValue::Int(i) => *i as u8,
                _ => default,
            })
        };
        let min_size = setting(
            "min_size",
            "an Integer >= 0",
            |v| matches!(v, OptionValue::Int(i) if *i >= 0),
        )
        .map(|v| match v {
            OptionValue::Int(i) => usize::try_from(*i).unwrap_or(usize::MAX),
            _ => defaults.min_size,
        })?;
        let level = setting("level", "an Integer from 1 to 9", |v| {
            matches!(v, OptionValue::Int(1..=9))
        })
        .map(|v| match v {
            OptionValue::Int(i) => *i as u8,
            _ => defaults.level,
        })?;
        Ok(Some(DeflateConfig {
            server_no_context_takeover: flag(
                "server_no_context_takeover",
                defaults.server_no_context_takeover,
            )?,
            client_no_context_takeover: flag(
                "client_no_context_takeover",
                defaults.client_no_context_takeover,
            )?,
            server_max_window_bits: bits(
                "server_max_window_bits",
                defaults.server_max_window_bits,
            )?,
            client_max_window_bits: bits(
                "client_max_window_bits",
                defaults.client_max_window_bits,
            )?,
            min_size,
            level,
        }))
    }
}

/// Addresses and CIDR ranges of proxies whose forwarding headers are believed.
pub struct TrustedProxies;

impl Kind for TrustedProxies {
    type Value = TrustedRanges;
    fn read(value: &OptionValue) -> Result<TrustedRanges, OptionError> {
        let items = match value {
            OptionValue::List(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        let entries = items
            .iter()
            .map(|item| match item {
                OptionValue::Str(s) => Ok(s.as_str()),
                _ => Err(OptionError::Expected(
                    "addresses or CIDR ranges (Strings), e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        TrustedRanges::parse(entries)
            .map_err(|e| OptionError::Message(format!(":trusted_proxies: {e}")))
    }
}

/// Where `GET /metrics` is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsEndpoint {
    /// On the WebSocket port, before any upgrade.
    WebSocketPort,
    /// On a listener of its own.
    Separate { host: String, port: u16 },
}

/// `metrics: true`, or `metrics: { port: 9394, host: "127.0.0.1" }`.
pub struct Metrics;

impl Kind for Metrics {
    type Value = Option<MetricsEndpoint>;
    fn read(value: &OptionValue) -> Result<Option<MetricsEndpoint>, OptionError> {
        match value {
            OptionValue::Bool(false) => Ok(None),
            OptionValue::Bool(true) => Ok(Some(MetricsEndpoint::WebSocketPort)),
            OptionValue::Map(entries) => {
                if let Some((key, _)) = entries.iter().find(
                    |(key, _)| !matches!(key, OptionValue::Symbol(k) if k == "port" || k == "host"),
                ) {
                    return Err(OptionError::Message(format!(
                        ":metrics has an unknown key {key} (known: :port, :host)"
                    )));
                }
                let port = Port::read(value.get("port")).map_err(|_| {
                    OptionError::Message(format!(
                        ":metrics's :port must be an Integer from 0 to 65535, got {}",
                        value.get("port")
                    ))
                })?;
                let host = match value.get("host") {
                    OptionValue::Nil => "127.0.0.1".to_string(),
                    host => Host::read(host).map_err(|_| {
                        OptionError::Message(format!(
                            ":metrics's :host must be a String, got {host}"
                        ))
                    })?,
                };
                Ok(Some(MetricsEndpoint::Separate { host, port }))
            }
            _ => Err(OptionError::Expected(
                "true, false or a Hash (:port, :host)",
            )),
        }
    }
}

/// The certificate, key and client CA, as the Ruby side has mapped
/// EventMachine's `:tls_options` (a PEM is a file, `<name>_file`, or its
/// text), and the certificates of `:sni`. Loaded and checked now, so that a
/// bad file is reported when the server starts (or `reload_tls` is called).
pub struct Tls;

impl Kind for Tls {
    type Value = Option<TlsConfig>;
    fn read(value: &OptionValue) -> Result<Option<TlsConfig>, OptionError> {
        if !matches!(value, OptionValue::Map(_)) {
            return Err(OptionError::Expected("a Hash"));
        }
        let required = |pem: Option<Pem>, what: &str| {
            pem.ok_or_else(|| OptionError::Message(format!(":tls_options needs {what}")))
        };
        let options = TlsOptions {
            cert_chain: required(
                tls_pem(value, "cert_chain_file", "cert"),
                ":cert_chain_file or :cert",
            )?,
            private_key: required(
                tls_pem(value, "private_key_file", "private_key"),
                ":private_key_file or :private_key",
            )?,
            sni: sni_certificates(value.get("sni"))?,
            client_ca: tls_pem(value, "ca_file", "ca_cert"),
            require_client_cert: value.get("fail_if_no_peer_cert").is_truthy(),
            tls12: value.get("tls12").is_truthy(),
            tls13: value.get("tls13").is_truthy(),
        };
        TlsConfig::load(&options)
            .map(Some)
            .map_err(|e| OptionError::Message(format!(":tls_options: {e}")))
    }
}

/// The PEM `settings` give as a file (key `file`) or as its text (`inline`).
fn tls_pem(settings: &OptionValue, file: &str, inline: &str) -> Option<Pem> {
    match (settings.get(file), settings.get(inline)) {
        (OptionValue::Str(path), _) => Some(Pem::File(path.into())),
        (_, OptionValue::Str(text)) => Some(Pem::Inline(text.as_bytes().to_vec())),
        _ => None,
    }
}

/// `:sni`: server names to the certificate and key each is answered with.
fn sni_certificates(value: &OptionValue) -> Result<Vec<SniCertificate>, OptionError> {
    let entries = match value {
        OptionValue::Nil => return Ok(Vec::new()),
        OptionValue::Map(entries) => entries,
        other => {
            return Err(OptionError::Message(format!(
                ":tls_options :sni must be a Hash of server names to certificates, got {other}"
            )))
        }
    };
    entries
        .iter()
        .map(|(name, entry)| {
            let (OptionValue::Str(name) | OptionValue::Symbol(name)) = name else {
                return Err(OptionError::Message(format!(
                    ":tls_options :sni takes server names (Strings) as keys, got {name}"
                )));
            };
            let needs = |what: &str| {
                OptionError::Message(format!(":tls_options :sni {name:?} needs {what}"))
            };
            Ok(SniCertificate {
                server_name: name.clone(),
                cert_chain: tls_pem(entry, "cert_chain_file", "cert")
                    .ok_or_else(|| needs(":cert_chain_file or :cert"))?,
                private_key: tls_pem(entry, "private_key_file", "private_key")
                    .ok_or_else(|| needs(":private_key_file or :private_key"))?,
            })
        })
        .collect()
}
