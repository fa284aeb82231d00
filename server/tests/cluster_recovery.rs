//! Several `chat-server` nodes on one real `redis-server` when something fails: one node cut
//! off from Redis while the others go on, a node killed in the middle of a burst, a node
//! restarted with its id (or a second one started with it), a Redis that is full.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::time::Duration;

use chat_server::limits::{HEARTBEAT, NODE_TTL, PRESENCE_BURST};
use common::redis::{
    Node, RedisServer, join, member, messages, recv_by, say, wait_for_members, wait_for_members_of,
    whole_history,
};
use common::relay::Relay;
use common::{JsonClient, QUIET, WAIT};
use futures::{SinkExt, StreamExt};
use protocol::{ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg};
use tokio::time::Instant;

/// The room messages `client` receives until it has `count`, as (seq, text), with everything
/// else it received meanwhile; fails if they do not all come by `deadline`.
async fn messages_by(
    client: &mut JsonClient,
    count: usize,
    deadline: Instant,
) -> (Vec<(u64, String)>, Vec<ServerMsg>) {
    let (mut got, mut other) = (Vec::new(), Vec::new());
    while got.len() < count {
        match recv_by(client, deadline).await {
            Some(ServerMsg::Message { seq, text, .. }) => got.push((seq, text.as_str().to_owned())),
            Some(msg) => other.push(msg),
            None => panic!("{} of {count} messages by the deadline: {got:?}", got.len()),
        }
    }
    (got, other)
}

/// Fails if a room message reaches `client` within [`QUIET`].
async fn no_more_messages(client: &mut JsonClient) {
    let until = Instant::now() + QUIET;
    while let Some(msg) = recv_by(client, until).await {
        assert!(!matches!(msg, ServerMsg::Message { .. }), "one message too many: {msg:?}");
    }
}

/// One node (a) loses Redis alone: a relay between it and redis-server is cut while the other
/// node (b) goes on, and a member on b says 50 messages meanwhile. When the link is back, the
/// member on a gets every message it missed, once each, in seq order, with no gap (read back
/// from the room's stream: the node's log says so), then the live messages after them.
/// The cut lasts well under `NODE_TTL` (asserted), so node a is not taken for dead: nobody
/// is announced gone.
#[tokio::test]
async fn a_node_cut_off_from_redis_fills_in_what_it_missed() {
    let redis = RedisServer::start();
    let relay = Relay::to(&redis);
    let url = relay.url();
    let (a, b) = tokio::join!(Node::start_via(&redis, &url, "a", &[]), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    tracy.send(say("lobby", "before the cut")).await;
    let before = messages(&mut michael, 1).await[0].0;
    messages(&mut tracy, 1).await;

    const MISSED: usize = 50;
    let cut = Instant::now();
    relay.cut().await;
    for i in 0..MISSED {
        tracy.send(say("lobby", &format!("missed {i}"))).await;
    }
    // Acknowledged, so stored, while node a could hear none of it.
    let (echoes, mut tracy_saw) = messages_by(&mut tracy, MISSED, cut + WAIT).await;
    relay.restore();
    let lasted = cut.elapsed();
    assert!(lasted < NODE_TTL / 2, "the cut lasted {lasted:?}: too close to NODE_TTL");

    let want: Vec<(u64, String)> =
        (0..MISSED).map(|i| (before + 1 + i as u64, format!("missed {i}"))).collect();
    assert_eq!(echoes, want);
    let (filled, _) = messages_by(&mut michael, MISSED, Instant::now() + WAIT * 4).await;
    assert_eq!(filled, want, "every missed message once, in order, no gap");
    assert!(
        a.log().contains("filling in missed messages"),
        "node a read them from the stream:\n{}",
        a.log()
    );

    // Then the live ones, after them.
    const LIVE: usize = 10;
    for i in 0..LIVE {
        tracy.send(say("lobby", &format!("live {i}"))).await;
    }
    let (live, _) = messages_by(&mut michael, LIVE, Instant::now() + WAIT).await;
    let next = before + 1 + MISSED as u64;
    let want: Vec<(u64, String)> =
        (0..LIVE).map(|i| (next + i as u64, format!("live {i}"))).collect();
    assert_eq!(live, want);
    no_more_messages(&mut michael).await;
    let (_, rest) = messages_by(&mut tracy, LIVE, Instant::now() + WAIT).await;
    tracy_saw.extend(rest);
    let dropped = tracy_saw
        .iter()
        .find(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Dropped { .. }, .. }));
    assert!(dropped.is_none(), "a short cut announces nobody gone: {dropped:?}");
    wait_for_members(&mut tracy, &["Michael", "Tracy"]).await;
}

/// A member that joined quietly (its presence budget spent) is nobody else's business, so
/// the member list a node sends its room after fetching presence anew leaves it out; its own
/// client still gets the list with itself in it, as its join showed.
#[tokio::test]
async fn a_quiet_member_stays_in_its_own_list_when_presence_is_fetched_anew() {
    let redis = RedisServer::start();
    let relay = Relay::to(&redis);
    let a = Node::start_via(&redis, &relay.url(), "a", &["--flood-burst", "10"]).await;
    let mut tracy = member(&a, "Tracy").await;
    join(&mut tracy, "churn").await;
    let mut mallory = member(&a, "Mallory").await;
    let churn = RoomName::parse("churn").unwrap();
    for _ in 0..PRESENCE_BURST {
        join(&mut mallory, "churn").await;
        mallory.send(ClientMsg::Leave { room: churn.clone() }).await;
        mallory
            .recv_until(|m| {
                matches!(m, ServerMsg::Presence { event: PresenceEvent::Left { .. }, .. })
            })
            .await;
    }
    join(&mut mallory, "churn").await;
    // Quiet: the others do not see it.
    wait_for_members_of(&mut tracy, "churn", &["Tracy"]).await;
    while tokio::time::timeout(QUIET, mallory.recv()).await.is_ok() {}

    relay.cut().await;
    relay.restore();
    let (list, _) = mallory
        .recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if *room == churn))
        .await;
    let ServerMsg::Members { nicks, .. } = list else { unreachable!() };
    assert_eq!(nicks, vec![common::nick("Mallory"), common::nick("Tracy")]);
    let (list, _) =
        tracy.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if *room == churn)).await;
    let ServerMsg::Members { nicks, .. } = list else { unreachable!() };
    assert_eq!(nicks, vec![common::nick("Tracy")], "the others' list has no quiet member");
}

/// Messages a writer keeps in flight in [`a_node_killed_mid_burst_loses_nothing_it_acknowledged`].
const WINDOW: usize = 128;
/// Acknowledged messages after which its node is killed.
const KILL_AT: usize = 1_000;

fn burst_text(i: usize) -> String {
    format!("m{i}")
}

/// What a writer saw of its burst: each echo as (id, seq, text), and how many it sent.
struct Burst {
    acked: Vec<(uuid::Uuid, u64, String)>,
    sent: usize,
}

/// `writer` says `burst_text(0)`, `burst_text(1)`, ... in `room` flat out, [`WINDOW`] in
/// flight, reading its echoes; once [`KILL_AT`] are acknowledged its node is killed (with
/// `freeze`, Redis stops hearing the node first, its answers still arriving, and the writer
/// goes on for [`QUIET`]), the relay cut, and the echoes the node wrote before it died read
/// to the end.
async fn burst(
    writer: &mut JsonClient,
    nick: &str,
    room: &str,
    node: Node,
    relay: &Relay,
    freeze: bool,
) -> Burst {
    let mut acked = Vec::new();
    let mut sent = 0;
    let mut frozen_until = None;
    loop {
        while sent - acked.len() < WINDOW {
            writer.frames.feed(&say(room, &burst_text(sent))).await.unwrap();
            sent += 1;
        }
        writer.frames.flush().await.unwrap();
        if acked.len() >= KILL_AT && frozen_until.is_none() {
            if !freeze {
                break;
            }
            relay.freeze();
            frozen_until = Some(Instant::now() + QUIET);
        }
        let deadline = frozen_until.unwrap_or_else(|| Instant::now() + WAIT);
        match recv_by(writer, deadline).await {
            Some(ServerMsg::Message { id, seq, text, from, .. }) if from.as_str() == nick => {
                acked.push((id, seq, text.as_str().to_owned()));
            }
            Some(msg @ ServerMsg::Error { .. }) => panic!("refused in the burst: {msg:?}"),
            Some(_) => {}
            None if frozen_until.is_some() => break,
            None => panic!("no echo within {WAIT:?} after {} of {sent}", acked.len()),
        }
    }
    node.kill().await;
    relay.cut().await;
    loop {
        match tokio::time::timeout(WAIT, writer.frames.next()).await {
            Ok(Some(Ok(Ok(ServerMsg::Message { id, seq, text, from, .. }))))
                if from.as_str() == nick =>
            {
                acked.push((id, seq, text.as_str().to_owned()));
            }
            Ok(Some(Ok(Ok(_)))) => {}
            Ok(Some(Ok(Err(e)))) => panic!("unreadable line: {e}"),
            Ok(Some(Err(_)) | None) => break,
            Err(_) => panic!("the killed node's connection stays open"),
        }
    }
    Burst { acked, sent }
}

/// Acknowledged means stored in Redis: a node is SIGKILLed in the middle of a burst (a
/// writer on it sending flat out, 128 in flight, killed once 1,000 are acknowledged), four
/// times, a new node each time. In two of the rounds Redis stops hearing the node 300 ms
/// before the kill (the relay holds what the node sends; Redis's answers still reach it), so
/// a node that answered its sender before Redis had stored would be caught every time, not
/// only when the kill lands in that window. Every message the writer got the echo of
/// (up to the end of its connection) is in the room's history read from another node: at
/// its seq, with its id and text, once; and the history is the writer's messages in the
/// order sent, numbered 1, 2, 3, ... with no gap and nothing twice.
#[tokio::test]
async fn a_node_killed_mid_burst_loses_nothing_it_acknowledged() {
    let redis = RedisServer::start();
    let a = Node::start(&redis, "a").await;
    let mut reader = member(&a, "reader").await;
    for round in 0..4 {
        let freeze = round % 2 == 1;
        let relay = Relay::to(&redis);
        let node = Node::start_via(&redis, &relay.url(), &format!("b{round}"), &[]).await;
        let (nick, room) = (format!("writer{round}"), format!("burst{round}"));
        let mut writer = member(&node, &nick).await;
        join(&mut writer, &room).await;
        let Burst { acked, sent } = burst(&mut writer, &nick, &room, node, &relay, freeze).await;

        join(&mut reader, &room).await;
        let history = whole_history(&mut reader, &room).await;
        println!(
            "round {round} (frozen: {freeze}): {sent} sent, {} acknowledged, {} stored",
            acked.len(),
            history.len()
        );
        assert!(acked.len() >= KILL_AT && history.len() <= sent);
        for (i, stored) in history.iter().enumerate() {
            assert_eq!(
                (stored.seq, stored.text()),
                (i as u64 + 1, burst_text(i).as_str()),
                "round {round}: the history is the burst in order, numbered without a gap"
            );
        }
        for (i, (id, seq, text)) in acked.iter().enumerate() {
            assert_eq!((*seq, text.as_str()), (i as u64 + 1, burst_text(i).as_str()));
            let stored = history.get(i).map(|m| (m.id, m.seq, m.text()));
            assert_eq!(
                stored,
                Some((*id, *seq, text.as_str())),
                "round {round}: acknowledged message {seq} of {} is not stored as acknowledged",
                acked.len()
            );
        }
    }
}

/// A node killed and restarted with the same `--node-id` clears what its earlier run left
/// before it takes clients: the old sessions' nicks are free and their memberships gone, as
/// a node started after it reads them from Redis. It starts once the dead run's heartbeat has
/// expired (within `NODE_TTL` + `HEARTBEAT`, 6 s; bound 8 s for a busy machine). No other
/// node runs meanwhile, so nothing else could have cleared it.
#[tokio::test]
async fn a_node_restarted_with_its_id_clears_what_its_last_run_left() {
    let redis = RedisServer::start();
    let b = Node::start(&redis, "b").await;
    let mut tracy = member(&b, "Tracy").await;
    join(&mut tracy, "rust").await;
    let _anna = member(&b, "Anna").await;
    wait_for_members(&mut tracy, &["Tracy", "Anna"]).await;

    let killed = Instant::now();
    b.kill().await;
    let b = Node::start(&redis, "b").await;
    let took = killed.elapsed();
    println!("restarted after {took:?}");
    assert!(took < NODE_TTL + HEARTBEAT + Duration::from_secs(2), "restarted after {took:?}");

    let a = Node::start(&redis, "a").await;
    let mut michael = member(&a, "Michael").await;
    michael.send(ClientMsg::Who { room: RoomName::lobby(), after: None }).await;
    let (members, _) = michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks, .. } = members else { unreachable!() };
    assert_eq!(nicks.iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["Michael"]);
    michael.send(ClientMsg::Rooms).await;
    let (rooms, _) = michael.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
    let ServerMsg::Rooms { rooms } = rooms else { unreachable!() };
    let rooms: Vec<(&str, u32)> = rooms.iter().map(|r| (r.name.as_str(), r.members)).collect();
    assert_eq!(rooms, [("lobby", 1)], "no member is left in #rust");
    // The old sessions' nicks are free, on either node.
    let _tracy = member(&b, "Tracy").await;
    let _anna = member(&a, "Anna").await;
    wait_for_members(&mut michael, &["Michael", "Tracy", "Anna"]).await;
}

/// A second process started with the node id of a live node is refused: it exits non-zero
/// saying another node runs as that id, and the live node goes on untouched. Of two processes
/// starting with one free id at the same moment, exactly one starts.
#[tokio::test]
async fn a_node_id_in_use_is_refused() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;

    let url = redis.url();
    let (twin, (c1, c2)) = tokio::join!(Node::try_start(&redis, &url, "b", &[]), async {
        tokio::join!(
            Node::try_start(&redis, &url, "c", &[]),
            Node::try_start(&redis, &url, "c", &[])
        )
    });
    let Err(refused) = twin else { panic!("a second node \"b\" started") };
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        refused.stderr.contains(r#"another node runs as "b""#),
        "the reason is given: {}",
        refused.stderr
    );
    let refused = match (c1, c2) {
        (Ok(_), Err(refused)) | (Err(refused), Ok(_)) => refused,
        (Ok(_), Ok(_)) => panic!("two nodes \"c\" started"),
        (Err(x), Err(y)) => panic!("no node \"c\" started: {x:?} / {y:?}"),
    };
    assert!(!refused.status.success() && refused.stderr.contains(r#"another node runs as "c""#));

    // b goes on: Tracy is still in the chat, on every node.
    tracy.send(say("lobby", "still here")).await;
    let (heard, _) = michael
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "still here"),
        )
        .await;
    assert!(matches!(heard, ServerMsg::Message { from, .. } if from.as_str() == "Tracy"));
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
}

/// Redis capped with `maxmemory` and `maxmemory-policy noeviction` (the README's advice),
/// then filled: the message past the cap is refused to its sender with `storage_failed`;
/// nobody sees it, nor anything else that is not stored (the member on the other node gets
/// every stored message once, in order, then the next stored one); it takes no number; and
/// everything stored before is still readable from the other node. Once the cap is raised,
/// messages go through again.
#[tokio::test]
async fn a_full_redis_refuses_messages_and_keeps_what_it_has() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(Node::start(&redis, "a"), Node::start(&redis, "b"));
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;

    let mut conn = redis.connection().await;
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut conn).await.unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let config = |key: &str, value: String| {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("SET").arg(key).arg(value);
        cmd
    };
    let () = config("maxmemory-policy", "noeviction".into()).query_async(&mut conn).await.unwrap();
    let () =
        config("maxmemory", (used + 256 * 1024).to_string()).query_async(&mut conn).await.unwrap();

    // Tracy fills it, a message at a time, until one is refused.
    let filler = "x".repeat(4000);
    let (mut stored, mut echoes) = (Vec::new(), Vec::new());
    let mut refused = None;
    for i in 0..2000 {
        let text = format!("{i} {filler}");
        tracy.send(say("lobby", &text)).await;
        match answer(&mut tracy, &text, &mut echoes).await {
            Some(Ok(seq)) => stored.push((seq, text)),
            Some(Err(ErrorCode::StorageFailed)) => {
                refused = Some(text);
                break;
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    let refused = refused.expect("Redis is full within 2,000 messages of 4 KB");
    println!("{} stored, then refused", stored.len());
    assert!(!stored.is_empty());

    // The operator raises the cap; the node may first have to catch up with Redis (its own
    // writes were refused too while it was full).
    let () = config("maxmemory", "0".into()).query_async(&mut conn).await.unwrap();
    let deadline = Instant::now() + WAIT * 4;
    let mut attempt = 0;
    // `None`: no answer at all (looked into after what was seen is checked).
    let after = loop {
        attempt += 1;
        let text = format!("after {attempt}");
        tracy.send(say("lobby", &text)).await;
        match answer(&mut tracy, &text, &mut echoes).await {
            Some(Ok(seq)) => break Some((seq, text)),
            Some(Err(ErrorCode::StorageFailed)) => {}
            None => break None,
            Some(Err(code)) => panic!("{code:?}"),
        }
        assert!(Instant::now() < deadline, "no message goes through once Redis has room");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // What Michael saw on the other node, up to that message; what Redis has.
    let mut seen: Vec<(u64, String)> = Vec::new();
    let until = Instant::now() + WAIT * 2;
    let last_text = after.as_ref().map(|(_, text)| text.as_str());
    while seen.last().map(|(_, text)| text.as_str()).is_none_or(|t| Some(t) != last_text) {
        match recv_by(&mut michael, until).await {
            Some(ServerMsg::Message { seq, text, .. }) => {
                seen.push((seq, text.as_str().to_owned()));
            }
            Some(_) => {}
            None => break,
        }
    }
    let history: Vec<(u64, String)> = whole_history(&mut michael, "lobby")
        .await
        .into_iter()
        .map(|m| (m.seq, m.text().to_owned()))
        .collect();
    let short = |(seq, text): &(u64, String)| (*seq, text.chars().take(12).collect::<String>());
    for (who, got) in [("Michael", &seen), ("Tracy", &echoes)] {
        assert!(!got.iter().any(|(_, text)| *text == refused), "{who} saw the refused message");
        let unstored: Vec<_> = got.iter().filter(|m| !history.contains(m)).map(short).collect();
        assert!(unstored.is_empty(), "{who} saw messages that are not stored: {unstored:?}");
    }
    let after = after.expect("the message after the cap was raised was answered");
    let last = stored.last().map(|(seq, _)| *seq).unwrap();
    stored.push(after);
    assert_eq!(seen, stored, "Michael saw every stored message once, in order");
    assert_eq!(history, stored, "nothing stored was evicted, nothing refused was stored");
    assert_eq!(stored.last().unwrap().0, last + 1, "the refused message took no number");
}

/// The answer to the message `text` `client` just said: its seq, or the error refusing it;
/// `None` if none comes within [`WAIT`]. Room messages before it are added to `echoes`.
async fn answer(
    client: &mut JsonClient,
    text: &str,
    echoes: &mut Vec<(u64, String)>,
) -> Option<Result<u64, ErrorCode>> {
    let deadline = Instant::now() + WAIT;
    loop {
        match recv_by(client, deadline).await? {
            ServerMsg::Message { seq, text: echo, .. } => {
                echoes.push((seq, echo.as_str().to_owned()));
                if echo.as_str() == text {
                    return Some(Ok(seq));
                }
            }
            ServerMsg::Error { code, .. } => return Some(Err(code)),
            _ => {}
        }
    }
}
