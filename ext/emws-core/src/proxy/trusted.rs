//! Which proxies are believed about the client they forward for.
//!
//! Any client can send `X-Forwarded-For: 1.2.3.4`. A proxy appends the
//! address it received from to whatever the header already held, so only
//! the entries appended by proxies we trust are true. Walking the list from
//! the right, past our own proxies, the first address that is not one of
//! them is the client as the outermost trusted proxy saw it; everything to
//! its left is what that client claims, and is ignored.

use std::net::{IpAddr, SocketAddr};

use super::cidr::Cidr;
use super::forwarding::{
    forwarded_elements, forwarded_for, forwarded_for_entries, parse_node, Node,
};

/// The address ranges of the proxies in front of the server.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
}

impl TrustedProxies {
    /// Parses entries like "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"; an
    /// error String names the bad entry. Spaces around an entry are ignored.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(
        entries: I,
    ) -> Result<TrustedProxies, String> {
        let ranges = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref();
                Cidr::parse(entry.trim())
                    .map_err(|reason| format!("invalid trusted proxy {entry:?}: {reason}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is in a trusted range. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 peers) matches
    /// IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(ip))
    }

    /// The client behind `peer`, the connection's remote address, given the
    /// request's `headers` (name, value).
    ///
    /// An untrusted `peer` is the client: its headers are its own claims.
    /// Otherwise the `Forwarded` headers (RFC 7239) are read if there are
    /// any, else `X-Forwarded-For`; several lines of one header are one list.
    /// Walking it from the right, the first address not trusted is the
    /// client; if all are trusted, the leftmost. `peer` stands if the list is
    /// empty, or the walk meets an entry it cannot read, a hidden one
    /// (`unknown`, `_obfuscated`) or a `Forwarded` element without `for`:
    /// what lies to its left cannot be vouched for. The port is the one the
    /// header gives, or 0.
    pub fn client_address<'a>(
        &self,
        peer: SocketAddr,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> SocketAddr {
        if !self.contains(peer.ip()) {
            return peer;
        }
        let mut forwarded = Vec::new();
        let mut x_forwarded_for = Vec::new();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("forwarded") {
                forwarded.push(value);
            } else if name.eq_ignore_ascii_case("x-forwarded-for") {
                x_forwarded_for.push(value);
            }
        }
        if forwarded.is_empty() {
            let entries: Vec<&str> = x_forwarded_for
                .into_iter()
                .flat_map(forwarded_for_entries)
                .collect();
            self.walk(peer, entries.into_iter().rev().map(parse_node))
        } else {
            let elements: Vec<&str> = forwarded.into_iter().flat_map(forwarded_elements).collect();
            self.walk(peer, elements.into_iter().rev().map(forwarded_for))
        }
    }

    /// Walks `nodes`, right to left, lazily parsed: entries past the client
    /// are never read.
    fn walk(&self, peer: SocketAddr, nodes: impl Iterator<Item = Option<Node>>) -> SocketAddr {
        let mut leftmost = None;
        for node in nodes {
            match node {
                Some(Node::Address(address)) if self.contains(address.ip()) => {
                    leftmost = Some(address);
                }
                Some(Node::Address(address)) => return address,
                Some(Node::Hidden) | None => return peer,
            }
        }
        leftmost.unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap()
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client of a request from `peer` with `headers`, behind the
    /// proxies of 10.0.0.0/8 and fd00::/8.
    fn client(peer: &str, headers: &[(&str, &str)]) -> SocketAddr {
        trusted(&["10.0.0.0/8", "fd00::/8"]).client_address(addr(peer), headers.iter().copied())
    }

    const PEER: &str = "10.0.0.1:5000";

    #[test]
    fn parses_addresses_and_ranges() {
        let proxies = trusted(&[
            "127.0.0.1",
            "10.0.0.0/8",
            "::1",
            "fd00::/8",
            " 192.0.2.0/24 ",
        ]);
        assert!(!proxies.is_empty());
        for inside in ["127.0.0.1", "10.1.2.3", "::1", "fd12::1", "192.0.2.255"] {
            assert!(proxies.contains(ip(inside)), "{inside}");
        }
        for outside in ["127.0.0.2", "11.0.0.0", "::2", "fe00::", "192.0.3.0"] {
            assert!(!proxies.contains(ip(outside)), "{outside}");
        }
        assert_eq!(
            format!("{proxies:?}"),
            "TrustedProxies { ranges: [127.0.0.1/32, 10.0.0.0/8, ::1/128, fd00::/8, 192.0.2.0/24] }"
        );
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(
            TrustedProxies::parse(["10.0.0.0/8", "10.0.0.0/33"]).unwrap_err(),
            "invalid trusted proxy \"10.0.0.0/33\": the prefix length must be 0-32"
        );
        assert_eq!(
            TrustedProxies::parse(vec!["::1".to_string(), "localhost".to_string()]).unwrap_err(),
            "invalid trusted proxy \"localhost\": not an IP address"
        );
        for bad in [
            "",
            "10.0.0.0/",
            "::/129",
            "1.2.3.4/-1",
            "fe80::1%eth0",
            "10.0.0.0/8,",
        ] {
            let error = TrustedProxies::parse([bad]).unwrap_err();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn none_trusted_by_default() {
        let proxies = TrustedProxies::default();
        assert!(proxies.is_empty());
        assert!(TrustedProxies::parse(Vec::<String>::new())
            .unwrap()
            .is_empty());
        assert!(!proxies.contains(ip("127.0.0.1")));
        let headers = [("X-Forwarded-For", "192.0.2.60")];
        assert_eq!(
            proxies.client_address(addr(PEER), headers.iter().copied()),
            addr(PEER)
        );
    }

    #[test]
    fn cidr_boundaries() {
        let proxies = trusted(&["0.0.0.0/0"]);
        assert!(proxies.contains(ip("0.0.0.0")));
        assert!(proxies.contains(ip("255.255.255.255")));
        assert!(!proxies.contains(ip("::1")));
        let proxies = trusted(&["::/0"]);
        assert!(proxies.contains(ip("::")));
        assert!(proxies.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        let proxies = trusted(&["192.0.2.7/32", "2001:db8::7/128", "10.0.0.0/8"]);
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.6")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(proxies.contains(ip("2001:db8::7")));
        assert!(!proxies.contains(ip("2001:db8::6")));
        assert!(!proxies.contains(ip("2001:db8::8")));
        assert!(proxies.contains(ip("10.0.0.0")));
        assert!(proxies.contains(ip("10.255.255.255")));
        assert!(!proxies.contains(ip("9.255.255.255")));
        assert!(!proxies.contains(ip("11.0.0.0")));
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_ranges() {
        let proxies = trusted(&["10.0.0.0/8", "127.0.0.1"]);
        assert!(proxies.contains(ip("::ffff:10.9.8.7")));
        assert!(proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(!proxies.contains(ip("::ffff:11.0.0.1")));
        // A dual-stack listener's view of a trusted IPv4 proxy.
        let headers = [("X-Forwarded-For", "192.0.2.60")];
        assert_eq!(
            proxies.client_address(addr("[::ffff:10.0.0.1]:5000"), headers.iter().copied()),
            addr("192.0.2.60:0")
        );
        // And of a mapped address in the header.
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "192.0.2.60, ::ffff:10.0.0.2")]),
            addr("192.0.2.60:0")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let headers = [
            ("X-Forwarded-For", "192.0.2.60"),
            ("Forwarded", "for=192.0.2.61"),
        ];
        assert_eq!(
            client("203.0.113.9:4000", &headers),
            addr("203.0.113.9:4000")
        );
        assert_eq!(
            client("[2001:db8::9]:4000", &headers),
            addr("[2001:db8::9]:4000")
        );
    }

    #[test]
    fn x_forwarded_for_gives_the_rightmost_untrusted_address() {
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "192.0.2.60")]),
            addr("192.0.2.60:0")
        );
        // The client made up the first two entries; our proxies added the
        // last three.
        assert_eq!(
            client(
                PEER,
                &[(
                    "X-Forwarded-For",
                    "1.1.1.1, 127.0.0.1, 198.51.100.7, 10.0.0.3, 10.0.0.2"
                )]
            ),
            addr("198.51.100.7:0")
        );
        // A client pretending to be one of our proxies is still found.
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "10.0.0.9, 198.51.100.7")]),
            addr("198.51.100.7:0")
        );
    }

    #[test]
    fn all_trusted_gives_the_leftmost() {
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "10.0.0.4, 10.0.0.3,10.0.0.2")]),
            addr("10.0.0.4:0")
        );
        assert_eq!(
            client(
                PEER,
                &[("Forwarded", "for=10.0.0.4:81, for=\"[fd00::3]:82\"")]
            ),
            addr("10.0.0.4:81")
        );
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let headers = [
            ("X-Forwarded-For", "1.1.1.1, 198.51.100.7"),
            ("Host", "example.com"),
            ("x-forwarded-for", "10.0.0.3"),
            ("X-FORWARDED-FOR", "10.0.0.2"),
        ];
        assert_eq!(client(PEER, &headers), addr("198.51.100.7:0"));
        let headers = [
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-For", "203.0.113.1, 10.0.0.2"),
        ];
        assert_eq!(client(PEER, &headers), addr("203.0.113.1:0"));
        let headers = [
            ("forwarded", "for=198.51.100.7"),
            ("FORWARDED", "for=203.0.113.1;proto=https, for=10.0.0.2"),
        ];
        assert_eq!(client(PEER, &headers), addr("203.0.113.1:0"));
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            client(
                "[fd00::1]:5000",
                &[("X-Forwarded-For", "2001:db8::60, fd00::2")]
            ),
            addr("[2001:db8::60]:0")
        );
        assert_eq!(
            client(
                "[fd00::1]:5000",
                &[("X-Forwarded-For", "[2001:db8::60]:4711")]
            ),
            addr("[2001:db8::60]:4711")
        );
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "2001:db8::60, 192.0.2.60:80")]),
            addr("192.0.2.60:80")
        );
        assert_eq!(
            client(
                "[fd00::1]:5000",
                &[("X-Forwarded-For", "192.0.2.60, fd00::2, 10.0.0.2")]
            ),
            addr("192.0.2.60:0")
        );
    }

    #[test]
    fn forwarded_with_quotes_and_ports() {
        assert_eq!(
            client(PEER, &[("Forwarded", "for=\"[2001:db8:cafe::17]:4711\"")]),
            addr("[2001:db8:cafe::17]:4711")
        );
        assert_eq!(
            client(PEER, &[("Forwarded", "for=192.0.2.60:4711")]),
            addr("192.0.2.60:4711")
        );
        assert_eq!(
            client(
                PEER,
                &[("Forwarded", "For=\"192.0.2.60\";proto=http;by=203.0.113.43")]
            ),
            addr("192.0.2.60:0")
        );
        assert_eq!(
            client(
                PEER,
                &[(
                    "Forwarded",
                    "for=1.1.1.1, for=\"[2001:db8::17]\";host=\"a,b\", for=10.0.0.2"
                )]
            ),
            addr("[2001:db8::17]:0")
        );
    }

    #[test]
    fn forwarded_is_preferred_over_x_forwarded_for() {
        let headers = [
            ("X-Forwarded-For", "198.51.100.7"),
            ("Forwarded", "for=192.0.2.60"),
        ];
        assert_eq!(client(PEER, &headers), addr("192.0.2.60:0"));
        // Even when it gives nothing.
        let headers = [("Forwarded", ""), ("X-Forwarded-For", "198.51.100.7")];
        assert_eq!(client(PEER, &headers), addr(PEER));
        let headers = [
            ("Forwarded", "proto=https"),
            ("X-Forwarded-For", "198.51.100.7"),
        ];
        assert_eq!(client(PEER, &headers), addr(PEER));
    }

    #[test]
    fn hidden_nodes_stop_the_walk() {
        for hidden in ["for=unknown", "for=_hidden", "for=\"_SEVKISEK\""] {
            let value = format!("for=192.0.2.60, {hidden}, for=10.0.0.2");
            assert_eq!(
                client(PEER, &[("Forwarded", &value)]),
                addr(PEER),
                "{value}"
            );
        }
        // Past the client they are never read.
        assert_eq!(
            client(
                PEER,
                &[("Forwarded", "for=unknown, for=192.0.2.60, for=10.0.0.2")]
            ),
            addr("192.0.2.60:0")
        );
        assert_eq!(
            client(PEER, &[("X-Forwarded-For", "192.0.2.60, unknown")]),
            addr(PEER)
        );
    }

    #[test]
    fn unreadable_entries_give_the_peer_when_reached() {
        for value in [
            "192.0.2.60, nonsense",
            "192.0.2.60, 10.0.0.3 10.0.0.2",
            "192.0.2.60, 10.0.0.999, 10.0.0.2",
            "192.0.2.60:99999",
        ] {
            assert_eq!(
                client(PEER, &[("X-Forwarded-For", value)]),
                addr(PEER),
                "{value}"
            );
        }
        for value in [
            "for=192.0.2.60, for=\"10.0.0.2",
            "for=192.0.2.60, by=10.0.0.2",
            "for=192.0.2.60, for=10.0.0.2;for=10.0.0.3",
        ] {
            assert_eq!(client(PEER, &[("Forwarded", value)]), addr(PEER), "{value}");
        }
        // Past the client they are never read.
        assert_eq!(
            client(
                PEER,
                &[("X-Forwarded-For", "<script>, 192.0.2.60, 10.0.0.2")]
            ),
            addr("192.0.2.60:0")
        );
        assert_eq!(
            client(PEER, &[("Forwarded", "for=\"oops, for=192.0.2.60")]),
            addr(PEER)
        );
        assert_eq!(
            client(
                PEER,
                &[("Forwarded", "for=\"oops"), ("Forwarded", "for=192.0.2.60")]
            ),
            addr("192.0.2.60:0")
        );
    }

    #[test]
    fn absent_or_empty_headers_give_the_peer() {
        assert_eq!(client(PEER, &[]), addr(PEER));
        assert_eq!(client(PEER, &[("Host", "example.com")]), addr(PEER));
        assert_eq!(client(PEER, &[("X-Forwarded-For", "")]), addr(PEER));
        assert_eq!(client(PEER, &[("X-Forwarded-For", " , ")]), addr(PEER));
        assert_eq!(client(PEER, &[("Forwarded", "")]), addr(PEER));
        assert_eq!(
            client(PEER, &[("X-Forwarded-Host", "192.0.2.60")]),
            addr(PEER)
        );
    }
}
