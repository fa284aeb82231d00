//! The chat itself, end to end: real server on port 0, real TCP clients.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{JsonClient, nick, start_server};
use protocol::{
    ClientMsg, ErrorCode, MessageKind, PROTOCOL_VERSION, PresenceEvent, RoomInfo, RoomName,
    ServerMsg, Text,
};

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

fn say(r: &str, t: &str) -> ClientMsg {
    ClientMsg::Say { room: room(r), text: text(t) }
}

/// Hello is answered with a welcome that greets by name and carries the motd and the rooms;
/// then the client sees itself join lobby and the lobby's members.
#[tokio::test]
async fn hello_gets_a_welcome_and_a_seat_in_lobby() {
    let server = start_server().await;
    let _tracy = server.join("Tracy").await;
    let mut michael = JsonClient::connect(server.json).await;
    let ServerMsg::Welcome { nick: n, greeting, motd, rooms, protocol, server: version, .. } =
        michael.hello("Michael").await
    else {
        panic!("expected welcome");
    };
    assert_eq!(n, nick("Michael"));
    assert_eq!(greeting, "Hello, Michael! Welcome to chat.");
    assert_eq!(motd, "Be kind.");
    assert_eq!(rooms, vec![RoomInfo { name: room("lobby"), members: 1 }]);
    assert_eq!(protocol, PROTOCOL_VERSION);
    assert!(version.as_str().starts_with("chat-server/"));
    assert_eq!(
        michael.recv().await,
        ServerMsg::History { room: room("lobby"), messages: vec![], beginning: true },
        "the backlog of lobby comes first: empty on a new server"
    );
    let joined = michael.recv().await;
    assert!(matches!(
        joined,
        ServerMsg::Presence { ref room, ref nick, event: PresenceEvent::Joined, .. }
            if room.as_str() == "lobby" && nick.as_str() == "Michael"
    ));
    assert_eq!(
        michael.recv().await,
        ServerMsg::Members {
            room: room("lobby"),
            nicks: vec![nick("Michael"), nick("Tracy")],
            roles: Default::default(),
            after: None,
            more: false,
            away: Default::default(),
        }
    );
    server.shutdown().await;
}

/// The room hears "Michael joined".
#[tokio::test]
async fn the_room_hears_who_joined() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let _michael = server.join("Michael").await;
    let msg = tracy.recv().await;
    assert!(
        matches!(msg, ServerMsg::Presence { nick, event: PresenceEvent::Joined, .. } if nick.as_str() == "Michael")
    );
    server.shutdown().await;
}

/// Two people talk: each message reaches the other, and the sender gets the same message back,
/// with the same id, as its acknowledgement.
#[tokio::test]
async fn two_users_talk_and_the_echo_is_the_acknowledgement() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    michael.recv().await; // Tracy joined
    michael.send(say("lobby", "hi Tracy")).await;
    let echo = michael.recv().await;
    let heard = tracy.recv().await;
    assert_eq!(echo, heard, "the same event, id included, reaches sender and room");
    let ServerMsg::Message { id, from, kind, text: t, room: r, .. } = heard else {
        panic!("{heard:?}")
    };
    assert_eq!(
        (from.as_str(), kind, t.as_str(), r.as_str()),
        ("Michael", MessageKind::Say, "hi Tracy", "lobby")
    );
    assert_eq!(id.get_version_num(), 7, "ids are uuid v7");

    tracy.send(ClientMsg::Action { room: room("lobby"), text: text("waves") }).await;
    let ServerMsg::Message { kind, from, .. } = michael.recv().await else { panic!() };
    assert_eq!((kind, from.as_str()), (MessageKind::Action, "Tracy"));
    server.shutdown().await;
}

/// Messages arrive in the order they were sent, and ids increase with them.
#[tokio::test]
async fn messages_keep_their_order() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    michael.recv().await;
    for i in 0..200 {
        michael.send(say("lobby", &format!("m{i}"))).await;
    }
    let mut last = None;
    for i in 0..200 {
        let ServerMsg::Message { id, text, .. } = tracy.recv().await else { panic!() };
        assert_eq!(text.as_str(), format!("m{i}"));
        assert!(last < Some(id), "ids increase");
        last = Some(id);
    }
    server.shutdown().await;
}

/// A message said in one room reaches that room's members and nobody else.
#[tokio::test]
async fn rooms_are_isolated() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    michael.recv().await;
    michael.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    tracy.send(ClientMsg::Join { room: room("go"), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    michael.send(say("rust", "in rust")).await;
    assert!(
        matches!(michael.recv().await, ServerMsg::Message { room, .. } if room.as_str() == "rust")
    );
    tracy.assert_silent().await;

    // Saying in a room you are not in is refused.
    tracy.send(say("rust", "sneaky")).await;
    let e = tracy.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::NotInRoom, Some("say")));
    michael.assert_silent().await;
    server.shutdown().await;
}

/// A user can be in several rooms at once, and each room gets its own messages.
#[tokio::test]
async fn one_user_in_several_rooms() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    for r in ["rust", "go", "zig"] {
        michael.send(ClientMsg::Join { room: room(r), key: None }).await;
        let (members, _) = michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        assert_eq!(
            members,
            ServerMsg::Members {
                room: room(r),
                nicks: vec![nick("Michael")],
                roles: Default::default(),
                after: None,
                more: false,
                away: Default::default(),
            }
        );
    }
    for r in ["lobby", "rust", "go", "zig"] {
        michael.send(say(r, r)).await;
        let ServerMsg::Message { room: got, text, .. } = michael.recv().await else { panic!() };
        assert_eq!((got.as_str(), text.as_str()), (r, r));
    }
    michael.send(ClientMsg::Rooms).await;
    let ServerMsg::Rooms { rooms } = michael.recv().await else { panic!() };
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["go", "lobby", "rust", "zig"]);
    server.shutdown().await;
}

/// A private message reaches its recipient and the sender's echo, and no one else.
#[tokio::test]
async fn private_messages_reach_only_their_target() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    let mut eve = server.join("Eve").await;
    michael
        .recv_until(|m| matches!(m, ServerMsg::Presence { nick, .. } if nick.as_str() == "Eve"))
        .await;
    tracy.recv().await;

    michael.send(ClientMsg::Msg { to: nick("tracy"), text: text("lunch?") }).await;
    let echo = michael.recv().await;
    let got = tracy.recv().await;
    assert_eq!(echo, got);
    let ServerMsg::Private { from, to, text: t, .. } = got else { panic!("{got:?}") };
    assert_eq!((from.as_str(), to.as_str(), t.as_str()), ("Michael", "Tracy", "lunch?"));
    eve.assert_silent().await;

    michael.send(ClientMsg::Msg { to: nick("Nobody"), text: text("hello?") }).await;
    let e = michael.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::NoSuchNick, Some("msg")));
    server.shutdown().await;
}

/// Nicks are unique, case-insensitively, at hello and at a nick change; a refused client can try
/// another nick on the same connection.
#[tokio::test]
async fn nick_conflicts_are_refused_clearly() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut other = JsonClient::connect(server.json).await;
    let ServerMsg::Error { code, message, request, .. } = other.hello("TRACY").await else {
        panic!()
    };
    assert_eq!(code, ErrorCode::NickInUse);
    assert_eq!(message, "the nick TRACY is already in use");
    assert_eq!(request.as_deref(), Some("hello"));
    assert!(matches!(other.hello("Michael").await, ServerMsg::Welcome { .. }));
    other.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    tracy.recv().await;

    other.send(ClientMsg::Nick { nick: nick("tracy") }).await;
    let e = other.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::NickInUse, Some("nick")));
    tracy.assert_silent().await;
    server.shutdown().await;
}

/// Presence: join, leave, nick change and a dropped connection are announced to the room.
/// A nick change reaches each other member once, however many rooms they share, on both
/// ports; a member of only one of the rooms hears it there.
#[tokio::test]
async fn a_nick_change_reaches_each_member_once() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    let mut sam = server.join("Sam").await;
    let mut nc = common::PlainClient::login(server.plain, "Guest").await;
    for r in ["rust", "go", "c"] {
        for c in [&mut michael, &mut tracy] {
            c.send(ClientMsg::Join { room: room(r), key: None }).await;
            c.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == r))
                .await;
        }
        nc.send(&format!("/join {r}\n")).await;
        nc.line_until(|l| l.starts_with(&format!("[{r}] Members:"))).await;
    }
    michael.send(ClientMsg::Nick { nick: nick("Mike") }).await;
    michael.recv_until(|m| *m == ServerMsg::Nick { nick: nick("Mike") }).await;
    michael.send(ClientMsg::Say { room: room("lobby"), text: Text::parse("done").unwrap() }).await;
    for c in [&mut tracy, &mut sam] {
        let (_, before) = c.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        let renames: Vec<_> = before
            .iter()
            .filter(|m| {
                matches!(m, ServerMsg::Presence { event: PresenceEvent::Renamed { .. }, .. })
            })
            .collect();
        assert_eq!(renames.len(), 1, "{before:?}");
    }
    let mut lines = Vec::new();
    loop {
        let line = nc.line().await;
        if line == "[lobby] Mike: done" {
            break;
        }
        lines.push(line);
    }
    let told: Vec<_> = lines.iter().filter(|l| l.contains("known as")).collect();
    assert_eq!(told, ["Michael is now known as Mike"], "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn presence_events_for_join_leave_rename_and_drop() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    let event_of = |m: ServerMsg| match m {
        ServerMsg::Presence { nick, event, room, .. } => {
            (room.to_string(), nick.to_string(), event)
        }
        other => panic!("expected presence, got {other:?}"),
    };
    assert_eq!(
        event_of(tracy.recv().await),
        ("lobby".into(), "Michael".into(), PresenceEvent::Joined)
    );

    michael.send(ClientMsg::Nick { nick: nick("Mike") }).await;
    assert_eq!(
        event_of(tracy.recv().await),
        ("lobby".into(), "Michael".into(), PresenceEvent::Renamed { to: nick("Mike") })
    );
    let (_, _) = michael.recv_until(|m| *m == ServerMsg::Nick { nick: nick("Mike") }).await;
    // The old nick is free again.
    let _michael2 = server.join("Michael").await;
    assert_eq!(
        event_of(tracy.recv().await),
        ("lobby".into(), "Michael".into(), PresenceEvent::Joined)
    );

    michael.send(ClientMsg::Leave { room: room("lobby") }).await;
    assert_eq!(
        event_of(tracy.recv().await),
        ("lobby".into(), "Mike".into(), PresenceEvent::Left { reason: None })
    );
    // The leaver sees its own leave too.
    let (left, _) = michael
        .recv_until(|m| matches!(m, ServerMsg::Presence { event: PresenceEvent::Left { .. }, .. }))
        .await;
    assert_eq!(event_of(left).1, "Mike");

    michael.send(ClientMsg::Join { room: room("lobby"), key: None }).await;
    assert_eq!(event_of(tracy.recv().await).2, PresenceEvent::Joined);
    drop(michael);
    let (r, n, e) = event_of(tracy.recv().await);
    assert_eq!((r.as_str(), n.as_str()), ("lobby", "Mike"));
    assert!(matches!(e, PresenceEvent::Dropped { .. }), "{e:?}");
    server.shutdown().await;
}

/// Quit says goodbye with a reason that the room sees, and frees the nick.
#[tokio::test]
async fn quit_is_announced_with_its_reason() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    tracy.recv().await;
    michael.send(ClientMsg::Quit { reason: Some(protocol::Label::parse("lunch").unwrap()) }).await;
    let rest = michael.recv_until_closed().await;
    assert!(
        matches!(rest.last(), Some(ServerMsg::Bye { code: protocol::ByeCode::Quit, .. })),
        "{rest:?}"
    );
    let ServerMsg::Presence { event, .. } = tracy.recv().await else { panic!() };
    assert_eq!(
        event,
        PresenceEvent::Left { reason: Some(protocol::Label::parse("lunch").unwrap()) }
    );
    let _again = server.join("Michael").await;
    server.shutdown().await;
}

/// `who` lists a room's members, to its members only; rooms vanish with their last member.
#[tokio::test]
async fn who_lists_members_to_members_and_empty_rooms_vanish() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    michael.recv().await;
    tracy.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    tracy.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    assert_eq!(
        tracy.recv().await,
        ServerMsg::Members {
            room: room("rust"),
            nicks: vec![nick("Tracy")],
            roles: Default::default(),
            after: None,
            more: false,
            away: Default::default(),
        }
    );
    michael.send(ClientMsg::Who { room: room("rust"), after: None }).await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::NotInRoom, "who of a room not joined");
    michael.send(ClientMsg::History { room: room("rust"), before: None, limit: 10 }).await;
    assert_eq!(
        michael.recv_error().await.code,
        ErrorCode::NotInRoom,
        "history of a room not joined"
    );
    tracy.send(ClientMsg::Leave { room: room("rust") }).await;
    tracy.recv().await;
    michael.send(ClientMsg::Rooms).await;
    assert_eq!(
        michael.recv().await,
        ServerMsg::Rooms { rooms: vec![RoomInfo { name: room("lobby"), members: 2 }] }
    );
    server.shutdown().await;
}

/// Ping is answered with pong and the same token, also before hello.
#[tokio::test]
async fn ping_pong() {
    let server = start_server().await;
    let mut c = JsonClient::connect(server.json).await;
    c.send(ClientMsg::Ping { token: 42 }).await;
    assert_eq!(c.recv().await, ServerMsg::Pong { token: 42 });
    server.shutdown().await;
}

/// The server listens on IPv6 loopback too.
#[tokio::test]
async fn ipv6_listen_address_works() {
    // A machine without IPv6 loopback cannot show that it works: that is a failure here, not
    // a pass.
    let listeners = chat_server::Listeners::bind("[::1]:0".parse().unwrap(), None)
        .await
        .expect("IPv6 loopback [::1] must be available to test IPv6 listening");
    let addr = listeners.json_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let history = chat_server::Broker::local(Default::default()).unwrap();
    let task = tokio::spawn(chat_server::run(
        listeners,
        chat_server::ServerInfo::default(),
        history,
        async {
            let _ = stopped.await;
        },
    ));
    let mut c = JsonClient::connect(addr).await;
    assert!(matches!(c.hello("Michael").await, ServerMsg::Welcome { .. }));
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// Taking the nick of someone who just left: the events about the previous holder ("Tracy
/// left") reach the new holder before the confirmation that the nick is now its own, so a
/// client never mistakes them for its own departure.
#[tokio::test]
async fn events_about_a_nick_come_before_taking_it() {
    let server = start_server().await;
    for round in 0..20 {
        let mut michael = server.join(&format!("Michael{round}")).await;
        let mut tracy = server.join("Tracy").await;
        michael.recv().await; // Tracy joined
        tracy.send(ClientMsg::Quit { reason: None }).await;
        drop(tracy);
        let deadline = tokio::time::Instant::now() + common::WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: Tracy's nick never freed up"
            );
            michael.send(ClientMsg::Nick { nick: nick("Tracy") }).await;
            let (answer, before) = michael
                .recv_until(|m| matches!(m, ServerMsg::Nick { .. } | ServerMsg::Error { .. }))
                .await;
            match answer {
                ServerMsg::Error { code: ErrorCode::NickInUse, .. } => continue,
                ServerMsg::Nick { .. } => {
                    assert!(
                        before.iter().any(|m| matches!(m, ServerMsg::Presence { nick, event: PresenceEvent::Left { .. }, .. } if nick.as_str() == "Tracy")),
                        "round {round}: the nick came before Tracy's leave: {before:?}"
                    );
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        michael.send(ClientMsg::Quit { reason: None }).await;
        michael.recv_until_closed().await;
    }
    server.shutdown().await;
}

/// A room name that reads like an existing room's is that room: `rսst` (Armenian ս) and
/// `ｒｕｓｔ` (full width) join `rust`, never a second room beside it.
#[tokio::test]
async fn look_alike_room_names_join_the_room_that_exists() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    tracy.send(ClientMsg::Join { room: room("rust"), key: None }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let mut michael = server.join("Michael").await;
    michael.send(ClientMsg::Join { room: room("rսst"), key: None }).await;
    let (members, before) = michael
        .recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() != "lobby"))
        .await;
    assert_eq!(
        members,
        ServerMsg::Members {
            room: room("rust"),
            nicks: vec![nick("Michael"), nick("Tracy")],
            roles: Default::default(),
            after: None,
            more: false,
            away: Default::default(),
        }
    );
    assert!(
        before.iter().any(
            |m| matches!(m, ServerMsg::Notice { text, .. } if text.contains("reads like #rust"))
        ),
        "{before:?}"
    );
    michael.send(ClientMsg::Join { room: room("ｒｕｓｔ"), key: None }).await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::AlreadyInRoom);
    michael.send(ClientMsg::Rooms).await;
    let (rooms, _) = michael.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
    let ServerMsg::Rooms { rooms } = rooms else { unreachable!() };
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lobby", "rust"]);

    // A room nobody is in, that has history, is found by its look-alikes too.
    tracy.send(say("rust", "kept for later")).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    for c in [&mut tracy, &mut michael] {
        c.send(ClientMsg::Leave { room: room("rust") }).await;
        c.recv_until(|m| matches!(m, ServerMsg::Presence { room, .. } if room.as_str() == "rust"))
            .await;
    }
    michael.send(ClientMsg::Join { room: room("rսst"), key: None }).await;
    let (history, _) = michael.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { room: joined, messages, .. } = history else { unreachable!() };
    assert_eq!(joined.as_str(), "rust");
    assert_eq!(messages.last().map(|m| m.text()), Some("kept for later"));
    server.shutdown().await;
}
