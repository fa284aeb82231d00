//! Several `chat-server` processes sharing one real `redis-server` (started on a free
//! loopback port by the harness): they must behave as one chat.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::redis::{Node, RedisServer};
use common::{JsonClient, WAIT, nick};
use protocol::{ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg, Text};

/// A client of `node` that has said hello as `name` and seen its lobby.
async fn member(node: &Node, name: &str) -> JsonClient {
    let mut client = JsonClient::connect(node.json).await;
    match client.hello(name).await {
        ServerMsg::Welcome { .. } => {}
        other => panic!("{name} on {}: {other:?}", node.json),
    }
    client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    client
}

fn say(room: &str, text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::parse(room).unwrap(), text: Text::parse(text).unwrap() }
}

/// The messages a client receives until it has `count`, as (seq, text).
async fn messages(client: &mut JsonClient, count: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < count {
        if let ServerMsg::Message { seq, text, .. } = client.recv().await {
            got.push((seq, text.as_str().to_owned()));
        }
    }
    got
}

/// Waits until `who` in the lobby, asked of `client`, lists exactly `names`.
async fn wait_for_members(client: &mut JsonClient, names: &[&str]) {
    let want: HashSet<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    loop {
        client.send(ClientMsg::Who { room: RoomName::lobby() }).await;
        let (msg, _) = client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        let ServerMsg::Members { nicks, .. } = msg else { unreachable!() };
        let have: HashSet<String> = nicks.iter().map(|n| n.as_str().to_owned()).collect();
        if have == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "members {have:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two nodes on one Redis, Michael on `a` and Tracy on `b`, each node knowing both.
struct TwoNodes {
    redis: RedisServer,
    a: Node,
    b: Node,
    michael: JsonClient,
    tracy: JsonClient,
}

async fn two_nodes() -> TwoNodes {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    TwoNodes { redis, a, b, michael, tracy }
}

/// Three nodes, a member on each, two senders on different nodes at once: every member gets
/// every message once, all in the same order, numbered without a gap.
#[tokio::test]
async fn three_nodes_one_room_one_order() {
    let redis = RedisServer::start();
    let (a, b, c) =
        tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"), Node::start(&redis, "c"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    let mut anna = member(&c, "Anna").await;
    wait_for_members(&mut anna, &["Michael", "Tracy", "Anna"]).await;

    const EACH: usize = 100;
    for i in 0..EACH {
        michael.send(say("lobby", &format!("m{i}"))).await;
        tracy.send(say("lobby", &format!("t{i}"))).await;
    }
    let (seen_a, seen_b, seen_c) = tokio::join!(
        messages(&mut michael, 2 * EACH),
        messages(&mut tracy, 2 * EACH),
        messages(&mut anna, 2 * EACH)
    );
    assert_eq!(seen_a, seen_b, "one order on every node");
    assert_eq!(seen_a, seen_c, "one order on every node");
    let seqs: Vec<u64> = seen_a.iter().map(|(seq, _)| *seq).collect();
    let first = seqs[0];
    assert_eq!(seqs, (first..first + 2 * EACH as u64).collect::<Vec<_>>(), "no gap");
    // Each sender's own messages in the order sent.
    let mine: Vec<&str> =
        seen_a.iter().map(|(_, t)| t.as_str()).filter(|t| t.starts_with('m')).collect();
    assert_eq!(mine, (0..EACH).map(|i| format!("m{i}")).collect::<Vec<_>>());
    for client in [&mut michael, &mut tracy, &mut anna] {
        client.assert_silent().await;
    }
}

/// History lives in Redis: a member joining on any node gets the same backlog, and paging
/// answers the same everywhere.
#[tokio::test]
async fn history_is_the_same_from_every_node() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    michael.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap() }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for i in 0..30 {
        michael.send(say("rust", &format!("line {i}"))).await;
    }
    messages(&mut michael, 30).await;

    let mut pages = Vec::new();
    for node in [&a, &b] {
        let mut reader = JsonClient::connect(node.json).await;
        reader.hello(&format!("reader{}", pages.len())).await;
        reader.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap() }).await;
        let (backlog, _) = reader
            .recv_until(|m| matches!(m, ServerMsg::History { room, .. } if room.as_str() == "rust"))
            .await;
        reader
            .send(ClientMsg::History {
                room: RoomName::parse("rust").unwrap(),
                before: Some(11),
                limit: 5,
            })
            .await;
        let (page, _) = reader
            .recv_until(|m| matches!(m, ServerMsg::History { messages, .. } if messages.len() == 5))
            .await;
        pages.push((backlog, page));
    }
    let texts = |msg: &ServerMsg| match msg {
        ServerMsg::History { messages, beginning, .. } => (
            messages.iter().map(|m| (m.seq, m.text.as_str().to_owned())).collect::<Vec<_>>(),
            *beginning,
        ),
        _ => unreachable!(),
    };
    let (backlog_a, page_a) = (texts(&pages[0].0), texts(&pages[0].1));
    assert_eq!(backlog_a.0.len(), 30);
    assert_eq!(backlog_a.0[29].1, "line 29");
    assert!(backlog_a.1, "the backlog starts at the room's first message");
    assert_eq!(page_a.0.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![6, 7, 8, 9, 10]);
    assert_eq!((texts(&pages[1].0), texts(&pages[1].1)), (backlog_a, page_a));
}

/// A nick in use on one node is refused on another; two nodes claiming one nick at the same
/// moment: exactly one wins, every time.
#[tokio::test]
async fn a_nick_is_unique_across_nodes_even_in_a_race() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let _michael = member(&a, "Michael").await;
    let mut other = JsonClient::connect(b.json).await;
    match other.hello("MICHAEL").await {
        ServerMsg::Error { code: ErrorCode::NickInUse, .. } => {}
        reply => panic!("{reply:?}"),
    }
    for round in 0..20 {
        let name = format!("racer{round}");
        let (mut x, mut y) = tokio::join!(JsonClient::connect(a.json), JsonClient::connect(b.json));
        let (rx, ry) = tokio::join!(x.hello(&name), y.hello(&name));
        let won = [&rx, &ry].iter().filter(|r| matches!(r, ServerMsg::Welcome { .. })).count();
        let lost = [&rx, &ry]
            .iter()
            .filter(|r| matches!(r, ServerMsg::Error { code: ErrorCode::NickInUse, .. }))
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {rx:?} / {ry:?}");
    }
}

/// `who` and room lists count the members of every node; private messages reach a
/// recipient on another node, and a nick that left frees up for everyone.
#[tokio::test]
async fn presence_and_private_messages_cross_nodes() {
    let TwoNodes { redis: _redis, a, b: _b, mut michael, mut tracy } = two_nodes().await;
    michael.send(ClientMsg::Rooms).await;
    let (rooms, _) = michael.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
    let ServerMsg::Rooms { rooms } = rooms else { unreachable!() };
    let lobby = rooms.iter().find(|r| r.name.as_str() == "lobby").unwrap();
    assert_eq!(lobby.members, 2);

    michael.send(ClientMsg::Msg { to: nick("tracy"), text: Text::parse("psst").unwrap() }).await;
    let (private, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    let ServerMsg::Private { from, text, .. } = private else { unreachable!() };
    assert_eq!((from.as_str(), text.as_str()), ("Michael", "psst"));

    tracy.send(ClientMsg::Quit { reason: None }).await;
    let (left, _) = michael
        .recv_until(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Left { .. }, .. }))
        .await;
    let ServerMsg::Presence { nick: gone, .. } = left else { unreachable!() };
    assert_eq!(gone.as_str(), "Tracy");
    let _tracy_again = member(&a, "Tracy").await;
}

/// A node killed with SIGKILL: its members are announced gone on the others within the
/// heartbeat's expiry, their nicks free up, and every message it had acknowledged is in
/// the history.
#[tokio::test]
async fn a_killed_node_is_announced_gone_and_loses_nothing_acknowledged() {
    let TwoNodes { redis: _redis, a, b, mut michael, mut tracy } = two_nodes().await;
    for i in 0..50 {
        tracy.send(say("lobby", &format!("before the crash {i}"))).await;
    }
    // Acknowledged: Tracy has all 50 echoes.
    messages(&mut tracy, 50).await;
    b.kill().await;

    // Asked every half second (a plain wait would end at the client's read timeout): the
    // departure comes within NODE_TTL + HEARTBEAT (6 s).
    let started = tokio::time::Instant::now();
    let dropped = loop {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the dead node's member is not announced gone"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        michael.send(ClientMsg::Who { room: RoomName::lobby() }).await;
        let (_, before) = michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        if let Some(event) = before
            .into_iter()
            .find(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Dropped { .. }, .. }))
        {
            break event;
        }
    };
    let ServerMsg::Presence { nick: gone, event, .. } = dropped else { unreachable!() };
    assert_eq!(gone.as_str(), "Tracy");
    println!("announced after {:?}: {event:?}", started.elapsed());
    wait_for_members(&mut michael, &["Michael"]).await;
    let mut tracy_again = member(&a, "Tracy").await;
    tracy_again
        .send(ClientMsg::History { room: RoomName::lobby(), before: None, limit: 100 })
        .await;
    let (page, _) = tracy_again.recv_until(|m| matches!(m, ServerMsg::History { messages, .. } if !messages.is_empty() && messages.len() >= 50)).await;
    let ServerMsg::History { messages, .. } = page else { unreachable!() };
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    for i in 0..50 {
        assert!(texts.contains(&format!("before the crash {i}").as_str()), "message {i} lost");
    }
}

/// Redis stops mid-conversation: the nodes keep their connections and refuse messages with
/// an error, then recover by themselves when it is back: the conversation goes on across
/// nodes and the history from before is still there.
#[tokio::test]
async fn the_chat_survives_a_redis_restart() {
    let TwoNodes { mut redis, a, b: _b, mut michael, mut tracy } = two_nodes().await;
    michael.send(say("lobby", "before")).await;
    messages(&mut tracy, 1).await;

    redis.stop();
    michael.send(say("lobby", "while Redis is down")).await;
    let (error, _) = michael.recv_until(|m| matches!(m, ServerMsg::Error { .. })).await;
    assert!(matches!(error, ServerMsg::Error { code: ErrorCode::StorageFailed, .. }), "{error:?}");

    redis.restart();
    // Recovers by itself: once a message goes through again, it reaches the other node.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        michael.send(say("lobby", "after")).await;
        // Skipping presence and the member list each node sends its rooms after recovering.
        let (answer, _) = michael
            .recv_until(|m| matches!(m, ServerMsg::Message { .. } | ServerMsg::Error { .. }))
            .await;
        match answer {
            ServerMsg::Message { text, .. } if text.as_str() == "after" => break,
            ServerMsg::Error { code: ErrorCode::StorageFailed, .. } => {}
            other => panic!("{other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (after, _) = tracy
        .recv_until(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "after"))
        .await;
    let ServerMsg::Message { seq, .. } = after else { unreachable!() };
    assert_eq!(seq, 2, "the refused message took no number");
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;
    let log = a.log();
    let outages =
        log.lines().filter(|l| l.contains("ERROR") && l.contains("Redis is not answering"));
    assert_eq!(outages.count(), 1, "the outage is logged once:\n{log}");
}

/// A resume token works across nodes: a client that comes back through another node takes
/// its nick over from its old session (which is told so and leaves its rooms), and a
/// rename is refused when another node's session has the nick.
#[tokio::test]
async fn the_resume_token_and_renames_work_across_nodes() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut old = JsonClient::connect(a.json).await;
    let ServerMsg::Welcome { resume: Some(token), .. } = old.hello("Michael").await else {
        panic!("no resume token")
    };
    old.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;

    let mut wrong = JsonClient::connect(b.json).await;
    match wrong.hello_resuming("Michael", Some(uuid::Uuid::new_v4())).await {
        ServerMsg::Error { code: ErrorCode::NickInUse, .. } => {}
        other => panic!("a wrong token: {other:?}"),
    }
    let mut back = JsonClient::connect(b.json).await;
    match back.hello_resuming("Michael", Some(token)).await {
        ServerMsg::Welcome { nick: n, .. } => assert_eq!(n.as_str(), "Michael"),
        other => panic!("{other:?}"),
    }
    let (bye, _) = old.recv_until(|m| matches!(m, ServerMsg::Bye { .. })).await;
    assert!(matches!(bye, ServerMsg::Bye { code: protocol::ByeCode::Replaced, .. }), "{bye:?}");
    let (dropped, _) = tracy
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { event: PresenceEvent::Dropped { .. }, .. })
        })
        .await;
    let ServerMsg::Presence { nick: who, .. } = dropped else { unreachable!() };
    assert_eq!(who.as_str(), "Michael");
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;

    // Renames: refused onto another node's nick, and the new nick is unique across nodes.
    back.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    back.send(ClientMsg::Nick { nick: nick("TRACY") }).await;
    let (refused, _) = back.recv_until(|m| matches!(m, ServerMsg::Error { .. })).await;
    assert!(matches!(refused, ServerMsg::Error { code: ErrorCode::NickInUse, .. }), "{refused:?}");
    back.send(ClientMsg::Nick { nick: nick("Mike") }).await;
    back.recv_until(|m| matches!(m, ServerMsg::Nick { .. })).await;
    wait_for_members(&mut tracy, &["Mike", "Tracy"]).await;
    let mut someone = JsonClient::connect(a.json).await;
    match someone.hello("mike").await {
        ServerMsg::Error { code: ErrorCode::NickInUse, .. } => {}
        other => panic!("{other:?}"),
    }
    let _michael_is_free = member(&a, "Michael").await;
}

/// A node that stalls past the heartbeat's expiry (SIGSTOP) is announced gone; when it
/// wakes up it notices, and says who it has again: a member whose nick someone else took
/// meanwhile is told it was replaced, the others are back in the rooms of every node.
#[tokio::test]
async fn a_stalled_node_comes_back_and_shares_its_state_again() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    let mut anna = member(&b, "Anna").await;
    wait_for_members(&mut michael, &["Michael", "Tracy", "Anna"]).await;

    b.signal("STOP");
    wait_for_members(&mut michael, &["Michael"]).await;
    // Tracy's nick is free now, and someone takes it.
    let _other_tracy = member(&a, "Tracy").await;
    b.signal("CONT");

    let (bye, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Bye { .. })).await;
    assert!(matches!(bye, ServerMsg::Bye { code: protocol::ByeCode::Replaced, .. }), "{bye:?}");
    wait_for_members(&mut michael, &["Michael", "Tracy", "Anna"]).await;
    // Anna is still Anna, on every node.
    anna.send(say("lobby", "still here")).await;
    let (heard, _) = michael
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "still here"),
        )
        .await;
    let ServerMsg::Message { from, .. } = heard else { unreachable!() };
    assert_eq!(from.as_str(), "Anna");
    let mut impostor = JsonClient::connect(a.json).await;
    match impostor.hello("anna").await {
        ServerMsg::Error { code: ErrorCode::NickInUse, .. } => {}
        other => panic!("{other:?}"),
    }
}

/// Redis restarted without its data: the nodes write their sessions and members back, and
/// a room's numbering goes on from where its members were, so nothing said after is lost.
#[tokio::test]
async fn a_redis_that_lost_its_data_is_filled_in_again() {
    let TwoNodes { mut redis, a: _a, b, mut michael, mut tracy } = two_nodes().await;
    for i in 0..5 {
        michael.send(say("lobby", &format!("before {i}"))).await;
    }
    messages(&mut tracy, 5).await;
    messages(&mut michael, 5).await;

    redis.restart_empty();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        michael.send(say("lobby", "after")).await;
        let (answer, _) = michael
            .recv_until(|m| matches!(m, ServerMsg::Message { .. } | ServerMsg::Error { .. }))
            .await;
        match answer {
            ServerMsg::Message { text, seq, .. } if text.as_str() == "after" => {
                assert!(seq > 5, "numbered after what the members have: {seq}");
                break;
            }
            ServerMsg::Error { code: ErrorCode::StorageFailed, .. } => {}
            other => panic!("{other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "after"))
        .await;
    // The nicks and members are back in Redis: taken on every node, counted everywhere.
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;
    let mut impostor = JsonClient::connect(b.json).await;
    match impostor.hello("michael").await {
        ServerMsg::Error { code: ErrorCode::NickInUse, .. } => {}
        other => panic!("{other:?}"),
    }
    // Private messages find Tracy again once the nodes have read each other's state back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        michael
            .send(ClientMsg::Msg { to: nick("Tracy"), text: Text::parse("psst").unwrap() })
            .await;
        let (answer, _) = michael
            .recv_until(|m| matches!(m, ServerMsg::Private { .. } | ServerMsg::Error { .. }))
            .await;
        if matches!(answer, ServerMsg::Private { .. }) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tracy.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
}
