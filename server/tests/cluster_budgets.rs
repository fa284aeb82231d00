//! Flood budgets across two nodes sharing a real Redis: a guest that spent its burst on one
//! node and reconnects to the other starts where it stopped, as it would on one node; other
//! addresses are not affected.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::time::Duration;

use common::redis::{Node, RedisServer, say};
use common::{JsonClient, QUIET, WAIT};
use protocol::{ClientMsg, ErrorCode, ServerMsg};

/// Three messages at once, then one per 20 s; nothing exempt, so loopback addresses are
/// budgeted as the internet's are.
const FLAGS: &[&str] = &["--flood-burst", "3", "--flood-rate", "0.05", "--throttle-exempt", "none"];

/// A guest from `source` on `node`, past its lobby member list.
async fn guest(node: &Node, source: &str, nick: &str) -> JsonClient {
    let mut c = JsonClient::connect_from(node.json, source).await;
    assert!(matches!(c.hello(nick).await, ServerMsg::Welcome { .. }));
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c
}

/// Says `n` lines in lobby and counts the echoes and the `flood` refusals that come back.
async fn say_many(c: &mut JsonClient, n: usize) -> (usize, usize) {
    for i in 0..n {
        c.send(say("lobby", &format!("line {i}"))).await;
    }
    let (mut echoed, mut refused) = (0, 0);
    while let Ok(msg) = tokio::time::timeout(QUIET, c.recv()).await {
        match msg {
            ServerMsg::Message { .. } => echoed += 1,
            ServerMsg::Error { code: ErrorCode::Flood, .. } => refused += 1,
            _ => {}
        }
    }
    (echoed, refused)
}

#[tokio::test]
async fn a_budget_spent_on_one_node_is_spent_on_the_other() {
    let redis = RedisServer::start();
    let (a, b) =
        tokio::join!(Node::start_with(&redis, "a", FLAGS), Node::start_with(&redis, "b", FLAGS));
    let mut mallory = guest(&a, "127.0.0.40", "Mallory").await;
    assert_eq!(say_many(&mut mallory, 3).await, (3, 0));
    mallory.send(ClientMsg::Quit { reason: None }).await;
    mallory.recv_until_closed().await;

    // Node a keeps it in Redis as the session ends, for the address, until it is full again.
    let mut conn = redis.connection().await;
    let key = "chat:budget:addr:127.0.0.40";
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap();
        if ttl > 0 {
            assert!(ttl <= 3 * 20_000 + 1_000, "kept until full again, no longer: {ttl} ms");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{key} never kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut again = guest(&b, "127.0.0.40", "Mallory").await;
    assert_eq!(say_many(&mut again, 1).await, (0, 1), "node b starts where node a stopped");
    let mut tracy = guest(&b, "127.0.0.41", "Tracy").await;
    assert_eq!(say_many(&mut tracy, 3).await, (3, 0), "another address has its own budget");
}
