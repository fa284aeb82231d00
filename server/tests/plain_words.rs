//! The plain-text port speaks to people: errors as sentences without protocol codes, a short
//! backlog on joining with how to see more, and `/history` for the rest.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_server::limits::PLAIN_JOIN_LINES;
use common::{PlainClient, start_server};
use protocol::{ClientMsg, RoomName, ServerMsg, Text};

/// A refusal reads as a sentence naming the room, never as `! not_in_room: ...`.
#[tokio::test]
async fn errors_are_sentences_without_codes() {
    let server = start_server().await;
    let mut m = PlainClient::login(server.plain, "Michael").await;
    m.send("/who rust\n").await;
    assert_eq!(m.line().await, "! You are not in #rust.");
    m.send("/leave\n").await;
    m.line_until(|l| l.contains("no room now")).await;
    m.send("hello?\n").await;
    assert_eq!(m.line().await, "! You are not in a room; /join one first.");
    server.shutdown().await;
}

/// Joining a room with a long history shows only its last lines, then how to see more;
/// `/history N` shows the N last messages whole.
#[tokio::test]
async fn join_shows_a_few_lines_and_history_shows_more() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let total = PLAIN_JOIN_LINES + 5;
    for i in 0..total {
        let text = Text::parse(&format!("line {i}")).unwrap();
        tracy.send(ClientMsg::Say { room: RoomName::lobby(), text }).await;
        tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    }
    let mut m = PlainClient::connect(server.plain).await;
    m.line().await;
    m.send("Michael\n").await;
    m.line_until(|l| l.starts_with("Type a line")).await;
    assert_eq!(m.line().await, "[lobby] -- earlier messages --");
    for i in total - PLAIN_JOIN_LINES..total {
        assert_eq!(m.line().await, format!("[lobby] Tracy: line {i}"));
    }
    assert_eq!(m.line().await, "[lobby] -- end of earlier messages; /history 100 shows more --");
    assert_eq!(m.line().await, "[lobby] --> Michael joined");
    m.line_until(|l| l.starts_with("[lobby] Members")).await;

    m.send(&format!("/history {}\n", PLAIN_JOIN_LINES + 2)).await;
    assert_eq!(m.line().await, "[lobby] -- earlier messages --");
    for i in total - PLAIN_JOIN_LINES - 2..total {
        assert_eq!(m.line().await, format!("[lobby] Tracy: line {i}"));
    }
    assert_eq!(m.line().await, "[lobby] -- end of earlier messages --");
    m.send("/history 0\n").await;
    assert_eq!(m.line().await, "! Usage: /history [N], N from 1 to 100.");
    server.shutdown().await;
}
