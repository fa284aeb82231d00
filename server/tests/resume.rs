//! Taking a nick back after a lost connection: the resume token from `welcome` lets a new
//! connection take its nick over from a session the server still holds, and the nick of a
//! session that dropped is kept a while for that token alone.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use chat_server::ServerInfo;
use common::{JsonClient, PlainClient, TestServer, start_server_with};
use protocol::ResumeToken;
use protocol::{ByeCode, ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg};

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

/// Says hello as `nick` (showing `resume`), reads up to the lobby's member list, and returns
/// the new session's own token.
async fn hello(c: &mut JsonClient, nick: &str, resume: Option<ResumeToken>) -> ResumeToken {
    let welcome = c.hello_resuming(nick, resume).await;
    let ServerMsg::Welcome { resume: Some(token), .. } = welcome else {
        panic!("expected a welcome with a resume token, got {welcome:?}");
    };
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    token
}

/// A server that keeps a reservation for any session, however short (the default asks for 10 s
/// of holding the nick first).
async fn server() -> TestServer {
    start_server_with(ServerInfo { reserve_after: Duration::ZERO, ..common::info() }).await
}

/// Drops the connection with a reset, as a network failure does (a clean close keeps no
/// reservation: that is a program that ended).
fn reset(c: JsonClient) {
    common::reset(c.frames.into_inner());
}

async fn connect(server: &TestServer, nick: &str) -> (JsonClient, ResumeToken) {
    let mut c = JsonClient::connect(server.json).await;
    let token = hello(&mut c, nick, None).await;
    (c, token)
}

async fn join(c: &mut JsonClient, r: &str) {
    c.send(ClientMsg::Join { room: room(r), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == r)).await;
}

/// Waits until `watcher` sees `who` leave `r` for `why`.
async fn sees_dropped(watcher: &mut JsonClient, r: &str, who: &str) -> PresenceEvent {
    let (msg, _) = watcher
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { room, nick, event: PresenceEvent::Dropped { .. }, .. }
                if room.as_str() == r && nick.as_str() == who)
        })
        .await;
    let ServerMsg::Presence { event, .. } = msg else { unreachable!() };
    event
}

#[tokio::test]
async fn the_token_takes_the_nick_over_from_a_session_still_held() {
    let server = server().await;
    let (mut old, token) = connect(&server, "Michael").await;
    join(&mut old, "rust").await;
    let (mut tracy, _) = connect(&server, "Tracy").await;
    join(&mut tracy, "rust").await;

    // The old connection is alive as far as the server knows; a new one shows the token.
    let mut new = JsonClient::connect(server.json).await;
    let second = hello(&mut new, "Michael", Some(token)).await;
    assert_ne!(second, token, "each session gets its own token");

    // The old session is told why and closed.
    let got = old.recv_until_closed().await;
    assert!(
        got.iter().any(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Replaced, .. })),
        "{got:?}"
    );
    // Its rooms see it go (in either order), then the new session is a member like any other.
    let mut gone = Vec::new();
    while gone.len() < 2 {
        if let ServerMsg::Presence {
            room, nick, event: PresenceEvent::Dropped { reason }, ..
        } = tracy.recv().await
        {
            assert_eq!((nick.as_str(), reason.as_str()), ("Michael", "reconnected"));
            gone.push(room.as_str().to_owned());
        }
    }
    gone.sort();
    assert_eq!(gone, ["lobby", "rust"]);
    join(&mut new, "rust").await;
    tracy.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    let (members, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks, .. } = members else { unreachable!() };
    let nicks: Vec<&str> = nicks.iter().map(|n| n.as_str()).collect();
    assert_eq!(nicks, ["Michael", "Tracy"]);

    // The token of a session replaced is spent: the new session's token is the one that works.
    let mut third = JsonClient::connect(server.json).await;
    let ServerMsg::Error { code, .. } = third.hello_resuming("Michael", Some(token)).await else {
        panic!("expected an error")
    };
    assert_eq!(code, ErrorCode::NickInUse);
    server.shutdown().await;
}

#[tokio::test]
async fn a_held_nick_is_refused_without_its_token() {
    let server = server().await;
    let (_michael, _) = connect(&server, "Michael").await;
    for resume in [None, Some(ResumeToken::random())] {
        let mut c = JsonClient::connect(server.json).await;
        let ServerMsg::Error { code, .. } = c.hello_resuming("michael", resume).await else {
            panic!("expected an error")
        };
        assert_eq!(code, ErrorCode::NickInUse);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_nick_is_kept_for_its_token_only() {
    let server = server().await;
    let (mut tracy, _) = connect(&server, "Tracy").await;
    let (michael, token) = connect(&server, "Michael").await;
    // The connection goes away without a goodbye.
    reset(michael);
    sees_dropped(&mut tracy, "lobby", "Michael").await;

    let mut thief = JsonClient::connect(server.json).await;
    let ServerMsg::Error { code, message, .. } = thief.hello_resuming("Michael", None).await else {
        panic!("expected an error")
    };
    assert_eq!(code, ErrorCode::NickInUse);
    assert!(message.contains("kept for"), "{message}");

    let mut back = JsonClient::connect(server.json).await;
    hello(&mut back, "Michael", Some(token)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_reservation_ends_after_its_time() {
    let info = ServerInfo {
        nick_reservation: Duration::from_millis(200),
        reserve_after: Duration::ZERO,
        ..common::info()
    };
    let server = start_server_with(info).await;
    let (mut tracy, _) = connect(&server, "Tracy").await;
    let (michael, _) = connect(&server, "Michael").await;
    reset(michael);
    sees_dropped(&mut tracy, "lobby", "Michael").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut someone = JsonClient::connect(server.json).await;
    hello(&mut someone, "Michael", None).await;
    server.shutdown().await;
}

#[tokio::test]
async fn quitting_closing_or_a_plain_text_session_keeps_no_reservation() {
    let server = server().await;
    let (mut tracy, _) = connect(&server, "Tracy").await;

    let (mut michael, _) = connect(&server, "Michael").await;
    michael.send(ClientMsg::Quit { reason: None }).await;
    michael.recv_until_closed().await;
    let mut next = JsonClient::connect(server.json).await;
    hello(&mut next, "Michael", None).await;

    // A clean close is a program that ended: it may start again at once, without the token.
    drop(next);
    sees_dropped(&mut tracy, "lobby", "Michael").await;
    let mut again = JsonClient::connect(server.json).await;
    hello(&mut again, "Michael", None).await;

    // nc has no token to come back with, so its nick is not kept even when its connection
    // fails (a reset, which would keep a JSON session's).
    let mut plain = PlainClient::connect(server.plain).await;
    plain.send("Guest").await;
    plain.line_until(|l| l.contains("[lobby] --> Guest joined")).await;
    plain.reset();
    sees_dropped(&mut tracy, "lobby", "Guest").await;
    let mut json = JsonClient::connect(server.json).await;
    hello(&mut json, "Guest", None).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_renamed_session_comes_back_under_its_new_nick() {
    let server = server().await;
    let (mut tracy, _) = connect(&server, "Tracy").await;
    let (mut michael, token) = connect(&server, "Michael").await;
    michael.send(ClientMsg::Nick { nick: common::nick("Mike") }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Nick { .. })).await;
    reset(michael);
    sees_dropped(&mut tracy, "lobby", "Mike").await;
    // Michael is free again; Mike is kept for the token.
    let mut other = JsonClient::connect(server.json).await;
    hello(&mut other, "Michael", None).await;
    let mut back = JsonClient::connect(server.json).await;
    hello(&mut back, "Mike", Some(token)).await;
    server.shutdown().await;
}
