//! Rooms that were made once and never used again leave memory: the history writer keeps
//! the numbers of at most `ROOMS_REMEMBERED` rooms (beyond one batch's), and a forgotten
//! room with history comes back, numbering on, when it is used again. What is kept forever,
//! the authority of owned rooms, is bounded per account: `MAX_ROOMS_OWNED`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_server::limits::{MAX_ROOMS_OWNED, ROOMS_REMEMBERED};
use chat_server::{Broker, HistoryConfig, Listeners};
use common::scrape::{free_port, samples, scrape};
use common::{JsonClient, ServerProcess, nick};
use protocol::{ClientMsg, ErrorCode, Moderation, Password, RoomName, ServerMsg, Text};

/// Joins `room` and reads up to its member list (after the backlog).
async fn join(c: &mut JsonClient, room: &RoomName) {
    c.send(ClientMsg::Join { room: room.clone(), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room: r, .. } if r == room)).await;
}

#[tokio::test]
async fn rooms_used_once_leave_the_writers_memory_and_come_back() {
    let broker = Broker::local(HistoryConfig::default()).unwrap();
    let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let addr = listeners.json_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chat_server::run(listeners, common::info(), broker.clone(), async {
        let _ = stopped.await;
    }));

    let mut c = JsonClient::connect(addr).await;
    c.hello("Michael").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let rooms = ROOMS_REMEMBERED + 100;
    for i in 0..rooms {
        let room = RoomName::parse(&format!("r{i:05}")).unwrap();
        join(&mut c, &room).await;
        let text = Text::parse("once").unwrap();
        c.send(ClientMsg::Say { room: room.clone(), text }).await;
        c.recv_until(|m| matches!(m, ServerMsg::Message { room: r, .. } if *r == room)).await;
        c.send(ClientMsg::Leave { room: room.clone() }).await;
    }
    let remembered = broker.remembered_rooms().unwrap();
    assert!(remembered <= ROOMS_REMEMBERED, "{remembered} rooms remembered of {rooms}");

    // The first room was forgotten long ago; its numbers come back from the database.
    let first = RoomName::parse("r00000").unwrap();
    join(&mut c, &first).await;
    c.send(ClientMsg::Say { room: first.clone(), text: Text::parse("again").unwrap() }).await;
    let (again, _) = c
        .recv_until(|m| {
            matches!(m, ServerMsg::Message { from, room, text, .. }
                if *room == first && *from == nick("Michael") && text.as_str() == "again")
        })
        .await;
    let ServerMsg::Message { seq, .. } = again else { unreachable!() };
    assert_eq!(seq, 2, "numbering goes on after being forgotten");
    let page = common::page_all(&mut c, "r00000").await;
    assert_eq!(page.len(), 2);
    let _ = stop.send(());
    server.await.unwrap();
}

/// The owner `modes` names for `room`.
async fn owner_of(c: &mut JsonClient, room: &RoomName) -> Option<protocol::Nick> {
    c.send(ClientMsg::Mode { room: room.clone(), changes: vec![] }).await;
    let (modes, _) = c.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
    let ServerMsg::Modes { owner, .. } = modes else { unreachable!() };
    owner
}

#[tokio::test]
async fn an_account_owns_at_most_max_rooms_owned_and_disowning_frees_one() {
    let server = common::start_server().await;
    let mut c = server.join("Michael").await;
    c.send(ClientMsg::Register { password: Password::parse("correct horse battery").unwrap() })
        .await;
    c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    let rooms: Vec<RoomName> =
        (0..=MAX_ROOMS_OWNED).map(|i| RoomName::parse(&format!("own{i}")).unwrap()).collect();
    // The claim is stored while the join goes on: it may come before the member list.
    for room in &rooms[..MAX_ROOMS_OWNED] {
        c.send(ClientMsg::Join { room: room.clone(), key: None }).await;
        c.recv_until(|m| {
            matches!(m, ServerMsg::Moderation { room: r, action: Moderation::Claimed, .. }
                if r == room)
        })
        .await;
    }
    // One room more: made, but not owned (the refusal comes as a notice), not claimable.
    let last = &rooms[MAX_ROOMS_OWNED];
    c.send(ClientMsg::Join { room: last.clone(), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Notice { text, .. } if text.contains("/disown"))).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room == last)).await;
    assert_eq!(owner_of(&mut c, last).await, None);
    c.send(ClientMsg::Claim { room: last.clone() }).await;
    assert_eq!(c.refusal_of("claim").await, ErrorCode::TooManyOwned);

    // Giving one up tells its members and lets the account claim another.
    c.send(ClientMsg::Disown { room: rooms[0].clone() }).await;
    c.recv_until(|m| {
        matches!(m, ServerMsg::Moderation { room, action: Moderation::Disowned, .. }
            if *room == rooms[0])
    })
    .await;
    assert_eq!(owner_of(&mut c, &rooms[0]).await, None);
    c.send(ClientMsg::Claim { room: last.clone() }).await;
    c.recv_until(|m| {
        matches!(m, ServerMsg::Moderation { room, action: Moderation::Claimed, .. } if room == last)
    })
    .await;
    // A guest owns nothing, so has nothing to give up.
    let mut guest = server.join("Tracy").await;
    join(&mut guest, last).await;
    guest.send(ClientMsg::Disown { room: last.clone() }).await;
    assert_eq!(guest.refusal_of("disown").await, ErrorCode::NotOwner);
    assert_eq!(owner_of(&mut c, last).await, Some(nick("Michael")));
}

/// Rooms whose members all left leave the hub: the real binary's `chat_rooms` gauge, counted
/// from the hub's map of rooms, is back to lobby alone after 200 rooms were made and left.
#[tokio::test]
async fn rooms_left_by_everyone_leave_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let metrics = free_port();
    let listen = metrics.to_string();
    let server = ServerProcess::start(
        &["--db", db.to_str().unwrap(), "--no-plain", "--no-flood-control"]
            .into_iter()
            .chain(["--metrics-listen", &listen])
            .collect::<Vec<_>>(),
        std::process::Stdio::null(),
    );
    server.stdout_line();
    let mut c = JsonClient::connect(server.json).await;
    c.hello("Michael").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let rooms = || async move { samples(&scrape(metrics).await).get("chat_rooms").copied() };
    let made: Vec<RoomName> =
        (0..200).map(|i| RoomName::parse(&format!("gone{i}")).unwrap()).collect();
    // A session is in at most 32 rooms at once: 30 at a time.
    for batch in made.chunks(30) {
        for room in batch {
            join(&mut c, room).await;
            c.send(ClientMsg::Say { room: room.clone(), text: Text::parse("once").unwrap() }).await;
            c.recv_until(|m| matches!(m, ServerMsg::Message { room: r, .. } if r == room)).await;
        }
        assert_eq!(rooms().await, Some(1.0 + batch.len() as f64), "lobby and the batch");
        for room in batch {
            c.send(ClientMsg::Leave { room: room.clone() }).await;
        }
    }
    c.send(ClientMsg::Ping { token: 1 }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Pong { .. })).await;
    assert_eq!(rooms().await, Some(1.0), "only lobby has members");
}
