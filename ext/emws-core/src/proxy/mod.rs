//! The client's own address when connections come through proxies.
//!
//! Behind a load balancer the connection's peer is the balancer. A layer 4
//! proxy names the client in a PROXY protocol header sent before any other
//! byte ([`parse_proxy_header`]); an HTTP proxy names it in `Forwarded` or
//! `X-Forwarded-For` ([`TrustedProxies::client_address`]). Either can be
//! forged by a client that reaches the server directly, so a PROXY header is
//! to be expected only on a listener that every client reaches through such
//! a proxy, and forwarding headers are believed only as far as the chain of
//! trusted proxies goes.
//!
//! * `header`: the PROXY protocol header, with `v1` (a text line) and `v2`
//!   (binary) reading each version.
//! * `trusted`: trusted proxies, and the client they forward for.
//! * `forwarding`: the syntax of `Forwarded` and `X-Forwarded-For`.
//! * `cidr`: address ranges.

mod cidr;
mod forwarding;
mod header;
mod trusted;
mod v1;
mod v2;

pub use header::{parse_proxy_header, ProxyHeader, ProxyHeaderError, PROXY_V1_MAX};
pub use trusted::TrustedProxies;
