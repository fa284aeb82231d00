//! Room history: shown on join without gaps or copies, paged back, kept across restarts, one
//! order for everyone, pruned, and refused clearly when the storage fills up. (Stored before
//! it is sent: `acknowledged.rs`; unusable storage at start-up: `startup.rs`.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::Duration;

use chat_server::HistoryConfig;
use chat_server::broker::Location;
use common::{JsonClient, TestServer, nick, start_server_with_history};
use protocol::{ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg, Stored, Text};

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn say(r: &str, t: &str) -> ClientMsg {
    ClientMsg::Say { room: room(r), text: Text::parse(t).unwrap() }
}

fn file_config(path: &Path) -> HistoryConfig {
    HistoryConfig { location: Some(Location::File(path.to_owned())), ..HistoryConfig::default() }
}

async fn server_on(path: &Path) -> TestServer {
    start_server_with_history(common::info(), file_config(path)).await
}

/// Says `texts` in lobby and waits for each echo; returns the echoes' sequence numbers.
async fn say_all(c: &mut JsonClient, texts: impl IntoIterator<Item = String>) -> Vec<u64> {
    let mut seqs = Vec::new();
    for text in texts {
        c.send(say("lobby", &text)).await;
        let (echo, _) = c.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        let ServerMsg::Message { seq, text: got, .. } = echo else { unreachable!() };
        assert_eq!(got.as_str(), text);
        seqs.push(seq);
    }
    seqs
}

/// Joins lobby as `name`; returns the backlog it was shown and the client.
async fn join_with_backlog(server: &TestServer, name: &str) -> (Vec<Stored>, bool, JsonClient) {
    let mut c = JsonClient::connect(server.json).await;
    c.hello(name).await;
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, beginning, .. } = history else { unreachable!() };
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    (messages, beginning, c)
}

/// Joining shows the last 50 messages, oldest first, then the join, then live messages: no
/// duplicate, no gap, in order.
#[tokio::test]
async fn the_backlog_comes_first_in_order_then_live_messages() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("h.db")).await;
    let mut tracy = server.join("Tracy").await;
    let seqs = say_all(&mut tracy, (1..=60).map(|i| format!("m{i}"))).await;
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>(), "a room's messages are numbered 1, 2, 3...");

    let (backlog, beginning, mut michael) = join_with_backlog(&server, "Michael").await;
    assert_eq!(backlog.len(), 50);
    assert!(!beginning, "ten older messages exist");
    common::assert_contiguous(&backlog, 11);
    assert_eq!(backlog[0].text(), "m11");
    assert_eq!(backlog[49].text(), "m60");
    assert_eq!(backlog[0].from, nick("Tracy"));

    tracy.send(say("lobby", "live")).await;
    let (live, _) = michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(live, ServerMsg::Message { seq: 61, .. }), "{live:?}");
    server.shutdown().await;
}

/// Joins allowed before the race test gives up on ever seeing one race the talker. On a busy
/// machine the writer commits in bigger, rarer batches and only a few joins in a hundred race;
/// one is enough to show a copy, and the test stops at the first.
const RACING_JOINS: usize = 300;

/// Joins that must race before the race test is satisfied.
const RACES_WANTED: usize = 1;

/// A join that races a talker: messages stored while the backlog is being read arrive on
/// the joiner's channel too, and each reaches the joiner once, in order, with no gap — in the
/// backlog or live, never both.
///
/// That the join really raced is checked, not hoped for: an observer in the room sees the
/// joiner's `joined` announcement (sent after the joiner subscribed) and the messages after
/// it; any of them that is also in the joiner's backlog was delivered both ways, and only the
/// duplicate filter keeps it from showing twice. Joins repeat until [`RACES_WANTED`] of them
/// raced like that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_racing_a_talker_gets_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("h.db")).await;
    let mut observer = server.join("Observer").await;
    let talker = server.join("Talker").await;
    observer.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    // The observer hands on everything it sees, in the room's order.
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn(async move {
        loop {
            let msg = observer.recv().await;
            if seen_tx.send(msg).is_err() {
                return;
            }
        }
    });
    let talking = tokio::spawn(talk_steadily(talker, Duration::from_millis(1)));
    // Some history first, so every join has a backlog.
    loop {
        let msg = tokio::time::timeout(common::WAIT, seen.recv()).await.unwrap().unwrap();
        if matches!(msg, ServerMsg::Message { seq: 50.., .. }) {
            break;
        }
    }

    let mut races = 0;
    let mut joins = 0;
    while races < RACES_WANTED {
        assert!(joins < RACING_JOINS, "{joins} joins and only {races} raced the talker");
        let name = format!("Joiner{joins}");
        joins += 1;
        let (backlog, live) = join_and_read_live(&server, &name, 20).await;
        assert!(!backlog.is_empty(), "{name}: the talker had said things before the join");
        let seqs: Vec<u64> = backlog.iter().copied().chain(live).collect();
        let first = seqs[0];
        let expected: Vec<u64> = (first..first + seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "{name}: each message once, in order, no gap");

        // What the observer saw after the joiner's announcement that is in the backlog too.
        let last_in_backlog = *backlog.last().unwrap();
        let mut announced = false;
        let mut both_ways = 0;
        loop {
            let msg = tokio::time::timeout(common::WAIT, seen.recv())
                .await
                .expect("the observer keeps seeing the talker")
                .unwrap();
            match msg {
                ServerMsg::Presence { nick, event: PresenceEvent::Joined, .. }
                    if nick.as_str() == name =>
                {
                    announced = true;
                }
                ServerMsg::Message { seq, .. } if announced => {
                    if seq <= last_in_backlog {
                        both_ways += 1;
                    } else {
                        break;
                    }
                }
                _ => {}
            }
        }
        if both_ways > 0 {
            races += 1;
        }
    }
    eprintln!("{races} of {joins} joins raced the talker");
    talking.abort();
    watching.abort();
    server.shutdown().await;
}

/// Says a numbered message in lobby every `every`, without waiting for echoes (which another
/// task reads and drops), until aborted.
async fn talk_steadily(client: JsonClient, every: Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut reader, mut writer) = client.frames.into_inner().into_split();
    tokio::spawn(async move {
        let mut sink = vec![0u8; 65536];
        while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    let mut tick = tokio::time::interval(every);
    for i in 0.. {
        tick.tick().await;
        let line = format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"m{i}\"}}\n");
        if writer.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Says hello as `name`; returns the sequence numbers of the lobby backlog, and of the live
/// messages after it (everything up to `live` more messages past the backlog's last).
async fn join_and_read_live(server: &TestServer, name: &str, live: u64) -> (Vec<u64>, Vec<u64>) {
    let mut c = JsonClient::connect(server.json).await;
    assert!(matches!(c.hello(name).await, ServerMsg::Welcome { .. }));
    let (page, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, .. } = page else { unreachable!() };
    let backlog: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    let until = backlog.last().copied().unwrap_or(0) + live;
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|seq| *seq < until) {
        if let ServerMsg::Message { seq, .. } = c.recv().await {
            seqs.push(seq);
        }
    }
    (backlog, seqs)
}

/// Paging back with `history` reaches the room's first message, 100 at a time, in order.
#[tokio::test]
async fn paging_back_to_the_first_message() {
    let server = common::start_server().await;
    let mut tracy = server.join("Tracy").await;
    say_all(&mut tracy, (1..=250).map(|i| format!("m{i}"))).await;
    let all = common::page_all(&mut tracy, "lobby").await;
    assert_eq!(all.len(), 250);
    common::assert_contiguous(&all, 1);
    assert_eq!(all[0].text(), "m1");
    // A limit past 100 is cut to 100.
    tracy.send(ClientMsg::History { room: room("lobby"), before: None, limit: 5000 }).await;
    let (page, _) = tracy.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    assert!(matches!(page, ServerMsg::History { ref messages, .. } if messages.len() == 100));
    server.shutdown().await;
}

/// After a restart, the rooms and their history are there again.
#[tokio::test]
async fn a_restart_keeps_rooms_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let server = server_on(&db).await;
    let mut tracy = server.join("Tracy").await;
    tracy.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    say_all(&mut tracy, ["before the restart".to_owned()]).await;
    tracy.send(say("rust", "ownership")).await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Message { room, .. } if room.as_str() == "rust"))
        .await;
    server.shutdown().await;
    assert!(
        !dir.path().join("h.db-wal").exists(),
        "a clean shutdown folds the WAL into the database file"
    );

    let server = server_on(&db).await;
    let mut c = JsonClient::connect(server.json).await;
    let ServerMsg::Welcome { rooms, .. } = c.hello("Michael").await else { panic!() };
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lobby", "rust"], "rooms with history are listed after a restart");
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, beginning, .. } = history else { unreachable!() };
    assert!(beginning);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text(), "before the restart");
    c.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    assert!(
        matches!(history, ServerMsg::History { ref messages, .. } if messages[0].text() == "ownership")
    );
    // Numbering goes on where it stopped.
    let seqs = say_all(&mut c, ["after".to_owned()]).await;
    assert_eq!(seqs, [2]);
    server.shutdown().await;
}

/// Many clients writing at once: every message stored once, numbered without gaps, and every
/// member sees the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("h.db")).await;
    let mut observer = server.join("Observer").await;
    let writers = 20;
    let each = 50;
    let mut clients = Vec::new();
    for w in 0..writers {
        clients.push(server.join(&format!("W{w}")).await);
    }
    let mut tasks = Vec::new();
    for (w, mut c) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            // Each writer waits for its own echo before its next message, so twenty are in
            // flight at once and every reader keeps up.
            let mut order = Vec::new();
            for i in 0..each {
                let text = format!("w{w}-{i}");
                c.send(say("lobby", &text)).await;
                loop {
                    if let ServerMsg::Message { id, text: got, .. } = c.recv().await {
                        order.push(id);
                        if got.as_str() == text {
                            break;
                        }
                    }
                }
            }
            while order.len() < writers * each {
                if let ServerMsg::Message { id, .. } = c.recv().await {
                    order.push(id);
                }
            }
            order
        }));
    }
    let mut orders = Vec::new();
    for t in tasks {
        orders.push(t.await.unwrap());
    }
    let mut seen = Vec::new();
    while seen.len() < writers * each {
        if let ServerMsg::Message { id, seq, .. } = observer.recv().await {
            seen.push((id, seq));
        }
    }
    let observer_order: Vec<_> = seen.iter().map(|(id, _)| *id).collect();
    for order in &orders {
        assert_eq!(order, &observer_order, "every member sees the same order");
    }
    let stored = common::page_all(&mut observer, "lobby").await;
    assert_eq!(stored.len(), writers * each);
    common::assert_contiguous(&stored, 1);
    let stored_ids: Vec<_> = stored.iter().map(|m| m.id).collect();
    assert_eq!(stored_ids, observer_order, "the stored order is the order everyone saw");
    server.shutdown().await;
}

/// Keeping N messages per room: older ones are deleted in the background, and paging stops at
/// the oldest kept message.
#[tokio::test]
async fn retention_keeps_the_newest_messages() {
    let config = HistoryConfig { keep: 10, ..HistoryConfig::default() };
    let server = start_server_with_history(common::info(), config).await;
    let mut tracy = server.join("Tracy").await;
    let n = 1200;
    for i in 1..=n {
        tracy.send(say("lobby", &format!("m{i}"))).await;
    }
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { seq, .. } if *seq == n)).await;
    let kept = common::page_all(&mut tracy, "lobby").await;
    assert!(kept.len() < 1200 - 10, "old messages were pruned: {} left", kept.len());
    assert!(kept.len() >= 10, "at least the newest 10 are kept");
    assert_eq!(kept.last().unwrap().seq, n);
    common::assert_contiguous(&kept, kept[0].seq);
    server.shutdown().await;
}

/// Private messages are not stored; presence is not history.
#[tokio::test]
async fn private_messages_and_presence_are_not_history() {
    let server = common::start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    tracy.send(ClientMsg::Msg { to: nick("Michael"), text: Text::parse("secret").unwrap() }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    let all = common::page_all(&mut michael, "lobby").await;
    assert!(all.is_empty(), "{all:?}");
    server.shutdown().await;
}

/// A database that fills up: the sender is told its message could not be stored, nothing is
/// broadcast, and the server goes on serving reads; what was stored stays readable.
#[tokio::test]
async fn a_full_database_refuses_messages_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let config = HistoryConfig { max_bytes: Some(256 * 1024), ..file_config(&db) };
    let server = start_server_with_history(common::info(), config).await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    tracy.recv().await;
    let big = "x".repeat(4000);
    let mut stored = 0;
    let error = loop {
        tracy.send(say("lobby", &big)).await;
        match tracy.recv().await {
            ServerMsg::Message { .. } => stored += 1,
            ServerMsg::Error { code, message, request, .. } => break (code, message, request),
            other => panic!("{other:?}"),
        }
        assert!(stored < 1000, "the database never filled up");
    };
    assert_eq!(error.0, ErrorCode::StorageFailed);
    assert!(error.1.contains("could not be stored"), "{}", error.1);
    assert!(error.1.contains("full"), "{}", error.1);
    assert_eq!(error.2.as_deref(), Some("say"));
    // Michael got the stored ones and not the refused one.
    let mut got = 0;
    while got < stored {
        if let ServerMsg::Message { .. } = michael.recv().await {
            got += 1;
        }
    }
    michael.assert_silent().await;
    // Reads still work, and the session goes on.
    let all = common::page_all(&mut michael, "lobby").await;
    assert_eq!(all.len(), stored);
    michael.send(ClientMsg::Ping { token: 1 }).await;
    assert_eq!(michael.recv().await, ServerMsg::Pong { token: 1 });
    server.shutdown().await;
    // The file is intact: it opens and holds everything that was acknowledged.
    let server = server_on(&db).await;
    let mut c = server.join("Reader").await;
    assert_eq!(common::page_all(&mut c, "lobby").await.len(), stored);
    server.shutdown().await;
}

/// A database written by the previous schema version is migrated at start-up, every message
/// kept.
#[tokio::test]
async fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/history-v1.db"), &db)
        .unwrap();
    let server = server_on(&db).await;
    let mut c = server.join("Reader").await;
    let lobby = common::page_all(&mut c, "lobby").await;
    let texts: Vec<&str> = lobby.iter().map(|m| m.text()).collect();
    assert_eq!(texts, ["first message of the lobby", "waves", "你好"]);
    assert_eq!(lobby[2].from, nick("小明"));
    assert_eq!(lobby[1].kind, protocol::MessageKind::Action);
    // Only members read a room's history.
    c.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == "rust")).await;
    let rust = common::page_all(&mut c, "rust").await;
    assert_eq!(rust.len(), 1);
    let seqs = say_all(&mut c, ["after the migration".to_owned()]).await;
    assert_eq!(seqs, [4], "numbering goes on after the migrated messages");
    server.shutdown().await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, chat_server::broker::local::schema::VERSION);
}

/// Rooms joined in one burst are shown in the order they were asked for, however their
/// backlog reads finish: a busy room asked for first (a long read) still comes before the
/// empty ones after it, and its live events are not mixed in ahead of its backlog.
#[tokio::test]
async fn rooms_joined_in_a_burst_are_shown_in_the_order_asked() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("history.db")).await;
    let mut seeder = JsonClient::connect(server.json).await;
    seeder.hello("Seeder").await;
    seeder.send(ClientMsg::Join { room: room("busy"), key: None }).await;
    seeder.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for i in 0..300 {
        seeder
            .send(say("busy", &format!("message {i} with some words to make the row longer")))
            .await;
    }
    seeder.recv_until(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "message 299 with some words to make the row longer")).await;

    let asked = ["busy", "a", "b", "c", "d", "e", "f", "g"];
    for n in 0..8 {
        let mut c = JsonClient::connect(server.json).await;
        c.hello(&format!("Joiner{n}")).await;
        let burst: String = asked
            .iter()
            .map(|r| {
                serde_json::to_string(&ClientMsg::Join { room: room(r), key: None }).unwrap() + "\n"
            })
            .collect();
        c.send_raw(burst.as_bytes()).await;
        // The order of the rooms' member lists, which close each join.
        let mut shown = Vec::new();
        while shown.len() < asked.len() {
            if let ServerMsg::Members { room, .. } = c.recv().await
                && room != RoomName::lobby()
            {
                shown.push(room.as_str().to_owned());
            }
        }
        assert_eq!(shown, asked, "joiner {n}");
    }
}
