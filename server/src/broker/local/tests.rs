//! The single-node broker's writer and readers together.

use std::time::Duration;

use protocol::{MessageKind, Nick, Text};

use super::*;
use crate::broker::InFlight;
use crate::hub::{RoomChannel, Share};
use crate::limits::{ROOM_BACKLOG_HIGH, ROOM_BACKLOG_LOW, SETTLE_AFTER};

/// Tracy's message `text` in lobby, whose channel is `room`; nobody hears the writer's answer.
pub(super) fn say(room: &RoomChannel, text: &str) -> Say {
    let (sender, _) = mpsc::channel(1);
    Say {
        room: RoomName::lobby(),
        from: Nick::parse("Tracy").unwrap(),
        account: false,
        kind: MessageKind::Say,
        text: Text::parse(text).unwrap(),
        room_tx: room.clone(),
        sender,
        in_flight: Arc::new(InFlight::default()),
    }
}

/// A search waits until the messages broadcast before it was asked are in the index (the
/// writer indexes them when it settles, and the asker has seen them), for at most
/// `SEARCH_INDEX_WAIT`.
#[tokio::test]
async fn a_search_waits_for_the_index_to_take_what_was_broadcast() {
    let dir = tempfile::tempdir().unwrap();
    let history = Local::open(HistoryConfig {
        location: Some(Location::File(dir.path().join("history.db"))),
        ..HistoryConfig::default()
    })
    .unwrap();
    // As the writer leaves it between broadcasting a batch and indexing it.
    history.inner.broadcast.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let text = protocol::Label::parse("hi").unwrap();
    let asking = history.clone();
    let mut search =
        tokio::spawn(async move { asking.search(RoomName::lobby(), text, None, 10).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut search).await.is_err(),
        "the search did not wait for the index"
    );
    history.inner.indexed.send_replace(1);
    let found = tokio::time::timeout(Duration::from_secs(5), search).await.unwrap().unwrap();
    assert!(found.unwrap().messages.is_empty());
    // An index that never catches up (a writer that stopped) delays a search, no more.
    history.inner.broadcast.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let asked = tokio::time::Instant::now();
    let text = protocol::Label::parse("hi").unwrap();
    let search = history.search(RoomName::lobby(), text, None, 10);
    let found = tokio::time::timeout(SEARCH_INDEX_WAIT * 3, search)
        .await
        .expect("a search waited on for an index that never catches up");
    assert!(found.unwrap().messages.is_empty());
    assert!(asked.elapsed() >= SEARCH_INDEX_WAIT);
    history.close().await;
}

/// The writer wakes a room's waiting senders once it has dealt with a batch: messages it
/// refused (a failed commit) lower the backlog with no member reading to say so.
#[tokio::test]
async fn the_writer_wakes_waiting_senders_after_a_batch() {
    let history =
        Local::open(HistoryConfig { location: None, ..HistoryConfig::default() }).unwrap();
    let room = RoomChannel::new();
    // Messages on their way, as if other senders' were at the writer.
    for _ in 0..ROOM_BACKLOG_HIGH {
        room.queue();
    }
    let held = room.hold_back(&mut Share::default()).expect("held back at the high mark");
    let mut sender = tokio::spawn(async move { held.caught_up().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!sender.is_finished());
    // They leave without anyone reading: nobody is woken yet...
    for _ in 0..=ROOM_BACKLOG_HIGH - ROOM_BACKLOG_LOW {
        room.dequeue();
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut sender).await.is_err(),
        "woken by a lone dequeue"
    );
    // ...until the writer finishes a batch for the room.
    let (direct, _direct_rx) = mpsc::channel(1);
    history
        .say(Say {
            room: RoomName::lobby(),
            from: Nick::parse("Tracy").unwrap(),
            account: false,
            kind: MessageKind::Say,
            text: Text::parse("hi").unwrap(),
            room_tx: room.clone(),
            sender: direct,
            in_flight: Arc::new(InFlight::default()),
        })
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
    history.close().await;
}

/// What the writer stores is indexed for search [`SETTLE_AFTER`] messages at a time, in one
/// transaction, rather than one transaction per message; a search has what waits indexed
/// first, so it finds the newest message all the same.
#[tokio::test]
async fn stored_messages_are_indexed_many_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let history = Local::open(HistoryConfig {
        location: Some(Location::File(db.clone())),
        ..HistoryConfig::default()
    })
    .unwrap();
    let room = RoomChannel::new();
    let mut members = room.subscribe();
    let indexed_through = || -> i64 {
        // Whatever the writer does after a batch is done once it lets go of its state.
        drop(crate::sync::lock(&history.inner.state));
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("SELECT indexed_through FROM rooms WHERE name = 'lobby'", [], |r| r.get(0))
            .unwrap()
    };
    let say = |n: usize| say(&room, &format!("message number{n}"));
    for n in 1..SETTLE_AFTER {
        history.say(say(n)).unwrap();
        tokio::time::timeout(Duration::from_secs(5), members.recv()).await.unwrap().unwrap();
    }
    assert_eq!(indexed_through(), 0, "indexed before {SETTLE_AFTER} messages waited");
    history.say(say(SETTLE_AFTER)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), members.recv()).await.unwrap().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while indexed_through() < SETTLE_AFTER as i64 {
        assert!(tokio::time::Instant::now() < deadline, "never indexed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    history.say(say(SETTLE_AFTER + 1)).unwrap();
    tokio::time::timeout(Duration::from_secs(5), members.recv()).await.unwrap().unwrap();
    let newest = protocol::Label::parse(&format!("number{}", SETTLE_AFTER + 1)).unwrap();
    let asked = tokio::time::Instant::now();
    let found = history.search(RoomName::lobby(), newest, None, 10).await.unwrap();
    assert_eq!(found.messages.len(), 1);
    assert!(asked.elapsed() < SEARCH_INDEX_WAIT, "the search waited for a settling due later");
    history.close().await;
}
