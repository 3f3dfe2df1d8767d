//! The opening handshake of drafts 04+ and RFC 6455 (em-websocket's
//! `Handshake04`, used for versions 5-8 and 13).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::request::Request;
use super::HandshakeConfig;
use crate::error::HandshakeError;

/// RFC 6455 §1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// The 101 response and the chosen subprotocol; `extensions` is the
/// `Sec-WebSocket-Extensions` value of the accepted extensions.
pub fn response(
    req: &Request,
    config: &HandshakeConfig,
    extensions: Option<&str>,
) -> Result<(Vec<u8>, Option<String>), HandshakeError> {
    let key = req
        .header("sec-websocket-key")
        .ok_or_else(|| HandshakeError::new("sec-websocket-key header is required"))?;
    let protocol = select_protocol(req, &config.protocols);
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_key(key.trim())
    );
    if let Some(protocol) = &protocol {
        response.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
    }
    if let Some(extensions) = extensions {
        response.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
    }
    response.push_str("\r\n");
    Ok((response.into_bytes(), protocol))
}

/// Chooses the subprotocol to answer with.
///
/// With `supported` protocols, the first of them (the server's preference)
/// that the client offered. Without, a single offered protocol is echoed, as
/// em-websocket applications rely on; a choice among several is not made.
fn select_protocol(req: &Request, supported: &[String]) -> Option<String> {
    let offered: Vec<&str> = req
        .header_values("sec-websocket-protocol")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
        .collect();
    if supported.is_empty() {
        match offered.as_slice() {
            [single] => Some((*single).to_owned()),
            _ => None,
        }
    } else {
        supported
            .iter()
            .find(|protocol| offered.contains(&protocol.as_str()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_accept_key_example() {
        // RFC 6455 §1.3
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
