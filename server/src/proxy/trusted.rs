//! `--trusted-proxy`: the networks whose connections must start with a PROXY header, as
//! CIDRs ([`Cidr`], shared with address bans).

use std::net::IpAddr;

pub use protocol::Cidr;

/// Every `--trusted-proxy`; empty: no proxy is trusted, and no connection is looked at for a
/// PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(networks: impl IntoIterator<Item = Cidr>) -> Self {
        Self(networks.into_iter().collect())
    }

    /// Whether a connection from `ip` comes from a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_list_trusts_its_networks() {
        let ten: Cidr = "10.0.0.0/8".parse().unwrap();
        let one: Cidr = "::1".parse().unwrap();
        let list = TrustedProxies::new([ten, one]);
        assert!(list.trusts(ip("10.0.0.1")) && list.trusts(ip("::1")));
        assert!(!list.trusts(ip("127.0.0.1")));
        assert!(TrustedProxies::default().is_empty());
    }
}
