//! README's "Limits" table, row by row where no other file holds it: each limit answered as
//! documented, against a real server, and the session (or the server) going on after it.
//!
//! Rows held elsewhere: lines, text, nicks, flood, connections per address, room members,
//! lines before hello, unreadable lines (`hostile.rs`, `bad_input.rs`); hello and silence
//! (`deadlines.rs`); private-message queues (`chat.rs`); nick reservations (`resume.rs`).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use chat_server::limits::{MAX_QUERIES_PER_SESSION, MAX_ROOMS_PER_SESSION, WRITE_TIMEOUT};
use chat_server::{FloodLimits, ServerInfo};
use common::{JsonClient, PlainClient, ServerProcess, start_server_with};
use protocol::{ByeCode, ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg, Text};
use tokio::io::AsyncReadExt;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn join_line(name: &str) -> String {
    format!("{{\"type\":\"join\",\"room\":\"{name}\"}}\n")
}

fn leave_line(name: &str) -> String {
    format!("{{\"type\":\"leave\",\"room\":\"{name}\"}}\n")
}

/// Joins `name` and waits for its member list.
async fn join(c: &mut JsonClient, name: &str) {
    c.send(ClientMsg::Join { room: room(name), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == name)).await;
}

/// The next error, skipping other messages (presence, member lists).
async fn next_error(c: &mut JsonClient) -> protocol::RequestError {
    let (error, _) = c.recv_until(|m| matches!(m, ServerMsg::Error { .. })).await;
    let ServerMsg::Error { code, message, request, retry_after_ms } = error else { unreachable!() };
    protocol::RequestError { code, message, request, retry_after_ms }
}

/// A session is in at most 32 rooms (lobby counts): the next join is `too_many_rooms`, and
/// leaving one makes room again.
#[tokio::test]
async fn a_session_is_in_at_most_32_rooms() {
    let server = common::start_server().await;
    let mut c = server.join("Hopper").await;
    for i in 1..MAX_ROOMS_PER_SESSION {
        join(&mut c, &format!("r{i}")).await;
    }
    c.send(ClientMsg::Join { room: room("one-more"), key: None }).await;
    let e = next_error(&mut c).await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::TooManyRooms, Some("join")));
    assert!(e.message.contains("32 rooms"), "{}", e.message);
    c.send(ClientMsg::Leave { room: room("r1") }).await;
    join(&mut c, "one-more").await;
    server.shutdown().await;
}

/// `--max-rooms`: creating a room past it is `too_many_rooms`; rooms that exist stay open to
/// newcomers.
#[tokio::test]
async fn the_server_holds_at_most_max_rooms() {
    let server = start_server_with(ServerInfo { max_rooms: 3, ..common::info() }).await;
    let mut a = server.join("Anna").await;
    join(&mut a, "one").await;
    join(&mut a, "two").await;
    a.send(ClientMsg::Join { room: room("three"), key: None }).await;
    let e = next_error(&mut a).await;
    assert_eq!(e.code, ErrorCode::TooManyRooms);
    assert!(e.message.contains("3 rooms"), "{}", e.message);
    let mut b = server.join("Bob").await;
    join(&mut b, "two").await;
    server.shutdown().await;
}

/// `--max-connections` (the real flag of the real binary): one more connection than it
/// allows gets `bye` `server_full` on the JSON port and a readable sentence on the plain
/// port; the sessions it has go on, and a place that frees up can be taken again.
#[tokio::test]
async fn connections_past_max_connections_are_told_the_server_is_full() {
    let server =
        ServerProcess::start(&["--db", ":memory:", "--max-connections", "2"], Stdio::null());
    let mut anna = JsonClient::connect(server.json).await;
    assert!(matches!(anna.hello("Anna").await, ServerMsg::Welcome { .. }));
    let guest = PlainClient::login(server.plain.unwrap(), "Guest").await;

    let mut refused = JsonClient::connect(server.json).await;
    let got = refused.recv_until_closed().await;
    assert!(
        matches!(got.as_slice(), [ServerMsg::Bye { code: ByeCode::ServerFull, .. }]),
        "{got:?}"
    );
    let mut refused = PlainClient::connect(server.plain.unwrap()).await;
    let said = refused.rest().await;
    assert!(said.contains("the server is full"), "{said:?}");

    anna.send(ClientMsg::Ping { token: 1 }).await;
    anna.recv_until(|m| *m == ServerMsg::Pong { token: 1 }).await;
    guest.reset();
    let deadline = Instant::now() + common::WAIT;
    loop {
        let mut c = JsonClient::connect(server.json).await;
        c.send(ClientMsg::Ping { token: 2 }).await;
        if let ServerMsg::Pong { .. } = c.recv().await {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place was never given again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A member that stops reading while its room talks on is cut off once a write has waited
/// [`WRITE_TIMEOUT`] (10 s): `bye` `too_slow`, and the room hears it was dropped ("not
/// reading"). Not earlier, and meanwhile the room goes on at full speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_reading_is_cut_off_after_the_write_timeout() {
    let server = common::start_server().await;
    let mut observer = server.join("Observer").await;
    let mut talker = server.join("Talker").await;
    // Reads nothing after its hello; a small receive buffer fills sooner.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sleeper = JsonClient::on(socket.connect(server.json).await.unwrap());
    sleeper.hello("Sleeper").await;
    let stopped_reading = Instant::now();
    observer
        .recv_until(|m| matches!(m, ServerMsg::Presence { nick, .. } if nick.as_str() == "Sleeper"))
        .await;
    // The observer keeps reading throughout, until the sleeper is dropped.
    let watching = tokio::spawn(async move {
        let mut before = Vec::new();
        loop {
            match observer.recv_within(WRITE_TIMEOUT * 2).await {
                dropped @ ServerMsg::Presence { event: PresenceEvent::Dropped { .. }, .. } => {
                    return (dropped, before, stopped_reading.elapsed());
                }
                other => before.push(other),
            }
        }
    });

    // Far more than the kernel's buffers and the session's own hold.
    let text = "z".repeat(4000);
    let total = 3000;
    for i in 0..total {
        let text = Text::parse(&format!("{i}{text}")).unwrap();
        talker.send(ClientMsg::Say { room: RoomName::lobby(), text }).await;
        talker.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    }
    let talked = stopped_reading.elapsed();
    let (dropped, before, dropped_after) = watching.await.unwrap();
    let said = before.iter().filter(|m| matches!(m, ServerMsg::Message { .. })).count();
    assert_eq!(said, total, "the observer heard every message before the sleeper went");
    assert!(talked < WRITE_TIMEOUT, "the sleeper held the room back: {talked:?} to say it all");
    let ServerMsg::Presence { nick, event: PresenceEvent::Dropped { reason }, .. } = dropped else {
        unreachable!()
    };
    assert_eq!((nick.as_str(), reason.as_str()), ("Sleeper", "not reading"));
    assert!(dropped_after >= WRITE_TIMEOUT, "cut off after {dropped_after:?}");
    assert!(
        dropped_after <= talked + WRITE_TIMEOUT + Duration::from_secs(3),
        "cut off {dropped_after:?} after it stopped reading; the room stopped talking after {talked:?}"
    );

    // Reading at last: what was pending, then the goodbye, then the end.
    let mut rest = Vec::new();
    tokio::time::timeout(common::WAIT, sleeper.frames.get_mut().read_to_end(&mut rest))
        .await
        .expect("the connection is closed")
        .ok();
    let last = String::from_utf8_lossy(&rest).lines().last().unwrap_or_default().to_owned();
    let bye: ServerMsg = serde_json::from_str(&last).unwrap();
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::TooSlow, .. }), "{bye:?}");
    server.shutdown().await;
}

/// At most four history reads per session at once: the fifth and later, sent together, are
/// `server_busy`; the four are answered, and then the session may ask again.
#[tokio::test]
async fn history_requests_past_four_at_once_are_server_busy() {
    let server = common::start_server().await;
    let mut c = server.join("Reader").await;
    let asked = 8;
    let line = "{\"type\":\"history\",\"room\":\"lobby\",\"limit\":10}\n";
    c.send_raw(line.repeat(asked).as_bytes()).await;
    let (mut pages, mut busy) = (0, 0);
    while pages + busy < asked {
        match c.recv().await {
            ServerMsg::History { .. } => pages += 1,
            ServerMsg::Error { code: ErrorCode::ServerBusy, request, message, .. } => {
                assert_eq!(request.as_deref(), Some("history"));
                assert!(message.contains("4 history requests"), "{message}");
                busy += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((pages, busy), (MAX_QUERIES_PER_SESSION, asked - MAX_QUERIES_PER_SESSION));
    c.send_raw(line.as_bytes()).await;
    c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    server.shutdown().await;
}

/// Joins: 32 at once (a reconnecting client rejoins all its rooms), then one a second; the
/// 33rd is refused with `flood` and the time to wait, and after that wait one more is let in.
#[tokio::test]
async fn joins_are_32_at_once_then_one_a_second() {
    let server =
        start_server_with(ServerInfo { flood: Some(FloodLimits::default()), ..common::info() })
            .await;
    let mut c = server.join("Hopper").await;
    // One write, so that no time passes for the bucket to refill: 31 joins fill the session's
    // rooms, they are left again, and two more joins follow.
    let rooms: Vec<String> = (1..MAX_ROOMS_PER_SESSION).map(|i| format!("r{i}")).collect();
    let mut burst: String = rooms.iter().map(|r| join_line(r)).collect();
    burst.extend(rooms.iter().map(|r| leave_line(r)));
    burst.push_str(&join_line("thirty-second"));
    burst.push_str(&join_line("thirty-third"));
    c.send_raw(burst.as_bytes()).await;
    let e = next_error(&mut c).await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::Flood, Some("join")));
    let wait = e.retry_after_ms.unwrap();
    assert!(wait > 0 && wait <= 1001, "one join a second: wait {wait} ms");
    // Every join of the burst but the last was let in.
    c.send(ClientMsg::Who { room: room("thirty-second"), after: None }).await;
    let (members, _) = c
        .recv_until(
            |m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == "thirty-second"),
        )
        .await;
    assert!(matches!(members, ServerMsg::Members { nicks, .. } if nicks.len() == 1));

    tokio::time::sleep(Duration::from_millis(wait)).await;
    join(&mut c, "thirty-third").await;
    c.send(ClientMsg::Join { room: room("too-soon"), key: None }).await;
    let e = next_error(&mut c).await;
    assert_eq!(e.code, ErrorCode::Flood, "the burst is spent: one a second");
    server.shutdown().await;
}

/// A big room's member list comes a page at a time: the first page (of
/// `MAX_MEMBERS_PAGE`) says more follow, `who` with `after` gives the next, and together
/// they are every member once; the plain-text port says how to see the rest.
#[tokio::test]
async fn a_big_rooms_members_come_in_pages() {
    use protocol::limits::MAX_MEMBERS_PAGE;
    let info = ServerInfo { max_connections_per_ip: 2 * MAX_MEMBERS_PAGE, ..common::info() };
    let server = start_server_with(info).await;
    let total = MAX_MEMBERS_PAGE + 20;
    let mut members = Vec::new();
    for i in 0..total - 1 {
        let mut c = JsonClient::connect(server.json).await;
        c.hello(&format!("m{i:04}")).await;
        members.push(c);
    }
    let mut tracy = server.join("Tracy").await;
    let who = |after| ClientMsg::Who { room: RoomName::lobby(), after };
    tracy.send(who(None)).await;
    let (first, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks: page1, more: true, after: None, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(page1.len(), MAX_MEMBERS_PAGE);
    tracy.send(who(page1.last().cloned())).await;
    let (second, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks: page2, more: false, after: Some(_), .. } = second else {
        panic!("{second:?}")
    };
    let mut all: Vec<String> = page1.iter().chain(&page2).map(|n| n.to_string()).collect();
    assert_eq!(all.len(), total);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "every member once");

    let mut nc = PlainClient::connect(server.plain).await;
    assert_eq!(nc.line().await, "Welcome! What's your name?");
    nc.send("Guest\n").await;
    let hint = nc.line_until(|l| l.starts_with("[lobby] ... and more: /who lobby ")).await;
    let last = hint.rsplit(' ').next().unwrap().to_owned();
    nc.send(&format!("/who lobby {last}\n")).await;
    let rest = nc.line_until(|l| l.starts_with("[lobby] More members: ")).await;
    assert!(rest.contains("Tracy") || page1.iter().any(|n| n.as_str() == "Tracy"), "{rest}");
    drop(members);
    server.shutdown().await;
}
