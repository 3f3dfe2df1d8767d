//! The opening handshake of draft 75 (em-websocket's `Handshake75`): no
//! challenge, just origin and location.

use super::request::Request;
use super::HandshakeConfig;

pub fn response(req: &Request, config: &HandshakeConfig) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
         Upgrade: WebSocket\r\n\
         Connection: Upgrade\r\n\
         WebSocket-Origin: {}\r\n\
         WebSocket-Location: {}\r\n\
         \r\n",
        req.header("origin").unwrap_or_default(),
        location(req, config.secure)
    )
    .into_bytes()
}

/// The URL the client connected to, as drafts 75 and 76 echo it.
pub fn location(req: &Request, secure: bool) -> String {
    let scheme = if secure { "wss" } else { "ws" };
    format!(
        "{scheme}://{}{}",
        req.header("host").unwrap_or_default(),
        req.target
    )
}
