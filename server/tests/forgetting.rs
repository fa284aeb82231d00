//! Rooms that were made once and never used again leave memory: the history writer keeps
//! the numbers of at most `ROOMS_REMEMBERED` rooms (beyond one batch's), and a forgotten
//! room with history comes back, numbering on, when it is used again.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_server::limits::ROOMS_REMEMBERED;
use chat_server::{Broker, HistoryConfig, Listeners};
use common::{JsonClient, nick};
use protocol::{ClientMsg, RoomName, ServerMsg, Text};

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
