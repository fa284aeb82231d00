//! Away messages across nodes, against a real `redis-server` and real `chat-server`
//! processes: a session away on one node is away on every node (`whois`, `who`, the answer
//! to a private message), a node that starts later reads it from Redis, and it leaves Redis
//! with the session.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::redis::{Node, RedisServer, member, wait_for_members};
use common::{JsonClient, nick};
use protocol::{ClientMsg, Label, RoomName, ServerMsg, Text};
use redis::AsyncCommands as _;

/// How long a change may take to reach another node through Redis.
const ACROSS: Duration = Duration::from_secs(10);

/// Marks `client` away with `text` (or back) and waits for its own answer.
async fn away(client: &mut JsonClient, text: Option<&str>) {
    let text = text.map(|t| Label::parse(t).unwrap());
    client.send(ClientMsg::Away { text: text.clone() }).await;
    let (answer, _) = client.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    let ServerMsg::Away { text: now, .. } = answer else { unreachable!() };
    assert_eq!(now, text);
}

/// `whois` of `whom` as `client` sees it: the away message, and whether it is another node's.
async fn whois_away(client: &mut JsonClient, whom: &str) -> (Option<String>, bool) {
    client.send(ClientMsg::Whois { nick: nick(whom) }).await;
    let (answer, _) = client.recv_until(|m| matches!(m, ServerMsg::Whois { .. })).await;
    let ServerMsg::Whois { away, elsewhere, .. } = answer else { unreachable!() };
    (away.map(|a| a.as_str().to_owned()), elsewhere)
}

/// Asks `whois` until `whom`'s away message is `want` (it crosses Redis meanwhile).
async fn until_away(client: &mut JsonClient, whom: &str, want: Option<&str>) {
    let deadline = tokio::time::Instant::now() + ACROSS;
    loop {
        let (away, elsewhere) = whois_away(client, whom).await;
        assert!(elsewhere, "{whom} is on another node");
        if away.as_deref() == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{whom}'s away is {away:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The away messages of a node's sessions as Redis keeps them.
async fn kept(redis: &RedisServer, node: &str) -> HashMap<String, String> {
    redis.connection().await.hgetall(format!("chat:node:{node}:away")).await.unwrap()
}

/// Waits until what Redis keeps of `node`'s away messages satisfies `want` (`what` says what that is).
async fn until_kept(
    redis: &RedisServer,
    node: &str,
    what: &str,
    want: impl Fn(&HashMap<String, String>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + ACROSS;
    loop {
        let kept = kept(redis, node).await;
        if want(&kept) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not {what}: {kept:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nodes a and b on `redis`, Michael on a and Tracy on b, each node knowing both.
async fn two_nodes(redis: &RedisServer) -> (Node, Node, JsonClient, JsonClient) {
    let (a, b) = tokio::join!(Node::start(redis, "a"), Node::start(redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    (a, b, michael, tracy)
}

/// Tracy goes away on node b: on node a, `whois` has her message, a private message to her is
/// answered with it once per away period, and `who` marks her; back, it is gone everywhere.
#[tokio::test]
async fn away_on_one_node_is_away_on_every_node() {
    let redis = RedisServer::start();
    let (_a, _b, mut michael, mut tracy) = two_nodes(&redis).await;

    away(&mut tracy, Some("at lunch")).await;
    until_away(&mut michael, "Tracy", Some("at lunch")).await;

    let psst = || ClientMsg::Msg { to: nick("Tracy"), text: Text::parse("psst").unwrap() };
    michael.send(psst()).await;
    let (answer, _) = michael.recv_until(|m| matches!(m, ServerMsg::Away { .. })).await;
    let ServerMsg::Away { nick: who, text } = answer else { unreachable!() };
    assert_eq!((who.as_str(), text.unwrap().as_str()), ("Tracy", "at lunch"));
    // Once per away period: the second message is not answered again (the pong comes first).
    michael.send(psst()).await;
    michael.send(ClientMsg::Ping { token: 7 }).await;
    let (pong, skipped) = michael.recv_until(|m| matches!(m, ServerMsg::Pong { .. })).await;
    assert!(matches!(pong, ServerMsg::Pong { token: 7 }));
    assert!(!skipped.iter().any(|m| matches!(m, ServerMsg::Away { .. })), "{skipped:?}");
    for _ in 0..2 {
        tracy.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    }

    michael.send(ClientMsg::Who { room: RoomName::lobby(), after: None }).await;
    let (page, _) = michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { away: marked, .. } = page else { unreachable!() };
    assert_eq!(marked.get(&nick("Tracy")).map(Label::as_str), Some("at lunch"), "{marked:?}");

    away(&mut tracy, None).await;
    until_away(&mut michael, "Tracy", None).await;
    assert!(kept(&redis, "b").await.is_empty(), "back: nothing kept");
}

/// A node started after Tracy went away reads her away message from Redis; when her session
/// ends, it leaves Redis.
#[tokio::test]
async fn a_node_started_later_reads_away_messages_and_they_go_with_the_session() {
    let redis = RedisServer::start();
    let b = Node::start(&redis, "b").await;
    let mut tracy = member(&b, "Tracy").await;
    away(&mut tracy, Some("on a train")).await;
    until_kept(&redis, "b", "kept in Redis", |kept| kept.len() == 1).await;

    let c = Node::start(&redis, "c").await;
    let mut anna = member(&c, "Anna").await;
    wait_for_members(&mut anna, &["Anna", "Tracy"]).await;
    until_away(&mut anna, "Tracy", Some("on a train")).await;

    tracy.send(ClientMsg::Quit { reason: None }).await;
    until_kept(&redis, "b", "gone with the session", HashMap::is_empty).await;
}

/// A Redis restarted without its data gets the away messages back: the node writes them with
/// the rest of its state, and the other nodes read them again.
#[tokio::test]
async fn a_redis_that_lost_its_data_gets_the_away_messages_back() {
    let mut redis = RedisServer::start();
    let (_a, _b, mut michael, mut tracy) = two_nodes(&redis).await;
    away(&mut tracy, Some("back at 5")).await;
    until_kept(&redis, "b", "kept in Redis", |kept| kept.len() == 1).await;

    redis.restart_empty();
    let back = |kept: &HashMap<String, String>| kept.values().any(|text| text == "back at 5");
    until_kept(&redis, "b", "written back", back).await;
    // The other node read it back too: b's resync came after b's away messages were written.
    let deadline = tokio::time::Instant::now() + ACROSS;
    loop {
        michael.send(ClientMsg::Whois { nick: nick("Tracy") }).await;
        let (answer, _) = michael
            .recv_until(|m| matches!(m, ServerMsg::Whois { .. } | ServerMsg::Error { .. }))
            .await;
        if let ServerMsg::Whois { away: Some(text), .. } = &answer
            && text.as_str() == "back at 5"
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "node a's view: {answer:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A session taken over by its resume token (the old connection still open, on the same node
/// or another) takes its away message out of Redis with it: reconnecting while away leaves no
/// field behind, and the new session, away again, is the only one kept.
#[tokio::test]
async fn a_session_taken_over_leaves_no_away_message_behind() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut old = JsonClient::connect(b.json).await;
    let ServerMsg::Welcome { resume: Some(token), .. } = old.hello("Tracy").await else {
        panic!("no resume token")
    };
    away(&mut old, Some("commuting")).await;
    until_kept(&redis, "b", "kept in Redis", |kept| kept.len() == 1).await;

    let mut back = JsonClient::connect(b.json).await;
    let ServerMsg::Welcome { resume: Some(token), .. } =
        back.hello_resuming("Tracy", Some(token)).await
    else {
        panic!("not taken over on the same node")
    };
    until_kept(&redis, "b", "gone with the old session", HashMap::is_empty).await;
    away(&mut back, Some("still commuting")).await;
    until_kept(&redis, "b", "the new session's", |kept| {
        kept.len() == 1 && kept.values().all(|text| text == "still commuting")
    })
    .await;

    let mut again = JsonClient::connect(a.json).await;
    match again.hello_resuming("Tracy", Some(token)).await {
        ServerMsg::Welcome { .. } => {}
        other => panic!("not taken over from another node: {other:?}"),
    }
    until_kept(&redis, "b", "gone with the session node a took over", HashMap::is_empty).await;
}
