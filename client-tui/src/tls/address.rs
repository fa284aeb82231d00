//! The server as TLS sees it: the host of `--server`, checked against the certificate (a
//! name, or for an address the address), and `host:port`, the key a fingerprint accepted on
//! first use is remembered under.

use rustls::pki_types::ServerName;

/// The host and port of `--server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Lower case, without the brackets of an IPv6 address.
    pub host: String,
    pub port: u16,
    /// The name the certificate must be for.
    pub name: ServerName<'static>,
}

impl ServerAddr {
    /// `host:port`, `[v6]:port` or `v6:port` (the last colon ends the address), as
    /// `--server` takes it.
    pub fn parse(server: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("cannot use server address {server:?} with TLS: {why}");
        let (host, port) = match server.strip_prefix('[') {
            Some(rest) => rest.split_once("]:").ok_or_else(|| bad("no ]:PORT after [HOST"))?,
            None => server.rsplit_once(':').ok_or_else(|| bad("no :PORT"))?,
        };
        let port = port.parse().map_err(|_| bad("the port is not a number"))?;
        let host = host.to_ascii_lowercase();
        let name = ServerName::try_from(host.clone())
            .map_err(|_| bad("the host is neither a name nor an address"))?;
        Ok(Self { host, port, name })
    }

    /// `host:port` (`[v6]:port`): how `known_servers` names the server.
    pub fn key(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hosts_are_names_or_addresses() {
        let a = ServerAddr::parse("Chat.Example.org:7878").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.key()),
            ("chat.example.org", 7878, "chat.example.org:7878".into())
        );
        assert!(matches!(a.name, ServerName::DnsName(_)));
        let a = ServerAddr::parse("127.0.0.1:7878").unwrap();
        assert_eq!(
            a.name,
            ServerName::IpAddress("127.0.0.1".parse::<std::net::IpAddr>().unwrap().into())
        );
        let a = ServerAddr::parse("[::1]:7878").unwrap();
        assert_eq!((a.host.as_str(), a.key()), ("::1", "[::1]:7878".into()));
        assert!(matches!(a.name, ServerName::IpAddress(_)));
        assert_eq!(ServerAddr::parse("::1:7878").unwrap().key(), "[::1]:7878");
        for bad in ["localhost", "localhost:port", "[::1]7878", "bad host:1", ":7878"] {
            assert!(ServerAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
