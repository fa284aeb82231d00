//! Where each connection of the scenario comes from. Every one has a loopback address of its
//! own, so that the server's per-address limits (connections at once, and the throttles that
//! count connections and messages per address) treat the bench as they would treat the
//! internet: a member is one person on one machine, an attacker kind is one machine, and
//! the reconnect flooder is one machine however often it reconnects.

use std::net::{IpAddr, Ipv4Addr};

/// The `i`th member's address: 127.0.1.1, 127.0.1.2, ... then, past 254 members,
/// 127.1.0.1 onwards (none of them ends in .0 or .255).
pub fn member(i: usize) -> anyhow::Result<IpAddr> {
    let (second, host) = if i < 254 { (0, i + 254) } else { (1, i - 254) };
    let third = u8::try_from(host / 254)
        .map_err(|_| anyhow::anyhow!("more members than the bench has loopback addresses for"))?;
    let last = u8::try_from(host % 254 + 1)?;
    Ok(IpAddr::V4(Ipv4Addr::new(127, second, third, last)))
}

/// The address of the attacker kind numbered `n` (1, 2, ...): 127.0.2.n.
pub fn attacker(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 2, n))
}

/// The well-behaved reference connection's address, apart from members and attackers.
pub const REFERENCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_has_an_address_of_its_own() {
        assert_eq!(member(0).unwrap().to_string(), "127.0.1.1");
        assert_eq!(member(253).unwrap().to_string(), "127.0.1.254");
        assert_eq!(member(254).unwrap().to_string(), "127.1.0.1");
        assert_eq!(member(254 + 254).unwrap().to_string(), "127.1.1.1");
        let all: std::collections::HashSet<_> = (0..2000).map(|i| member(i).unwrap()).collect();
        assert_eq!(all.len(), 2000);
        assert!(all.iter().all(|a| a.is_loopback() && *a != REFERENCE && *a != attacker(1)));
    }
}
