//! The checks every opening handshake goes through, in em-websocket's order
//! (`Handshake#process`), before the draft-specific ones.

use super::request::Request;
use super::ruby::{inspect, inspect_all};
use super::uri::is_valid_target;
use crate::error::HandshakeError;
use crate::protocol::Draft;

/// Checks method, target, upgrade headers and protocol version, and returns
/// the draft the request speaks.
pub fn validate(req: &Request) -> Result<Draft, HandshakeError> {
    if req.method != "GET" {
        return Err(HandshakeError::new("Must be GET request"));
    }
    if !is_valid_target(&req.target) {
        return Err(HandshakeError::new(format!(
            "Invalid request URI: {}",
            req.target
        )));
    }
    if !is_upgrade(req) {
        return Err(HandshakeError::new("Not an upgrade request"));
    }
    let upgrades: Vec<&str> = req.header_values("upgrade").collect();
    let websocket = matches!(upgrades.as_slice(), [one] if one.to_lowercase() == "websocket");
    if !websocket {
        // em-websocket's header hash holds an Array when the header repeats.
        let shown = match upgrades.as_slice() {
            [one] => inspect(one),
            many => inspect_all(many.iter().copied()),
        };
        return Err(HandshakeError::new(format!(
            "Invalid upgrade header: {shown}"
        )));
    }
    Draft::from_version(req.version).ok_or_else(|| {
        HandshakeError::new(format!(
            "Protocol version {} not supported",
            req.detected_version()
        ))
    })
}

/// An upgrade request has an `Upgrade` header and the `upgrade` token in a
/// `Connection` header (a comma-separated list, maybe over several lines).
fn is_upgrade(req: &Request) -> bool {
    req.header("upgrade").is_some()
        && req
            .header_values("connection")
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}
