//! Address ranges in CIDR notation: `10.0.0.0/8`, `fd00::/8`, or a single
//! address.
//!
//! Every range is kept as an IPv6 range, an IPv4 one as its IPv4-mapped
//! range (`::ffff:10.0.0.0/104`), and addresses are compared the same way:
//! a dual-stack socket reports IPv4 peers as mapped IPv6 addresses, which
//! must match the IPv4 ranges they stand for.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The prefix length of the IPv4-mapped range `::ffff:0:0/96`.
const MAPPED_PREFIX_LEN: u8 = 96;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The first address, host bits cleared.
    network: u128,
    /// 0-128, counted in the IPv6 address (96 + n for an IPv4 `/n`).
    prefix_len: u8,
}

impl Cidr {
    /// Parses `address` or `address/prefix-length`. Host bits after the
    /// prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`), as most tools read
    /// them.
    pub fn parse(text: &str) -> Result<Cidr, &'static str> {
        let (address, prefix_len) = match text.split_once('/') {
            Some((address, prefix_len)) => (address, Some(prefix_len)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| "not an IP address")?;
        let (max_len, offset) = match address {
            IpAddr::V4(_) => (32, MAPPED_PREFIX_LEN),
            IpAddr::V6(_) => (128, 0),
        };
        let prefix_len = match prefix_len {
            None => max_len,
            Some(digits) => parse_prefix_len(digits)
                .filter(|&len| len <= max_len)
                .ok_or(if address.is_ipv4() {
                    "the prefix length must be 0-32"
                } else {
                    "the prefix length must be 0-128"
                })?,
        };
        let prefix_len = prefix_len + offset;
        Ok(Cidr {
            network: bits(address) & mask(prefix_len),
            prefix_len,
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        bits(ip) & mask(self.prefix_len) == self.network
    }
}

/// Digits only: `u8`'s parser would take a sign.
fn parse_prefix_len(digits: &str) -> Option<u8> {
    let digits_only = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    digits_only.then(|| digits.parse().ok()).flatten()
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(ip) => ip.to_ipv6_mapped().to_bits(),
        IpAddr::V6(ip) => ip.to_bits(),
    }
}

fn mask(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

/// In the notation it was written in, give or take host bits.
impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let network = Ipv6Addr::from_bits(self.network);
        match network.to_ipv4_mapped() {
            Some(ipv4) if self.prefix_len >= MAPPED_PREFIX_LEN => {
                write!(f, "{ipv4}/{}", self.prefix_len - MAPPED_PREFIX_LEN)
            }
            _ => write!(f, "{network}/{}", self.prefix_len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(range: &str, ip: &str) -> bool {
        Cidr::parse(range).unwrap().contains(ip.parse().unwrap())
    }

    #[test]
    fn single_addresses() {
        assert!(contains("127.0.0.1", "127.0.0.1"));
        assert!(!contains("127.0.0.1", "127.0.0.2"));
        assert!(contains("::1", "::1"));
        assert!(!contains("::1", "::2"));
        assert!(!contains("::1", "0.0.0.1"));
    }

    #[test]
    fn ipv4_edges() {
        assert!(contains("10.0.0.0/8", "10.0.0.0"));
        assert!(contains("10.0.0.0/8", "10.255.255.255"));
        assert!(!contains("10.0.0.0/8", "9.255.255.255"));
        assert!(!contains("10.0.0.0/8", "11.0.0.0"));
        assert!(contains("192.0.2.7/32", "192.0.2.7"));
        assert!(!contains("192.0.2.7/32", "192.0.2.6"));
        assert!(!contains("192.0.2.7/32", "192.0.2.8"));
        assert!(contains("172.16.0.0/12", "172.31.255.255"));
        assert!(!contains("172.16.0.0/12", "172.32.0.0"));
    }

    #[test]
    fn ipv6_edges() {
        assert!(contains("fd00::/8", "fd00::"));
        assert!(contains(
            "fd00::/8",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        ));
        assert!(!contains(
            "fd00::/8",
            "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        ));
        assert!(!contains("fd00::/8", "fe00::"));
        assert!(contains("2001:db8::1/128", "2001:db8::1"));
        assert!(!contains("2001:db8::1/128", "2001:db8::"));
        assert!(!contains("2001:db8::1/128", "2001:db8::2"));
    }

    #[test]
    fn zero_prefixes_match_their_whole_family() {
        for ip in ["0.0.0.0", "255.255.255.255", "10.1.2.3", "::ffff:10.1.2.3"] {
            assert!(contains("0.0.0.0/0", ip), "{ip}");
        }
        assert!(!contains("0.0.0.0/0", "::1"));
        assert!(!contains("0.0.0.0/0", "2001:db8::1"));
        for ip in [
            "::",
            "::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "10.1.2.3",
        ] {
            assert!(contains("::/0", ip), "{ip}");
        }
    }

    #[test]
    fn mapped_ipv4_addresses_match_ipv4_ranges() {
        assert!(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(!contains("10.0.0.0/8", "::ffff:11.1.2.3"));
        assert!(contains("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(contains("::ffff:10.0.0.0/104", "10.200.0.1"));
        // IPv4-compatible addresses (deprecated) are not IPv4.
        assert!(!contains("10.0.0.0/8", "::10.1.2.3"));
    }

    #[test]
    fn host_bits_are_ignored() {
        assert_eq!(Cidr::parse("10.1.2.3/8"), Cidr::parse("10.0.0.0/8"));
        assert!(contains("10.1.2.3/8", "10.9.9.9"));
        assert!(contains("fd12::1/8", "fdff::1"));
    }

    #[test]
    fn malformed_ranges() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/ 8",
            "10.0.0/8",
            "10.0.0.256",
            "::/129",
            "::/1000",
            "fe80::1%eth0",
            "[::1]",
            "localhost",
            " 10.0.0.1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err("the prefix length must be 0-32")
        );
        assert_eq!(
            Cidr::parse("::/129"),
            Err("the prefix length must be 0-128")
        );
        assert_eq!(Cidr::parse("nope"), Err("not an IP address"));
    }

    #[test]
    fn debug_shows_the_notation() {
        assert_eq!(
            format!("{:?}", Cidr::parse("10.1.2.3/8").unwrap()),
            "10.0.0.0/8"
        );
        assert_eq!(format!("{:?}", Cidr::parse("::1").unwrap()), "::1/128");
        assert_eq!(
            format!("{:?}", Cidr::parse("fd00::/8").unwrap()),
            "fd00::/8"
        );
        assert_eq!(
            format!("{:?}", Cidr::parse("127.0.0.1").unwrap()),
            "127.0.0.1/32"
        );
    }
}
