//! Version 2 of the PROXY protocol: a binary header.
//!
//! ```text
//! 12 bytes  signature "\r\n\r\n\0\r\nQUIT\n"
//!  1 byte   version (high nibble: 2), command (low nibble: 0 LOCAL, 1 PROXY)
//!  1 byte   address family (high nibble), transport protocol (low nibble)
//!  2 bytes  length of the rest, big-endian
//!  ...      addresses (12 bytes for IPv4, 36 for IPv6, 216 for UNIX), then TLVs
//! ```
//!
//! The TLVs (ALPN, TLS details, ...) are skipped: only the client's address
//! is wanted.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::header::{agrees_with, ProxyHeader, ProxyHeaderError, NOT_A_HEADER};

const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The signature, version and command, family and protocol, and length.
const FIXED_LEN: usize = 16;

const UNSUPPORTED_VERSION: ProxyHeaderError = ProxyHeaderError("unsupported PROXY v2 version");
const UNKNOWN_COMMAND: ProxyHeaderError = ProxyHeaderError("unknown PROXY v2 command");
const UNKNOWN_FAMILY: ProxyHeaderError =
    ProxyHeaderError("unknown PROXY v2 address family or protocol");
const SHORT_ADDRESS_BLOCK: ProxyHeaderError = ProxyHeaderError("PROXY v2 address block too short");

/// Parses a buffer that starts with `\r`.
pub fn parse(buf: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    if !agrees_with(buf, SIGNATURE) {
        return Err(NOT_A_HEADER);
    }
    let Some(&version_command) = buf.get(12) else {
        return Ok(ProxyHeader::Incomplete);
    };
    if version_command >> 4 != 2 {
        return Err(UNSUPPORTED_VERSION);
    }
    let local = match version_command & 0x0f {
        0x0 => true,
        0x1 => false,
        _ => return Err(UNKNOWN_COMMAND),
    };
    let Some(&family_protocol) = buf.get(13) else {
        return Ok(ProxyHeader::Incomplete);
    };
    // LOCAL is the proxy speaking for itself (a health check): the spec has
    // the receiver ignore the family and keep the connection's own addresses.
    let addresses = if local {
        Addresses::Ignored
    } else {
        Addresses::of(family_protocol)?
    };
    let Some(&[high, low]) = buf.get(14..FIXED_LEN) else {
        return Ok(ProxyHeader::Incomplete);
    };
    let rest_len = usize::from(u16::from_be_bytes([high, low]));
    if rest_len < addresses.block_len() {
        return Err(SHORT_ADDRESS_BLOCK);
    }
    let len = FIXED_LEN + rest_len;
    let Some(rest) = buf.get(FIXED_LEN..len) else {
        return Ok(ProxyHeader::Incomplete);
    };
    Ok(ProxyHeader::Complete {
        len,
        source: addresses.source(rest),
    })
}

/// The addresses a header carries, by its family.
#[derive(Clone, Copy)]
enum Addresses {
    /// LOCAL, or AF_UNSPEC: no client address.
    Ignored,
    Inet,
    Inet6,
    /// Socket paths, which say nothing about a remote client.
    Unix,
}

impl Addresses {
    fn of(family_protocol: u8) -> Result<Addresses, ProxyHeaderError> {
        // The combinations the spec defines; it has receivers reject others.
        match family_protocol {
            0x00 => Ok(Addresses::Ignored),
            0x11 | 0x12 => Ok(Addresses::Inet),
            0x21 | 0x22 => Ok(Addresses::Inet6),
            0x31 | 0x32 => Ok(Addresses::Unix),
            _ => Err(UNKNOWN_FAMILY),
        }
    }

    fn block_len(self) -> usize {
        match self {
            Addresses::Ignored => 0,
            Addresses::Inet => 12,
            Addresses::Inet6 => 36,
            Addresses::Unix => 216,
        }
    }

    /// The source address at the start of `rest`, at least `block_len` long:
    /// source and destination addresses, then source and destination ports.
    fn source(self, rest: &[u8]) -> Option<SocketAddr> {
        let (ip, port): (IpAddr, _) = match self {
            Addresses::Inet => {
                let [a, b, c, d, _, _, _, _, port_high, port_low, ..] = *rest else {
                    return None;
                };
                ([a, b, c, d].into(), [port_high, port_low])
            }
            Addresses::Inet6 => {
                let ip: [u8; 16] = rest.get(..16)?.try_into().ok()?;
                let port = rest.get(32..34)?.try_into().ok()?;
                (Ipv6Addr::from(ip).into(), port)
            }
            Addresses::Ignored | Addresses::Unix => return None,
        };
        Some(SocketAddr::new(ip, u16::from_be_bytes(port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: u8 = 0x21;
    const LOCAL: u8 = 0x20;
    const TCP4: u8 = 0x11;
    const UDP4: u8 = 0x12;
    const TCP6: u8 = 0x21;
    const UDP6: u8 = 0x22;
    const UNIX_STREAM: u8 = 0x31;
    const UNSPEC: u8 = 0x00;

    /// 192.0.2.1:56324 to 198.51.100.1:443.
    const IPV4_BLOCK: [u8; 12] = [192, 0, 2, 1, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb];

    fn header(version_command: u8, family_protocol: u8, rest: &[u8]) -> Vec<u8> {
        header_with_len(version_command, family_protocol, rest.len(), rest)
    }

    fn header_with_len(
        version_command: u8,
        family_protocol: u8,
        len: usize,
        rest: &[u8],
    ) -> Vec<u8> {
        let mut header = SIGNATURE.to_vec();
        header.push(version_command);
        header.push(family_protocol);
        header.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        header.extend_from_slice(rest);
        header
    }

    fn ipv6_block() -> Vec<u8> {
        let source: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let destination: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut block = source.octets().to_vec();
        block.extend_from_slice(&destination.octets());
        block.extend_from_slice(&[0xdc, 0x04, 0x01, 0xbb]);
        block
    }

    fn complete(buf: &[u8]) -> (usize, Option<SocketAddr>) {
        match parse(buf) {
            Ok(ProxyHeader::Complete { len, source }) => (len, source),
            other => panic!("{buf:?}: {other:?}"),
        }
    }

    fn addr(text: &str) -> Option<SocketAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn ipv4() {
        for family_protocol in [TCP4, UDP4] {
            let header = header(PROXY, family_protocol, &IPV4_BLOCK);
            assert_eq!(complete(&header), (28, addr("192.0.2.1:56324")));
        }
    }

    #[test]
    fn ipv6() {
        for family_protocol in [TCP6, UDP6] {
            let header = header(PROXY, family_protocol, &ipv6_block());
            assert_eq!(complete(&header), (52, addr("[2001:db8::1]:56324")));
        }
    }

    #[test]
    fn local_keeps_the_connection_address_whatever_its_family() {
        assert_eq!(complete(&header(LOCAL, UNSPEC, b"")), (16, None));
        assert_eq!(complete(&header(LOCAL, TCP4, &IPV4_BLOCK)), (28, None));
        // Even a family too short for its addresses, or an unknown one.
        assert_eq!(complete(&header(LOCAL, TCP6, b"")), (16, None));
        assert_eq!(complete(&header(LOCAL, 0xff, b"abc")), (19, None));
    }

    #[test]
    fn unspec_and_unix_give_no_source() {
        assert_eq!(complete(&header(PROXY, UNSPEC, b"")), (16, None));
        assert_eq!(complete(&header(PROXY, UNSPEC, b"whatever")), (24, None));
        assert_eq!(
            complete(&header(PROXY, UNIX_STREAM, &[b'/'; 216])),
            (232, None)
        );
        assert_eq!(complete(&header(PROXY, 0x32, &[0; 220])), (236, None));
    }

    #[test]
    fn tlvs_are_consumed_and_skipped() {
        let mut rest = IPV4_BLOCK.to_vec();
        // PP2_TYPE_ALPN "http/1.1", then PP2_TYPE_NOOP with 3 bytes.
        rest.extend_from_slice(b"\x01\x00\x08http/1.1\x04\x00\x03\0\0\0");
        let mut buf = header(PROXY, TCP4, &rest);
        assert_eq!(complete(&buf), (28 + 17, addr("192.0.2.1:56324")));
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(complete(&buf), (28 + 17, addr("192.0.2.1:56324")));

        let mut rest = ipv6_block();
        rest.extend_from_slice(&[0xee; 300]);
        assert_eq!(
            complete(&header(PROXY, TCP6, &rest)),
            (52 + 300, addr("[2001:db8::1]:56324"))
        );
    }

    #[test]
    fn every_prefix_of_a_valid_header_is_incomplete() {
        let mut tlvs = IPV4_BLOCK.to_vec();
        tlvs.extend_from_slice(b"\x01\x00\x02h2");
        for header in [
            header(PROXY, TCP4, &IPV4_BLOCK),
            header(PROXY, TCP4, &tlvs),
            header(PROXY, TCP6, &ipv6_block()),
            header(PROXY, UNIX_STREAM, &[0; 216]),
            header(PROXY, UNSPEC, b""),
            header(LOCAL, UNSPEC, b""),
            header(LOCAL, TCP4, &IPV4_BLOCK),
        ] {
            for end in 0..header.len() {
                assert_eq!(parse(&header[..end]), Ok(ProxyHeader::Incomplete), "{end}");
            }
            assert_eq!(complete(&header).0, header.len());
        }
    }

    #[test]
    fn unsupported_versions_are_rejected_on_their_byte() {
        for version_command in [0x01, 0x11, 0x31, 0xf1, 0x10] {
            let header = header(version_command, TCP4, &IPV4_BLOCK);
            assert_eq!(parse(&header), Err(UNSUPPORTED_VERSION));
            assert_eq!(parse(&header[..13]), Err(UNSUPPORTED_VERSION));
        }
    }

    #[test]
    fn unknown_commands_are_rejected_on_their_byte() {
        for version_command in [0x22, 0x2f] {
            let header = header(version_command, TCP4, &IPV4_BLOCK);
            assert_eq!(parse(&header), Err(UNKNOWN_COMMAND));
            assert_eq!(parse(&header[..13]), Err(UNKNOWN_COMMAND));
        }
    }

    #[test]
    fn unknown_families_and_protocols_are_rejected_on_their_byte() {
        for family_protocol in [0x01, 0x10, 0x13, 0x20, 0x30, 0x41, 0xff] {
            let header = header(PROXY, family_protocol, &IPV4_BLOCK);
            assert_eq!(parse(&header), Err(UNKNOWN_FAMILY), "{family_protocol:#x}");
            assert_eq!(parse(&header[..14]), Err(UNKNOWN_FAMILY));
        }
    }

    #[test]
    fn lengths_shorter_than_the_address_block_are_rejected_on_their_bytes() {
        for (family_protocol, block_len) in [(TCP4, 12), (UDP4, 12), (TCP6, 36), (UNIX_STREAM, 216)]
        {
            let header = header_with_len(PROXY, family_protocol, block_len - 1, &[0; 300]);
            assert_eq!(parse(&header), Err(SHORT_ADDRESS_BLOCK));
            assert_eq!(parse(&header[..16]), Err(SHORT_ADDRESS_BLOCK));
            assert_eq!(parse(&header[..15]), Ok(ProxyHeader::Incomplete));
        }
        assert_eq!(
            parse(&header_with_len(PROXY, TCP6, 12, &IPV4_BLOCK)),
            Err(SHORT_ADDRESS_BLOCK)
        );
    }

    #[test]
    fn a_wrong_signature_is_rejected_on_its_first_differing_byte() {
        let header = header(PROXY, TCP4, &IPV4_BLOCK);
        for at in 1..SIGNATURE.len() {
            let mut wrong = header.clone();
            wrong[at] ^= 0x40;
            assert_eq!(parse(&wrong[..=at]), Err(NOT_A_HEADER), "{at}");
            assert_eq!(parse(&wrong[..at]), Ok(ProxyHeader::Incomplete), "{at}");
        }
    }

    #[test]
    fn the_source_port_is_given_as_is() {
        let mut block = IPV4_BLOCK;
        block[8..10].copy_from_slice(&[0, 0]);
        assert_eq!(
            complete(&header(PROXY, TCP4, &block)).1,
            addr("192.0.2.1:0")
        );
        block[8..10].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(
            complete(&header(PROXY, TCP4, &block)).1,
            addr("192.0.2.1:65535")
        );
    }

    #[test]
    fn errors_read_as_reasons() {
        assert_eq!(
            UNSUPPORTED_VERSION.to_string(),
            "unsupported PROXY v2 version"
        );
        assert_eq!(
            SHORT_ADDRESS_BLOCK.to_string(),
            "PROXY v2 address block too short"
        );
    }
}
