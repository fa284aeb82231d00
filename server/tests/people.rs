//! `away` and `whois` against a real server: the away message answers a private message once
//! per sender per away period, shows in `members`, `whois` and on the plain port; `whois`
//! tells what the server knows and keeps secret rooms secret; both are paid for.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{JsonClient, PlainClient, TestServer, nick, start_server, start_server_with};
use protocol::{
    ClientMsg, ErrorCode, Label, ModeChange, Moderation, Password, RoomName, ServerMsg, Text,
};

fn away(text: Option<&str>) -> ClientMsg {
    ClientMsg::Away { text: text.map(|t| Label::parse(t).unwrap()) }
}

fn msg(to: &str, text: &str) -> ClientMsg {
    ClientMsg::Msg { to: nick(to), text: Text::parse(text).unwrap() }
}

fn whois(who: &str) -> ClientMsg {
    ClientMsg::Whois { nick: nick(who) }
}

async fn pair(server: &TestServer) -> (JsonClient, JsonClient) {
    let mut tracy = server.join("Tracy").await;
    let michael = server.join("Michael").await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    (tracy, michael)
}

/// The next `private` echo or `away` answer, skipping presence.
async fn next_answer(c: &mut JsonClient) -> ServerMsg {
    c.recv_until(|m| matches!(m, ServerMsg::Private { .. } | ServerMsg::Away { .. })).await.0
}

/// Away: the answer says so; a private message to the away person is answered with the away
/// message once (not on the second line), again after a new `away`, and no more after coming
/// back. Line breaks in the message become spaces.
#[tokio::test]
async fn an_away_message_answers_each_sender_once_per_away_period() {
    let server = start_server().await;
    let (mut tracy, mut michael) = pair(&server).await;
    tracy.send(away(Some("lunch,\nback at 2"))).await;
    let (answer, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    assert_eq!(
        answer,
        ServerMsg::Away {
            nick: nick("Tracy"),
            text: Some(Label::parse("lunch, back at 2").unwrap())
        }
    );

    michael.send(msg("Tracy", "there?")).await;
    assert!(matches!(next_answer(&mut michael).await, ServerMsg::Private { .. }), "the echo");
    let told = next_answer(&mut michael).await;
    assert_eq!(
        told,
        ServerMsg::Away {
            nick: nick("Tracy"),
            text: Some(Label::parse("lunch, back at 2").unwrap())
        }
    );
    michael.send(msg("Tracy", "hello?")).await;
    assert!(matches!(next_answer(&mut michael).await, ServerMsg::Private { .. }));
    michael.send(ClientMsg::Ping { token: 1 }).await;
    let (next, _) =
        michael.recv_until(|m| matches!(m, ServerMsg::Away { .. } | ServerMsg::Pong { .. })).await;
    assert_eq!(next, ServerMsg::Pong { token: 1 }, "told once, not on every line");

    tracy.send(away(Some("meeting"))).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    michael.send(msg("Tracy", "and now?")).await;
    next_answer(&mut michael).await;
    let told = next_answer(&mut michael).await;
    assert!(matches!(told, ServerMsg::Away { text: Some(t), .. } if t.as_str() == "meeting"));

    tracy.send(away(None)).await;
    let (back, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    assert_eq!(back, ServerMsg::Away { nick: nick("Tracy"), text: None });
    michael.send(msg("Tracy", "back?")).await;
    next_answer(&mut michael).await;
    michael.send(ClientMsg::Ping { token: 2 }).await;
    let (next, _) =
        michael.recv_until(|m| matches!(m, ServerMsg::Away { .. } | ServerMsg::Pong { .. })).await;
    assert_eq!(next, ServerMsg::Pong { token: 2 }, "back: nobody is told");
    server.shutdown().await;
}

/// `who` marks the away members with their message; a plain client sees it too, and the
/// answer to its own private message.
#[tokio::test]
async fn members_carry_away_messages() {
    let server = start_server().await;
    let (mut tracy, mut michael) = pair(&server).await;
    tracy.send(away(Some("gone fishing"))).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    michael.send(ClientMsg::Who { room: RoomName::lobby(), after: None }).await;
    let (members, _) = michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { away, .. } = members else { unreachable!() };
    assert_eq!(away, [(nick("Tracy"), Label::parse("gone fishing").unwrap())].into());

    let mut sam = PlainClient::login(server.plain, "Sam").await;
    sam.send("/who\n").await;
    let line = sam.line_until(|l| l.starts_with("[lobby] Members")).await;
    assert!(line.contains("Tracy (away: gone fishing)"), "{line}");
    sam.send("/msg Tracy hi\n").await;
    sam.line_until(|l| l.starts_with("[private to Tracy]")).await;
    assert_eq!(sam.line().await, "* Tracy is away: gone fishing.");
    sam.send("/away brb\n").await;
    assert_eq!(sam.line().await, "* You are away: brb.");
    server.shutdown().await;
}

/// `whois` names the account (or guest), the away message, the rooms the asker shares or that
/// are not secret, the connection time and idle time; someone not online is `no_such_nick`.
#[tokio::test]
async fn whois_tells_what_the_server_knows() {
    let server = start_server().await;
    let (mut tracy, mut michael) = pair(&server).await;
    // Logged in, so the rooms she makes are hers to make secret.
    tracy.send(ClientMsg::Register { password: Password::parse("correct horse").unwrap() }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    for r in ["rust", "hideout"] {
        tracy.send(ClientMsg::Join { room: RoomName::parse(r).unwrap(), key: None }).await;
        tracy
            .recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == r))
            .await;
    }
    tracy
        .send(ClientMsg::Mode {
            room: RoomName::parse("hideout").unwrap(),
            changes: vec![ModeChange::Secret(true)],
        })
        .await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Moderation { action: Moderation::Modes { .. }, .. }))
        .await;
    tracy.send(away(Some("reading"))).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;

    michael.send(whois("tracy")).await;
    let (answer, _) = michael.recv_until(|m| matches!(m, ServerMsg::Whois { .. })).await;
    let ServerMsg::Whois { nick: who, account, away, rooms, since, idle, elsewhere } = answer
    else {
        unreachable!()
    };
    assert_eq!(who, nick("Tracy"));
    assert!(account && !elsewhere);
    assert_eq!(away.unwrap().as_str(), "reading");
    let rooms: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
    assert_eq!(rooms, ["lobby", "rust"], "the secret room is not told");
    assert!(since.unwrap() <= protocol::now_millis());
    assert!(idle.unwrap() < 60);

    tracy.send(whois("Tracy")).await;
    let (own, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Whois { .. })).await;
    assert!(matches!(own, ServerMsg::Whois { rooms, .. } if rooms.len() == 3), "one's own");

    michael.send(whois("Nobody")).await;
    assert_eq!(michael.refusal_of("whois").await, ErrorCode::NoSuchNick);
    server.shutdown().await;
}

/// `whois` is paid for from the requests' budget: with a burst of three units, the fourth
/// `whois` in a row is refused with `flood`.
#[tokio::test]
async fn whois_costs_a_request_unit() {
    let mut info = common::info();
    info.flood = Some(chat_server::FloodLimits {
        requests: chat_server::Rate { burst: 3, every: std::time::Duration::from_secs(60) },
        ..chat_server::FloodLimits::default()
    });
    let server = start_server_with(info).await;
    let (_tracy, mut michael) = pair(&server).await;
    for _ in 0..3 {
        michael.send(whois("Tracy")).await;
        michael.recv_until(|m| matches!(m, ServerMsg::Whois { .. })).await;
    }
    michael.send(whois("Tracy")).await;
    assert_eq!(michael.refusal_of("whois").await, ErrorCode::Flood);
    server.shutdown().await;
}

/// With several nodes, `whois` of someone on another node says so: their nick and rooms,
/// `elsewhere`, and no connection or idle time this node cannot know.
#[tokio::test]
async fn whois_of_someone_on_another_node_says_so() {
    use common::redis::{Node, RedisServer, member, wait_for_members};
    let redis = RedisServer::start();
    let a = Node::start(&redis, "a").await;
    let b = Node::start(&redis, "b").await;
    let mut michael = member(&a, "Michael").await;
    let _tracy = member(&b, "Tracy").await;
    // Node a hears of Tracy's session before it hears of her join: wait for both.
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let answer = loop {
        michael.send(whois("Tracy")).await;
        let (answer, _) = michael
            .recv_until(|m| matches!(m, ServerMsg::Whois { .. } | ServerMsg::Error { .. }))
            .await;
        if matches!(answer, ServerMsg::Whois { .. }) || tokio::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let ServerMsg::Whois { nick: who, rooms, since, idle, elsewhere, .. } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(who, nick("Tracy"));
    assert!(elsewhere);
    assert_eq!(rooms, [RoomName::lobby()]);
    assert_eq!((since, idle), (None, None));
    a.stop().await;
    b.stop().await;
}
