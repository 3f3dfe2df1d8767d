//! The opening bytes of a connection and the opening handshake.
//!
//! * [`preface`](read_preface): is this an upgrade request, a health check or
//!   a Flash policy request, and is it complete?
//! * `validate`: the checks all drafts share, in em-websocket's order.
//! * `hybi`, `draft76`, `draft75`: each family's response.

mod draft75;
mod draft76;
mod http_parser;
mod hybi;
mod preface;
mod request;
mod ruby;
mod uri;
mod validate;

pub use draft76::solve_challenge;
pub use http_parser::error_offset;
pub use hybi::accept_key;
pub use preface::{read_preface, Preface};
pub use request::Request;
pub use ruby::RubyInteger;

use crate::deflate::{self, DeflateConfig, DeflateParams};
use crate::error::HandshakeError;
use crate::protocol::Draft;

/// The answer to a Flash `<policy-file-request/>` (as em-websocket's).
pub const POLICY_FILE: &[u8] = b"<?xml version=\"1.0\"?><cross-domain-policy><allow-access-from domain=\"*\" to-ports=\"*\"/></cross-domain-policy>";

/// The answer to `GET /healthcheck`.
pub const HEALTHCHECK_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK";

#[derive(Debug, Clone, Default)]
pub struct HandshakeConfig {
    /// The connection is TLS (or behind a TLS proxy): drafts 75/76 answer
    /// with a `wss://` location.
    pub secure: bool,
    /// Supported subprotocols, in the server's order of preference. Empty:
    /// em-websocket's behaviour (see [`accept`]).
    pub protocols: Vec<String>,
    /// Accept permessage-deflate offers (RFC 6455 clients only); `None`:
    /// offers are ignored, as em-websocket does.
    pub compression: Option<DeflateConfig>,
}

/// An accepted handshake.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The response to write before any frame.
    pub response: Vec<u8>,
    pub draft: Draft,
    /// The subprotocol the response names.
    pub protocol: Option<String>,
    /// permessage-deflate, when an offer was accepted: give it to
    /// [`crate::Config::deflate`].
    pub deflate: Option<DeflateParams>,
}

/// Validates the request and builds the response, with em-websocket's checks
/// and messages, in its order: method, target, upgrade headers, protocol
/// version, then the draft's own headers.
///
/// Subprotocols: with [`HandshakeConfig::protocols`], the first of them the
/// client offered; without, a single offered protocol is echoed.
///
/// Extensions: with [`HandshakeConfig::compression`], the client's first
/// valid permessage-deflate offer (RFC 6455 clients only).
pub fn accept(req: &Request, config: &HandshakeConfig) -> Result<Accepted, HandshakeError> {
    let draft = validate::validate(req)?;
    let deflate = match (draft, &config.compression) {
        (Draft::Draft07, Some(compression)) => {
            deflate::negotiate(req.header_values("sec-websocket-extensions"), compression)
        }
        _ => None,
    };
    let extensions = deflate.as_ref().map(|(_, response)| response.as_str());
    let (response, protocol) = match draft {
        Draft::Draft75 => (draft75::response(req, config), None),
        Draft::Draft76 | Draft::Draft03 => draft76::response(req, config)?,
        Draft::Draft05 | Draft::Draft06 | Draft::Draft07 => {
            hybi::response(req, config, extensions)?
        }
    };
    Ok(Accepted {
        response,
        draft,
        protocol,
        deflate: deflate.map(|(params, _)| params),
    })
}
