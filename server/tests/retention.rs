//! `--history-max-age`: messages older than the age leave `history` and the store (the
//! SQLite file, the Redis stream), and younger ones stay. The real binary, a real SQLite file
//! and a real `redis-server`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::redis::{Node, RedisServer, join, say, whole_history};
use common::{JsonClient, ServerProcess};
use protocol::{ServerMsg, Stored};

/// The age the servers are given: long enough that the young messages, said once the old
/// ones are past it, stay young until a look has certainly come, and a margin.
const AGE: Duration = Duration::from_secs(6);
const AGE_FLAG: &str = "6s";
/// The longest time between two looks: the interval (`AGE / 2`), and on Redis a quarter
/// more (the nodes try to take the look four times an interval).
const LOOK: Duration = Duration::from_millis(3750);

/// Says each of `texts` in `room` and waits for its echo (the message is stored).
async fn say_all(client: &mut JsonClient, room: &str, texts: &[String]) {
    for text in texts {
        client.send(say(room, text)).await;
        client
            .recv_until(
                |m| matches!(m, ServerMsg::Message { text: t, .. } if t.as_str() == text.as_str()),
            )
            .await;
    }
}

fn texts(what: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{what} message {i}")).collect()
}

fn shown(history: &[Stored]) -> Vec<&str> {
    history.iter().map(|m| m.text()).collect()
}

/// Says old messages, waits until they are past the age, says young ones, then waits (at most
/// the look's interval and a margin) until `history` has no old one; then, once a look has
/// certainly come since the young ones were said, it shows them all, unbroken. They must
/// still be younger than the age then: else the test proves nothing, and fails.
async fn old_ones_leave_and_young_ones_stay(client: &mut JsonClient, room: &str) {
    let (old, young) = (texts("old", 5), texts("young", 3));
    say_all(client, room, &old).await;
    tokio::time::sleep(AGE + Duration::from_millis(200)).await;
    let young_said = Instant::now();
    say_all(client, room, &young).await;
    loop {
        let history = whole_history(client, room).await;
        let texts = shown(&history);
        if !texts.iter().any(|t| t.starts_with("old")) {
            break;
        }
        assert!(
            young_said.elapsed() < AGE,
            "old messages still in the history {AGE:?} after they were past the age: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after_a_look = (young_said + LOOK + Duration::from_millis(500)).into();
    tokio::time::sleep_until(after_a_look).await;
    let history = whole_history(client, room).await;
    assert!(young_said.elapsed() < AGE, "too late to tell: the young messages are old too");
    assert_eq!(shown(&history), young, "the young messages stay, all of them");
    common::assert_contiguous(&history, old.len() as u64 + 1);
}

/// A client of `server` that said hello as Michael and is in lobby.
async fn lobby(server: &ServerProcess) -> JsonClient {
    let mut client = JsonClient::connect(server.json).await;
    client.hello("Michael").await;
    client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    client
}

fn bytes_hold(path: &Path, text: &str) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// One node, SQLite: the old messages leave `history`, the database (as SQLite reads it)
/// and the file's bytes (once the server stopped and folded its WAL back); the young ones
/// stay; a room whose every message went numbers on after them when the server restarts.
#[tokio::test]
async fn messages_past_the_age_leave_the_history_and_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let db_arg = db.to_str().unwrap();
    let args = ["--db", db_arg, "--history-max-age", AGE_FLAG, "--no-flood-control"];
    let mut server = ServerProcess::start(&args, std::process::Stdio::null());
    let mut client = lobby(&server).await;
    // A room whose every message ages out.
    join(&mut client, "quiet").await;
    say_all(&mut client, "quiet", &texts("quiet", 3)).await;
    old_ones_leave_and_young_ones_stay(&mut client, "lobby").await;

    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let stored: Vec<String> = conn
        .prepare("SELECT text FROM messages ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored, texts("young", 3), "what the database holds");
    drop(conn);
    drop(client);
    server.signal("TERM");
    assert!(server.wait_exit().success());

    assert!(bytes_hold(&db, "young message 0"), "the file's text is readable to this test");
    for text in texts("old", 5).iter().chain(&texts("quiet", 3)) {
        assert!(!bytes_hold(&db, text), "{text:?} is still in the file's bytes");
    }
    // The room that lost every message numbers on after them, across a restart.
    let server = ServerProcess::start(&args, std::process::Stdio::null());
    let mut client = lobby(&server).await;
    join(&mut client, "quiet").await;
    assert_eq!(whole_history(&mut client, "quiet").await, []);
    client.send(say("quiet", "after the restart")).await;
    let (echo, _) = client.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(echo, ServerMsg::Message { seq: 4, .. }), "{echo:?}");
}

/// Several nodes, Redis: the room's stream is trimmed to the young messages, which every
/// node still shows.
#[tokio::test]
async fn messages_past_the_age_leave_the_redis_streams() {
    let redis = RedisServer::start();
    let extra = ["--history-max-age", AGE_FLAG];
    let (a, b) =
        (Node::start_with(&redis, "a", &extra).await, Node::start_with(&redis, "b", &extra).await);
    let mut michael = common::redis::member(&a, "Michael").await;
    // A room used once, whose only message ages out with rust's old ones.
    join(&mut michael, "once").await;
    say_all(&mut michael, "once", &texts("once", 1)).await;
    join(&mut michael, "rust").await;
    old_ones_leave_and_young_ones_stay(&mut michael, "rust").await;

    let mut tracy = common::redis::member(&b, "Tracy").await;
    join(&mut tracy, "rust").await;
    assert_eq!(shown(&whole_history(&mut tracy, "rust").await), texts("young", 3));
    let mut conn = redis.connection().await;
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("chat:{rust}:log")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let ids: Vec<&str> = entries.ids.iter().map(|entry| entry.id.as_str()).collect();
    assert_eq!(ids, ["6-0", "7-0", "8-0"], "what the stream holds");

    // The emptied room has left Redis: no stream, not among the rooms with history; its
    // counter stays, so it numbers on when it comes back.
    let exists: u32 =
        redis::cmd("EXISTS").arg("chat:{once}:log").query_async(&mut conn).await.unwrap();
    assert_eq!(exists, 0, "the emptied stream's key is gone");
    let listed: u32 =
        redis::cmd("SISMEMBER").arg("chat:rooms").arg("once").query_async(&mut conn).await.unwrap();
    assert_eq!(listed, 0, "no longer a room with history");
    michael.send(say("once", "back again")).await;
    let (back, _) = michael
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "back again"),
        )
        .await;
    assert!(matches!(back, ServerMsg::Message { seq: 2, .. }), "numbers on: {back:?}");
}
