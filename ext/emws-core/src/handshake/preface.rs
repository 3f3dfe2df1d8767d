//! Telling what a new connection is from its first bytes.

use super::request::{parse_head, Request};
use super::validate::validate;
use crate::error::HandshakeError;

/// What the opening bytes of a connection turned out to be.
#[derive(Debug, Clone)]
pub enum Preface {
    /// More bytes are needed to decide.
    Incomplete,
    /// A Flash `<policy-file-request/>`: answer [`super::POLICY_FILE`] and close.
    PolicyFile,
    /// `GET /healthcheck`: answer [`super::HEALTHCHECK_RESPONSE`] and close.
    Healthcheck,
    /// An opening handshake, to be answered by [`super::accept`].
    Request(Box<Request>),
}

/// Flash sends this instead of HTTP (em-websocket: `/\A<policy-file-request\s*\/>/`).
const POLICY_FILE_REQUEST: &[u8] = b"<policy-file-request";

/// Reads the opening bytes of a connection. `max_size` bounds the request
/// head (request line and headers). Returns [`Preface::Incomplete`] until a
/// decision can be made.
///
/// Drafts 76 and 01-03 send an 8-byte third key after the head: the request
/// is incomplete until it arrived, and more bytes are an error, as are any
/// bytes after a draft 75 head (the client must wait for the response). Bytes
/// after a hybi (04+) head are the first frames and are not consumed.
///
/// `latest_read` is where the bytes of the latest read begin in `buf` (its
/// length before that read; 0 for a buffer parsed whole). em-websocket
/// parses each read as it arrives, and reports a malformed head as "Invalid
/// HTTP header: Could not parse data entirely (N != LEN)", N the offset of
/// the offending byte in that read and LEN the read's length.
pub fn read_preface(
    buf: &[u8],
    latest_read: usize,
    max_size: usize,
) -> Result<Preface, HandshakeError> {
    match policy_file_request(buf) {
        Some(true) => return Ok(Preface::PolicyFile),
        Some(false) => return incomplete(buf.len(), max_size),
        None => {}
    }
    let Some(mut request) = parse_head(buf, latest_read)? else {
        return incomplete(buf.len(), max_size);
    };
    if request.consumed > max_size {
        return Err(too_large(request.consumed));
    }
    if request.method == "GET" && request.path == "/healthcheck" {
        return Ok(Preface::Healthcheck);
    }
    let after_head = &buf[request.consumed..];
    match request.version {
        75 if !after_head.is_empty() => {
            // em-websocket validates the request before looking past it.
            validate(&request)?;
            return Err(HandshakeError::new("Extra bytes after header"));
        }
        76 | 1..=3 => {
            validate(&request)?;
            let Ok(third_key) = <[u8; 8]>::try_from(after_head) else {
                return if after_head.len() < 8 {
                    Ok(Preface::Incomplete)
                } else {
                    Err(HandshakeError::new("Extra bytes after third key"))
                };
            };
            request.third_key = Some(third_key);
            request.consumed += third_key.len();
        }
        _ => {}
    }
    Ok(Preface::Request(Box::new(request)))
}

fn incomplete(received: usize, max_size: usize) -> Result<Preface, HandshakeError> {
    if received > max_size {
        Err(too_large(received))
    } else {
        Ok(Preface::Incomplete)
    }
}

fn too_large(len: usize) -> HandshakeError {
    HandshakeError::new(format!("Request header too large ({len} bytes)"))
}

/// `Some(true)`: a policy file request; `Some(false)`: maybe, once more bytes
/// arrive; `None`: not one.
fn policy_file_request(buf: &[u8]) -> Option<bool> {
    let n = buf.len().min(POLICY_FILE_REQUEST.len());
    if buf[..n] != POLICY_FILE_REQUEST[..n] {
        return None;
    }
    let Some(rest) = buf.get(POLICY_FILE_REQUEST.len()..) else {
        return Some(false);
    };
    // Ruby's \s
    let spaces = rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .count();
    match &rest[spaces..] {
        [] | [b'/'] => Some(false),
        [b'/', b'>', ..] => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_file_request_detection() {
        assert_eq!(policy_file_request(b"<policy-file-request/>"), Some(true));
        assert_eq!(policy_file_request(b"<policy-file-request/>\0"), Some(true));
        assert_eq!(
            policy_file_request(b"<policy-file-request \r\n/>"),
            Some(true)
        );
        assert_eq!(policy_file_request(b""), Some(false));
        assert_eq!(policy_file_request(b"<pol"), Some(false));
        assert_eq!(policy_file_request(b"<policy-file-request  "), Some(false));
        assert_eq!(policy_file_request(b"<policy-file-request /"), Some(false));
        assert_eq!(policy_file_request(b"<policy-file-request>"), None);
        assert_eq!(policy_file_request(b"<policy-file-request/ >"), None);
        assert_eq!(policy_file_request(b"GET / HTTP/1.1"), None);
    }
}
