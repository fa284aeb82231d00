//! Budgets that outlive a connection, and requests that cost what they cause: reconnecting
//! does not refill flood control (kept per address block for guests, per account when logged
//! in), new connections per address are throttled with the time to wait, and questions
//! (`ping`, `who`, `history`, refused requests) draw on a budget in proportion to their
//! answers.
//!
//! Each client connects from a loopback address of its own (127.0.0.N), as clients on the
//! internet would; the servers here exempt no network (the default exempts loopback).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use chat_server::flood::Exempt;
use chat_server::{FloodLimits, Rate, ServerInfo};
use common::{JsonClient, PlainClient, TestServer, start_server_with};
use protocol::{
    AccountEvent, ByeCode, ClientMsg, ErrorCode, Password, PresenceEvent, RoomName, ServerMsg, Text,
};

/// Seldom enough that a test's requests all fall within one refill, even on a busy machine.
const REFILL: Duration = Duration::from_secs(5);

fn limits() -> FloodLimits {
    let every = REFILL;
    FloodLimits {
        messages: Rate { burst: 3, every },
        joins: Rate { burst: 10, every },
        requests: Rate { burst: 12, every },
        presence: Rate { burst: 3, every },
        refusals: Rate { burst: 50, every },
    }
}

/// Flood control on, nothing exempt, connections not throttled over time.
fn info() -> ServerInfo {
    ServerInfo {
        flood: Some(limits()),
        connects: None,
        throttle_exempt: Exempt::default(),
        ..common::info()
    }
}

fn say(text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(text).unwrap() }
}

/// Reads for a while and returns everything that came.
async fn drain(c: &mut JsonClient) -> Vec<ServerMsg> {
    let mut got = Vec::new();
    while let Ok(Some(Ok(Ok(msg)))) =
        tokio::time::timeout(common::QUIET, futures::StreamExt::next(&mut c.frames)).await
    {
        got.push(msg);
    }
    got
}

fn count(got: &[ServerMsg], wanted: impl Fn(&ServerMsg) -> bool) -> usize {
    got.iter().filter(|m| wanted(m)).count()
}

fn is_message(m: &ServerMsg) -> bool {
    matches!(m, ServerMsg::Message { .. })
}

fn is_flood(m: &ServerMsg) -> bool {
    matches!(m, ServerMsg::Error { code: ErrorCode::Flood, .. })
}

/// A guest from `source`, registered and past its lobby member list.
async fn guest(server: &TestServer, source: &str, nick: &str) -> JsonClient {
    let mut c = JsonClient::connect_from(server.json, source).await;
    assert!(matches!(c.hello(nick).await, ServerMsg::Welcome { .. }));
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c
}

/// Sends `n` messages and returns how many were accepted and how many refused for flooding.
async fn say_many(c: &mut JsonClient, n: usize) -> (usize, usize) {
    for i in 0..n {
        c.send(say(&format!("line {i}"))).await;
    }
    let got = drain(c).await;
    (count(&got, is_message), count(&got, is_flood))
}

async fn quit(mut c: JsonClient) {
    c.send(ClientMsg::Quit { reason: None }).await;
    c.recv_until_closed().await;
}

/// A guest that spent its burst and reconnects starts where it stopped: refused at once.
/// Another address is not affected; an exempt address starts afresh every time.
#[tokio::test]
async fn reconnecting_does_not_refill_a_guests_budget() {
    let server = start_server_with(info()).await;
    let mut first = guest(&server, "127.0.0.2", "Mallory").await;
    assert_eq!(say_many(&mut first, 3).await, (3, 0));
    quit(first).await;

    let mut again = guest(&server, "127.0.0.2", "Mallory").await;
    assert_eq!(say_many(&mut again, 3).await, (0, 3), "the burst was spent before");
    let mut other_nick = guest(&server, "127.0.0.2", "Mal").await;
    assert_eq!(say_many(&mut other_nick, 1).await, (0, 1), "the address's budget, any nick");
    let mut neighbour = guest(&server, "127.0.0.3", "Tracy").await;
    assert_eq!(say_many(&mut neighbour, 3).await, (3, 0), "another address");
    server.shutdown().await;

    let exempt = ServerInfo { throttle_exempt: Exempt::loopback(), ..info() };
    let server = start_server_with(exempt).await;
    for _ in 0..2 {
        let mut c = guest(&server, "127.0.0.2", "Local").await;
        assert_eq!(say_many(&mut c, 3).await, (3, 0), "exempt: each connection afresh");
        quit(c).await;
    }
    server.shutdown().await;
}

/// A logged-in account's budget follows the account, not the address: coming back from
/// elsewhere does not refill it.
#[tokio::test]
async fn an_accounts_budget_follows_it_to_another_address() {
    let server = start_server_with(info()).await;
    let secret = "correct horse battery";
    let mut michael = guest(&server, "127.0.0.4", "Michael").await;
    michael.send(ClientMsg::Register { password: Password::parse(secret).unwrap() }).await;
    michael
        .recv_until(|m| matches!(m, ServerMsg::Account { event: AccountEvent::Registered, .. }))
        .await;
    assert_eq!(say_many(&mut michael, 3).await, (3, 0));
    quit(michael).await;

    let mut elsewhere = JsonClient::connect_from(server.json, "127.0.0.5").await;
    let welcome = elsewhere.hello_with_password("Michael", Some(secret)).await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
    elsewhere.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    assert_eq!(say_many(&mut elsewhere, 2).await, (0, 2), "the account's burst was spent");
    server.shutdown().await;
}

/// New connections from one address: a burst, then turned away with `throttled` and how
/// long to wait, on both ports; other addresses and exempt ones are not affected.
#[tokio::test]
async fn connecting_too_often_is_turned_away_with_the_wait() {
    let every = Duration::from_secs(30);
    let throttled = ServerInfo { connects: Some(Rate { burst: 3, every }), ..info() };
    let server = start_server_with(throttled).await;
    for i in 0..3 {
        quit(guest(&server, "127.0.0.6", &format!("Loop{i}")).await).await;
    }
    let mut refused = JsonClient::connect_from(server.json, "127.0.0.6").await;
    let got = refused.recv_until_closed().await;
    let [ServerMsg::Bye { code: ByeCode::Throttled, message, retry_after_ms: Some(ms) }] =
        got.as_slice()
    else {
        panic!("{got:?}")
    };
    assert!(*ms > 25_000 && *ms <= 30_000, "{ms} ms");
    assert!(message.starts_with("you are connecting too often: try again in "), "{message}");
    let stream = common::connect_from(server.plain, "127.0.0.6").await;
    assert!(PlainClient::over(stream).rest().await.contains("connecting too often"));
    quit(guest(&server, "127.0.0.7", "Neighbour").await).await;
    server.shutdown().await;

    let exempt = ServerInfo { connects: Some(Rate { burst: 1, every }), ..common::info() };
    let server = start_server_with(exempt).await;
    for i in 0..5 {
        quit(server.join(&format!("Local{i}")).await).await;
    }
    server.shutdown().await;
}

/// Questions cost in proportion to their answers: one history page of a hundred long
/// messages uses the burst that a hundred small answers would not; refused requests cost
/// too, and a client that keeps asking while refused is cut off.
#[tokio::test]
async fn questions_cost_what_their_answers_weigh() {
    let roomy = FloodLimits { messages: Rate { burst: 200, every: REFILL }, ..limits() };
    let server = start_server_with(ServerInfo { flood: Some(roomy), ..info() }).await;
    let mut writer = guest(&server, "127.0.0.8", "Writer").await;
    let long = "x".repeat(400);
    for _ in 0..100 {
        writer.send(say(&long)).await;
    }
    writer.recv_until(|m| matches!(m, ServerMsg::Message { seq: 100, .. })).await;
    quit(writer).await;

    let history = |limit| ClientMsg::History { room: RoomName::lobby(), before: None, limit };
    let mut small = guest(&server, "127.0.0.9", "Small").await;
    for _ in 0..10 {
        small.send(history(1)).await;
        let (answer, _) = small
            .recv_until(|m| matches!(m, ServerMsg::History { .. } | ServerMsg::Error { .. }))
            .await;
        assert!(matches!(answer, ServerMsg::History { .. }), "{answer:?}");
    }

    let mut scraper = guest(&server, "127.0.0.10", "Scraper").await;
    scraper.send(history(100)).await;
    scraper.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    scraper.send(ClientMsg::Ping { token: 1 }).await;
    let got = drain(&mut scraper).await;
    assert_eq!(count(&got, is_flood), 1, "a 45 KB page is a whole burst's work: {got:?}");

    // Refused requests: each costs a unit; past the refusals' allowance, the end.
    let mut pest = guest(&server, "127.0.0.11", "Pest").await;
    let mut lines = Vec::new();
    for _ in 0..200 {
        lines.extend_from_slice(b"{\"type\":\"leave\",\"room\":\"nowhere\"}\n");
    }
    pest.send_raw(&lines).await;
    let got = pest.recv_until_closed().await;
    let not_in_room =
        count(&got, |m| matches!(m, ServerMsg::Error { code: ErrorCode::NotInRoom, .. }));
    assert_eq!(not_in_room, 6, "each refusal costs its request and its answer: {got:?}");
    assert!(
        matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::Flooding, .. })),
        "{:?}",
        got.last()
    );
    server.shutdown().await;
}

/// A member that keeps coming and going is announced only while its presence budget lasts;
/// then it joins quietly (IRC's delayed join): nobody is told of the join or the leave, and
/// it is not in the member list, until it speaks — then its join is told just before what it
/// says. Its own client sees its join and itself in the list throughout.
#[tokio::test]
async fn coming_and_going_in_a_loop_is_announced_at_a_bounded_rate() {
    let server = start_server_with(info()).await;
    let churn = RoomName::parse("churn").unwrap();
    let mut tracy = guest(&server, "127.0.0.20", "Tracy").await;
    tracy.send(ClientMsg::Join { room: churn.clone(), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    // Hello's join of lobby takes the first of three announcements.
    let mut mallory = guest(&server, "127.0.0.21", "Mallory").await;
    for _ in 0..5 {
        mallory.send(ClientMsg::Join { room: churn.clone(), key: None }).await;
        let (own, _) = mallory
            .recv_until(|m| matches!(m, ServerMsg::Presence { room, .. } if *room == churn))
            .await;
        assert!(matches!(own, ServerMsg::Presence { event: PresenceEvent::Joined, .. }));
        let (members, _) = mallory.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        let ServerMsg::Members { nicks, .. } = members else { unreachable!() };
        assert!(nicks.contains(&common::nick("Mallory")), "its own list has it: {nicks:?}");
        mallory.send(ClientMsg::Leave { room: churn.clone() }).await;
        mallory
            .recv_until(|m| {
                matches!(m, ServerMsg::Presence { event: PresenceEvent::Left { .. }, .. })
            })
            .await;
    }
    let got = drain(&mut tracy).await;
    let told = |event: fn(&PresenceEvent) -> bool| {
        count(
            &got,
            |m| matches!(m, ServerMsg::Presence { event: e, room, .. } if *room == churn && event(e)),
        )
    };
    assert_eq!(told(|e| matches!(e, PresenceEvent::Joined)), 2, "{got:?}");
    assert_eq!(told(|e| matches!(e, PresenceEvent::Left { .. })), 2, "{got:?}");

    mallory.send(ClientMsg::Join { room: churn.clone(), key: None }).await;
    mallory.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    tracy.send(ClientMsg::Who { room: churn.clone(), after: None }).await;
    let (list, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks, .. } = list else { unreachable!() };
    assert!(!nicks.contains(&common::nick("Mallory")), "quiet: not listed: {nicks:?}");
    mallory.send(ClientMsg::Say { room: churn.clone(), text: Text::parse("hi").unwrap() }).await;
    let (_, own) = mallory.recv_until(is_message).await;
    assert!(
        !own.iter().any(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Joined, room, .. } if *room == churn)),
        "its own client is not told of its join a second time: {own:?}"
    );
    let (_, before) = tracy.recv_until(is_message).await;
    assert!(
        before.iter().any(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Joined, room, .. } if *room == churn)),
        "the join is told before the first words: {before:?}"
    );
    mallory.send(ClientMsg::Leave { room: churn.clone() }).await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Left { .. }, room, .. } if *room == churn))
        .await;
    server.shutdown().await;
}

/// A join that is refused announces nothing, so it spends no announcement: a member whose
/// joins keep failing is still announced when one succeeds.
#[tokio::test]
async fn refused_joins_spend_no_announcement() {
    // Lobby and one room: every join of a new room is refused.
    let server = start_server_with(ServerInfo { max_rooms: 2, ..info() }).await;
    let churn = RoomName::parse("churn").unwrap();
    let mut tracy = guest(&server, "127.0.0.20", "Tracy").await;
    tracy.send(ClientMsg::Join { room: churn.clone(), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let mut mallory = guest(&server, "127.0.0.21", "Mallory").await;
    for i in 0..5 {
        let room = RoomName::parse(&format!("new{i}")).unwrap();
        mallory.send(ClientMsg::Join { room, key: None }).await;
        assert_eq!(mallory.refusal_of("join").await, ErrorCode::TooManyRooms);
    }
    mallory.send(ClientMsg::Join { room: churn.clone(), key: None }).await;
    mallory.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    tracy
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { event: PresenceEvent::Joined, room, nick, .. }
                if *room == churn && *nick == common::nick("Mallory"))
        })
        .await;
    server.shutdown().await;
}
