//! The unit every per-address limit counts by, and the networks exempt from the limits that
//! outlive a connection.

use std::net::{IpAddr, Ipv6Addr};

use protocol::Cidr;

/// What one host or household is given: an IPv4 address, or an IPv6 /64. Keying limits by the
/// whole IPv6 address would give one host 2^64 budgets; an IPv4-mapped IPv6 address counts as
/// its IPv4 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressBlock(IpAddr);

impl AddressBlock {
    pub fn of(ip: IpAddr) -> Self {
        Self(match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
            v4 => v4,
        })
    }

    /// The block's first address: the IPv4 address itself, or the /64's network address.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

/// Networks whose connections are limited one at a time only (`--throttle-exempt`): no
/// connection throttle, no budgets kept from one connection to the next. Loopback by default:
/// on this machine it is the operator, a bouncer, or a reverse proxy that does not send a
/// PROXY header (whose clients would otherwise all share one address's budget).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exempt(Vec<Cidr>);

impl Exempt {
    pub fn new(networks: impl IntoIterator<Item = Cidr>) -> Self {
        Self(networks.into_iter().collect())
    }

    /// Loopback, both families.
    pub fn loopback() -> Self {
        Self::new(["127.0.0.0/8", "::1/128"].into_iter().filter_map(|net| net.parse().ok()))
    }

    pub fn covers(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_an_ipv4_address_or_an_ipv6_64() {
        let block = |s: &str| AddressBlock::of(s.parse().unwrap()).ip().to_string();
        assert_eq!(block("192.0.2.7"), "192.0.2.7");
        assert_eq!(block("2001:db8::1"), "2001:db8::");
        assert_eq!(block("2001:db8::ffff:1"), "2001:db8::");
        assert_eq!(block("2001:db8:0:1::1"), "2001:db8:0:1::");
        assert_eq!(block("::ffff:192.0.2.2"), "192.0.2.2");
    }

    #[test]
    fn loopback_is_exempt_by_default() {
        let exempt = Exempt::loopback();
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(exempt.covers(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.1", "2001:db8::1", "::2"] {
            assert!(!exempt.covers(ip.parse().unwrap()), "{ip}");
        }
        assert!(!Exempt::default().covers("127.0.0.1".parse().unwrap()));
    }
}
