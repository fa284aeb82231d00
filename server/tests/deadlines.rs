//! Deadlines: a connection must say hello in time (slowloris), and a silent client is pinged
//! and, if it stays silent, dropped. Well-behaved clients are unaffected.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_server::ServerInfo;
use common::{JsonClient, PlainClient, TestServer, start_server_with};
use tokio::io::AsyncWriteExt;

use protocol::{ByeCode, ClientMsg, PresenceEvent, RoomName, ServerMsg, Text};

const HELLO_TIMEOUT: Duration = Duration::from_millis(400);
const PING_INTERVAL: Duration = Duration::from_millis(400);

async fn server() -> TestServer {
    start_server_with(ServerInfo {
        hello_timeout: HELLO_TIMEOUT,
        ping_interval: PING_INTERVAL,
        ..common::info()
    })
    .await
}

async fn chat_still_works(a: &mut JsonClient, b: &mut JsonClient) {
    let text = Text::parse("still here").unwrap();
    a.send(ClientMsg::Say { room: RoomName::lobby(), text: text.clone() }).await;
    for c in [a, b] {
        let (msg, _) = c.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        assert!(matches!(msg, ServerMsg::Message { text: t, .. } if t == text));
    }
}

#[tokio::test]
async fn a_connection_that_never_says_hello_is_closed() {
    let server = server().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    // One silent, one sending a hello a byte at a time, too slowly to finish.
    let mut silent = JsonClient::connect(server.json).await;
    let mut slow = JsonClient::connect(server.json).await;
    let started = Instant::now();
    let trickle = async {
        for byte in br#"{"type":"hello","nick":"slowloris","protocol":1}"# {
            // Until the server has had enough and closes.
            if slow.frames.get_mut().write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > HELLO_TIMEOUT * 2 {
                break;
            }
        }
        slow.recv_until_closed().await
    };
    let (trickled, got) = tokio::join!(trickle, silent.recv_until_closed());
    for got in [got, trickled] {
        assert!(
            matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::HelloTimeout, .. })),
            "{got:?}"
        );
    }
    assert!(started.elapsed() >= HELLO_TIMEOUT);
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
        loop {
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

#[tokio::test]
async fn a_silent_plain_client_is_not_pinged_off() {
    let server = server().await;
    let mut guest = PlainClient::login(server.plain, "guest").await;
    tokio::time::sleep(PING_INTERVAL * 3).await;
    guest.send("/who\n").await;
    let line = guest.line_until(|l| l.starts_with("[lobby] Members:")).await;
    assert!(line.contains("guest"), "{line}");
    server.shutdown().await;
}
