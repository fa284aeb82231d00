//! A TCP relay between one node and `redis-server`, to cut one node off from Redis (or make
//! Redis stop hearing it) while the others keep it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::WAIT;
use super::redis::RedisServer;

/// What a [`Relay`] does with the bytes between a node and Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Passed both ways.
    Open,
    /// Connections stay open, but what the node sends is held (Redis no longer hears it);
    /// what Redis sends still passes.
    Frozen,
    /// Every relayed connection is closed; new ones are closed as soon as they come.
    Cut,
    /// The relay is gone.
    Closed,
}

/// A TCP relay between one node and `redis-server` (127.0.0.1 only), on its own thread, so
/// one node can lose Redis while the others keep it.
pub struct Relay {
    pub port: u16,
    link: watch::Sender<Link>,
    /// How long what Redis sends on a subscribed connection is held before it passes.
    lag: watch::Sender<Duration>,
    /// Relayed connections open now.
    open: watch::Receiver<usize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    /// A relay to `redis`, passing everything until told otherwise.
    pub fn to(redis: &RedisServer) -> Self {
        let target = SocketAddr::from(([127, 0, 0, 1], redis.port));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (link, link_rx) = watch::channel(Link::Open);
        let (lag, lag_rx) = watch::channel(Duration::ZERO);
        let (count, open) = watch::channel(0usize);
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                accept(listener, target, link_rx, lag_rx, count).await;
            });
        });
        Self { port, link, lag, open, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every relayed connection (returning once they are closed) and closes new ones
    /// as they come: the node is cut off from Redis.
    pub async fn cut(&self) {
        self.link.send_replace(Link::Cut);
        let mut open = self.open.clone();
        tokio::time::timeout(WAIT, open.wait_for(|n| *n == 0))
            .await
            .expect("the relay closes its connections")
            .unwrap();
    }

    /// Holds what the node sends (connections stay open, Redis hears nothing more from it)
    /// while Redis's answers and publishes still reach it. What is held is dropped by a later
    /// [`Relay::cut`].
    pub fn freeze(&self) {
        self.link.send_replace(Link::Frozen);
    }

    /// Lets everything through again (new connections, and held ones).
    pub fn restore(&self) {
        self.link.send_replace(Link::Open);
    }

    /// Holds each piece of what Redis sends on a connection the node subscribed on for `lag`
    /// before passing it: the node hears what is published late, while its other
    /// connections (the answers to its writes) are as quick as ever.
    pub fn lag_subscriptions(&self, lag: Duration) {
        self.lag.send_replace(lag);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.link.send_replace(Link::Closed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    mut link: watch::Receiver<Link>,
    lag: watch::Receiver<Duration>,
    count: watch::Sender<usize>,
) {
    let count = std::sync::Arc::new(count);
    loop {
        let inbound = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((inbound, _)) => inbound,
                Err(_) => continue,
            },
            closed = link.wait_for(|l| *l == Link::Closed) => {
                let _ = closed;
                return;
            }
        };
        if *link.borrow() == Link::Cut {
            drop(inbound);
            continue;
        }
        count.send_modify(|n| *n += 1);
        let (link, lag, count) = (link.clone(), lag.clone(), count.clone());
        tokio::spawn(async move {
            relay(inbound, target, link, lag).await;
            count.send_modify(|n| *n -= 1);
        });
    }
}

/// One relayed connection, until either side closes or the relay is cut.
async fn relay(
    inbound: TcpStream,
    target: SocketAddr,
    mut link: watch::Receiver<Link>,
    lag: watch::Receiver<Duration>,
) {
    let Ok(outbound) = TcpStream::connect(target).await else { return };
    let (from_node, to_node) = inbound.into_split();
    let (from_redis, to_redis) = outbound.into_split();
    let subscribed = Arc::new(AtomicBool::new(false));
    let up = Way::ToRedis { subscribed: subscribed.clone() };
    let down = Way::ToNode { subscribed, lag };
    tokio::select! {
        () = pump(from_node, to_redis, link.clone(), up) => {}
        () = pump(from_redis, to_node, link.clone(), down) => {}
        _ = link.wait_for(|l| matches!(l, Link::Cut | Link::Closed)) => {}
    }
}

/// Which way a [`pump`] copies, and what it keeps of the connection.
enum Way {
    /// What the node sends: held while `Frozen`; it notes a `SUBSCRIBE`.
    ToRedis { subscribed: Arc<AtomicBool> },
    /// What Redis sends: held for the relay's lag once the node has subscribed.
    ToNode { subscribed: Arc<AtomicBool>, lag: watch::Receiver<Duration> },
}

/// Copies one way while the link is open; holds what the node sends while it is `Frozen`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut link: watch::Receiver<Link>,
    way: Way,
) {
    let held = match way {
        Way::ToRedis { .. } => Link::Frozen,
        // Never held: `Cut` ends the pump.
        Way::ToNode { .. } => Link::Cut,
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match link.wait_for(|l| *l != held).await.map(|l| *l) {
            Ok(Link::Open | Link::Frozen) => {}
            _ => return,
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            // Frozen (or cut) meanwhile: look again before reading.
            _ = link.changed() => continue,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                match &way {
                    Way::ToRedis { subscribed } => {
                        // The command's name, as a RESP bulk string.
                        let command = b"$9\r\nSUBSCRIBE\r\n";
                        if buf[..n].windows(command.len()).any(|w| w.eq_ignore_ascii_case(command))
                        {
                            subscribed.store(true, Ordering::Release);
                        }
                    }
                    Way::ToNode { subscribed, lag } => {
                        let lag = *lag.borrow();
                        if subscribed.load(Ordering::Acquire) && !lag.is_zero() {
                            tokio::time::sleep(lag).await;
                        }
                    }
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
