//! The opening request of a connection.

use super::http_parser;
use super::ruby::RubyInteger;
use super::uri::split_target;
use crate::error::HandshakeError;

/// Headers beyond this many fail the handshake ("too many headers").
const MAX_HEADERS: usize = 128;

/// An HTTP request that opens a connection.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request-target as sent.
    pub target: String,
    /// The target's path, without query.
    pub path: String,
    /// "" when there is none.
    pub query_string: String,
    /// As sent: original case, original order.
    pub headers: Vec<(String, String)>,
    /// The protocol version, detected as em-websocket does; `u32::MAX` when the
    /// header holds a number that does not fit (see [`Request::detected_version`]).
    pub version: u32,
    /// Bytes of the buffer that belong to the request: the head, and the
    /// third key of drafts 76 and 01-03.
    pub consumed: usize,
    /// The 8 bytes after the head in drafts 76 and 01-03.
    pub third_key: Option<[u8; 8]>,
}

impl Request {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header of this name (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// em-websocket's `Handshake#origin`: `Origin`, else `Sec-WebSocket-Origin`.
    pub fn origin(&self) -> Option<&str> {
        self.header("origin")
            .or_else(|| self.header("sec-websocket-origin"))
    }

    /// The protocol version as em-websocket's `String#to_i` reads it, which
    /// may not fit [`Request::version`] (then `u32::MAX`).
    pub fn detected_version(&self) -> RubyInteger {
        detect_version(|name| self.header(name))
    }
}

/// em-websocket's heuristic: `Sec-WebSocket-Version` (drafts 04+), else
/// `Sec-WebSocket-Draft` (01-03), else 76 when `Sec-WebSocket-Key1` is
/// present, else 75.
fn detect_version<'a>(header: impl Fn(&str) -> Option<&'a str>) -> RubyInteger {
    if let Some(version) = header("sec-websocket-version") {
        RubyInteger::parse(version)
    } else if let Some(draft) = header("sec-websocket-draft") {
        RubyInteger::parse(draft)
    } else if header("sec-websocket-key1").is_some() {
        RubyInteger::parse("76")
    } else {
        RubyInteger::parse("75")
    }
}

/// Parses the request head at the front of `buf`: `Ok(None)` while incomplete.
/// `consumed` is the head's length.
///
/// `latest_read` is where the bytes of the latest read begin in `buf`: a
/// malformed head is reported as em-websocket's parser reports it, "Could
/// not parse data entirely (N != LEN)", N the offending byte's offset in
/// that read and LEN the read's length.
pub(crate) fn parse_head(
    buf: &[u8],
    latest_read: usize,
) -> Result<Option<Request>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    // em-websocket's parser rejects some heads httparse takes (a lowercase
    // method, a `?` in a scheme...) and fails as soon as a byte is wrong:
    // its verdict comes first. Where it finds no fault, httparse's stands.
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            if let Some(error) = http_parser_error(buf, len, latest_read) {
                return Err(error);
            }
            len
        }
        Ok(httparse::Status::Partial) => {
            return match http_parser_error(buf, buf.len(), latest_read) {
                Some(error) => Err(error),
                None => Ok(None),
            }
        }
        Err(e) => {
            return Err(http_parser_error(buf, buf.len(), latest_read)
                .unwrap_or_else(|| HandshakeError::new(format!("Invalid HTTP header: {e}"))))
        }
    };
    let method = parsed.method.unwrap_or_default().to_owned();
    let target = parsed.path.unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let (path, query_string) = split_target(&target);
    let version = detect_version(|name| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    })
    .to_u32()
    .unwrap_or(u32::MAX);
    Ok(Some(Request {
        path: path.to_owned(),
        query_string: query_string.to_owned(),
        method,
        target,
        headers,
        version,
        consumed: head_len,
        third_key: None,
    }))
}

/// em-websocket's error when its parser rejects a byte of `buf[..end]`, as
/// the parser counts bytes: from the start of the latest read (of the whole
/// buffer if the byte came earlier, which a caller that parses after each
/// read never sees).
fn http_parser_error(buf: &[u8], end: usize, latest_read: usize) -> Option<HandshakeError> {
    let latest_read = latest_read.min(buf.len());
    let at = match http_parser::outcome(&buf[..end], latest_read) {
        http_parser::Outcome::Rejected(at) => at,
        http_parser::Outcome::Complete(_) | http_parser::Outcome::Incomplete => return None,
    };
    let start = if at >= latest_read { latest_read } else { 0 };
    Some(HandshakeError::new(format!(
        "Invalid HTTP header: Could not parse data entirely ({} != {})",
        at - start,
        buf.len() - start
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Request {
        parse_head(head.as_bytes(), 0).unwrap().unwrap()
    }

    #[test]
    fn parses_a_request() {
        let head =
            "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nX-Dup: a\r\nx-dup: b\r\n\r\nrest";
        let req = parse(head);
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/chat?room=1");
        assert_eq!(req.path, "/chat");
        assert_eq!(req.query_string, "room=1");
        assert_eq!(req.consumed, head.len() - 4);
        assert_eq!(req.header("HOST"), Some("example.com"));
        assert_eq!(req.header("x-dup"), Some("a"));
        assert_eq!(req.header_values("X-DUP").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(req.headers[1], ("X-Dup".to_owned(), "a".to_owned()));
        assert_eq!(req.header("missing"), None);
    }

    #[test]
    fn partial_heads_are_incomplete() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for end in 0..head.len() {
            assert!(parse_head(&head[..end], 0).unwrap().is_none(), "{end}");
        }
    }

    #[test]
    fn malformed_heads_are_errors() {
        // em-websocket's parser takes a space in a header name: httparse's
        // message.
        let err = parse_head(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 0).unwrap_err();
        assert_eq!(err.message, "Invalid HTTP header: invalid header name");
        let err = parse_head(b"\x16\x03\x01\x02\x00", 0).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid HTTP header: Could not parse data entirely (0 != 5)"
        );
    }

    #[test]
    fn http_parser_messages() {
        let message = |buf: &[u8], latest_read| parse_head(buf, latest_read).unwrap_err().message;
        // em-websocket's own examples
        assert_eq!(
            message(b"This is not a HTTP header\r\n\r\n", 0),
            "Invalid HTTP header: Could not parse data entirely (1 != 29)"
        );
        assert_eq!(
            message(b"\r\n\r\nfoobar", 0),
            "Invalid HTTP header: Could not parse data entirely (4 != 10)"
        );
        // Counted from the start of the latest read.
        let head = b"GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n";
        assert_eq!(
            message(head, 16),
            "Invalid HTTP header: Could not parse data entirely (7 != 13)"
        );
        assert_eq!(
            message(head, 23),
            "Invalid HTTP header: Could not parse data entirely (0 != 6)"
        );
        // Before the latest read (cannot happen to a caller that parses
        // every read): the whole buffer.
        assert_eq!(
            message(head, 25),
            "Invalid HTTP header: Could not parse data entirely (23 != 29)"
        );
        assert_eq!(
            message(head, 99),
            "Invalid HTTP header: Could not parse data entirely (23 != 29)"
        );
        // Heads httparse takes.
        assert_eq!(
            message(b"get / HTTP/1.1\r\n\r\n\x81\x80", 0),
            "Invalid HTTP header: Could not parse data entirely (0 != 20)"
        );
        assert_eq!(
            message(b"GET h?tp://x/ HTTP/1.1\r\n\r\n", 0),
            "Invalid HTTP header: Could not parse data entirely (5 != 26)"
        );
        // Bytes after the head are not looked at.
        let req = parse("GET / HTTP/1.1\r\n\r\n\x00\x01");
        assert_eq!(req.consumed, 18);
        // Wrong before httparse can tell: an error at once.
        let partial = b"get / HT";
        let mut headers = [httparse::EMPTY_HEADER; 1];
        assert!(httparse::Request::new(&mut headers)
            .parse(partial)
            .unwrap()
            .is_partial());
        assert_eq!(
            message(partial, 0),
            "Invalid HTTP header: Could not parse data entirely (0 != 8)"
        );
    }

    #[test]
    fn too_many_headers() {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            head.push_str(&format!("X-{i}: v\r\n"));
        }
        head.push_str("\r\n");
        let err = parse_head(head.as_bytes(), 0).unwrap_err();
        assert_eq!(err.message, "Invalid HTTP header: too many headers");
    }

    #[test]
    fn version_detection() {
        let version = |headers: &str| parse(&format!("GET / HTTP/1.1\r\n{headers}\r\n")).version;
        assert_eq!(version("Sec-WebSocket-Version: 13\r\n"), 13);
        assert_eq!(
            version("Sec-WebSocket-Version: 8\r\nSec-WebSocket-Draft: 2\r\n"),
            8
        );
        assert_eq!(
            version("Sec-WebSocket-Draft: 2\r\nSec-WebSocket-Key1: 1 1\r\n"),
            2
        );
        assert_eq!(version("Sec-WebSocket-Key1: 1 1\r\n"), 76);
        assert_eq!(version(""), 75);
        assert_eq!(version("Sec-WebSocket-Version: abc\r\n"), 0);
        assert_eq!(version("Sec-WebSocket-Version: -3\r\n"), u32::MAX);
        let req = parse("GET / HTTP/1.1\r\nSec-WebSocket-Version: -3\r\n\r\n");
        assert_eq!(req.detected_version().to_string(), "-3");
    }
}
