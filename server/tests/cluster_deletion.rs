//! Deleting a message with several nodes sharing a real Redis: the deletion reaches members
//! on every node after the message, the text leaves Redis, history keeps a tombstone, who may
//! delete what is decided in Redis, and a node cut off meanwhile is told of it when it comes
//! back. (One node: `deletion.rs`.)

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use common::redis::{
    Node, RedisServer, join, member, recv_by, say, wait_for_members, whole_history,
};
use common::relay::Relay;
use common::{JsonClient, WAIT, assert_contiguous, nick};
use protocol::{ClientMsg, ErrorCode, MessageKind, Moderation, Password, RoomName, ServerMsg};
use redis::AsyncCommands as _;
use tokio::time::Instant;
use uuid::Uuid;

const SECRET: &str = "pangolin-secret-7731";

fn delete(room: &str, id: Uuid) -> ClientMsg {
    ClientMsg::Delete { room: RoomName::parse(room).unwrap(), id }
}

/// The next message saying `text`: its id and seq.
async fn said(c: &mut JsonClient, text: &str) -> (Uuid, u64) {
    let (m, _) = c
        .recv_until(|m| matches!(m, ServerMsg::Message { text: t, .. } if t.as_str() == text))
        .await;
    let ServerMsg::Message { id, seq, .. } = m else { unreachable!() };
    (id, seq)
}

/// Every value Redis answers with, each key read by its type, as bytes: what a look at
/// Redis finds.
async fn everything_in(redis: &RedisServer) -> Vec<Vec<u8>> {
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys("*").await.unwrap();
    let mut values = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        let value: redis::Value = match kind.as_str() {
            "string" => conn.get(&key).await.unwrap(),
            "hash" => conn.hgetall(&key).await.unwrap(),
            "list" => conn.lrange(&key, 0, -1).await.unwrap(),
            "set" => conn.smembers(&key).await.unwrap(),
            "zset" => conn.zrange_withscores(&key, 0, -1).await.unwrap(),
            "stream" => redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .unwrap(),
            other => panic!("{key} is a {other}"),
        };
        flatten(&value, &mut values);
    }
    values
}

fn flatten(value: &redis::Value, into: &mut Vec<Vec<u8>>) {
    match value {
        redis::Value::BulkString(bytes) => into.push(bytes.clone()),
        redis::Value::SimpleString(s) => into.push(s.as_bytes().to_vec()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| flatten(v, into));
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, into);
            flatten(v, into);
        }),
        _ => {}
    }
}

fn holds(values: &[Vec<u8>], text: &str) -> bool {
    values.iter().any(|v| v.windows(text.len()).any(|w| w == text.as_bytes()))
}

/// Michael on node a deletes his message: Tracy on node b is told, after the message; the
/// stream entry is gone and no read of any Redis key returns the text (Redis keeps the
/// removed entry's bytes inside the stream's node until the node is trimmed: `DUMP` would
/// show them, see ARCHITECTURE.md); history on either node shows a tombstone in its place;
/// Tracy may not delete Michael's messages (decided in Redis, by nick key), and a second
/// deletion finds nothing.
#[tokio::test]
async fn a_deletion_reaches_every_node_and_no_read_of_redis_returns_the_text() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;

    for text in ["before", SECRET, "after"] {
        michael.send(say("lobby", text)).await;
    }
    let (id, seq) = said(&mut michael, SECRET).await;
    said(&mut michael, "after").await;
    assert!(holds(&everything_in(&redis).await, SECRET), "stored, so the check below can fail");

    tracy.send(delete("lobby", id)).await;
    assert_eq!(tracy.refusal_of("delete").await, ErrorCode::NotOperator, "Michael's, not Tracy's");

    michael.send(delete("lobby", id)).await;
    for c in [&mut michael, &mut tracy] {
        let (event, _) = c.recv_deleted().await;
        let ServerMsg::Deleted { id: x, seq: s, by, .. } = event else { unreachable!() };
        assert_eq!((x, s, by), (id, seq, nick("Michael")));
    }
    let values = everything_in(&redis).await;
    assert!(!holds(&values, SECRET), "the text is still in Redis");
    let mut conn = redis.connection().await;
    let entries: redis::streams::StreamRangeReply =
        conn.xrange_all("chat:{lobby}:log").await.unwrap();
    let ids: Vec<&str> = entries.ids.iter().map(|e| e.id.as_str()).collect();
    assert!(!ids.contains(&format!("{seq}-0").as_str()), "the entry is gone: {ids:?}");

    for c in [&mut michael, &mut tracy] {
        let history = whole_history(c, "lobby").await;
        assert_contiguous(&history, 1);
        let shown: Vec<(&str, MessageKind)> = history.iter().map(|m| (m.text(), m.kind)).collect();
        assert_eq!(
            shown,
            [("before", MessageKind::Say), ("", MessageKind::Deleted), ("after", MessageKind::Say)]
        );
        assert_eq!((history[1].id, history[1].from.clone()), (id, nick("Michael")));
    }
    michael.send(delete("lobby", id)).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::NoSuchMessage);
    // Numbering goes on after the deleted message, and joiners' backlogs show the tombstone.
    michael.send(say("lobby", "later")).await;
    let (_, later) = said(&mut tracy, "later").await;
    assert_eq!(later, seq + 2);
}

/// The owner of a room, on node a, deletes a guest's message said on node b; a message sent
/// logged in is its account's to delete: its sender, once a guest, may not.
#[tokio::test]
async fn an_owner_on_one_node_deletes_a_message_said_on_the_other() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    michael
        .send(ClientMsg::Register { password: Password::parse("tr0ub4dor&3 horse").unwrap() })
        .await;
    michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    // Joined as an account, a new room is his: its member list and the claim, in either
    // order.
    michael.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap(), key: None }).await;
    let (mut members, mut claimed) = (false, false);
    while !(members && claimed) {
        match michael.recv().await {
            ServerMsg::Members { room, .. } if room.as_str() == "rust" => members = true,
            ServerMsg::Moderation { action: Moderation::Claimed, .. } => claimed = true,
            _ => {}
        }
    }
    let mut tracy = member(&b, "Tracy").await;
    join(&mut tracy, "rust").await;
    michael
        .recv_until(|m| matches!(m, ServerMsg::Presence { nick, .. } if nick.as_str() == "Tracy"))
        .await;

    tracy.send(say("rust", "spam spam spam")).await;
    let (spam, _) = said(&mut michael, "spam spam spam").await;
    michael.send(delete("rust", spam)).await;
    let (event, _) = tracy.recv_deleted().await;
    assert!(
        matches!(event, ServerMsg::Deleted { id, by, .. } if id == spam && by == nick("Michael"))
    );

    michael.send(say("rust", "signed")).await;
    let (signed, _) = said(&mut tracy, "signed").await;
    michael
        .send(ClientMsg::Unregister { password: Password::parse("tr0ub4dor&3 horse").unwrap() })
        .await;
    michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    michael.send(delete("rust", signed)).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::NotOperator, "a guest now");
}

/// Node a is cut off from Redis while a member on node b says a message and deletes it. When
/// the link is back, node a fills in what it missed from the stream: its member is told of
/// the deletion in the message's place (never its text), and the next message follows
/// without a `lagged` gap.
#[tokio::test]
async fn a_node_cut_off_meanwhile_is_told_of_the_deletion() {
    let redis = RedisServer::start();
    let relay = Relay::to(&redis);
    let url = relay.url();
    let (a, b) = tokio::join!(Node::start_via(&redis, &url, "a", &[]), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    tracy.send(say("lobby", "before the cut")).await;
    said(&mut michael, "before the cut").await;

    relay.cut().await;
    tracy.send(say("lobby", SECRET)).await;
    let (id, seq) = said(&mut tracy, SECRET).await;
    tracy.send(delete("lobby", id)).await;
    tracy.recv_deleted().await;
    relay.restore();

    let (event, before) = tokio::time::timeout(WAIT * 4, michael.recv_deleted()).await.unwrap();
    assert!(matches!(event, ServerMsg::Deleted { id: x, seq: s, .. } if x == id && s == seq));
    assert!(!before.iter().any(|m| matches!(m, ServerMsg::Message { .. })), "{before:?}");
    tracy.send(say("lobby", "after the cut")).await;
    let deadline = Instant::now() + WAIT;
    loop {
        match recv_by(&mut michael, deadline).await {
            Some(ServerMsg::Message { seq: s, .. }) => {
                assert_eq!(s, seq + 1);
                break;
            }
            Some(ServerMsg::Error { code, message, .. }) => panic!("{code:?}: {message}"),
            Some(_) => {}
            None => panic!("no message after the cut"),
        }
    }
}
