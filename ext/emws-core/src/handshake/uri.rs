//! The request-target, as em-websocket reads it with Ruby's `URI.parse`.

use std::ops::Range;

/// Splits a request-target into path and query string. An absolute URI
/// (`http://host/path?q`) yields its path; a fragment is not part of either.
pub fn split_target(target: &str) -> (&str, &str) {
    let end = target.find('#').unwrap_or(target.len());
    let (path_part, query) = target[..end]
        .split_once('?')
        .unwrap_or((&target[..end], ""));
    let path = match authority(path_part) {
        Some(authority) => &path_part[authority.end..],
        None => after_scheme(path_part).unwrap_or(path_part),
    };
    (path, query)
}

/// Where the authority (`//user@host:port`, without the slashes) lies in `target`.
fn authority(target: &str) -> Option<Range<usize>> {
    let hier_part = after_scheme(target).unwrap_or(target);
    let rest = hier_part.strip_prefix("//")?;
    let start = target.len() - rest.len();
    let len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(start..start + len)
}

/// What follows `scheme:` when `target` starts with a URI scheme.
fn after_scheme(target: &str) -> Option<&str> {
    let colon = target.find(':')?;
    let scheme = &target[..colon];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| &target[colon + 1..])
}

/// Whether `URI.parse` (RFC 3986) accepts the target: not empty, only URI
/// characters, `%` followed by two hex digits, brackets only around a host,
/// at most one `#`.
pub fn is_valid_target(target: &str) -> bool {
    if target.is_empty() || target.matches('#').count() > 1 {
        return false;
    }
    let brackets_outside_host = match authority(target) {
        Some(range) => {
            let host = &target[range.clone()];
            (host.contains(['[', ']']) && !is_ip_literal_host(host))
                || target[..range.start].contains(['[', ']'])
                || target[range.end..].contains(['[', ']'])
        }
        None => target.contains(['[', ']']),
    };
    if brackets_outside_host {
        return false;
    }
    let bytes = target.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() => {}
            // unreserved, gen-delims and sub-delims of RFC 3986 §2
            b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' | b'!'
            | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// `[v6 address]` optionally preceded by userinfo and followed by a port.
fn is_ip_literal_host(authority: &str) -> bool {
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match (host_and_port.find('['), host_and_port.find(']')) {
        (Some(0), Some(close)) => {
            let after = &host_and_port[close + 1..];
            host_and_port[1..close].matches(['[', ']']).count() == 0
                && (after.is_empty()
                    || after
                        .strip_prefix(':')
                        .is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit())))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query() {
        assert_eq!(split_target("/"), ("/", ""));
        assert_eq!(split_target("/chat"), ("/chat", ""));
        assert_eq!(split_target("/chat?room=1&x=2"), ("/chat", "room=1&x=2"));
        assert_eq!(split_target("/a?b?c"), ("/a", "b?c"));
        assert_eq!(split_target("/a?"), ("/a", ""));
        assert_eq!(split_target("/a#frag"), ("/a", ""));
        assert_eq!(split_target("/a?q#frag"), ("/a", "q"));
    }

    #[test]
    fn absolute_uris_yield_their_path() {
        assert_eq!(
            split_target("http://example.com:8080/chat?x=1"),
            ("/chat", "x=1")
        );
        assert_eq!(split_target("ws://example.com"), ("", ""));
        assert_eq!(split_target("//example.com/p"), ("/p", ""));
    }

    #[test]
    fn valid_targets() {
        for target in [
            "/",
            "/chat?room=1&x=%20",
            "*",
            "/a:b@c!$&'()*+,;=-._~",
            "http://[::1]:8080/x",
            "http://user@host/x?y#z",
            "relative/path",
        ] {
            assert!(is_valid_target(target), "{target}");
        }
    }

    #[test]
    fn invalid_targets() {
        for target in [
            "",
            "/foo bar",
            "/a\tb",
            "/a\u{0}",
            "/%zz",
            "/%2",
            "/a|b",
            "/a\"b",
            "/a<b>",
            "/{x}",
            "/a^b",
            "/a`b",
            "/a\\b",
            "/é",
            "/a[b]",
            "/a#b#c",
            "http://ho[st/x",
        ] {
            assert!(!is_valid_target(target), "{target:?}");
        }
    }
}
