//! The application's say on an upgrade (`ws.onupgrade`): after the request
//! is read and checked, before the 101 is written, it may refuse with an
//! HTTP response of its own, or accept with a subprotocol of its choosing
//! and headers of its own. The connection waits for the decision; nothing
//! else does.

use bytes::Bytes;

/// What the application decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeDecision {
    Accept {
        /// The subprotocol to answer (one the client offered); `None` leaves
        /// the server's choice.
        protocol: Option<String>,
        /// More response headers (a `Set-Cookie`, say).
        headers: Vec<(String, String)>,
    },
    Refuse {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
}

/// The largest body a refusal may carry.
pub const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Headers of the 101 the application may not set: the handshake's own.
const HANDSHAKE_HEADERS: [&str; 8] = [
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-location",
    "sec-websocket-origin",
    "content-length",
];

impl UpgradeDecision {
    /// Why the decision cannot be written, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let headers = match self {
            UpgradeDecision::Accept { headers, .. } => {
                if let Some((name, _)) = headers.iter().find(|(name, _)| {
                    HANDSHAKE_HEADERS.contains(&name.to_ascii_lowercase().as_str())
                }) {
                    return Err(format!("{name} is the handshake's own header"));
                }
                headers
            }
            UpgradeDecision::Refuse {
                status,
                headers,
                body,
            } => {
                if !(200..=599).contains(status) || *status == 101 {
                    return Err(format!(
                        "a refusal's status must be from 200 to 599, got {status}"
                    ));
                }
                if body.len() > MAX_REFUSAL_BODY {
                    return Err(format!(
                        "a refusal's body may hold at most {MAX_REFUSAL_BODY} bytes, got {}",
                        body.len()
                    ));
                }
                headers
            }
        };
        for (name, value) in headers {
            if !is_token(name) {
                return Err(format!("{name:?} is not a header name"));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(format!("the value of {name} holds a line break"));
            }
        }
        Ok(())
    }
}

/// An HTTP token (RFC 9110 §5.6.2).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The response that refuses an upgrade; the connection closes after it.
pub(crate) fn refusal(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut response = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("content-type") {
        response.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("connection")
        {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    response.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut response = response.into_bytes();
    response.extend_from_slice(body);
    response
}

/// `headers` added to a handshake's response, before the blank line that
/// ends its head (drafts 76 and 01-03 have bytes after it).
pub(crate) fn with_headers(response: &[u8], headers: &[(String, String)]) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response.to_vec();
    };
    let mut out = Vec::with_capacity(response.len() + 64 * headers.len());
    out.extend_from_slice(&response[..end + 2]);
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(&response[end + 2..]);
    out
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_refusal_is_a_whole_http_response() {
        let response = refusal(401, &pairs(&[("WWW-Authenticate", "Bearer")]), b"no token");
        assert_eq!(
            String::from_utf8(response).unwrap(),
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\nWWW-Authenticate: Bearer\r\nContent-Length: 8\r\nConnection: close\r\n\r\nno token"
        );
    }

    #[test]
    fn headers_go_before_the_blank_line() {
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n12345678";
        let out = with_headers(response, &pairs(&[("Set-Cookie", "a=b")]));
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSet-Cookie: a=b\r\n\r\n12345678"
        );
    }

    #[test]
    fn decisions_that_cannot_be_written_are_refused() {
        let refuse = |status, headers: &[(&str, &str)], body: &[u8]| UpgradeDecision::Refuse {
            status,
            headers: pairs(headers),
            body: Bytes::copy_from_slice(body),
        };
        assert!(refuse(403, &[], b"").check().is_ok());
        assert!(refuse(101, &[], b"").check().is_err());
        assert!(refuse(99, &[], b"").check().is_err());
        assert!(refuse(403, &[("X-A", "1\r\nSet-Cookie: evil")], b"")
            .check()
            .is_err());
        assert!(refuse(403, &[("Bad Name", "1")], b"").check().is_err());
        assert!(refuse(403, &[], &vec![b'x'; MAX_REFUSAL_BODY + 1])
            .check()
            .is_err());
        let accept = |headers: &[(&str, &str)]| UpgradeDecision::Accept {
            protocol: None,
            headers: pairs(headers),
        };
        assert!(accept(&[("Set-Cookie", "sid=1")]).check().is_ok());
        assert!(accept(&[("sec-websocket-accept", "x")]).check().is_err());
    }
}
