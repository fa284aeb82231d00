//! A connection's first steps, in its own task before its session: the PROXY header from a
//! trusted proxy and the per-address count for the client it names, a forged header from
//! elsewhere refused, then the TLS handshake on a TLS port.
//!
//! Here rather than in the accept loop so that a slow client (a header or a handshake
//! dragged out) holds up only itself, within the connection slot it already has.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::ByeCode;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Refused;
use crate::flood::{AddressSlot, Connects};
use crate::log_address::shown;
use crate::proxy::Proxies;
use crate::tls::{NotTls, Tls};
use crate::transport::Transport;

/// What a connection's first steps (the PROXY header, the per-address count, the TLS
/// handshake) need; they run in the connection's own task.
pub(super) struct Opening {
    pub(super) tls: Option<Arc<Tls>>,
    pub(super) proxies: Arc<Proxies>,
    pub(super) per_address: Arc<Connects>,
    pub(super) token: CancellationToken,
}

/// How a connection's first steps ended.
pub(super) enum Opened {
    /// A session for the client at this address, counted in this place.
    Session(Transport, SocketAddr, Option<AddressSlot>),
    /// No session: told why, then closed.
    TurnAway(Transport, Refused),
    /// No session, and nothing said.
    Closed,
}

impl Opening {
    /// From a trusted proxy: the header, then the count for the address it gives. From
    /// elsewhere (`address_slot` already taken): no header, if `look_for_forgery` or on a TLS
    /// port. Then the TLS handshake, if the port has TLS.
    pub(super) async fn open(
        self,
        mut tcp: TcpStream,
        peer: SocketAddr,
        address_slot: Option<AddressSlot>,
        look_for_forgery: bool,
    ) -> Opened {
        let proxied = self.proxies.trusts(peer.ip());
        let (client, slot) = if proxied {
            let client = tokio::select! {
                client = self.proxies.client(&mut tcp, peer) => client,
                () = self.token.cancelled() => None,
            };
            let Some(client) = client else { return Opened::Closed };
            match Connects::admit(&self.per_address, client.ip()) {
                Ok(slot) => (client, Some(slot)),
                Err(turned) => {
                    let why = Refused::from(turned);
                    warn!(
                        client = shown(client),
                        proxy = shown(peer),
                        "connection refused: {}",
                        why.why()
                    );
                    crate::metrics::connection_refused(why.code);
                    return self.handshake_to_tell(tcp, why).await;
                }
            }
        } else {
            // On shutdown the session starts at once, and says goodbye.
            let forged = look_for_forgery
                && tokio::select! {
                    forged = self.proxies.forged(&tcp, peer) => forged,
                    () = self.token.cancelled() => false,
                };
            if forged {
                return Opened::Closed;
            }
            (peer, address_slot)
        };
        let Some(tls) = self.tls else {
            return Opened::Session(Transport::Tcp(tcp), client, slot);
        };
        match tls.accept(tcp).await {
            Ok(stream) => Opened::Session(stream, client, slot),
            Err(NotTls::PlainText(tcp)) => {
                // A PROXY header that was not expected is not a TLS handshake either.
                if !proxied && self.proxies.forged(&tcp, peer).await {
                    return Opened::Closed;
                }
                crate::metrics::connection_refused(ByeCode::TlsRequired);
                Opened::TurnAway(Transport::Tcp(tcp), ByeCode::TlsRequired.into())
            }
            Err(NotTls::Failed(e)) => {
                debug!(%client, %peer, error = %e, "no TLS session");
                Opened::Closed
            }
        }
    }

    /// A connection that is to be told `why`: over TLS on a TLS port (once the handshake is
    /// done), in clear text elsewhere.
    pub(super) async fn handshake_to_tell(&self, tcp: TcpStream, why: Refused) -> Opened {
        match &self.tls {
            None => Opened::TurnAway(Transport::Tcp(tcp), why),
            Some(tls) => match tls.accept(tcp).await {
                Ok(stream) => Opened::TurnAway(stream, why),
                Err(NotTls::PlainText(tcp)) => Opened::TurnAway(Transport::Tcp(tcp), why),
                Err(NotTls::Failed(_)) => Opened::Closed,
            },
        }
    }
}
