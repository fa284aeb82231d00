//! Networks as CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or one address): the server's trusted
//! proxies and the address bans of rooms and of the server (`addr:CIDR`).
//!
//! Parsed by hand: a network is an address and a prefix length, and matching is a mask; a
//! crate for it would be more code to read than this.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One network: `network/prefix`, with no bits set past the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
    /// dual-stack socket reports IPv4 peers) is matched as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                (net.to_bits() ^ ip.to_bits()) & mask_v4(self.prefix) == 0
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                (net.to_bits() ^ ip.to_bits()) & mask_v6(self.prefix) == 0
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    /// A sentence that reads after "invalid value 'X': " (clap) or "addr:X: " (a ban).
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            format!(
                "{address:?} is not an IP address (give a network such as 10.0.0.0/8 or \
                 2001:db8::/32, or one address)"
            )
        })?;
        let max: u8 = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => {
                prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("the prefix length /{prefix} is not a number 0 to {max}")
                })?
            }
        };
        // `::ffff:10.0.0.0/104` is 10.0.0.0/8, as peers are matched.
        let (network, prefix) = match address {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (address, prefix),
            },
            _ => (address, prefix),
        };
        let cidr = Self { network, prefix };
        let masked = match network {
            IpAddr::V4(ip) => IpAddr::V4(Ipv4Addr::from_bits(ip.to_bits() & mask_v4(prefix))),
            IpAddr::V6(ip) => IpAddr::V6(Ipv6Addr::from_bits(ip.to_bits() & mask_v6(prefix))),
        };
        if masked != network {
            // 10.1.2.3/8 is a typo for 10.1.2.3 or for 10.0.0.0/8; trusting the wrong one
            // of the two is not a guess to make.
            return Err(format!(
                "{text} has bits set past its prefix: the network is {masked}/{prefix} (or give \
                 the address alone)"
            ));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Networks of both families, a bare address as one host, mapped addresses as IPv4.
    #[test]
    fn networks_contain_their_addresses() {
        let ten: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(ten.contains(ip("10.255.0.1")) && ten.contains(ip("10.0.0.0")));
        assert!(!ten.contains(ip("11.0.0.1")) && !ten.contains(ip("::1")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "a dual-stack socket's IPv4 peer");
        let one: Cidr = "::1".parse().unwrap();
        assert_eq!(one.to_string(), "::1/128");
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let net6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(net6.contains(ip("2001:db8:ffff::1")) && !net6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("2001:db8::1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped, ten);
    }

    /// Bad input says what is wrong with it.
    #[test]
    fn bad_networks_are_refused_with_the_reason() {
        let refused = |text: &str| text.parse::<Cidr>().unwrap_err();
        assert!(refused("example.com").contains("not an IP address"));
        assert!(refused("10.0.0.0/33").contains("0 to 32"));
        assert!(refused("::/129").contains("0 to 128"));
        assert!(refused("10.0.0.0/").contains("prefix length"));
        assert!(refused("10.0.0.0/-1").contains("prefix length"));
        assert!(refused("10.1.2.3/8").contains("10.0.0.0/8"));
        assert!(refused("").contains("not an IP address"));
    }
}
