//! The accept loops and the shutdown sequence.
//!
//! [`run`] takes its listeners and a shutdown future as parameters: the binary passes Ctrl-C and
//! SIGTERM, tests pass whatever they like. On shutdown every session is told why, says goodbye
//! to its client and ends; `run` returns when they all have (or after [`SHUTDOWN_GRACE`]).
//! A connection's first steps (a proxy's header, the TLS handshake) are in [`opening`]; the
//! settings each starts from, which SIGHUP may replace, in [`settings`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::FutureExt;
use futures::future;
use protocol::{ByeCode, RoomName, ServerMsg};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::broker::Broker;
use crate::dialect::{Dialect, Json, Plain, View};
use crate::flood::{Connects, TurnedAway};
use crate::hub::Hub;
use crate::limits::{MAX_REFUSING, SHUTDOWN_GRACE};
use crate::log_address::shown;
use crate::proxy::{Proxies, TrustedProxies};
use crate::session;
use crate::tls::Tls;
use crate::transport::Transport;

mod opening;
mod settings;
use opening::{Opened, Opening};
pub use settings::Settings;

/// The bound sockets: JSON-lines, and optionally the plain-text port; TLS on both if set.
pub struct Listeners {
    pub json: TcpListener,
    pub plain: Option<TcpListener>,
    pub tls: Option<Arc<Tls>>,
    /// Where connections with a PROXY header come from; none by default.
    pub proxies: Arc<Proxies>,
}

impl Listeners {
    /// Binds both ports. An error names the address that failed.
    pub async fn bind(json: SocketAddr, plain: Option<SocketAddr>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let json_listener =
            TcpListener::bind(json).await.with_context(|| format!("cannot listen on {json}"))?;
        let plain = match plain {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            ),
            None => None,
        };
        Ok(Self { json: json_listener, plain, tls: None, proxies: Arc::default() })
    }

    /// Both ports speak TLS only, with `tls`'s certificate.
    #[must_use]
    pub fn with_tls(self, tls: Arc<Tls>) -> Self {
        Self { tls: Some(tls), ..self }
    }

    /// Connections from `trusted` must start with a PROXY header, whose address then counts
    /// as theirs; others must not.
    #[must_use]
    pub fn with_trusted_proxies(self, trusted: TrustedProxies) -> Self {
        Self { proxies: Arc::new(Proxies::new(trusted)), ..self }
    }

    pub fn json_addr(&self) -> std::io::Result<SocketAddr> {
        self.json.local_addr()
    }

    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Serves until `shutdown` completes, then closes every session cleanly and lets the broker
/// store what is queued. `settings` (a [`crate::ServerInfo`], or [`Settings`] to replace
/// them while the server runs) are what each connection starts from.
pub async fn run(
    listeners: Listeners,
    settings: impl Into<Settings>,
    broker: Broker,
    shutdown: impl Future<Output = ()>,
) {
    let settings = settings.into();
    let info = settings.load();
    let hub = Hub::new(info.max_rooms, info.max_room_members)
        .with_reservation(info.nick_reservation, info.reserve_after)
        .with_elsewhere(broker.elsewhere())
        .with_admins(&info.admins);
    let hub = Arc::new(hub);
    broker.start(&hub).await;
    warn_of_unregistered(&broker, &info.admins).await;
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(info.max_connections));
    let per_address = Arc::new(Connects::new(
        info.max_connections_per_ip,
        info.connects,
        info.throttle_exempt.clone(),
    ));
    let ctx = Accept {
        hub,
        settings,
        broker,
        token: token.clone(),
        tracker: tracker.clone(),
        slots,
        per_address,
        refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        tls: listeners.tls,
        proxies: listeners.proxies,
    };

    // A JSON client says hello first; the plain-text port greets first.
    let json = ctx.clone().serve(listeners.json, Json::default, true);
    let plain = async {
        if let Some(listener) = listeners.plain {
            ctx.clone().serve(listener, Plain::new, false).await;
        }
    };
    let signal = async {
        shutdown.await;
        info!("shutting down");
        token.cancel();
        ctx.hub.shut_down();
    };
    tokio::join!(json, plain, signal, ctx.follow_replacements());
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await.is_err() {
        warn!(remaining = tracker.len(), "sessions did not finish in time; exiting anyway");
    }
    ctx.broker.close().await;
    drop(ctx);
    info!("stopped");
}

/// Warns of admins whose accounts do not exist yet: admin rights go to whoever logs in to the
/// account, so one that does not exist is the first registrant's.
async fn warn_of_unregistered(broker: &Broker, admins: &[protocol::Nick]) {
    for admin in admins {
        if let Ok(None) = broker.account(&admin.key()).await {
            tracing::warn!(
                admin = ?admin.as_str(),
                "--admin names no account yet: whoever registers that nick first is an admin; register it now"
            );
        }
    }
}

#[derive(Clone)]
struct Accept {
    hub: Arc<Hub>,
    /// What each connection starts from.
    settings: Settings,
    broker: Broker,
    token: CancellationToken,
    tracker: TaskTracker,
    slots: Arc<Semaphore>,
    per_address: Arc<Connects>,
    /// Connections being turned away at once.
    refusing: Arc<Semaphore>,
    tls: Option<Arc<Tls>>,
    proxies: Arc<Proxies>,
}

impl Accept {
    /// Until shutdown, puts each replacement of the settings in force where the accept loops
    /// do not read [`crate::ServerInfo`] themselves: the hub's admins, the per-address table.
    async fn follow_replacements(&self) {
        let mut replaced = self.settings.replaced();
        let mut admins = self.settings.load().admins.clone();
        loop {
            tokio::select! {
                () = self.token.cancelled() => return,
                changed = replaced.changed() => if changed.is_err() { return },
            }
            let info = self.settings.load();
            self.hub.set_admins(&info.admins);
            let exempt = info.throttle_exempt.clone();
            self.per_address.retune(info.max_connections_per_ip, info.connects, exempt);
            let added: Vec<_> =
                info.admins.iter().filter(|a| !admins.contains(a)).cloned().collect();
            warn_of_unregistered(&self.broker, &added).await;
            admins.clone_from(&info.admins);
        }
    }

    /// Accepts connections until shutdown; then tells those still waiting in the backlog.
    /// `client_first`: on this port the client speaks before the server does.
    async fn serve<D: Dialect>(
        self,
        listener: TcpListener,
        dialect: fn() -> D,
        client_first: bool,
    ) {
        loop {
            let accepted = tokio::select! {
                () = self.token.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: transient, so wait and go on
                    // rather than spin or stop serving.
                    error!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            crate::metrics::connection_accepted();
            // A proxy's connections are many clients': each is counted by the address its
            // header gives, once read (in the connection's task, not here).
            let proxied = self.proxies.trusts(peer.ip());
            let address_slot = if proxied {
                None
            } else {
                match Connects::admit(&self.per_address, peer.ip()) {
                    Ok(slot) => Some(slot),
                    Err(turned) => {
                        warn!(
                            peer = shown(peer),
                            "connection refused: {}",
                            Refused::from(turned).why()
                        );
                        self.refuse(stream, peer, dialect(), turned.into());
                        continue;
                    }
                }
            };
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                warn!(peer = shown(peer), "connection refused: server full");
                self.refuse(stream, peer, dialect(), ByeCode::ServerFull.into());
                continue;
            };
            let (hub, info) = (self.hub.clone(), self.settings.load());
            let broker = self.broker.clone();
            let dialect = dialect();
            // Where the client speaks first, its first bytes are seen before its session
            // starts; on a TLS port they are, by the handshake.
            let look_for_forgery = client_first && self.tls.is_none() && self.proxies.any();
            // Combinators, not an `async` block, which would keep its captures (the stream,
            // the hub, ...) beside the session they were moved into for as long as it runs.
            if !proxied && self.tls.is_none() && !look_for_forgery {
                let stream = Transport::Tcp(stream);
                let session = session::run(stream, peer, dialect, hub, info, broker);
                self.tracker.spawn(session.map(move |()| drop((permit, address_slot))));
                continue;
            }
            let opening = self.opening().open(stream, peer, address_slot, look_for_forgery);
            let session = opening.then(move |opened| match opened {
                Opened::Session(stream, client, slot) => {
                    session::run(stream, client, dialect, hub, info, broker)
                        .map(move |()| drop(slot))
                        .left_future()
                }
                Opened::TurnAway(stream, refused) => {
                    turn_away(stream, dialect, refused).boxed().right_future()
                }
                Opened::Closed => future::ready(()).boxed().right_future(),
            });
            self.tracker.spawn(session.map(move |()| drop(permit)));
        }
        // Connections the kernel accepted but we had not: closing the listener would reset them.
        while let Some(Ok((stream, peer))) = listener.accept().now_or_never() {
            crate::metrics::connection_accepted();
            self.refuse(stream, peer, dialect(), ByeCode::Shutdown.into());
        }
    }

    fn opening(&self) -> Opening {
        Opening {
            tls: self.tls.clone(),
            proxies: self.proxies.clone(),
            per_address: self.per_address.clone(),
            token: self.token.clone(),
        }
    }

    /// Turns a connection away with its reason, in a task of its own so a slow reader cannot
    /// hold up the accept loop. Past [`MAX_REFUSING`] such tasks at once (a connection flood)
    /// the connection is closed without a word: each costs a task for up to a second (plus,
    /// from a trusted proxy, the time its header takes). On a TLS port the reason is told
    /// over TLS, after the handshake.
    fn refuse<D: Dialect>(&self, stream: TcpStream, peer: SocketAddr, dialect: D, why: Refused) {
        crate::metrics::connection_refused(why.code);
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else { return };
        let opening = self.opening();
        self.tracker.spawn(async move {
            let mut stream = stream;
            if opening.proxies.trusts(peer.ip())
                && opening.proxies.client(&mut stream, peer).await.is_none()
            {
                return;
            }
            if let Opened::TurnAway(stream, _) = opening.handshake_to_tell(stream, why).await {
                turn_away(stream, dialect, why).await;
            }
            drop(permit);
        });
    }
}

/// Why a connection gets no session, as its goodbye tells it.
#[derive(Debug, Clone, Copy)]
struct Refused {
    code: ByeCode,
    /// When it may connect again, if the server knows.
    retry_after: Option<Duration>,
}

impl From<ByeCode> for Refused {
    fn from(code: ByeCode) -> Self {
        Self { code, retry_after: None }
    }
}

impl From<TurnedAway> for Refused {
    fn from(turned: TurnedAway) -> Self {
        match turned {
            TurnedAway::TooMany => ByeCode::TooManyConnections.into(),
            TurnedAway::Throttled(wait) => {
                Self { code: ByeCode::Throttled, retry_after: Some(wait) }
            }
        }
    }
}

impl Refused {
    /// The goodbye's words.
    fn why(&self) -> String {
        match self.code {
            ByeCode::ServerFull => "the server is full; try again later".into(),
            ByeCode::TooManyConnections => "too many connections from your address".into(),
            ByeCode::Throttled => {
                let secs = self.retry_after.unwrap_or_default().as_secs_f64().ceil();
                format!("you are connecting too often: try again in {secs} s")
            }
            ByeCode::TlsRequired => "this server speaks TLS only: connect with TLS (chat-tui \
                                     --tls, openssl s_client, ncat --ssl)"
                .into(),
            _ => "the server is shutting down".into(),
        }
    }
}

/// Tells a connection that will not get a session why, and closes it.
async fn turn_away<D: Dialect>(mut stream: Transport, mut dialect: D, why: Refused) {
    let retry_after_ms =
        why.retry_after.map(|wait| u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
    let mut out = BytesMut::new();
    dialect.write(
        &ServerMsg::Bye { code: why.code, message: why.why(), retry_after_ms },
        View { nick: None, rooms: &[] as &[RoomName; 0] },
        &mut out,
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
}
