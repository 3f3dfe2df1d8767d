//! The syntax of the headers in which HTTP proxies name the client they
//! forward for: `Forwarded` (RFC 7239) and `X-Forwarded-For`.
//!
//! ```text
//! Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"
//! X-Forwarded-For: 192.0.2.60, 2001:db8::1
//! ```
//!
//! Each proxy appends the address it received from. Entries are split here
//! and parsed one at a time: only the entries a walk from the right reaches
//! are read, so junk that a client put at the left cannot spoil the list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A hop named by a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Port 0 when none is given (or an obfuscated one).
    Address(SocketAddr),
    /// `unknown` or an obfuscated identifier (`_hidden`): the proxy will not
    /// say who it forwards for.
    Hidden,
}

/// The non-empty elements of one `Forwarded` value, in order: split at
/// commas outside quoted strings.
pub fn forwarded_elements(value: &str) -> impl Iterator<Item = &str> {
    split_unquoted(value, b',')
        .into_iter()
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// The node of a `Forwarded` element's `for` parameter; `None` if the
/// element is malformed or has no `for`, which leaves the client unknown.
pub fn forwarded_for(element: &str) -> Option<Node> {
    let mut node = None;
    for pair in split_unquoted(element, b';') {
        let pair = trim_ows(pair);
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        let value = unquote(trim_ows(value))?;
        if trim_ows(name).eq_ignore_ascii_case("for") {
            // RFC 7239 §4: a parameter occurs at most once per element.
            if node.is_some() {
                return None;
            }
            node = Some(parse_node(&value)?);
        }
    }
    node
}

/// The non-empty entries of one `X-Forwarded-For` value, in order.
pub fn forwarded_for_entries(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(trim_ows)
        .filter(|entry| !entry.is_empty())
}

/// Parses a node: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`, or `unknown` or `_obfuscated`.
/// `None` if it is none of them (RFC 7239 §6, and X-Forwarded-For's usage).
///
/// A bare IPv6 address is read as an address without a port: that is how
/// X-Forwarded-For writes it, and how a `Forwarded` header built from a
/// proxy's remote address variable (nginx's `for="$remote_addr"`) comes out,
/// although RFC 7239 asks for brackets.
pub fn parse_node(text: &str) -> Option<Node> {
    if text.eq_ignore_ascii_case("unknown") || text.starts_with('_') {
        return Some(Node::Hidden);
    }
    if let Some(bracketed) = text.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']')?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        let port = match after {
            "" => 0,
            _ => parse_port(after.strip_prefix(':')?)?,
        };
        return Some(Node::Address(SocketAddr::new(ip.into(), port)));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(Node::Address(SocketAddr::new(ip, 0)));
    }
    let (ip, port) = text.split_once(':')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    Some(Node::Address(SocketAddr::new(ip.into(), parse_port(port)?)))
}

/// `1*5DIGIT` up to 65535, or an obfuscated port (`_abc`), which stands for
/// no port.
fn parse_port(text: &str) -> Option<u16> {
    if text.len() > 1 && text.starts_with('_') {
        return Some(0);
    }
    let digits_only = (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    digits_only.then(|| text.parse().ok()).flatten()
}

/// Splits at `separator` where it is not inside a quoted string. An
/// unterminated quote runs to the end, into the last part.
fn split_unquoted(text: &str, separator: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, byte) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match byte {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if byte == b'"' {
            quoted = true;
        } else if byte == separator {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token's text, or a quoted string's content with its escapes undone;
/// `None` for an unterminated quote or text after the closing one.
///
/// Tokens are taken loosely (any text without quotes or whitespace): proxies
/// send `for=192.0.2.60:4711` unquoted although `:` is not a token
/// character.
fn unquote(value: &str) -> Option<String> {
    let Some(quoted) = value.strip_prefix('"') else {
        let is_token = !value.is_empty() && !value.contains(['"', ' ', '\t']);
        return is_token.then(|| value.to_owned());
    };
    let mut content = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => content.push(chars.next()?),
            c => content.push(c),
        }
    }
    chars.as_str().is_empty().then_some(content)
}

/// Optional whitespace (RFC 9110 §5.6.3): spaces and tabs.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Option<Node> {
        Some(Node::Address(text.parse().unwrap()))
    }

    #[test]
    fn nodes() {
        assert_eq!(parse_node("192.0.2.60"), address("192.0.2.60:0"));
        assert_eq!(parse_node("192.0.2.60:4711"), address("192.0.2.60:4711"));
        assert_eq!(parse_node("2001:db8::1"), address("[2001:db8::1]:0"));
        assert_eq!(parse_node("[2001:db8::1]"), address("[2001:db8::1]:0"));
        assert_eq!(
            parse_node("[2001:db8::1]:4711"),
            address("[2001:db8::1]:4711")
        );
        assert_eq!(
            parse_node("::ffff:192.0.2.60"),
            address("[::ffff:192.0.2.60]:0")
        );
        assert_eq!(parse_node("192.0.2.60:0"), address("192.0.2.60:0"));
        assert_eq!(parse_node("192.0.2.60:65535"), address("192.0.2.60:65535"));
        assert_eq!(parse_node("192.0.2.60:_port"), address("192.0.2.60:0"));
        assert_eq!(parse_node("[2001:db8::1]:_p"), address("[2001:db8::1]:0"));
    }

    #[test]
    fn hidden_nodes() {
        for hidden in ["unknown", "UNKNOWN", "_hidden", "_SEVKISEK", "_a.b-c"] {
            assert_eq!(parse_node(hidden), Some(Node::Hidden), "{hidden}");
        }
    }

    #[test]
    fn malformed_nodes() {
        for bad in [
            "",
            "192.0.2",
            "192.0.2.060",
            "192.0.2.60:",
            "192.0.2.60:65536",
            "192.0.2.60:+1",
            "192.0.2.60:123456",
            "192.0.2.60:_",
            "192.0.2.60 ",
            "[192.0.2.60]",
            "[2001:db8::1",
            "[2001:db8::1]4711",
            "[2001:db8::1]:",
            "2001:db8::1:4711:5:6:7:8:9",
            "[fe80::1%eth0]",
            "example.com",
            "::1]",
        ] {
            assert_eq!(parse_node(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn forwarded_elements_split_outside_quotes() {
        let elements: Vec<_> = forwarded_elements(
            r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711", ,for="a,b\",c", "#,
        )
        .collect();
        assert_eq!(
            elements,
            [
                "for=192.0.2.60;proto=http",
                r#"for="[2001:db8::1]:4711""#,
                r#"for="a,b\",c""#,
            ]
        );
        assert_eq!(forwarded_elements(" , ").count(), 0);
        let unterminated: Vec<_> =
            forwarded_elements(r#"for=1.2.3.4, for="5.6.7.8, for=9.9.9.9"#).collect();
        assert_eq!(
            unterminated,
            ["for=1.2.3.4", r#"for="5.6.7.8, for=9.9.9.9"#]
        );
    }

    #[test]
    fn forwarded_for_parameters() {
        assert_eq!(forwarded_for("for=192.0.2.60"), address("192.0.2.60:0"));
        assert_eq!(forwarded_for("FOR=192.0.2.60"), address("192.0.2.60:0"));
        assert_eq!(forwarded_for("For=\"192.0.2.60\""), address("192.0.2.60:0"));
        assert_eq!(
            forwarded_for("for=192.0.2.60:4711"),
            address("192.0.2.60:4711")
        );
        assert_eq!(
            forwarded_for("for=\"[2001:db8:cafe::17]:4711\""),
            address("[2001:db8:cafe::17]:4711")
        );
        assert_eq!(
            forwarded_for("proto=https;for=\"192.0.2.60\";by=203.0.113.43;host=\"a;b\""),
            address("192.0.2.60:0")
        );
        assert_eq!(
            forwarded_for(" for = 192.0.2.60 ; ;proto=http"),
            address("192.0.2.60:0")
        );
        assert_eq!(
            forwarded_for("for=\"\\1\\9\\2.0.2.60\""),
            address("192.0.2.60:0")
        );
        assert_eq!(forwarded_for("for=unknown"), Some(Node::Hidden));
        // Bare IPv6 addresses, against RFC 7239 but sent all the same.
        assert_eq!(
            forwarded_for("for=\"2001:db8::1\""),
            address("[2001:db8::1]:0")
        );
        assert_eq!(
            forwarded_for("for=2001:db8::1:4711"),
            address("[2001:db8::1:4711]:0")
        );
        assert_eq!(forwarded_for("for=\"_gazonk\""), Some(Node::Hidden));
    }

    #[test]
    fn malformed_forwarded_elements() {
        for bad in [
            "proto=https",
            "by=192.0.2.1",
            "for",
            "for=",
            "for=\"\"",
            "for=\"192.0.2.60",
            "for=\"192.0.2.60\"x",
            "for=192.0.2.60 x",
            "for=192.0.2.60;for=192.0.2.61",
            "for=192.0.2.60;proto=\"http",
            "=192.0.2.60",
        ] {
            assert_eq!(forwarded_for(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn x_forwarded_for_entries() {
        let entries: Vec<_> =
            forwarded_for_entries(" 192.0.2.60,198.51.100.1 ,\t2001:db8::1, ,").collect();
        assert_eq!(entries, ["192.0.2.60", "198.51.100.1", "2001:db8::1"]);
        assert_eq!(forwarded_for_entries("").count(), 0);
    }
}
