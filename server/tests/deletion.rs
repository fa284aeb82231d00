//! Deleting a message on one node: who may delete what, what the room is told and when, what
//! history shows afterwards, that the text leaves the database file, and what it costs.
//! (Several nodes: `cluster_deletion.rs`.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::Duration;

use chat_server::broker::Location;
use chat_server::{FloodLimits, HistoryConfig, Rate, ServerInfo};
use common::{
    JsonClient, PlainClient, TestServer, assert_contiguous, nick, page_all, start_server,
    start_server_with, start_server_with_history,
};
use protocol::{ClientMsg, ErrorCode, MessageKind, Password, Role, RoomName, ServerMsg, Text};
use uuid::Uuid;

const SECRET: &str = "correct horse battery";

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn say(r: &str, text: &str) -> ClientMsg {
    ClientMsg::Say { room: room(r), text: Text::parse(text).unwrap() }
}

fn delete(r: &str, id: Uuid) -> ClientMsg {
    ClientMsg::Delete { room: room(r), id }
}

/// The next message of `r` that says `text`: its id and seq.
async fn said(c: &mut JsonClient, r: &str, text: &str) -> (Uuid, u64) {
    let (m, _) = c
        .recv_until(|m| {
            matches!(m, ServerMsg::Message { room: x, text: t, .. }
                if x.as_str() == r && t.as_str() == text)
        })
        .await;
    let ServerMsg::Message { id, seq, .. } = m else { unreachable!() };
    (id, seq)
}

/// A session of `name`, registered and so logged in, past its lobby member list. Each from
/// a loopback address of its own: an address makes only a few accounts.
async fn account(server: &TestServer, name: &str) -> JsonClient {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);
    let host = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut c = JsonClient::connect_from(server.json, &format!("127.0.0.{host}")).await;
    c.hello(name).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    let (answer, _) =
        c.recv_until(|m| matches!(m, ServerMsg::Account { .. } | ServerMsg::Error { .. })).await;
    assert!(matches!(answer, ServerMsg::Account { .. }), "register {name}: {answer:?}");
    c
}

/// Joins `name` and reads up to its member list.
async fn enter(c: &mut JsonClient, name: &str) {
    c.send(ClientMsg::Join { room: room(name), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { room: r, .. } if r.as_str() == name)).await;
}

/// A member deletes their own message: every member is told, after the message, with its id,
/// seq and who deleted it; history keeps a tombstone in its place (no text, the numbering
/// unbroken); deleting it again, an unknown id, or in a room one is not in is refused.
#[tokio::test]
async fn a_member_deletes_their_own_message_and_the_room_is_told() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    michael.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    for text in ["before", "oops, wrong window", "after"] {
        michael.send(say("lobby", text)).await;
    }
    let (id, seq) = said(&mut michael, "lobby", "oops, wrong window").await;
    michael.send(delete("lobby", id)).await;
    let mut told = Vec::new();
    for c in [&mut michael, &mut tracy] {
        let (event, before) = c.recv_deleted().await;
        let ServerMsg::Deleted { room, id: x, seq: s, by, .. } = event else { unreachable!() };
        assert_eq!((room, x, s, by), (RoomName::lobby(), id, seq, nick("Michael")));
        told.push(before);
    }
    // Tracy had read nothing yet: the message came before its deletion.
    assert!(told[1].iter().any(|m| matches!(m, ServerMsg::Message { id: x, .. } if *x == id)));

    let history = page_all(&mut tracy, "lobby").await;
    assert_contiguous(&history, 1);
    let texts: Vec<(&str, MessageKind)> = history.iter().map(|m| (m.text(), m.kind)).collect();
    assert_eq!(
        texts,
        [("before", MessageKind::Say), ("", MessageKind::Deleted), ("after", MessageKind::Say)]
    );
    let tombstone = &history[1];
    assert_eq!((tombstone.id, tombstone.seq, tombstone.text.clone()), (id, seq, None));
    assert_eq!(tombstone.from, nick("Michael"));

    michael.send(delete("lobby", id)).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::NoSuchMessage, "deleted already");
    michael.send(delete("lobby", Uuid::now_v7())).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::NoSuchMessage, "no such id");
    michael.send(delete("rust", history[0].id)).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::NotInRoom);
    enter(&mut michael, "rust").await;
    michael.send(delete("rust", history[0].id)).await;
    assert_eq!(
        michael.refusal_of("delete").await,
        ErrorCode::NoSuchMessage,
        "another room's message"
    );
    tracy.assert_silent().await;
}

/// A member may not delete someone else's message: `not_operator`, and nothing changes for
/// anyone. A guest who later takes a nick that looks like the sender's may (the same nick
/// key), but nobody but its logged-in owner may delete a message sent logged in: not even
/// the owner after unregistering.
#[tokio::test]
async fn someone_elses_message_is_not_a_members_to_delete() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = account(&server, "Tracy").await;
    michael.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    michael.send(say("lobby", "mine")).await;
    let (mine, _) = said(&mut tracy, "lobby", "mine").await;
    tracy.send(delete("lobby", mine)).await;
    assert_eq!(tracy.refusal_of("delete").await, ErrorCode::NotOperator);

    tracy.send(say("lobby", "signed")).await;
    let (signed, _) = said(&mut tracy, "lobby", "signed").await;
    tracy.send(ClientMsg::Unregister { password: Password::parse(SECRET).unwrap() }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    tracy.send(delete("lobby", signed)).await;
    assert_eq!(tracy.refusal_of("delete").await, ErrorCode::NotOperator, "a guest now");

    // As a guest, her guest messages are hers, under any nick of the same key.
    tracy.send(say("lobby", "as a guest")).await;
    let (guest, _) = said(&mut tracy, "lobby", "as a guest").await;
    tracy.send(ClientMsg::Nick { nick: nick("TRACY") }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Nick { .. })).await;
    tracy.send(delete("lobby", guest)).await;
    let (event, _) = michael.recv_deleted().await;
    assert!(
        matches!(event, ServerMsg::Deleted { id, by, .. } if id == guest && by == nick("TRACY"))
    );

    let history = page_all(&mut michael, "lobby").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text()).collect();
    assert_eq!(texts, ["mine", "signed", ""], "only the guest message is gone");
}

/// The room's owner, an operator the owner made, and a server admin may each delete anyone's
/// message in the room; a voiced member may not.
#[tokio::test]
async fn operators_owners_and_admins_delete_anyones_message() {
    let info = ServerInfo { admins: vec![nick("Admin")], ..common::info() };
    let server = start_server_with(info).await;
    let mut michael = account(&server, "Michael").await;
    enter(&mut michael, "rust").await; // Michael owns #rust
    let mut sam = account(&server, "Sam").await;
    let mut vic = account(&server, "Vic").await;
    let mut admin = account(&server, "Admin").await;
    let mut tracy = server.join("Tracy").await;
    for c in [&mut sam, &mut vic, &mut admin, &mut tracy] {
        enter(c, "rust").await;
    }
    for (who, role) in [("Sam", Role::Operator), ("Vic", Role::Voiced)] {
        michael.send(ClientMsg::Role { room: room("rust"), nick: nick(who), role }).await;
        michael.recv_until(|m| matches!(m, ServerMsg::Moderation { .. })).await;
    }

    for text in ["one", "two", "three", "four"] {
        tracy.send(say("rust", text)).await;
    }
    let mut ids = Vec::new();
    for text in ["one", "two", "three", "four"] {
        ids.push(said(&mut tracy, "rust", text).await.0);
    }
    vic.send(delete("rust", ids[3])).await;
    assert_eq!(vic.refusal_of("delete").await, ErrorCode::NotOperator, "voiced is not operator");

    for (deleter, id, by) in [(&mut sam, ids[0], "Sam"), (&mut michael, ids[1], "Michael")] {
        deleter.send(delete("rust", id)).await;
        let (event, _) = tracy.recv_deleted().await;
        assert!(
            matches!(event, ServerMsg::Deleted { id: x, by: b, .. } if x == id && b == nick(by))
        );
    }
    admin.send(delete("rust", ids[2])).await;
    let (event, _) = tracy.recv_deleted().await;
    assert!(matches!(event, ServerMsg::Deleted { id, .. } if id == ids[2]));

    let history = page_all(&mut tracy, "rust").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text()).collect();
    assert_eq!(texts, ["", "", "", "four"]);
}

/// The text of a deleted message leaves the database: after the `deleted` event, neither the
/// database file nor its write-ahead log holds its bytes (the writer overwrites what the row
/// held and empties the log before it tells the room), and none come back at shutdown. A
/// short text lives in the row's page; a long one (4 KiB) in overflow pages of its own, which
/// the deletion frees.
#[tokio::test]
async fn the_text_leaves_the_database_file() {
    const SHORT: &str = "pangolin-secret-7731";
    const LONG_MARK: &str = "armadillo-secret-4242";
    let long = format!("{}{LONG_MARK}", "l".repeat(4000));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let history =
        HistoryConfig { location: Some(Location::File(db.clone())), ..Default::default() };
    let server = start_server_with_history(common::info(), history).await;
    let mut michael = server.join("Michael").await;

    // Enough around them that the pages holding them are ordinary ones.
    for i in 0..50 {
        michael.send(say("lobby", &format!("filler before {i}: {}", "x".repeat(40)))).await;
    }
    michael.send(say("lobby", SHORT)).await;
    michael.send(say("lobby", &long)).await;
    for i in 0..50 {
        michael.send(say("lobby", &format!("filler after {i}"))).await;
    }
    let (short, _) = said(&mut michael, "lobby", SHORT).await;
    let (long, _) = said(&mut michael, "lobby", &long).await;
    michael
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "filler after 49"),
        )
        .await;
    for text in [SHORT, LONG_MARK] {
        assert!(holds(&db, text), "{text} stored, so the check below can fail");
    }

    for id in [short, long] {
        michael.send(delete("lobby", id)).await;
        michael.recv_deleted().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while holds(&db, SHORT) || holds(&db, LONG_MARK) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still in the files: short {}, long {}",
            holds(&db, SHORT),
            holds(&db, LONG_MARK)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let history = page_all(&mut michael, "lobby").await;
    assert_eq!(history.len(), 102);
    assert_eq!(history.iter().filter(|m| m.is_deleted()).count(), 2);
    server.shutdown().await;
    assert!(!holds(&db, SHORT) && !holds(&db, LONG_MARK), "back after shutdown");
}

/// Whether the database file or its write-ahead log holds `text`'s bytes.
fn holds(db: &Path, text: &str) -> bool {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_owned(), wal.into()].iter().any(|file| {
        let bytes = std::fs::read(file).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

/// A deletion costs what a message costs: with a burst of four, three messages and one
/// deletion use it up, and the next deletion is refused with `flood`.
#[tokio::test]
async fn a_deletion_costs_a_message() {
    let hour = Duration::from_secs(3600);
    let flood = FloodLimits {
        messages: Rate { burst: 4, every: hour },
        requests: Rate { burst: 100, every: hour },
        refusals: Rate { burst: 100, every: hour },
        ..FloodLimits::default()
    };
    let server = start_server_with(ServerInfo { flood: Some(flood), ..common::info() }).await;
    let mut michael = server.join("Michael").await;
    for text in ["a", "b", "c"] {
        michael.send(say("lobby", text)).await;
    }
    let (id, _) = said(&mut michael, "lobby", "c").await;
    michael.send(delete("lobby", id)).await;
    michael.recv_deleted().await;
    michael.send(delete("lobby", id)).await;
    assert_eq!(michael.refusal_of("delete").await, ErrorCode::Flood);
}

/// On the plain-text port, `/delete` deletes the session's last message in its room, and the
/// room reads `* Michael deleted a message` without the text; earlier messages show the
/// tombstone; with nothing left to delete, `/delete` says so.
#[tokio::test]
async fn plain_clients_delete_their_last_message() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = PlainClient::login(server.plain, "Michael").await;
    michael.send("keep this\n").await;
    michael.send("take this back\n").await;
    michael.line_until(|l| l.contains("take this back")).await;
    michael.send("/delete\n").await;
    let line = michael.line_until(|l| l.contains("deleted")).await;
    assert_eq!(line, "[lobby] * Michael deleted a message");
    let (event, before) = tracy.recv_deleted().await;
    assert!(matches!(event, ServerMsg::Deleted { by, .. } if by == nick("Michael")));
    assert!(before.iter().any(
        |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "take this back")
    ));
    let history = page_all(&mut tracy, "lobby").await;
    let texts: Vec<&str> = history.iter().map(|m| m.text()).collect();
    assert_eq!(texts, ["keep this", ""]);

    let mut anna = PlainClient::connect(server.plain).await;
    assert_eq!(anna.line().await, "Welcome! What's your name?");
    anna.send("Anna\n").await;
    let mut lines = Vec::new();
    loop {
        let line = anna.line().await;
        if line.starts_with("[lobby] Members:") {
            break;
        }
        lines.push(line);
    }
    assert!(lines.contains(&"[lobby] -- a message by Michael, deleted --".to_owned()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("take this back")), "{lines:?}");

    michael.send("/delete\n").await;
    michael.line_until(|l| l.contains("deleted a message")).await;
    michael.send("/delete\n").await;
    let nothing = michael.line_until(|l| l.starts_with('!')).await;
    assert!(nothing.starts_with("! You have said nothing in #lobby"), "{nothing}");
}
