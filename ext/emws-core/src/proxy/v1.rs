//! Version 1 of the PROXY protocol: one line of text.
//!
//! ```text
//! PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n
//! PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n
//! PROXY UNKNOWN[ anything]\r\n
//! ```
//!
//! The line is read strictly (single spaces, addresses of the declared
//! family, ports without sign or leading zeros): a lenient reading would
//! accept lines that no proxy sends and that another reader might take
//! differently.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::header::{agrees_with, ProxyHeader, ProxyHeaderError, NOT_A_HEADER, PROXY_V1_MAX};

const KEYWORD: &[u8] = b"PROXY";

const TOO_LONG: ProxyHeaderError = ProxyHeaderError("PROXY v1 line longer than 107 bytes");
const LF_WITHOUT_CR: ProxyHeaderError = ProxyHeaderError("PROXY v1 line ends in LF without CR");
const CR_WITHOUT_LF: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 line has a CR not followed by LF");
const NOT_SINGLE_SPACES: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 fields must be separated by single spaces");
const UNKNOWN_PROTOCOL: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
const TOO_FEW_FIELDS: ProxyHeaderError = ProxyHeaderError("PROXY v1 line has too few fields");
const TOO_MANY_FIELDS: ProxyHeaderError = ProxyHeaderError("PROXY v1 line has too many fields");
const BAD_SOURCE_ADDRESS: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 source address is not an address of the declared family");
const BAD_DESTINATION_ADDRESS: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 destination address is not an address of the declared family");
const BAD_SOURCE_PORT: ProxyHeaderError = ProxyHeaderError("PROXY v1 source port is not 0-65535");
const BAD_DESTINATION_PORT: ProxyHeaderError =
    ProxyHeaderError("PROXY v1 destination port is not 0-65535");

/// Parses a buffer that starts with `P`.
pub fn parse(buf: &[u8]) -> Result<ProxyHeader, ProxyHeaderError> {
    // A line end beyond the limit is never looked for: the line is too long
    // whatever follows.
    let window = &buf[..buf.len().min(PROXY_V1_MAX)];
    let wait_for_more = || {
        if buf.len() >= PROXY_V1_MAX {
            Err(TOO_LONG)
        } else {
            Ok(ProxyHeader::Incomplete)
        }
    };
    let Some(end) = window.iter().position(|&b| b == b'\r' || b == b'\n') else {
        read_fields(window, false)?;
        return wait_for_more();
    };
    if window[end] == b'\n' {
        return Err(LF_WITHOUT_CR);
    }
    let lf = window.get(end + 1);
    if lf.is_some_and(|&b| b != b'\n') {
        return Err(CR_WITHOUT_LF);
    }
    let source = read_fields(&window[..end], true)?;
    match lf {
        Some(_) => Ok(ProxyHeader::Complete {
            len: end + 2,
            source,
        }),
        None => wait_for_more(),
    }
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// Checks the fields of `line` (without its CRLF) and returns the source
/// address of a complete line. An incomplete `line` is the start of one: its
/// last field may still grow, so it need only be the start of a valid field.
fn read_fields(line: &[u8], complete: bool) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let last = fields.len() - 1;
    let whole = |i: usize| complete || i < last;
    if !is_keyword(fields[0], KEYWORD, whole(0)) {
        return Err(NOT_A_HEADER);
    }
    let Some(&protocol) = fields.get(1) else {
        return if complete {
            Err(TOO_FEW_FIELDS)
        } else {
            Ok(None)
        };
    };
    if whole(1) && protocol.is_empty() {
        return Err(NOT_SINGLE_SPACES);
    }
    let family = if is_keyword(protocol, b"TCP4", whole(1)) {
        Family::V4
    } else if is_keyword(protocol, b"TCP6", whole(1)) {
        Family::V6
    } else if is_keyword(protocol, b"UNKNOWN", whole(1)) {
        // The proxy does not know the client: whatever follows is ignored.
        return Ok(None);
    } else {
        return Err(UNKNOWN_PROTOCOL);
    };
    if !whole(1) {
        return Ok(None);
    }
    let mut source_ip = None;
    let mut source_port = None;
    for (i, &field) in fields.iter().enumerate().skip(2) {
        if i > 5 {
            return Err(TOO_MANY_FIELDS);
        }
        let whole = whole(i);
        if whole && field.is_empty() {
            return Err(NOT_SINGLE_SPACES);
        }
        match i {
            2 => source_ip = address(field, family, whole).ok_or(BAD_SOURCE_ADDRESS)?,
            3 => _ = address(field, family, whole).ok_or(BAD_DESTINATION_ADDRESS)?,
            4 => source_port = port(field, whole).ok_or(BAD_SOURCE_PORT)?,
            _ => _ = port(field, whole).ok_or(BAD_DESTINATION_PORT)?,
        }
    }
    if !complete {
        return Ok(None);
    }
    match (source_ip, source_port, fields.len()) {
        (Some(ip), Some(port), 6) => Ok(Some(SocketAddr::new(ip, port))),
        _ => Err(TOO_FEW_FIELDS),
    }
}

/// Whether `field` is `keyword`, or the start of it if the field may grow.
fn is_keyword(field: &[u8], keyword: &[u8], whole: bool) -> bool {
    if whole {
        field == keyword
    } else {
        field.len() <= keyword.len() && agrees_with(field, keyword)
    }
}

/// Suffixes that complete the start of any valid IPv4 or IPv6 address: an
/// octet or group is closed by a dot or colon, missing ones added as zeros,
/// the rest elided by `::`. The start is valid if one of them completes it.
const ADDRESS_COMPLETIONS: [&str; 11] = [
    "", "0", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0", "0.0.0.0", ":", ":0", "::",
];

/// The longest address text: six IPv6 groups and a dotted IPv4 address.
const MAX_ADDRESS_LEN: usize = 45;

/// A whole field's address; `Some(None)` for a field that may still grow
/// into one; `None` if it cannot.
fn address(field: &[u8], family: Family, whole: bool) -> Option<Option<IpAddr>> {
    let text = std::str::from_utf8(field).ok()?;
    if whole {
        return family.parse(text).map(Some);
    }
    let mut candidate = String::with_capacity(MAX_ADDRESS_LEN + 8);
    let can_grow = text.len() <= MAX_ADDRESS_LEN
        && ADDRESS_COMPLETIONS.iter().any(|completion| {
            candidate.clear();
            candidate.push_str(text);
            candidate.push_str(completion);
            family.parse(&candidate).is_some()
        });
    can_grow.then_some(None)
}

impl Family {
    /// std's parsers are as strict as the spec asks: no leading zeros in
    /// IPv4 octets, no zone or prefix.
    fn parse(self, text: &str) -> Option<IpAddr> {
        match self {
            Family::V4 => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            Family::V6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        }
    }
}

/// A whole field's port; `Some(None)` for a field that may still grow into
/// one; `None` if it cannot. Every start of a port is empty or a port itself.
fn port(field: &[u8], whole: bool) -> Option<Option<u16>> {
    if field.is_empty() && !whole {
        return Some(None);
    }
    let digits_only = !field.is_empty() && field.iter().all(u8::is_ascii_digit);
    // Leading zeros could be read as octal, so the spec forbids them.
    let leading_zero = field.len() > 1 && field[0] == b'0';
    if !digits_only || leading_zero || field.len() > 5 {
        return None;
    }
    let value = field
        .iter()
        .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'));
    let port = u16::try_from(value).ok()?;
    Some(whole.then_some(port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &[u8]) -> Option<SocketAddr> {
        match parse(line) {
            Ok(ProxyHeader::Complete { len, source }) => {
                assert_eq!(len, line.len(), "{:?}", String::from_utf8_lossy(line));
                source
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
        }
    }

    fn error(line: &[u8]) -> &'static str {
        match parse(line) {
            Err(ProxyHeaderError(reason)) => reason,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
        }
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// The longest line there can be, 107 bytes.
    const LONGEST: &[u8] = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
        ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

    #[test]
    fn tcp4() {
        assert_eq!(
            complete(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"),
            Some(addr("192.0.2.1:56324"))
        );
        assert_eq!(
            complete(b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
            Some(addr("255.255.255.255:65535"))
        );
        assert_eq!(
            complete(b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"),
            Some(addr("0.0.0.0:0"))
        );
    }

    #[test]
    fn tcp6() {
        assert_eq!(
            complete(b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"),
            Some(addr("[2001:db8::1]:56324"))
        );
        assert_eq!(
            complete(b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"),
            Some(addr("[::ffff:192.0.2.1]:1"))
        );
        assert_eq!(
            complete(b"PROXY TCP6 FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff :: 65535 65535\r\n"),
            Some(addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"))
        );
    }

    #[test]
    fn unknown_ignores_the_rest_of_the_line() {
        assert_eq!(complete(b"PROXY UNKNOWN\r\n"), None);
        assert_eq!(
            complete(b"PROXY UNKNOWN 192.0.2.1 198.51.100.1 1 2\r\n"),
            None
        );
        assert_eq!(complete(b"PROXY UNKNOWN  what  ever \xff\r\n"), None);
        assert_eq!(complete(LONGEST), None);
        assert_eq!(LONGEST.len(), PROXY_V1_MAX);
    }

    #[test]
    fn the_length_excludes_what_follows() {
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\nGET / HTTP/1.1\r\n"),
            Ok(ProxyHeader::Complete {
                len: 45,
                source: Some(addr("192.0.2.1:56324")),
            })
        );
        let mut longest_then_data = LONGEST.to_vec();
        longest_then_data.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&longest_then_data),
            Ok(ProxyHeader::Complete {
                len: 107,
                source: None
            })
        );
    }

    #[test]
    fn every_prefix_of_a_valid_line_is_incomplete() {
        for line in [
            &b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"[..],
            b"PROXY TCP4 255.255.255.255 0.0.0.0 0 65535\r\n",
            b"PROXY TCP4 10.200.30.4 1.2.3.4 100 9\r\n",
            b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
            b"PROXY TCP6 ::ffff:192.0.2.1 :: 1 2\r\n",
            b"PROXY TCP6 1:2:3:4:5:6:7:8 1:2:3:4:5:6:1.2.3.4 1 2\r\n",
            b"PROXY TCP6 1::2:3:4:5:6:7 abcd:: 1 2\r\n",
            b"PROXY UNKNOWN\r\n",
            LONGEST,
        ] {
            for end in 0..line.len() {
                assert_eq!(
                    parse(&line[..end]),
                    Ok(ProxyHeader::Incomplete),
                    "{:?}",
                    String::from_utf8_lossy(&line[..end])
                );
            }
            complete(line);
        }
    }

    #[test]
    fn spacing_must_be_single_spaces() {
        for line in [
            &b"PROXY  TCP4 192.0.2.1 198.51.100.1 1 2\r\n"[..],
            b"PROXY TCP4  192.0.2.1 198.51.100.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.1  198.51.100.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1 1  2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1 1 \r\n",
        ] {
            assert_eq!(error(line), NOT_SINGLE_SPACES.0);
        }
        // Found without waiting for the end of the line.
        assert_eq!(error(b"PROXY TCP4 192.0.2.1  "), NOT_SINGLE_SPACES.0);
        assert_eq!(
            error(b"PROXY\tTCP4 192.0.2.1 198.51.100.1 1 2\r\n"),
            NOT_A_HEADER.0
        );
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2 \r\n"),
            TOO_MANY_FIELDS.0
        );
    }

    #[test]
    fn ports_must_be_0_to_65535_without_sign_or_leading_zero() {
        for (line, reason) in [
            (
                &b"PROXY TCP4 192.0.2.1 198.51.100.1 65536 2\r\n"[..],
                BAD_SOURCE_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 1 99999\r\n",
                BAD_DESTINATION_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 +1 2\r\n",
                BAD_SOURCE_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 -1 2\r\n",
                BAD_SOURCE_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 080 2\r\n",
                BAD_SOURCE_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 1 00\r\n",
                BAD_DESTINATION_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 1x 2\r\n",
                BAD_SOURCE_PORT,
            ),
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 100000 2\r\n",
                BAD_SOURCE_PORT,
            ),
        ] {
            assert_eq!(error(line), reason.0, "{:?}", String::from_utf8_lossy(line));
        }
        // A port that cannot become valid fails before the line ends.
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 65536"),
            BAD_SOURCE_PORT.0
        );
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.1 198.51.100.1 0"),
            Ok(ProxyHeader::Incomplete)
        );
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 00"),
            BAD_SOURCE_PORT.0
        );
    }

    #[test]
    fn addresses_must_be_of_the_declared_family() {
        for (line, reason) in [
            (
                &b"PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n"[..],
                BAD_SOURCE_ADDRESS,
            ),
            (b"PROXY TCP4 192.0.2.1 ::1 1 2\r\n", BAD_DESTINATION_ADDRESS),
            (b"PROXY TCP6 192.0.2.1 ::1 1 2\r\n", BAD_SOURCE_ADDRESS),
            (b"PROXY TCP6 ::1 192.0.2.1 1 2\r\n", BAD_DESTINATION_ADDRESS),
            (
                b"PROXY TCP4 192.0.2.01 198.51.100.1 1 2\r\n",
                BAD_SOURCE_ADDRESS,
            ),
            (
                b"PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n",
                BAD_SOURCE_ADDRESS,
            ),
            (
                b"PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n",
                BAD_SOURCE_ADDRESS,
            ),
            (b"PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", BAD_SOURCE_ADDRESS),
            (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", BAD_SOURCE_ADDRESS),
            (b"PROXY TCP6 [::1] ::1 1 2\r\n", BAD_SOURCE_ADDRESS),
        ] {
            assert_eq!(error(line), reason.0, "{:?}", String::from_utf8_lossy(line));
        }
        // Found as soon as the address cannot become one of the family.
        for line in [
            &b"PROXY TCP4 2001:"[..],
            b"PROXY TCP4 192.0.2.01",
            b"PROXY TCP4 1.2.3.4.",
            b"PROXY TCP4 256",
            b"PROXY TCP6 192.0.2.1 ",
            b"PROXY TCP6 12345",
            b"PROXY TCP6 1:::",
            b"PROXY TCP6 1::2::",
            b"PROXY TCP6 1:2:3:4:5:6:7:8:",
            b"PROXY TCP6 g",
            b"PROXY TCP6 [",
        ] {
            assert_eq!(
                error(line),
                BAD_SOURCE_ADDRESS.0,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn lines_longer_than_107_bytes_are_rejected() {
        let mut line = LONGEST.to_vec();
        line.insert(20, b'f');
        assert_eq!(line.len(), 108);
        assert_eq!(error(&line), TOO_LONG.0);
        // Known once 107 bytes have come without the line's end...
        assert_eq!(error(&line[..107]), TOO_LONG.0);
        assert_eq!(parse(&line[..106]), Ok(ProxyHeader::Incomplete));
        // ... including when the 107th is the CR.
        let mut cr_last = LONGEST[..105].to_vec();
        cr_last.extend_from_slice(b"f\r\n");
        assert_eq!(error(&cr_last[..107]), TOO_LONG.0);
        // An IPv6 address in mixed notation can make a TCP6 line too long.
        let mixed = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 \
            ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n";
        assert_eq!(error(mixed), TOO_LONG.0);
    }

    #[test]
    fn line_ends_must_be_crlf() {
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2\n"),
            LF_WITHOUT_CR.0
        );
        assert_eq!(error(b"PROXY UNKNOWN\n"), LF_WITHOUT_CR.0);
        assert_eq!(error(b"PROXY\n"), LF_WITHOUT_CR.0);
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2\r\r\n"),
            CR_WITHOUT_LF.0
        );
        assert_eq!(error(b"PROXY UNKNOWN \rx\r\n"), CR_WITHOUT_LF.0);
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2\r"),
            Ok(ProxyHeader::Incomplete)
        );
    }

    #[test]
    fn protocols_other_than_tcp4_tcp6_and_unknown_are_rejected() {
        for line in [
            &b"PROXY UDP4 192.0.2.1 198.51.100.1 1 2\r\n"[..],
            b"PROXY tcp4 192.0.2.1 198.51.100.1 1 2\r\n",
            b"PROXY TCP 192.0.2.1 198.51.100.1 1 2\r\n",
            b"PROXY TCP44 192.0.2.1 198.51.100.1 1 2\r\n",
            b"PROXY UNKNOWNX\r\n",
            b"PROXY TCP5",
            b"PROXY UNKNOWN!",
        ] {
            assert_eq!(
                error(line),
                UNKNOWN_PROTOCOL.0,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn missing_and_extra_fields() {
        for line in [
            &b"PROXY\r\n"[..],
            b"PROXY TCP4\r\n",
            b"PROXY TCP4 192.0.2.1\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1 1\r\n",
        ] {
            assert_eq!(
                error(line),
                TOO_FEW_FIELDS.0,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(error(b"PROXY \r\n"), NOT_SINGLE_SPACES.0);
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2 3\r\n"),
            TOO_MANY_FIELDS.0
        );
        assert_eq!(
            error(b"PROXY TCP4 192.0.2.1 198.51.100.1 1 2 "),
            TOO_MANY_FIELDS.0
        );
    }

    #[test]
    fn the_keyword_is_exact() {
        assert_eq!(error(b"PROXYTCP4"), NOT_A_HEADER.0);
        assert_eq!(error(b"PROX "), NOT_A_HEADER.0);
        assert_eq!(error(b"PRoXY "), NOT_A_HEADER.0);
        assert_eq!(parse(b"PROX"), Ok(ProxyHeader::Incomplete));
    }
}
