//! IP networks in CIDR notation, for SFTPGo's `allowed_ip` / `denied_ip` user
//! filters and `passive_ip_overrides[].networks`.
//!
//! Semantics follow Go's `net.ParseCIDR` + `IPNet.Contains`, which SFTPGo uses:
//! host bits are masked off, and IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`)
//! are treated as IPv4 on both sides. A plain IPv6 network (such as `::/0`)
//! therefore does not contain IPv4 clients, just as in SFTPGo.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP network: the masked network address and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    /// Network address with host bits cleared. Never an IPv4-mapped IPv6
    /// address: those are stored as IPv4 so comparisons need no special case.
    addr: IpAddr,
    prefix: u8,
}

fn mask_v4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    // checked_shl: a shift by 32 (prefix 0) would overflow.
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & mask)
}

fn mask_v6(a: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(a) & mask)
}

impl IpNet {
    /// "192.168.1.0/24", "10.0.0.1" (a host = /32), "::1", "2001:db8::/32". Error text says what is wrong. Host bits set are accepted and masked (Go's net.ParseCIDR does the same).
    pub fn parse(s: &str) -> Result<IpNet, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty IP network".to_string());
        }
        let (addr_s, prefix_s) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_s
            .parse()
            .map_err(|_| format!("invalid IP address {addr_s:?} in network {s:?}"))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_s {
            None => max,
            Some(p) => {
                // Digits only: u8::from_str would also accept a leading '+'.
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("invalid prefix length {p:?} in network {s:?}"));
                }
                match p.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => {
                        return Err(format!(
                            "prefix length /{p} out of range (0-{max}) in network {s:?}"
                        ))
                    }
                }
            }
        };
        Ok(match addr {
            IpAddr::V4(a) => IpNet {
                addr: IpAddr::V4(mask_v4(a, prefix)),
                prefix,
            },
            IpAddr::V6(a) => {
                let net = mask_v6(a, prefix);
                // A network inside ::ffff:0:0/96 is an IPv4 network in disguise.
                match net.to_ipv4_mapped() {
                    Some(v4) if prefix >= 96 => IpNet {
                        addr: IpAddr::V4(v4),
                        prefix: prefix - 96,
                    },
                    _ => IpNet {
                        addr: IpAddr::V6(net),
                        prefix,
                    },
                }
            }
        })
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches the IPv4 network and vice versa.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => mask_v4(a, self.prefix) == net,
            (IpAddr::V6(net), IpAddr::V6(a)) => mask_v6(a, self.prefix) == net,
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        match IpNet::parse(s) {
            Ok(n) => n,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(a) => a,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn err(s: &str) -> String {
        match IpNet::parse(s) {
            Ok(n) => panic!("{s:?} parsed as {n}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(net("192.168.1.0/24").to_string(), "192.168.1.0/24");
        assert_eq!(net("10.0.0.1").to_string(), "10.0.0.1/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert_eq!(net("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(net("::/0").to_string(), "::/0");
        assert_eq!(net(" 10.1.2.3/8 ").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn host_bits_masked() {
        assert_eq!(net("192.168.1.77/24"), net("192.168.1.0/24"));
        assert_eq!(net("10.255.255.255/9").to_string(), "10.128.0.0/9");
        assert_eq!(net("2001:db8:abcd::1/32").to_string(), "2001:db8::/32");
        assert_eq!(net("1.2.3.4/0").to_string(), "0.0.0.0/0");
        assert_eq!(net("ffff::1/1").to_string(), "8000::/1");
    }

    #[test]
    fn mapped_networks_are_ipv4() {
        assert_eq!(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
        assert_eq!(net("::ffff:10.1.2.3"), net("10.1.2.3/32"));
        assert_eq!(net("::ffff:0:0/96").to_string(), "0.0.0.0/0");
        // Shorter than /96 masks the ffff away: an ordinary IPv6 network.
        assert_eq!(net("::ffff:10.0.0.0/80").to_string(), "::/80");
    }

    #[test]
    fn contains_v4() {
        let n = net("192.168.1.0/24");
        assert!(n.contains(ip("192.168.1.0")));
        assert!(n.contains(ip("192.168.1.255")));
        assert!(!n.contains(ip("192.168.2.1")));
        assert!(!n.contains(ip("10.0.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(net("10.0.0.1").contains(ip("10.0.0.1")));
        assert!(!net("10.0.0.1").contains(ip("10.0.0.2")));
        assert!(!n.contains(ip("::1")));
    }

    #[test]
    fn contains_v6() {
        let n = net("2001:db8::/32");
        assert!(n.contains(ip("2001:db8::1")));
        assert!(n.contains(ip("2001:db8:ffff:ffff::")));
        assert!(!n.contains(ip("2001:db9::1")));
        assert!(net("::1").contains(ip("::1")));
        assert!(!net("::1").contains(ip("::2")));
        assert!(net("::/0").contains(ip("fe80::1")));
        assert!(!n.contains(ip("192.168.1.1")));
    }

    #[test]
    fn mapped_addresses() {
        let v4 = net("192.168.1.0/24");
        assert!(v4.contains(ip("::ffff:192.168.1.9")));
        assert!(!v4.contains(ip("::ffff:192.168.2.9")));
        // IPv4-compatible (deprecated ::a.b.c.d) is not mapped.
        assert!(!v4.contains(ip("::192.168.1.9")));
        let mapped = net("::ffff:192.168.1.0/120");
        assert!(mapped.contains(ip("192.168.1.9")));
        assert!(mapped.contains(ip("::ffff:192.168.1.9")));
        assert!(!mapped.contains(ip("192.168.2.9")));
        // As in Go/SFTPGo, a plain IPv6 network does not contain IPv4 clients.
        assert!(!net("::/0").contains(ip("192.168.1.9")));
        assert!(!net("::/0").contains(ip("::ffff:192.168.1.9")));
    }

    #[test]
    fn errors() {
        assert!(err("").contains("empty"));
        assert!(err("   ").contains("empty"));
        assert!(err("300.1.1.1/8").contains("invalid IP address"));
        assert!(err("10.0.0/8").contains("invalid IP address"));
        assert!(err("/8").contains("invalid IP address"));
        assert!(err("hello").contains("invalid IP address"));
        assert!(err("fe80::1%eth0/64").contains("invalid IP address"));
        assert!(err("10.0.0.0/").contains("invalid prefix length"));
        assert!(err("10.0.0.0/+8").contains("invalid prefix length"));
        assert!(err("10.0.0.0/-1").contains("invalid prefix length"));
        assert!(err("10.0.0.0/8/9").contains("invalid prefix length"));
        assert!(err("10.0.0.0/ 8").contains("invalid prefix length"));
        assert!(err("10.0.0.0/33").contains("out of range (0-32)"));
        assert!(err("10.0.0.0/999").contains("out of range"));
        assert!(err("10.0.0.0/99999999999999999999").contains("out of range"));
        assert!(err("::/129").contains("out of range (0-128)"));
    }
}
