//! Several `chat-server` processes sharing one real `redis-server` (started on a free
//! loopback port by the harness): they must behave as one chat.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::time::Duration;

use chat_server::limits::{HEARTBEAT, NODE_TTL};
use common::redis::{
    Node, RedisServer, join, member, member_once_free, messages, recv_by, say, wait_for_members,
    wait_for_members_of, wait_for_room,
};
use common::{JsonClient, nick};
use protocol::{ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg, Text};

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
    michael.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap(), key: None }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for i in 0..30 {
        michael.send(say("rust", &format!("line {i}"))).await;
    }
    messages(&mut michael, 30).await;

    let mut pages = Vec::new();
    for node in [&a, &b] {
        let mut reader = JsonClient::connect(node.json).await;
        reader.hello(&format!("reader{}", pages.len())).await;
        reader.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap(), key: None }).await;
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
        ServerMsg::History { messages, beginning, .. } => {
            (messages.iter().map(|m| (m.seq, m.text().to_owned())).collect::<Vec<_>>(), *beginning)
        }
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

/// A node killed with SIGKILL is announced gone as the README says: each of its members is
/// `dropped` ("server lost") in every room it was in, on the other nodes, within 6 s of the
/// kill (`NODE_TTL` 5 s after its last heartbeat, which was at most `HEARTBEAT` before the
/// kill, + `HEARTBEAT` 1 s until a node looks for dead ones; see `server/src/limits.rs` and
/// `cluster/liveness.rs`). The bound allows 1 s more for scheduling on a busy machine:
/// 7 s from the SIGKILL. Their nicks are free again within the same bound.
#[tokio::test]
async fn a_killed_node_is_announced_gone_in_every_room_within_6_s() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    join(&mut michael, "rust").await;
    let mut tracy = member(&b, "Tracy").await;
    join(&mut tracy, "rust").await;
    let _anna = member(&b, "Anna").await;
    wait_for_members(&mut michael, &["Michael", "Tracy", "Anna"]).await;
    wait_for_members_of(&mut michael, "rust", &["Michael", "Tracy"]).await;

    let bound = NODE_TTL + HEARTBEAT + Duration::from_secs(1);
    let killed = tokio::time::Instant::now();
    b.kill().await;
    let mut gone = Vec::new();
    while gone.len() < 3 {
        let Some(msg) = recv_by(&mut michael, killed + bound).await else {
            panic!("{bound:?} after the kill only {gone:?} were announced gone")
        };
        if let ServerMsg::Presence {
            room, nick, event: PresenceEvent::Dropped { reason }, ..
        } = msg
        {
            assert_eq!(reason.as_str(), "server lost", "{nick} in #{room}");
            gone.push((room.as_str().to_owned(), nick.as_str().to_owned()));
        }
    }
    println!("announced gone {:?} after the kill", killed.elapsed());
    gone.sort();
    let want = [("lobby", "Anna"), ("lobby", "Tracy"), ("rust", "Tracy")];
    assert_eq!(gone, want.map(|(r, n)| (r.to_owned(), n.to_owned())), "each once");
    wait_for_members(&mut michael, &["Michael"]).await;
    wait_for_members_of(&mut michael, "rust", &["Michael"]).await;
    // The reaper frees the nicks just after announcing their sessions gone: within the bound.
    let _tracy_again = member_once_free(&a, "Tracy", killed + bound).await;
    let _anna_again = member_once_free(&a, "Anna", killed + bound).await;
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
    match wrong.hello_resuming("Michael", Some(protocol::ResumeToken::random())).await {
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

/// `--max-room-members` and `--max-rooms` are checked by each node against the whole chat:
/// with both at 2 on two nodes, a lobby with one member of each node is full for a third
/// member on either node (`room_full`); once a member of one node has made a second room, a
/// third is refused on either node (`too_many_rooms`); and a room that a member leaves on one
/// node takes a member on the other again.
#[tokio::test]
async fn room_and_member_limits_count_every_node() {
    let redis = RedisServer::start();
    let flags = ["--max-rooms", "2", "--max-room-members", "2"];
    let (a, b) =
        tokio::join!(Node::start_with(&redis, "a", &flags), Node::start_with(&redis, "b", &flags));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;

    // A third member on either node is welcomed, but the lobby is full.
    let mut anna = JsonClient::connect(a.json).await;
    let mut bob = JsonClient::connect(b.json).await;
    for (client, name) in [(&mut anna, "Anna"), (&mut bob, "Bob")] {
        let welcome = client.hello(name).await;
        assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{name}: {welcome:?}");
        assert_eq!(refusal(client, "lobby").await, ErrorCode::RoomFull, "{name}");
    }

    // Tracy makes the second room on b; a learns of it from her join.
    join(&mut tracy, "rust").await;
    wait_for_room(&mut michael, "rust", 1).await;
    for (client, name) in [(&mut anna, "Anna"), (&mut bob, "Bob")] {
        client.send(ClientMsg::Join { room: RoomName::parse("ops").unwrap(), key: None }).await;
        assert_eq!(refusal(client, "ops").await, ErrorCode::TooManyRooms, "{name}");
    }

    // #rust fills up across nodes: Anna on a takes the second place, Bob on b finds it full.
    join(&mut anna, "rust").await;
    wait_for_members_of(&mut tracy, "rust", &["Tracy", "Anna"]).await;
    bob.send(ClientMsg::Join { room: RoomName::parse("rust").unwrap(), key: None }).await;
    assert_eq!(refusal(&mut bob, "rust").await, ErrorCode::RoomFull);

    // Tracy leaves the lobby on b: a lets Anna in once it knows.
    tracy.send(ClientMsg::Leave { room: RoomName::lobby() }).await;
    wait_for_members(&mut michael, &["Michael"]).await;
    join(&mut anna, "lobby").await;
    wait_for_members(&mut michael, &["Michael", "Anna"]).await;
}

/// The error `client` gets for joining `name` (its join at hello for the lobby); fails if it
/// is let in.
async fn refusal(client: &mut JsonClient, name: &str) -> ErrorCode {
    let (answer, _) = client
        .recv_until(|m| {
            matches!(m, ServerMsg::Error { .. })
                || matches!(m, ServerMsg::Members { room, .. } if room.as_str() == name)
        })
        .await;
    match answer {
        ServerMsg::Error { code, .. } => code,
        other => panic!("let into #{name}, past the limit: {other:?}"),
    }
}
