//! Rooms with owners across two nodes sharing a real Redis: what an operator does on one node
//! holds on the other at once (topics, modes, kicks, bans with their expiry, mutes, server
//! bans), and a room's settings outlive the nodes.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::time::Duration;

use common::redis::{Node, RedisServer, join, member, room, say};
use common::{JsonClient, nick};
use protocol::{
    ByeCode, ClientMsg, ErrorCode, Label, Mask, ModeChange, Moderation, Password, PresenceEvent,
    Role, ServerMsg,
};

const SECRET: &str = "tr0ub4dor&3 horse";

async fn node(redis: &RedisServer, id: &str) -> Node {
    Node::start_with(redis, id, &["--admin", "Admin"]).await
}

/// A member of `node` who registers `name` (and so is logged in).
async fn account(node: &Node, name: &str) -> JsonClient {
    let mut c = member(node, name).await;
    c.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    let (answer, _) = c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    assert!(matches!(answer, ServerMsg::Account { .. }), "{answer:?}");
    c
}

fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}

async fn refused(c: &mut JsonClient, request: &str) -> ErrorCode {
    let (error, _) = c
        .recv_until(|m| matches!(m, ServerMsg::Error { request: Some(r), .. } if r == request))
        .await;
    let ServerMsg::Error { code, .. } = error else { unreachable!() };
    code
}

async fn moderation(c: &mut JsonClient) -> Moderation {
    let (event, _) = c.recv_until(|m| matches!(m, ServerMsg::Moderation { .. })).await;
    let ServerMsg::Moderation { action, .. } = event else { unreachable!() };
    action
}

/// Joins a room that does not exist yet, as an account: its member list and the news that
/// the joiner owns it come in either order (the claim is stored apart from the join).
async fn make_room(c: &mut JsonClient, name: &str) {
    c.send(ClientMsg::Join { room: room(name), key: None }).await;
    let (mut members, mut claimed) = (false, false);
    while !(members && claimed) {
        match c.recv().await {
            ServerMsg::Members { room, .. } if room.as_str() == name => members = true,
            ServerMsg::Moderation { action: Moderation::Claimed, .. } => claimed = true,
            _ => {}
        }
    }
}

async fn kicked(c: &mut JsonClient, who: &str) {
    c.recv_until(|m| {
        matches!(m, ServerMsg::Presence { nick, event: PresenceEvent::Kicked { .. }, .. } if nick.as_str() == who)
    })
    .await;
}

/// Waits until `c`'s joins of `name` are refused with `code`, or fails after 5 s (the other
/// node applies an act when Redis publishes it: at once, but not in the same instant).
async fn refused_join(c: &mut JsonClient, name: &str, code: ErrorCode) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        c.send(ClientMsg::Join { room: room(name), key: None }).await;
        let (answer, _) = c
            .recv_until(|m| {
                matches!(m, ServerMsg::Error { request: Some(r), .. } if r == "join")
                    || matches!(m, ServerMsg::Members { room, .. } if room.as_str() == name)
            })
            .await;
        match answer {
            ServerMsg::Error { code: got, .. } if got == code => return,
            other => {
                assert!(tokio::time::Instant::now() < deadline, "{name}: {other:?}");
                c.send(ClientMsg::Leave { room: room(name) }).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn an_operator_on_one_node_moderates_members_on_the_other() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(node(&redis, "a"), node(&redis, "b"));
    let mut michael = account(&a, "Michael").await;
    make_room(&mut michael, "rust").await;
    let mut tracy = member(&b, "Tracy").await;
    // A look-alike name joins the room there is, on the other node too.
    tracy.send(ClientMsg::Join { room: room("rսst"), key: None }).await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == "rust"))
        .await;
    let mut sam = member(&b, "Sam").await;
    join(&mut sam, "rust").await;

    // The topic, set on a, reaches b's members, and b shows it to whoever joins there.
    michael
        .send(ClientMsg::Topic { room: room("rust"), text: Some(label("Rust 1.92 is out")) })
        .await;
    assert_eq!(
        moderation(&mut tracy).await,
        Moderation::Topic { text: Some(label("Rust 1.92 is out")) }
    );
    let mut late = member(&b, "Late").await;
    late.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    let (topic, _) = late.recv_until(|m| matches!(m, ServerMsg::Topic { .. })).await;
    assert!(matches!(topic, ServerMsg::Topic { topic: Some(t), .. } if t.by.as_str() == "Michael"));
    late.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    let (members, _) = late.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    assert!(
        matches!(members, ServerMsg::Members { roles, .. } if roles.get(&nick("Michael")) == Some(&Role::Owner))
    );

    // A mute set on a holds on b.
    michael.send(ClientMsg::Mute { room: room("rust"), nick: nick("Sam"), duration: None }).await;
    sam.recv_until(|m| matches!(m, ServerMsg::Moderation { action: Moderation::Muted { .. }, .. }))
        .await;
    sam.send(say("rust", "hello?")).await;
    assert_eq!(refused(&mut sam, "say").await, ErrorCode::Muted);

    // A kick on a removes a member of b.
    michael
        .send(ClientMsg::Kick {
            room: room("rust"),
            nick: nick("Sam"),
            reason: Some(label("noise")),
        })
        .await;
    kicked(&mut sam, "Sam").await;
    kicked(&mut michael, "Sam").await;
    sam.send(say("rust", "back?")).await;
    assert_eq!(refused(&mut sam, "say").await, ErrorCode::NotInRoom);

    // A timed ban on a: removed on b, refused on b until it expires.
    michael
        .send(ClientMsg::Ban {
            room: room("rust"),
            mask: Mask::Nick(nick("Tracy")),
            duration: Some(2),
            reason: None,
        })
        .await;
    kicked(&mut tracy, "Tracy").await;
    refused_join(&mut tracy, "rust", ErrorCode::Banned).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    join(&mut tracy, "rust").await;

    // Invite-only, set on a: refused on b until invited on a.
    michael
        .send(ClientMsg::Mode { room: room("rust"), changes: vec![ModeChange::InviteOnly(true)] })
        .await;
    moderation(&mut tracy).await;
    refused_join(&mut sam, "rust", ErrorCode::InviteOnly).await;
    michael.send(ClientMsg::Invite { room: room("rust"), nick: nick("Sam") }).await;
    tracy
        .recv_until(|m| {
            matches!(m, ServerMsg::Moderation { action: Moderation::Invited { .. }, .. })
        })
        .await;
    join(&mut sam, "rust").await;
}

#[tokio::test]
async fn an_admin_bans_from_every_node() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(node(&redis, "a"), node(&redis, "b"));
    let mut admin = account(&b, "Admin").await;
    let mut mallory = member(&a, "Mallory").await;
    admin
        .send(ClientMsg::Gban {
            mask: Mask::Nick(nick("Mallory")),
            duration: None,
            reason: Some(label("spam")),
        })
        .await;
    let bye = mallory.recv_until_closed().await;
    assert!(
        bye.iter().any(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Banned, .. })),
        "{bye:?}"
    );
    let mut again = JsonClient::connect(a.json).await;
    assert!(matches!(again.hello("Mallory").await, ServerMsg::Bye { code: ByeCode::Banned, .. }));
    // Killed on the other node, once that node has told this one Eve is online.
    let mut eve = member(&a, "Eve").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        admin.send(ClientMsg::Kill { nick: nick("Eve"), reason: None }).await;
        let (answer, _) = admin
            .recv_until(|m| matches!(m, ServerMsg::Notice { .. } | ServerMsg::Error { .. }))
            .await;
        match answer {
            ServerMsg::Notice { text, .. } if text == "Eve is disconnected" => break,
            ServerMsg::Notice { .. } => {}
            other => assert!(tokio::time::Instant::now() < deadline, "{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bye = eve.recv_until_closed().await;
    assert!(
        bye.iter().any(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Killed, .. })),
        "{bye:?}"
    );
}

#[tokio::test]
async fn a_rooms_settings_outlive_its_nodes() {
    let redis = RedisServer::start();
    let a = node(&redis, "a").await;
    let mut michael = account(&a, "Michael").await;
    make_room(&mut michael, "rust").await;
    let mut sam = account(&a, "Sam").await;
    join(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Operator })
        .await;
    michael.send(ClientMsg::Topic { room: room("rust"), text: Some(label("kept")) }).await;
    michael
        .send(ClientMsg::Mode { room: room("rust"), changes: vec![ModeChange::Moderated(true)] })
        .await;
    for _ in 0..3 {
        moderation(&mut sam).await;
    }
    drop((michael, sam));
    a.stop().await;

    let c = node(&redis, "c").await;
    let mut tracy = member(&c, "Tracy").await;
    tracy.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    let (topic, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Topic { .. })).await;
    assert!(matches!(topic, ServerMsg::Topic { topic: Some(t), .. } if t.text.as_str() == "kept"));
    tracy.send(say("rust", "hi")).await;
    assert_eq!(refused(&mut tracy, "say").await, ErrorCode::Moderated);
    let mut sam = JsonClient::connect(c.json).await;
    assert!(matches!(
        sam.hello_with_password("Sam", Some(SECRET)).await,
        ServerMsg::Welcome { account: true, .. }
    ));
    join(&mut sam, "rust").await;
    sam.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
    let (modes, _) = sam.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
    assert!(
        matches!(modes, ServerMsg::Modes { owner: Some(o), modes, .. } if o.as_str() == "Michael" && modes.moderated)
    );
    sam.send(say("rust", "operators speak")).await;
    sam.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
}

/// An act is the asker's on its own node as soon as it is answered: a room's maker sets `+s`
/// right behind its `join`, and a topic is read back right after it is set, though each node
/// applies acts when Redis publishes them back.
#[tokio::test]
async fn an_act_holds_on_its_own_node_once_answered() {
    let redis = RedisServer::start();
    let a = node(&redis, "a").await;
    let mut michael = account(&a, "Michael").await;
    for n in 0..10 {
        let name = format!("den{n}");
        michael.send(ClientMsg::Join { room: room(&name), key: None }).await;
        let secret = ClientMsg::Mode { room: room(&name), changes: vec![ModeChange::Secret(true)] };
        michael.send(secret).await;
        let (answer, _) = michael
            .recv_until(|m| {
                matches!(m, ServerMsg::Error { .. })
                    || matches!(m, ServerMsg::Moderation { action: Moderation::Modes { .. }, .. })
            })
            .await;
        assert!(matches!(answer, ServerMsg::Moderation { .. }), "#{name}: {answer:?}");
        michael.send(ClientMsg::Topic { room: room(&name), text: Some(label("set")) }).await;
        michael.send(ClientMsg::Topic { room: room(&name), text: None }).await;
        let (topic, _) = michael.recv_until(|m| matches!(m, ServerMsg::Topic { .. })).await;
        assert!(
            matches!(&topic, ServerMsg::Topic { topic: Some(t), .. } if t.text.as_str() == "set"),
            "#{name}: {topic:?}"
        );
    }
    a.stop().await;
}
