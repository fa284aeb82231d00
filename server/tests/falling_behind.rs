//! A member that stops reading for a while falls more than a room channel's worth behind. With
//! history it is filled in from the store and misses nothing; without, it is told how much it
//! missed. Either way the talker is not slowed down.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_server::HistoryConfig;
use chat_server::broker::Location;
use chat_server::limits::ROOM_CHANNEL_CAPACITY;
use common::{JsonClient, TestServer, start_server_with_history};
use protocol::limits::MAX_TEXT_BYTES;
use protocol::{ClientMsg, ErrorCode, RoomName, ServerMsg, Text};
use std::time::Duration;

use tokio::net::TcpSocket;

/// Messages said in one go before waiting for their echoes.
const BURST: usize = 64;

fn text(i: usize) -> String {
    let mut text = format!("message {i} ");
    while text.len() < MAX_TEXT_BYTES - 8 {
        text.push_str("filler ");
    }
    text
}

/// Enough messages to fill the kernel's buffers between the server and a client that does
/// not read (the server's send buffer can grow to `tcp_wmem`'s maximum) and then more than a
/// room channel holds.
fn messages_to_fall_behind() -> usize {
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|n| n.parse().ok()))
        .unwrap_or(4 << 20);
    (wmem_max / MAX_TEXT_BYTES + ROOM_CHANNEL_CAPACITY) * 3 / 2
}

/// A member with a tiny receive buffer, registered, that then stops reading.
async fn sleepy_member(server: &TestServer) -> JsonClient {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut c = JsonClient::on(socket.connect(server.json).await.unwrap());
    c.hello("sleepy").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c
}

/// How long a talker may take for all its messages with a member asleep: far more than the
/// second or two it takes, far less than if it waited for the sleeper (a quarter of a second
/// per message).
const TALK_BOUND: Duration = Duration::from_secs(60);

/// `talker` says `n` messages in lobby, waiting for its echoes a burst at a time. Fails if that
/// takes longer than [`TALK_BOUND`]: a member that stopped reading must not hold the room up.
async fn talk(talker: &mut JsonClient, n: usize) {
    tokio::time::timeout(TALK_BOUND, talk_unbounded(talker, n))
        .await
        .expect("the talker is not held up by a member that stopped reading");
}

async fn talk_unbounded(talker: &mut JsonClient, n: usize) {
    let lobby = RoomName::lobby();
    let mut said = 0;
    while said < n {
        let burst = BURST.min(n - said);
        for i in said..said + burst {
            let text = Text::parse(&text(i)).unwrap();
            talker.send(ClientMsg::Say { room: lobby.clone(), text }).await;
        }
        for _ in 0..burst {
            talker.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        }
        said += burst;
    }
}

/// What the sleepy member reads once it wakes up, until the message with sequence number
/// `last`: the messages' (seq, text) and the `lagged` errors.
async fn wake_up(c: &mut JsonClient, last: u64) -> (Vec<(u64, String)>, Vec<String>) {
    let (mut messages, mut lagged) = (Vec::new(), Vec::new());
    loop {
        match c.recv().await {
            ServerMsg::Message { seq, text, .. } => {
                messages.push((seq, text.as_str().to_owned()));
                if seq == last {
                    return (messages, lagged);
                }
            }
            ServerMsg::Error { code: ErrorCode::Lagged, message, .. } => lagged.push(message),
            _ => {}
        }
    }
}

async fn falls_behind_and_is_filled_in(history: HistoryConfig) {
    let server = start_server_with_history(common::info(), history).await;
    let mut sleepy = sleepy_member(&server).await;
    let mut talker = server.join("talker").await;
    let n = messages_to_fall_behind();
    talk(&mut talker, n).await;

    let (messages, lagged) = wake_up(&mut sleepy, n as u64).await;
    assert!(lagged.is_empty(), "nothing is reported missing: {lagged:?}");
    let expected: Vec<(u64, String)> = (0..n).map(|i| (i as u64 + 1, text(i))).collect();
    assert_eq!(messages.len(), n, "every message once");
    assert!(messages == expected, "every message, in order, once");
    // The member list comes afresh after the fill-in, and the room goes on as usual.
    sleepy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    talk(&mut talker, 1).await;
    let (seq, _) = wake_up(&mut sleepy, n as u64 + 1).await.0.remove(0);
    assert_eq!(seq, n as u64 + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_member_that_falls_behind_is_filled_in_from_history_in_memory() {
    falls_behind_and_is_filled_in(HistoryConfig::default()).await;
}

#[tokio::test]
async fn a_member_that_falls_behind_is_filled_in_from_history_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = HistoryConfig {
        location: Some(Location::File(dir.path().join("history.db"))),
        ..HistoryConfig::default()
    };
    falls_behind_and_is_filled_in(config).await;
}

#[tokio::test]
async fn without_history_a_member_that_falls_behind_is_told_how_much_it_missed() {
    let config = HistoryConfig { location: None, ..HistoryConfig::default() };
    let server = start_server_with_history(common::info(), config).await;
    let mut sleepy = sleepy_member(&server).await;
    let mut talker = server.join("talker").await;
    let n = messages_to_fall_behind();
    talk(&mut talker, n).await;

    // Wake up: read what was waiting, up to the answer to a ping (the server has taken up
    // the room again by then); the next message tells how many were missed before it.
    sleepy.send(ClientMsg::Ping { token: 7 }).await;
    let (_, waiting) = sleepy.recv_until(|m| matches!(m, ServerMsg::Pong { .. })).await;
    talk(&mut talker, 1).await;
    let (after, lagged) = wake_up(&mut sleepy, n as u64 + 1).await;
    let got = waiting.iter().filter(|m| matches!(m, ServerMsg::Message { .. })).count();
    assert!(waiting.iter().all(|m| !matches!(m, ServerMsg::Error { .. })), "{waiting:?}");
    assert_eq!(lagged.len(), 1, "told once: {lagged:?}");
    let missed: usize = lagged[0]
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("the error says how many: {:?}", lagged[0]));
    assert!(missed > 0);
    assert_eq!(after.len(), 1, "then the new message: {after:?}");
    assert_eq!(got + missed, n, "what it got and what it was told it missed add up");
    server.shutdown().await;
}
