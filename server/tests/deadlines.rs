//! Deadlines: a connection must say hello in time (slowloris), and a silent client is pinged
//! and, if it stays silent, dropped. Well-behaved clients are unaffected.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_server::ServerInfo;
use common::{JsonClient, PlainClient, TestServer, start_server_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use protocol::{ByeCode, ClientMsg, PresenceEvent, RoomName, ServerMsg, Text};

/// Unlike the ping interval, so that a deadline taken from the wrong one shows.
const HELLO_TIMEOUT: Duration = Duration::from_millis(1000);
const PING_INTERVAL: Duration = Duration::from_millis(400);

async fn server() -> TestServer {
    server_with(HELLO_TIMEOUT, PING_INTERVAL).await
}

async fn server_with(hello_timeout: Duration, ping_interval: Duration) -> TestServer {
    start_server_with(ServerInfo { hello_timeout, ping_interval, ..common::info() }).await
}

async fn chat_still_works(a: &mut JsonClient, b: &mut JsonClient) {
    let text = Text::parse("still here").unwrap();
    a.send(ClientMsg::Say { room: RoomName::lobby(), text: text.clone() }).await;
    for c in [a, b] {
        let (msg, _) = c.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        assert!(matches!(msg, ServerMsg::Message { text: t, .. } if t == text));
    }
}

/// How often a slowloris sends a byte: far more often than any deadline.
const TRICKLE_EVERY: Duration = Duration::from_millis(50);

/// How long a slowloris keeps trickling if it is not cut off: well past the hello timeout
/// and the margin.
const TRICKLE_FOR: Duration = Duration::from_secs(4);

/// How late past the hello timeout a connection may be closed on a busy machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// A slowloris on `stream`: sends `bytes` over and over, one every [`TRICKLE_EVERY`], while
/// reading what the server says. Returns when the server closed the connection (measured
/// from `started`) and everything it said.
async fn slowloris(mut stream: TcpStream, bytes: &[u8], started: Instant) -> (Duration, String) {
    let (mut reader, mut writer) = stream.split();
    let read_to_end = async {
        let mut got = Vec::new();
        let _ = reader.read_to_end(&mut got).await;
        (started.elapsed(), String::from_utf8_lossy(&got).into_owned())
    };
    let trickle = async {
        for byte in bytes.iter().cycle() {
            if started.elapsed() > TRICKLE_FOR || writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(TRICKLE_EVERY).await;
        }
    };
    tokio::join!(read_to_end, trickle).0
}

/// A connection that never says hello is closed at the hello timeout, whether it is silent or
/// sends a byte now and then (slowloris), on either port: bytes that are not a hello do not
/// buy time. Members notice nothing.
#[tokio::test]
async fn a_connection_that_never_says_hello_is_closed_in_time() {
    // Members who are not pinged off while they watch.
    let server = server_with(HELLO_TIMEOUT, TRICKLE_FOR * 2).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    let (silent, json, plain) = tokio::join!(
        TcpStream::connect(server.json),
        TcpStream::connect(server.json),
        TcpStream::connect(server.plain)
    );
    let started = Instant::now();
    let silent = slowloris(silent.unwrap(), b"", started);
    // A hello that never ends; letters never followed by the pause that ends a plain line.
    let json =
        slowloris(json.unwrap(), br#"{"type":"hello","nick":"slowloris","client":""#, started);
    let plain = slowloris(plain.unwrap(), b"slowloris", started);
    let closed = tokio::join!(silent, json, plain);
    for (who, (after, said)) in [("silent", closed.0), ("json", closed.1), ("plain", closed.2)] {
        assert!(
            after >= HELLO_TIMEOUT && after <= HELLO_TIMEOUT + MARGIN,
            "{who}: closed after {after:?}; the hello timeout is {HELLO_TIMEOUT:?}"
        );
        assert!(said.contains("no hello in time"), "{who}: {said:?}");
    }
    chat_still_works(&mut alice, &mut bob).await;
    server.shutdown().await;
}

/// Answers pings for three ping intervals; returns how many came.
async fn answer_pings(c: &mut JsonClient) -> usize {
    let until = Instant::now() + PING_INTERVAL * 3;
    let mut pings = 0;
    while let Ok(msg) = tokio::time::timeout_at(until.into(), c.recv()).await {
        if let ServerMsg::Ping { token } = msg {
            pings += 1;
            c.send(ClientMsg::Pong { token }).await;
        }
    }
    pings
}

#[tokio::test]
async fn a_silent_client_is_pinged_and_answering_keeps_it() {
    let server = server().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    // Three intervals of silence but for answers to pings.
    let (a, b) = tokio::join!(answer_pings(&mut alice), answer_pings(&mut bob));
    assert!(a >= 2 && b >= 2, "pinged every interval: {a}, {b}");
    chat_still_works(&mut alice, &mut bob).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_answer_pings_is_dropped() {
    let server = server().await;
    let mut alice = server.join("alice").await;
    let mut dead = server.join("dead").await;
    alice.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    let keep_alive = async {
        // alice answers; "dead" reads but never answers.
        let deadline = Instant::now() + common::WAIT;
        loop {
            assert!(Instant::now() < deadline, "dead was never dropped");
            match alice.recv().await {
                ServerMsg::Ping { token } => alice.send(ClientMsg::Pong { token }).await,
                ServerMsg::Presence { nick, event: PresenceEvent::Dropped { reason }, .. } => {
                    return (nick, reason);
                }
                _ => {}
            }
        }
    };
    let (dropped, got) = tokio::join!(keep_alive, dead.recv_until_closed());
    assert!(got.iter().any(|m| matches!(m, ServerMsg::Ping { .. })), "{got:?}");
    assert!(
        matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::PingTimeout, .. })),
        "{got:?}"
    );
    assert_eq!(dropped.0.as_str(), "dead");
    assert_eq!(dropped.1.as_str(), "ping timeout");
    server.shutdown().await;
}

/// A person at `nc` cannot answer a ping: silence is not taken for death at the ping
/// interval, only at the (longer) idle timeout, after a notice that says how to stay; saying
/// anything keeps the session, staying silent through the notice ends it.
#[tokio::test]
async fn a_silent_plain_client_is_told_before_it_is_closed() {
    let idle = PING_INTERVAL * 4;
    let info = ServerInfo {
        hello_timeout: HELLO_TIMEOUT,
        ping_interval: PING_INTERVAL,
        plain_idle_timeout: idle,
        ..common::info()
    };
    let server = start_server_with(info).await;
    let mut guest = PlainClient::login(server.plain, "guest").await;
    tokio::time::sleep(PING_INTERVAL * 3).await;
    guest.send("/who\n").await;
    let line = guest.line_until(|l| l.starts_with("[lobby] Members:")).await;
    assert!(line.contains("guest"), "{line}");

    let started = Instant::now();
    let notice = guest.line_until(|l| l.contains("you have been silent")).await;
    assert!(started.elapsed() >= idle - PING_INTERVAL, "told early: {:?}", started.elapsed());
    assert!(notice.contains("say anything"), "{notice}");
    guest.send("/who\n").await;
    guest.line_until(|l| l.starts_with("[lobby] Members:")).await;
    guest.line_until(|l| l.contains("you have been silent")).await;
    let rest = guest.rest().await;
    assert!(rest.contains("silent for too long"), "{rest}");
    assert!(started.elapsed() >= idle * 2 + PING_INTERVAL, "{:?}", started.elapsed());
    server.shutdown().await;
}
