//! Rooms with owners on one node: who may see inside a room, owners and roles, topics and
//! modes, kicks, bans, mutes, server admins, and all of it after a restart. (Several nodes:
//! `cluster_rooms.rs`.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chat_server::broker::Location;
use chat_server::{HistoryConfig, ServerInfo};
use common::{
    JsonClient, PlainClient, TestServer, nick, start_server_with, start_server_with_history,
};
use protocol::{
    ByeCode, ClientMsg, ErrorCode, JoinKey, Label, Mask, ModeChange, Moderation, Modes, Password,
    PresenceEvent, Role, RoomName, ServerMsg, Text,
};

const SECRET: &str = "correct horse battery";

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}

/// Flood control off, and Michael the server's admin (once registered and logged in).
fn admin_info() -> ServerInfo {
    ServerInfo { admins: vec![nick("Admin")], ..common::info() }
}

/// A session of `name`, registered and so logged in, past its lobby member list.
async fn account(server: &TestServer, name: &str) -> JsonClient {
    let mut c = server.join(name).await;
    c.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    let (answer, _) =
        c.recv_until(|m| matches!(m, ServerMsg::Account { .. } | ServerMsg::Error { .. })).await;
    assert!(matches!(answer, ServerMsg::Account { .. }), "register {name}: {answer:?}");
    c
}

/// Logs in to an existing account.
async fn log_in(server: &TestServer, name: &str) -> JsonClient {
    let mut c = JsonClient::connect(server.json).await;
    let welcome = c.hello_with_password(name, Some(SECRET)).await;
    assert!(matches!(welcome, ServerMsg::Welcome { account: true, .. }), "{welcome:?}");
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c
}

/// Joins `name` and reads up to its member list; returns everything up to it.
async fn enter(c: &mut JsonClient, name: &str) -> Vec<ServerMsg> {
    c.send(ClientMsg::Join { room: room(name), key: None }).await;
    let (members, mut before) = c
        .recv_until(|m| matches!(m, ServerMsg::Members { room: r, .. } if r.as_str() == name))
        .await;
    before.push(members);
    before
}

/// The error that answers the next request of type `request`.
async fn refused(c: &mut JsonClient, request: &str) -> (ErrorCode, String) {
    let (error, _) = c
        .recv_until(|m| matches!(m, ServerMsg::Error { request: Some(r), .. } if r == request))
        .await;
    let ServerMsg::Error { code, message, .. } = error else { unreachable!() };
    (code, message)
}

/// The next moderation event of `room`.
async fn moderation(c: &mut JsonClient, name: &str) -> (String, Moderation) {
    let (event, _) = c
        .recv_until(|m| matches!(m, ServerMsg::Moderation { room: r, .. } if r.as_str() == name))
        .await;
    let ServerMsg::Moderation { by, action, .. } = event else { unreachable!() };
    (by.to_string(), action)
}

/// Who is in `name`, as `who` answers.
async fn members(c: &mut JsonClient, name: &str) -> Vec<protocol::Nick> {
    c.send(ClientMsg::Who { room: room(name), after: None }).await;
    let (listed, _) = c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks, .. } = listed else { unreachable!() };
    nicks
}

fn say(name: &str, text: &str) -> ClientMsg {
    ClientMsg::Say { room: room(name), text: Text::parse(text).unwrap() }
}

/// Michael (an account) makes `rust` and owns it; Tracy (a guest) joins it.
async fn owned_room(server: &TestServer) -> (JsonClient, JsonClient) {
    let mut michael = account(server, "Michael").await;
    enter(&mut michael, "rust").await;
    let (by, action) = moderation(&mut michael, "rust").await;
    assert_eq!((by.as_str(), action), ("Michael", Moderation::Claimed));
    let mut tracy = server.join("Tracy").await;
    enter(&mut tracy, "rust").await;
    michael
        .recv_until(
            |m| matches!(m, ServerMsg::Presence { nick: n, room: r, .. } if n.as_str() == "Tracy" && r.as_str() == "rust"),
        )
        .await;
    (michael, tracy)
}

fn file_history(db: &Path) -> HistoryConfig {
    HistoryConfig { location: Some(Location::File(db.to_path_buf())), ..HistoryConfig::default() }
}

/// A server keeping its history, accounts and room settings in `chat.db` in a new directory,
/// which lasts as long as the returned handle.
async fn server_on_a_file() -> (tempfile::TempDir, PathBuf, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let server = start_server_with_history(common::info(), file_history(&db)).await;
    (dir, db, server)
}

/// Another connection holding `db`'s write lock until it commits: the server's writes wait
/// meanwhile (or, where they must not wait, queue).
fn hold_writes(db: &Path) -> rusqlite::Connection {
    let blocker = rusqlite::Connection::open(db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    blocker
}

#[tokio::test]
async fn a_logged_in_maker_owns_the_room_and_the_member_list_marks_it() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    tracy.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    let (listed, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let ServerMsg::Members { nicks, roles, .. } = listed else { unreachable!() };
    assert_eq!(nicks, vec![nick("Michael"), nick("Tracy")]);
    assert_eq!(roles, [(nick("Michael"), Role::Owner)].into());
    michael.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
    let (modes, _) = michael.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
    assert_eq!(
        modes,
        ServerMsg::Modes {
            room: room("rust"),
            modes: Modes::default(),
            owner: Some(nick("Michael"))
        }
    );
    // A guest's room has no owner until a logged-in member claims it; then it has one.
    enter(&mut tracy, "guests").await;
    enter(&mut michael, "guests").await;
    tracy.send(ClientMsg::Claim { room: room("guests") }).await;
    assert_eq!(refused(&mut tracy, "claim").await.0, ErrorCode::NoAccount);
    michael.send(ClientMsg::Claim { room: room("guests") }).await;
    let (by, action) = moderation(&mut tracy, "guests").await;
    assert_eq!((by.as_str(), action), ("Michael", Moderation::Claimed));
    michael.send(ClientMsg::Claim { room: room("guests") }).await;
    assert_eq!(refused(&mut michael, "claim").await.0, ErrorCode::HasOwner);
    server.shutdown().await;
}

/// A maker's requests right after its join wait for the room to be its own: a `mode` sent
/// right behind the `join` is the owner's, not refused, even while storing the claim is slow
/// (here another connection holds the database's write lock for a while).
#[tokio::test]
async fn a_maker_moderates_its_new_room_at_once() {
    let (_dir, db, server) = server_on_a_file().await;
    let mut michael = account(&server, "Michael").await;
    let blocker = hold_writes(&db);
    michael.send(ClientMsg::Join { room: room("hideout"), key: None }).await;
    let secret = ClientMsg::Mode { room: room("hideout"), changes: vec![ModeChange::Secret(true)] };
    michael.send(secret).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.execute_batch("COMMIT").unwrap();
    let (answer, before) = michael
        .recv_until(|m| {
            matches!(m, ServerMsg::Error { .. })
                || matches!(m, ServerMsg::Moderation { action: Moderation::Modes { .. }, .. })
        })
        .await;
    let ServerMsg::Moderation { room: r, action: Moderation::Modes { modes }, .. } = answer else {
        panic!("{answer:?} after {before:?}")
    };
    assert_eq!(r.as_str(), "hideout");
    assert!(modes.secret, "{modes:?}");
    server.shutdown().await;
}

/// On the plain port a line without a newline counts once the client pauses; while input waits
/// for an act (the claim of a room just made), that line waits too, so it still comes after
/// the claim: `+s` typed right behind the join is the owner's.
#[tokio::test]
async fn an_unterminated_line_waits_with_the_input_before_it() {
    let (_dir, db, server) = server_on_a_file().await;
    account(&server, "Michael").await.send(ClientMsg::Quit { reason: None }).await;
    let mut plain = PlainClient::connect(server.plain).await;
    plain.line().await;
    plain.send("Michael\n").await;
    assert_eq!(plain.line().await, "Password for Michael:");
    plain.send(&format!("{SECRET}\n")).await;
    plain.line_until(|l| l.starts_with("[lobby] Members:")).await;
    let blocker = hold_writes(&db);
    plain.send("/join hideout\n/mode +s").await;
    // Longer than the plain port's pause for an unterminated line.
    tokio::time::sleep(Duration::from_millis(800)).await;
    blocker.execute_batch("COMMIT").unwrap();
    let answer = plain.line_until(|l| l.starts_with("! ") || l.contains("set the modes")).await;
    assert!(answer.contains("Michael set the modes to +s"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_members_attempts_are_refused_and_change_nothing() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    let attempts = [
        ClientMsg::Topic { room: room("rust"), text: Some(label("mine now")) },
        ClientMsg::Mode { room: room("rust"), changes: vec![ModeChange::InviteOnly(true)] },
        ClientMsg::Kick { room: room("rust"), nick: nick("Michael"), reason: None },
        ClientMsg::Ban {
            room: room("rust"),
            mask: Mask::Nick(nick("Michael")),
            duration: None,
            reason: None,
        },
        ClientMsg::Mute { room: room("rust"), nick: nick("Michael"), duration: None },
        ClientMsg::Invite { room: room("rust"), nick: nick("Sam") },
        ClientMsg::Bans { room: room("rust") },
        ClientMsg::Role { room: room("rust"), nick: nick("Tracy"), role: Role::Operator },
        ClientMsg::Kill { nick: nick("Michael"), reason: None },
        ClientMsg::Gban { mask: Mask::Nick(nick("Michael")), duration: None, reason: None },
    ];
    for attempt in attempts {
        let name = attempt.type_name();
        tracy.send(attempt).await;
        let (code, message) = refused(&mut tracy, name).await;
        let expected = match name {
            "role" => ErrorCode::NotOwner,
            "kill" | "gban" => ErrorCode::NotAdmin,
            _ => ErrorCode::NotOperator,
        };
        assert_eq!(code, expected, "{name}: {message}");
        if expected != ErrorCode::NotAdmin {
            assert!(message.contains("ask its owner, Michael"), "{name}: {message}");
        }
    }
    // Nothing changed, and nobody else heard of it.
    tracy.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
    let (modes, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
    assert!(matches!(modes, ServerMsg::Modes { modes, .. } if modes == Modes::default()));
    tracy.send(ClientMsg::Topic { room: room("rust"), text: None }).await;
    let (topic, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Topic { .. })).await;
    assert_eq!(topic, ServerMsg::Topic { room: room("rust"), topic: None });
    michael.assert_silent().await;
    // Not even the owner can kick itself or be kicked by a new operator.
    michael.send(ClientMsg::Kick { room: room("rust"), nick: nick("Michael"), reason: None }).await;
    assert_eq!(refused(&mut michael, "kick").await.0, ErrorCode::NotOperator);
    server.shutdown().await;
}

#[tokio::test]
async fn a_kicked_member_is_told_who_and_why_and_is_out() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    michael
        .send(ClientMsg::Kick {
            room: room("rust"),
            nick: nick("TRACY"),
            reason: Some(label("spamming")),
        })
        .await;
    let kicked = PresenceEvent::Kicked { by: nick("Michael"), reason: Some(label("spamming")) };
    for c in [&mut michael, &mut tracy] {
        let (event, _) = c.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
        let ServerMsg::Presence { room: r, nick: n, event, .. } = event else { unreachable!() };
        assert_eq!((r.as_str(), n.as_str(), &event), ("rust", "Tracy", &kicked));
    }
    tracy.send(say("rust", "still here?")).await;
    assert_eq!(refused(&mut tracy, "say").await.0, ErrorCode::NotInRoom);
    assert_eq!(members(&mut michael, "rust").await, vec![nick("Michael")]);
    // Kicked, not banned: Tracy may come back.
    enter(&mut tracy, "rust").await;
    // Somebody who is not there is not kicked.
    michael.send(ClientMsg::Kick { room: room("rust"), nick: nick("Nobody"), reason: None }).await;
    assert_eq!(refused(&mut michael, "kick").await.0, ErrorCode::NoSuchNick);
    server.shutdown().await;
}

#[tokio::test]
async fn bans_by_nick_account_and_address_remove_refuse_and_expire() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    // A guest's nick, and its look-alikes, for one second.
    michael
        .send(ClientMsg::Ban {
            room: room("rust"),
            mask: Mask::Nick(nick("Tracy")),
            duration: Some(1),
            reason: Some(label("cool off")),
        })
        .await;
    let (_, action) = moderation(&mut michael, "rust").await;
    assert!(
        matches!(action, Moderation::Banned { mask: Mask::Nick(_), until: Some(_), .. }),
        "{action:?}"
    );
    let (event, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    assert!(
        matches!(event, ServerMsg::Presence { event: PresenceEvent::Kicked { .. }, .. }),
        "{event:?}"
    );
    tracy.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    let (code, message) = refused(&mut tracy, "join").await;
    assert_eq!(code, ErrorCode::Banned);
    assert!(message.contains("by Michael: cool off"), "{message}");
    // A room that reads like it is it. (Nicks that read alike: the authority's unit tests.)
    tracy.send(ClientMsg::Join { room: room("rսst"), key: None }).await;
    assert_eq!(refused(&mut tracy, "join").await.0, ErrorCode::Banned);
    michael.send(ClientMsg::Bans { room: room("rust") }).await;
    let (bans, _) = michael.recv_until(|m| matches!(m, ServerMsg::Bans { .. })).await;
    let ServerMsg::Bans { bans, .. } = bans else { unreachable!() };
    assert_eq!(bans.len(), 1);
    assert_eq!((bans[0].by.as_str(), bans[0].mask.to_string()), ("Michael", "nick:Tracy".into()));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    enter(&mut tracy, "rust").await;

    // An account, whatever nick it is using: Sam logs in, is banned by the bare nick.
    let mut sam = account(&server, "Sam").await;
    enter(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Ban {
            room: room("rust"),
            mask: Mask::Nick(nick("Sam")),
            duration: None,
            reason: None,
        })
        .await;
    let (_, action) = moderation(&mut michael, "rust").await;
    assert!(
        matches!(action, Moderation::Banned { mask: Mask::Account(_), until: None, .. }),
        "{action:?}"
    );
    sam.recv_until(|m| {
        matches!(m, ServerMsg::Presence { event: PresenceEvent::Kicked { .. }, .. })
    })
    .await;
    let mut sam_again = log_in(&server, "Sam").await;
    sam_again.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    assert_eq!(refused(&mut sam_again, "join").await.0, ErrorCode::Banned);
    // Unbanned by the bare nick too.
    michael.send(ClientMsg::Unban { room: room("rust"), mask: Mask::Nick(nick("Sam")) }).await;
    let (_, action) = moderation(&mut michael, "rust").await;
    assert_eq!(action, Moderation::Unbanned { mask: Mask::Account(nick("Sam")) });
    enter(&mut sam_again, "rust").await;
    michael.send(ClientMsg::Unban { room: room("rust"), mask: Mask::Nick(nick("Sam")) }).await;
    assert_eq!(refused(&mut michael, "unban").await.0, ErrorCode::NoSuchBan);

    // An address: everyone here is on 127.0.0.1, and only the owner stays.
    michael
        .send(ClientMsg::Ban {
            room: room("rust"),
            mask: "addr:127.0.0.0/8".parse().unwrap(),
            duration: None,
            reason: None,
        })
        .await;
    for c in [&mut tracy, &mut sam_again] {
        c.recv_until(|m| {
            matches!(m, ServerMsg::Presence { event: PresenceEvent::Kicked { .. }, .. })
        })
        .await;
    }
    let mut newcomer = server.join("Newcomer").await;
    newcomer.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    assert_eq!(refused(&mut newcomer, "join").await.0, ErrorCode::Banned);
    assert_eq!(members(&mut michael, "rust").await, vec![nick("Michael")]);
    server.shutdown().await;
}

#[tokio::test]
async fn invite_only_keys_secret_and_moderated_rooms() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    let sesame = JoinKey::parse("sesame").unwrap();
    michael
        .send(ClientMsg::Mode {
            room: room("rust"),
            changes: vec![
                ModeChange::InviteOnly(true),
                ModeChange::Key(Some(sesame.clone())),
                ModeChange::Secret(true),
                ModeChange::Moderated(true),
            ],
        })
        .await;
    let (_, action) =
        tracy.recv_until(|m| matches!(m, ServerMsg::Moderation { .. })).await.0.into_moderation();
    let all = Modes { invite_only: true, key: true, moderated: true, secret: true };
    assert_eq!(action, Moderation::Modes { modes: all });

    // Moderated: a member without a voice is refused; the owner speaks.
    tracy.send(say("rust", "hello?")).await;
    assert_eq!(refused(&mut tracy, "say").await.0, ErrorCode::Moderated);
    michael.send(say("rust", "owners speak")).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    // A voice is given to accounts only.
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Tracy"), role: Role::Voiced })
        .await;
    assert_eq!(refused(&mut michael, "role").await.0, ErrorCode::NoAccount);

    // Secret: not listed to others, listed to members.
    let mut sam = server.join("Sam").await;
    sam.send(ClientMsg::Rooms).await;
    let (rooms, _) = sam.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
    let ServerMsg::Rooms { rooms } = rooms else { unreachable!() };
    assert!(rooms.iter().all(|r| r.name.as_str() != "rust"), "{rooms:?}");
    tracy.send(ClientMsg::Rooms).await;
    let (rooms, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
    let ServerMsg::Rooms { rooms } = rooms else { unreachable!() };
    assert!(rooms.iter().any(|r| r.name.as_str() == "rust"), "{rooms:?}");
    // Nor can a non-member read inside it.
    sam.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    assert_eq!(refused(&mut sam, "who").await.0, ErrorCode::NotInRoom);
    sam.send(ClientMsg::History { room: room("rust"), before: None, limit: 10 }).await;
    assert_eq!(refused(&mut sam, "history").await.0, ErrorCode::NotInRoom);
    sam.send(ClientMsg::Topic { room: room("rust"), text: None }).await;
    assert_eq!(refused(&mut sam, "topic").await.0, ErrorCode::NotInRoom);
    sam.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
    assert_eq!(refused(&mut sam, "mode").await.0, ErrorCode::NotInRoom);

    // Invite-only: refused, invited, then the key is still needed.
    sam.send(ClientMsg::Join { room: room("rust"), key: Some(sesame.clone()) }).await;
    assert_eq!(refused(&mut sam, "join").await.0, ErrorCode::InviteOnly);
    michael.send(ClientMsg::Invite { room: room("rust"), nick: nick("Sam") }).await;
    let (_, action) = moderation(&mut michael, "rust").await;
    assert_eq!(action, Moderation::Invited { nick: nick("Sam") });
    sam.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    let (code, message) = refused(&mut sam, "join").await;
    assert_eq!(code, ErrorCode::WrongKey, "{message}");
    assert!(message.contains("/join rust KEY"), "{message}");
    sam.send(ClientMsg::Join { room: room("rust"), key: Some(JoinKey::parse("open").unwrap()) })
        .await;
    assert_eq!(refused(&mut sam, "join").await.0, ErrorCode::WrongKey);
    sam.send(ClientMsg::Join { room: room("rust"), key: Some(sesame) }).await;
    sam.recv_until(|m| matches!(m, ServerMsg::Members { room: r, .. } if r.as_str() == "rust"))
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn operators_mute_and_voice_and_the_owner_makes_operators() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    let mut sam = account(&server, "Sam").await;
    enter(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Operator })
        .await;
    let (_, action) = moderation(&mut tracy, "rust").await;
    assert_eq!(action, Moderation::Role { nick: nick("Sam"), role: Role::Operator });
    // The new operator mutes the guest, for a second.
    sam.send(ClientMsg::Mute { room: room("rust"), nick: nick("Tracy"), duration: Some(1) }).await;
    let (by, action) = moderation(&mut tracy, "rust").await;
    assert_eq!(by, "Sam");
    assert!(matches!(action, Moderation::Muted { until: Some(_), .. }), "{action:?}");
    tracy.send(say("rust", "let me speak")).await;
    let (code, message) = refused(&mut tracy, "say").await;
    assert_eq!(code, ErrorCode::Muted);
    assert!(message.contains("muted in #rust for"), "{message}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    tracy.send(say("rust", "thanks")).await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "thanks"))
        .await;
    // An operator may not make operators, nor act on the owner.
    sam.send(ClientMsg::Role { room: room("rust"), nick: nick("Michael"), role: Role::Member })
        .await;
    assert_eq!(refused(&mut sam, "role").await.0, ErrorCode::NotOwner);
    sam.send(ClientMsg::Mute { room: room("rust"), nick: nick("Michael"), duration: None }).await;
    assert_eq!(refused(&mut sam, "mute").await.0, ErrorCode::NotOperator);
    // Deopped, Sam is a member again.
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Member })
        .await;
    moderation(&mut sam, "rust").await;
    sam.send(ClientMsg::Topic { room: room("rust"), text: Some(label("x")) }).await;
    assert_eq!(refused(&mut sam, "topic").await.0, ErrorCode::NotOperator);
    server.shutdown().await;
}

#[tokio::test]
async fn topics_roles_modes_and_bans_survive_a_restart() {
    let (_dir, db, server) = server_on_a_file().await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    let mut sam = account(&server, "Sam").await;
    enter(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Operator })
        .await;
    michael
        .send(ClientMsg::Topic { room: room("rust"), text: Some(label("Rust 1.92 is out")) })
        .await;
    michael
        .send(ClientMsg::Mode { room: room("rust"), changes: vec![ModeChange::Moderated(true)] })
        .await;
    michael
        .send(ClientMsg::Ban {
            room: room("rust"),
            mask: Mask::Nick(nick("Mallory")),
            duration: None,
            reason: None,
        })
        .await;
    for _ in 0..4 {
        moderation(&mut tracy, "rust").await;
    }
    drop((michael, tracy, sam));
    server.shutdown().await;

    let server = start_server_with_history(common::info(), file_history(&db)).await;
    let mut tracy = server.join("Tracy").await;
    let joined = enter(&mut tracy, "rust").await;
    let ServerMsg::Members { roles, .. } = joined.last().unwrap() else { unreachable!() };
    assert!(roles.is_empty(), "nobody with a role is here yet: {roles:?}");
    let (topic, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Topic { .. })).await;
    let ServerMsg::Topic { topic: Some(topic), .. } = topic else { panic!("{topic:?}") };
    assert_eq!((topic.text.as_str(), topic.by.as_str()), ("Rust 1.92 is out", "Michael"));
    tracy.send(say("rust", "hi")).await;
    assert_eq!(refused(&mut tracy, "say").await.0, ErrorCode::Moderated);
    let mut sam = log_in(&server, "Sam").await;
    let joined = enter(&mut sam, "rust").await;
    let ServerMsg::Members { roles, .. } = joined.last().unwrap() else { unreachable!() };
    assert_eq!(roles, &[(nick("Sam"), Role::Operator)].into());
    let mut mallory = server.join("Mallory").await;
    mallory.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    assert_eq!(refused(&mut mallory, "join").await.0, ErrorCode::Banned);
    let mut michael = log_in(&server, "Michael").await;
    enter(&mut michael, "rust").await;
    michael.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
    let (modes, _) = michael.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
    assert!(matches!(modes, ServerMsg::Modes { owner: Some(o), .. } if o.as_str() == "Michael"));
    server.shutdown().await;
}

#[tokio::test]
async fn admins_kill_and_ban_from_the_server_and_are_beyond_bans() {
    let server = start_server_with(admin_info()).await;
    let mut admin = account(&server, "Admin").await;
    let mut mallory = server.join("Mallory").await;
    let mut tracy = server.join("Tracy").await;
    // Lobby is the admins' room: an admin acts there as its owner.
    admin
        .send(ClientMsg::Kick { room: RoomName::lobby(), nick: nick("Tracy"), reason: None })
        .await;
    tracy
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { event: PresenceEvent::Kicked { .. }, .. })
        })
        .await;
    admin.send(ClientMsg::Kill { nick: nick("Mallory"), reason: Some(label("spam bot")) }).await;
    let bye = mallory.recv_until_closed().await;
    assert!(
        bye.iter().any(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Killed, message, .. } if message == "disconnected by Admin: spam bot")),
        "{bye:?}"
    );
    admin
        .send(ClientMsg::Gban {
            mask: Mask::Nick(nick("Tracy")),
            duration: None,
            reason: Some(label("enough")),
        })
        .await;
    let bye = tracy.recv_until_closed().await;
    assert!(
        bye.iter().any(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Banned, .. })),
        "{bye:?}"
    );
    // Refused at hello, before anything else: no nick, no lobby.
    let mut again = JsonClient::connect(server.json).await;
    let answer = again.hello("trасy").await;
    assert!(matches!(answer, ServerMsg::Bye { code: ByeCode::Banned, .. }), "{answer:?}");
    // An address ban matches the admin's own address too, and leaves the admin alone.
    admin
        .send(ClientMsg::Gban {
            mask: "addr:127.0.0.1".parse().unwrap(),
            duration: Some(2),
            reason: None,
        })
        .await;
    admin
        .recv_until(|m| matches!(m, ServerMsg::Notice { text, .. } if text == "addr:127.0.0.1/32 is banned from the server"))
        .await;
    let mut anyone = JsonClient::connect(server.json).await;
    assert!(matches!(anyone.hello("Anyone").await, ServerMsg::Bye { code: ByeCode::Banned, .. }));
    admin.send(ClientMsg::Gbans).await;
    let (bans, _) = admin.recv_until(|m| matches!(m, ServerMsg::Bans { room: None, .. })).await;
    let ServerMsg::Bans { bans, .. } = bans else { unreachable!() };
    assert_eq!(bans.len(), 2, "{bans:?}");
    admin.send(ClientMsg::Ungban { mask: "addr:127.0.0.1".parse().unwrap() }).await;
    admin.send(ClientMsg::Gbans).await;
    let (bans, _) = admin.recv_until(|m| matches!(m, ServerMsg::Bans { room: None, .. })).await;
    assert!(matches!(bans, ServerMsg::Bans { bans, .. } if bans.len() == 1));
    server.join("Anyone").await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_plain_port_moderates_and_shows_it_in_words() {
    let server = start_server_with(common::info()).await;
    let (mut michael, _tracy) = owned_room(&server).await;
    michael
        .send(ClientMsg::Topic { room: room("rust"), text: Some(label("Rust\u{1b}[2J 1.92")) })
        .await;
    moderation(&mut michael, "rust").await;
    let mut plain = PlainClient::login(server.plain, "Sam").await;
    plain.send("/join rust\n").await;
    let topic = plain.line_until(|l| l.starts_with("[rust] Topic:")).await;
    assert!(topic.starts_with("[rust] Topic: Rust␛[2J 1.92 (set by Michael, "), "{topic}");
    plain.send("/kick Tracy\n").await;
    let refused = plain.line_until(|l| l.starts_with("! ")).await;
    assert!(refused.starts_with("! Only operators of #rust may kick"), "{refused}");
    michael
        .send(ClientMsg::Kick {
            room: room("rust"),
            nick: nick("Tracy"),
            reason: Some(label("spamming")),
        })
        .await;
    let kicked = plain.line_until(|l| l.contains("kicked")).await;
    assert_eq!(kicked, "[rust] <-- Tracy was kicked by Michael: spamming");
    michael
        .send(ClientMsg::Mode { room: room("rust"), changes: vec![ModeChange::Moderated(true)] })
        .await;
    let modes = plain.line_until(|l| l.contains("***")).await;
    assert_eq!(
        modes,
        "[rust] *** Michael set the modes to +m (moderated: only operators and voiced members speak)"
    );
    plain.send("/who\n").await;
    assert_eq!(plain.line_until(|l| l.contains("Members")).await, "[rust] Members: ~Michael, Sam");
    plain.send("/mode\n").await;
    let modes = plain.line_until(|l| l.contains("Modes")).await;
    assert!(modes.ends_with("; owner Michael"), "{modes}");
    server.shutdown().await;
}

/// Test helper: the `by` and action of a moderation event.
trait IntoModeration {
    fn into_moderation(self) -> (String, Moderation);
}

impl IntoModeration for ServerMsg {
    fn into_moderation(self) -> (String, Moderation) {
        match self {
            ServerMsg::Moderation { by, action, .. } => (by.to_string(), action),
            other => panic!("not a moderation event: {other:?}"),
        }
    }
}

/// A room keeps at most `MAX_INVITES` invitations: an operator cannot grow it without bound.
#[tokio::test]
async fn invitations_are_bounded() {
    let server = start_server_with(common::info()).await;
    let (mut michael, _tracy) = owned_room(&server).await;
    for n in 0..chat_server::limits::MAX_INVITES {
        michael
            .send(ClientMsg::Invite { room: room("rust"), nick: nick(&format!("guest{n}")) })
            .await;
    }
    michael.send(ClientMsg::Invite { room: room("rust"), nick: nick("one-more") }).await;
    let (code, message) = refused(&mut michael, "invite").await;
    assert_eq!(code, ErrorCode::InvalidField);
    assert!(message.contains("500 invitations already"), "{message}");
    server.shutdown().await;
}

/// The review's holes, closed: a room whose name reads as the server's scope owns no server
/// bans; lobby cannot be claimed; a muted member cannot shed the mute by a new nick; an
/// operator who left can be deopped; a zero or endless duration is refused.
#[tokio::test]
async fn what_a_room_owner_cannot_reach() {
    let server = start_server_with(common::info()).await;
    let mut mallory = account(&server, "Mallory").await;
    // U+1031F reads as `*`: its room is a room like any other.
    enter(&mut mallory, "\u{1031f}").await;
    // Her ownership is stored after the join is answered: the ban waits for it.
    let (_, claimed) = moderation(&mut mallory, "\u{1031f}").await;
    assert!(matches!(claimed, Moderation::Claimed), "{claimed:?}");
    mallory
        .send(ClientMsg::Ban {
            room: room("\u{1031f}"),
            mask: "addr:127.0.0.0/8".parse().unwrap(),
            duration: None,
            reason: None,
        })
        .await;
    moderation(&mut mallory, "\u{1031f}").await;
    server.join("Anyone").await;
    mallory.send(ClientMsg::Claim { room: RoomName::lobby() }).await;
    assert_eq!(refused(&mut mallory, "claim").await.0, ErrorCode::NotAdmin);
    for duration in [0, protocol::limits::MAX_DURATION_SECS + 1] {
        mallory
            .send(ClientMsg::Mute {
                room: room("\u{1031f}"),
                nick: nick("Mallory"),
                duration: Some(duration),
            })
            .await;
        assert_eq!(refused(&mut mallory, "mute").await.0, ErrorCode::InvalidField);
    }

    let (mut michael, mut tracy) = owned_room(&server).await;
    michael.send(ClientMsg::Mute { room: room("rust"), nick: nick("Tracy"), duration: None }).await;
    moderation(&mut tracy, "rust").await;
    tracy.send(ClientMsg::Nick { nick: nick("Tracy2") }).await;
    assert_eq!(refused(&mut tracy, "nick").await.0, ErrorCode::Muted);

    // Sam, an operator, leaves; the owner takes the role back all the same.
    let mut sam = account(&server, "Sam").await;
    enter(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Operator })
        .await;
    moderation(&mut michael, "rust").await;
    sam.send(ClientMsg::Leave { room: room("rust") }).await;
    michael
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { nick: n, event: PresenceEvent::Left { .. }, .. } if n.as_str() == "Sam")
        })
        .await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Member })
        .await;
    let deopped = Moderation::Role { nick: nick("Sam"), role: Role::Member };
    michael
        .recv_until(|m| matches!(m, ServerMsg::Moderation { action, .. } if *action == deopped))
        .await;
    server.shutdown().await;
}

/// A deleted account owns nothing and holds no role: whoever registers a nick like it later
/// is someone else.
#[tokio::test]
async fn a_deleted_account_leaves_its_rooms_and_roles_behind() {
    let server = start_server_with(common::info()).await;
    let (mut michael, mut tracy) = owned_room(&server).await;
    let mut sam = account(&server, "Sam").await;
    enter(&mut sam, "rust").await;
    michael
        .send(ClientMsg::Role { room: room("rust"), nick: nick("Sam"), role: Role::Operator })
        .await;
    moderation(&mut tracy, "rust").await;
    for c in [&mut michael, &mut sam] {
        c.send(ClientMsg::Unregister { password: Password::parse(SECRET).unwrap() }).await;
        c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        tracy.send(ClientMsg::Mode { room: room("rust"), changes: vec![] }).await;
        let (modes, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Modes { .. })).await;
        tracy.send(ClientMsg::Who { room: room("rust"), after: None }).await;
        let (listed, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        let owner = matches!(&modes, ServerMsg::Modes { owner: Some(_), .. });
        let roles = matches!(&listed, ServerMsg::Members { roles, .. } if !roles.is_empty());
        if !owner && !roles {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{modes:?} {listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}
