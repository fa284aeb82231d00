//! Clients behind a proxy (`--trusted-proxy`): the PROXY protocol, so that per-address limits
//! and logs see each client's own address rather than the proxy's.
//!
//! Behind a TLS terminator or load balancer (haproxy, nginx `stream`, stunnel) every client
//! arrives from the proxy's address. A proxy that speaks the PROXY protocol (v1 or v2) sends,
//! before anything of the client's, a header with the client's address; it comes in clear
//! text, in front of the TLS handshake if there is one.
//!
//! - A connection from a trusted proxy must start with a header; without one (or with a
//!   broken one, or none within [`PROXY_HEADER_TIMEOUT`]) it is closed.
//! - A connection from anywhere else that starts with a header is a client claiming an
//!   address it has no say over: it is closed too. This is seen where the client speaks
//!   first (the JSON port, TLS ports); on the clear-text plain port the server greets first,
//!   and a header there is read as what it is, a bad first line, with the real address.
//! - With no `--trusted-proxy`, nothing is looked for.
//!
//! # Layout
//! - [`header`]: parsing a header (the `ppp` crate) and reading exactly its bytes.
//! - [`trusted`]: the networks given to `--trusted-proxy`.

pub mod header;
pub mod trusted;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpStream;
use tracing::{debug, warn};

use crate::limits::PROXY_HEADER_TIMEOUT;

pub use trusted::{Cidr, TrustedProxies};

/// The trusted proxies, and what has been said about them in the log.
#[derive(Debug, Default)]
pub struct Proxies {
    trusted: TrustedProxies,
    /// A trusted proxy sent no header (a proxy not set to send one): said once.
    told_missing: AtomicBool,
    /// A header came from an address not trusted (a proxy missing from the list, or a
    /// forger): said once.
    told_untrusted: AtomicBool,
}

impl Proxies {
    pub fn new(trusted: TrustedProxies) -> Self {
        Self { trusted, ..Self::default() }
    }

    /// Whether connections from `ip` come through a trusted proxy and must start with a
    /// header.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.trusts(ip)
    }

    /// Whether connections from elsewhere are looked at for a header.
    pub fn any(&self) -> bool {
        !self.trusted.is_empty()
    }

    /// Reads the header of a connection from the trusted proxy at `proxy`: the client's
    /// address (the proxy's own for its health checks), or `None` if the connection is to
    /// be closed.
    pub async fn client(&self, tcp: &mut TcpStream, proxy: SocketAddr) -> Option<SocketAddr> {
        match header::read(tcp).await {
            Ok(Some(client)) => {
                debug!(%client, %proxy, "PROXY header read");
                Some(client)
            }
            Ok(None) => Some(proxy),
            Err(e) => {
                debug!(%proxy, error = %e, "connection from a trusted proxy refused");
                if !self.told_missing.swap(true, Ordering::Relaxed) {
                    warn!(
                        %proxy,
                        "a connection from a trusted proxy came without a usable PROXY header \
                         ({e}); such connections are closed: is the proxy set to send one \
                         (haproxy send-proxy-v2, nginx proxy_protocol on)? (said once)"
                    );
                }
                None
            }
        }
    }

    /// Whether a connection from `peer`, not a trusted proxy, starts with a PROXY header, as
    /// far as its first bytes (waited for at most [`PROXY_HEADER_TIMEOUT`]) show. Always
    /// `false` with no trusted proxy.
    pub async fn forged(&self, tcp: &TcpStream, peer: SocketAddr) -> bool {
        if !self.any() {
            return false;
        }
        let mut first = [0u8; header::V2_SIGNATURE.len()];
        let peeked = tokio::time::timeout(PROXY_HEADER_TIMEOUT, tcp.peek(&mut first)).await;
        let Ok(Ok(n)) = peeked else { return false };
        let forged = first.get(..n).is_some_and(header::looks_like_header);
        if forged {
            debug!(%peer, "connection refused: a PROXY header from an address not trusted");
            if !self.told_untrusted.swap(true, Ordering::Relaxed) {
                warn!(
                    peer = crate::log_address::shown(peer),
                    "a PROXY header came from an address --trusted-proxy does not list; such \
                     connections are closed (said once)"
                );
            }
        }
        forged
    }
}
