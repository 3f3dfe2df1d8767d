//! The PROXY protocol header (HAProxy's proxy-protocol.txt): the address a
//! layer 4 proxy received a connection from, sent before any other byte.
//!
//! The first byte tells the versions apart (`P` for the text line of version
//! 1, `\r` for the binary signature of version 2), so a connection that does
//! not start with a header is rejected on its first byte.

use std::fmt;
use std::net::SocketAddr;

use super::{v1, v2};

/// The longest version 1 line, CRLF included: "PROXY UNKNOWN", two 39-byte
/// IPv6 addresses and two 5-digit ports.
pub const PROXY_V1_MAX: usize = 107;

/// What the bytes read so far hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A prefix of a header: read more.
    Incomplete,
    /// A whole header of `len` bytes, to be consumed before the client's
    /// first byte.
    Complete {
        len: usize,
        /// The client's address, `None` when the proxy gives none (v1
        /// `UNKNOWN`, v2 `LOCAL`, `AF_UNSPEC` or `AF_UNIX`): the connection's
        /// own peer address stands.
        source: Option<SocketAddr>,
    },
}

/// The bytes cannot be the start of a PROXY protocol header; the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeaderError(pub &'static str);

impl fmt::Display for ProxyHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ProxyHeaderError {}

pub(super) const NOT_A_HEADER: ProxyHeaderError = ProxyHeaderError("not a PROXY protocol header");

/// Parses the header at the start of `buf`, the bytes read from a connection
/// so far. Fails as soon as no more bytes could make a valid header, so a
/// client that sends anything else is turned away without waiting.
pub fn parse_proxy_header(buf: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    match buf.first() {
        None => Ok(ProxyHeader::Incomplete),
        Some(b'P') => v1::parse(buf),
        Some(b'\r') => v2::parse(buf),
        Some(_) => Err(NOT_A_HEADER),
    }
}

/// Whether `buf` matches `expected` as far as either goes: the bytes read so
/// far could still be `expected`.
pub(super) fn agrees_with(buf: &[u8], expected: &[u8]) -> bool {
    let len = buf.len().min(expected.len());
    buf[..len] == expected[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_buffer_is_incomplete() {
        assert_eq!(parse_proxy_header(b""), Ok(ProxyHeader::Incomplete));
    }

    #[test]
    fn other_protocols_are_rejected_on_their_first_differing_byte() {
        for garbage in [
            &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
            b"G",
            b"POST / HTTP/1.1\r\n",
            b"PO",
            b"<policy-file-request/>\0",
            b"\x16\x03\x01\x02\x00",
            b"\r\n\r\nGET",
            b"\n",
            b"proxy TCP4 ",
        ] {
            assert_eq!(
                parse_proxy_header(garbage),
                Err(NOT_A_HEADER),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn both_versions_are_recognised() {
        assert_eq!(
            parse_proxy_header(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\nGET"),
            Ok(ProxyHeader::Complete {
                len: 45,
                source: Some("192.0.2.1:56324".parse().unwrap()),
            })
        );
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb]);
        v2.extend_from_slice(b"GET");
        assert_eq!(
            parse_proxy_header(&v2),
            Ok(ProxyHeader::Complete {
                len: 28,
                source: Some("192.0.2.1:56324".parse().unwrap()),
            })
        );
    }

    #[test]
    fn errors_read_as_reasons() {
        assert_eq!(NOT_A_HEADER.to_string(), "not a PROXY protocol header");
    }
}
