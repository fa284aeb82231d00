//! The network task: owns the socket, talks to the app over channels. The app never waits on
//! it; it reports what happens as [`NetEvent`]s, in plain words.
//!
//! The socket is plain TCP or TLS over it ([`crate::tls`]); past the handshake both are a
//! [`Stream`], so everything after it is written once.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::limits::MAX_SERVER_LINE_BYTES;
use protocol::{ClientCodec, ClientMsg};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::event::{NetEvent, Security};
use crate::tls::{Handshake, ServerAddr, TlsClient};

/// How long to wait for the server to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the TLS handshake may take once connected.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests the app may queue ahead of the socket.
pub const OUTBOX: usize = 256;
/// After this long without a word from the server, the client pings it; after as long again,
/// the connection counts as dead. The same bound as the server's default `--ping-interval`,
/// so either side finds a dead peer within two minutes.
pub const KEEPALIVE: Duration = Duration::from_secs(60);

/// A connection past its handshake: TCP, or TLS over TCP.
pub type Stream = Box<dyn Io>;

/// What a [`Stream`] is made of.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Starts the network task: connects to `server` (over TLS with `tls`), sends `hello`, then
/// relays requests from the returned sender to the server and everything from the server to
/// `events`.
pub fn spawn(
    server: String,
    tls: Option<TlsClient>,
    hello: ClientMsg,
    events: mpsc::Sender<NetEvent>,
) -> (mpsc::Sender<ClientMsg>, JoinHandle<()>) {
    let (outbox, requests) = mpsc::channel(OUTBOX);
    let task = tokio::spawn(run(server, tls, hello, requests, events));
    (outbox, task)
}

async fn run(
    server: String,
    tls: Option<TlsClient>,
    hello: ClientMsg,
    mut requests: mpsc::Receiver<ClientMsg>,
    events: mpsc::Sender<NetEvent>,
) {
    let _ = events.send(NetEvent::Connecting { server: server.clone() }).await;
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&server)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            let hint = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => " (is chat-server running there?)",
                _ => "",
            };
            let _ = events
                .send(NetEvent::Failed { reason: format!("cannot connect to {server}: {e}{hint}") })
                .await;
            return;
        }
        Err(_) => {
            let reason = format!(
                "cannot connect to {server}: no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            );
            let _ = events.send(NetEvent::Failed { reason }).await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (stream, security) = match secure(stream, &server, tls.as_ref()).await {
        Ok(secured) => secured,
        Err(event) => {
            let _ = events.send(event).await;
            return;
        }
    };
    let _ = events.send(NetEvent::Connected { server: server.clone(), security }).await;
    let mut frames = Framed::new(stream, ClientCodec::new(MAX_SERVER_LINE_BYTES));
    let reason = match frames.send(&hello).await {
        Err(e) => e.to_string(),
        Ok(()) => relay(&mut frames, &mut requests, &events, KEEPALIVE).await,
    };
    let _ = events.send(NetEvent::Closed { reason }).await;
}

/// The TLS handshake when asked for, within [`TLS_HANDSHAKE_TIMEOUT`]; the stream and how it
/// is protected, or what to tell the app instead.
async fn secure(
    tcp: TcpStream,
    server: &str,
    tls: Option<&TlsClient>,
) -> Result<(Stream, Security), NetEvent> {
    let Some(tls) = tls else {
        let loopback = tcp.peer_addr().is_ok_and(|peer| peer.ip().to_canonical().is_loopback());
        return Ok((Box::new(tcp), Security::Plain { loopback }));
    };
    let failed = |why: String| NetEvent::Failed { reason: format!("no TLS with {server}: {why}") };
    let addr = ServerAddr::parse(server).map_err(failed)?;
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.connect(tcp, &addr)).await {
        Ok(Ok((stream, trusted))) => Ok((Box::new(stream), Security::Tls(trusted))),
        Ok(Err(Handshake::Refused(refusal))) => Err(NetEvent::Certificate(refusal)),
        Ok(Err(Handshake::Failed(why))) => Err(failed(why)),
        Err(_) => Err(failed(format!(
            "no answer within {}s (does it serve TLS?)",
            TLS_HANDSHAKE_TIMEOUT.as_secs()
        ))),
    }
}

/// Moves messages both ways until the connection ends; returns why it ended.
async fn relay(
    frames: &mut Framed<Stream, ClientCodec>,
    requests: &mut mpsc::Receiver<ClientMsg>,
    events: &mpsc::Sender<NetEvent>,
    keepalive: Duration,
) -> String {
    let mut app_gone = false;
    let mut heard = Instant::now();
    let mut pinged = false;
    let timer = tokio::time::sleep_until(heard + keepalive);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            // Moved on lazily: a message only notes the time; the timer, when it fires early,
            // sets itself to the real deadline.
            () = &mut timer => {
                let due = heard + if pinged { keepalive * 2 } else { keepalive };
                if Instant::now() < due {
                    timer.as_mut().reset(due);
                } else if pinged {
                    return format!(
                        "no answer from the server for {}s; the connection is dead",
                        (keepalive * 2).as_secs()
                    );
                } else {
                    pinged = true;
                    if let Err(e) = frames.send(&ClientMsg::Ping { token: 0 }).await {
                        return format!("connection lost: {e}");
                    }
                    timer.as_mut().reset(heard + keepalive * 2);
                }
            }
            incoming = frames.next() => {
                heard = Instant::now();
                pinged = false;
                let event = match incoming {
                    Some(Ok(Ok(msg))) => NetEvent::Message(msg),
                    Some(Ok(Err(e))) => NetEvent::Unreadable { reason: format!("unreadable line from the server: {}", e.message) },
                    Some(Err(e)) => return format!("connection lost: {e}"),
                    None => return "the server closed the connection".to_owned(),
                };
                if events.send(event).await.is_err() {
                    return "the client is closing".to_owned();
                }
            }
            request = requests.recv(), if !app_gone => match request {
                Some(request) => {
                    if let Err(e) = frames.send(&request).await {
                        return format!("connection lost: {e}");
                    }
                }
                // The app is quitting: keep reading until the server closes after its bye.
                None => app_gone = true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A server that accepts and then says nothing: the client pings it, and after two
    /// keep-alive periods calls the connection dead.
    #[tokio::test]
    async fn a_silent_server_is_pinged_then_given_up() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut lines = BufReader::new(stream).lines();
            let mut got = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                got.push(line);
            }
            got
        });
        let stream: Stream = Box::new(TcpStream::connect(addr).await.unwrap());
        let mut frames = Framed::new(stream, ClientCodec::new(MAX_SERVER_LINE_BYTES));
        let (_outbox, mut requests) = mpsc::channel(1);
        let (events, _app) = mpsc::channel(1);
        let keepalive = Duration::from_millis(200);
        let started = std::time::Instant::now();
        let reason = relay(&mut frames, &mut requests, &events, keepalive).await;
        assert!(reason.contains("connection is dead"), "{reason}");
        assert!(started.elapsed() >= keepalive * 2);
        drop(frames);
        let got = server.await.unwrap();
        assert_eq!(got, vec![r#"{"type":"ping","token":0}"#.to_owned()]);
    }
}
