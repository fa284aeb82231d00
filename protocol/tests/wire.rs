//! The wire format, held fixed by literal lines.
//!
//! Each message type has one example line here. The tests prove that the line is exactly what
//! the type serialises to, that it parses back to the same value, and that the same line appears
//! in `docs/protocol.md`: changing the wire format means changing these lines and the docs, on
//! purpose.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use protocol::{
    AccountEvent, BanInfo, ByeCode, ClientMsg, Decode, ErrorCode, JoinKey, Label, Mask,
    MessageKind, ModeChange, Moderation, Modes, Nick, Password, PresenceEvent, Role, RoomInfo,
    RoomName, ServerMsg, Stored, Text, Topic, encode_line,
};
use uuid::Uuid;

const ID: &str = "019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42";
const TS: u64 = 1_763_750_000_000;

fn id() -> Uuid {
    Uuid::parse_str(ID).unwrap()
}
fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}
fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}
fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}
fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}
fn password(s: &str) -> Password {
    Password::parse(s).unwrap()
}

fn client_fixtures() -> Vec<(ClientMsg, &'static str)> {
    vec![
        (
            ClientMsg::Hello {
                password: None,
                nick: nick("Michael"),
                protocol: 1,
                client: label("chat-tui/0.1.0"),
                resume: None,
            },
            r#"{"type":"hello","nick":"Michael","protocol":1,"client":"chat-tui/0.1.0"}"#,
        ),
        (
            ClientMsg::Hello {
                password: None,
                nick: nick("Michael"),
                protocol: 1,
                client: label("chat-tui/0.1.0"),
                resume: Some(Uuid::from_u128(0x3b8e_51a0_6c2d_4f7e_9a14_c0d2_e8f6_1b3a).into()),
            },
            r#"{"type":"hello","nick":"Michael","protocol":1,"client":"chat-tui/0.1.0","resume":"3b8e51a0-6c2d-4f7e-9a14-c0d2e8f61b3a"}"#,
        ),
        (
            ClientMsg::Hello {
                nick: nick("Michael"),
                protocol: 1,
                client: label("chat-tui/0.1.0"),
                resume: None,
                password: Some(password("correct horse")),
            },
            r#"{"type":"hello","nick":"Michael","protocol":1,"client":"chat-tui/0.1.0","password":"correct horse"}"#,
        ),
        (
            ClientMsg::Register { password: password("correct horse") },
            r#"{"type":"register","password":"correct horse"}"#,
        ),
        (
            ClientMsg::Passwd { old: password("correct horse"), new: password("battery staple") },
            r#"{"type":"passwd","old":"correct horse","new":"battery staple"}"#,
        ),
        (
            ClientMsg::Unregister { password: password("battery staple") },
            r#"{"type":"unregister","password":"battery staple"}"#,
        ),
        (ClientMsg::Join { room: room("rust"), key: None }, r#"{"type":"join","room":"rust"}"#),
        (
            ClientMsg::Join { room: room("secret"), key: Some(JoinKey::parse("sesame").unwrap()) },
            r#"{"type":"join","room":"secret","key":"sesame"}"#,
        ),
        (ClientMsg::Leave { room: room("rust") }, r#"{"type":"leave","room":"rust"}"#),
        (
            ClientMsg::Say { room: room("lobby"), text: text("hi all") },
            r#"{"type":"say","room":"lobby","text":"hi all"}"#,
        ),
        (
            ClientMsg::Action { room: room("lobby"), text: text("waves") },
            r#"{"type":"action","room":"lobby","text":"waves"}"#,
        ),
        (
            ClientMsg::Msg { to: nick("Tracy"), text: text("lunch?") },
            r#"{"type":"msg","to":"Tracy","text":"lunch?"}"#,
        ),
        (ClientMsg::Nick { nick: nick("Mike") }, r#"{"type":"nick","nick":"Mike"}"#),
        (ClientMsg::Rooms, r#"{"type":"rooms"}"#),
        (ClientMsg::Who { room: room("lobby"), after: None }, r#"{"type":"who","room":"lobby"}"#),
        (ClientMsg::Ping { token: 7 }, r#"{"type":"ping","token":7}"#),
        (ClientMsg::Pong { token: 9 }, r#"{"type":"pong","token":9}"#),
        (
            ClientMsg::History { room: room("lobby"), before: Some(42), limit: 100 },
            r#"{"type":"history","room":"lobby","before":42,"limit":100}"#,
        ),
        (
            ClientMsg::History { room: room("lobby"), before: None, limit: 50 },
            r#"{"type":"history","room":"lobby","limit":50}"#,
        ),
        (ClientMsg::Topic { room: room("rust"), text: None }, r#"{"type":"topic","room":"rust"}"#),
        (
            ClientMsg::Topic { room: room("rust"), text: Some(label("Rust 1.92 is out")) },
            r#"{"type":"topic","room":"rust","text":"Rust 1.92 is out"}"#,
        ),
        (
            ClientMsg::Mode { room: room("rust"), changes: vec![] },
            r#"{"type":"mode","room":"rust"}"#,
        ),
        (
            ClientMsg::Mode {
                room: room("rust"),
                changes: vec![
                    ModeChange::InviteOnly(true),
                    ModeChange::Key(Some(JoinKey::parse("sesame").unwrap())),
                    ModeChange::Moderated(false),
                    ModeChange::Secret(true),
                    ModeChange::Key(None),
                ],
            },
            r#"{"type":"mode","room":"rust","changes":[{"invite_only":true},{"key":"sesame"},{"moderated":false},{"secret":true},{"key":null}]}"#,
        ),
        (
            ClientMsg::Kick {
                room: room("rust"),
                nick: nick("Tracy"),
                reason: Some(label("spamming")),
            },
            r#"{"type":"kick","room":"rust","nick":"Tracy","reason":"spamming"}"#,
        ),
        (
            ClientMsg::Ban {
                room: room("rust"),
                mask: Mask::Nick(nick("Tracy")),
                duration: Some(3600),
                reason: Some(label("spamming")),
            },
            r#"{"type":"ban","room":"rust","mask":"nick:Tracy","duration":3600,"reason":"spamming"}"#,
        ),
        (
            ClientMsg::Ban {
                room: room("rust"),
                mask: "addr:2001:db8::/32".parse().unwrap(),
                duration: None,
                reason: None,
            },
            r#"{"type":"ban","room":"rust","mask":"addr:2001:db8::/32"}"#,
        ),
        (
            ClientMsg::Unban { room: room("rust"), mask: Mask::Account(nick("Tracy")) },
            r#"{"type":"unban","room":"rust","mask":"account:Tracy"}"#,
        ),
        (ClientMsg::Bans { room: room("rust") }, r#"{"type":"bans","room":"rust"}"#),
        (
            ClientMsg::Mute { room: room("rust"), nick: nick("Tracy"), duration: Some(600) },
            r#"{"type":"mute","room":"rust","nick":"Tracy","duration":600}"#,
        ),
        (
            ClientMsg::Unmute { room: room("rust"), nick: nick("Tracy") },
            r#"{"type":"unmute","room":"rust","nick":"Tracy"}"#,
        ),
        (
            ClientMsg::Role { room: room("rust"), nick: nick("Tracy"), role: Role::Operator },
            r#"{"type":"role","room":"rust","nick":"Tracy","role":"operator"}"#,
        ),
        (
            ClientMsg::Invite { room: room("secret"), nick: nick("Tracy") },
            r#"{"type":"invite","room":"secret","nick":"Tracy"}"#,
        ),
        (ClientMsg::Claim { room: room("rust") }, r#"{"type":"claim","room":"rust"}"#),
        (ClientMsg::Disown { room: room("rust") }, r#"{"type":"disown","room":"rust"}"#),
        (
            ClientMsg::Kill { nick: nick("Mallory"), reason: Some(label("spam bot")) },
            r#"{"type":"kill","nick":"Mallory","reason":"spam bot"}"#,
        ),
        (
            ClientMsg::Gban {
                mask: "addr:203.0.113.0/24".parse().unwrap(),
                duration: Some(86_400),
                reason: Some(label("spam bots")),
            },
            r#"{"type":"gban","mask":"addr:203.0.113.0/24","duration":86400,"reason":"spam bots"}"#,
        ),
        (
            ClientMsg::Ungban { mask: "addr:203.0.113.0/24".parse().unwrap() },
            r#"{"type":"ungban","mask":"addr:203.0.113.0/24"}"#,
        ),
        (ClientMsg::Gbans, r#"{"type":"gbans"}"#),
        (
            ClientMsg::Delete { room: room("lobby"), id: id() },
            r#"{"type":"delete","room":"lobby","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42"}"#,
        ),
        (ClientMsg::Quit { reason: Some(label("bye")) }, r#"{"type":"quit","reason":"bye"}"#),
        (ClientMsg::Quit { reason: None }, r#"{"type":"quit"}"#),
    ]
}

fn server_fixtures() -> Vec<(ServerMsg, &'static str)> {
    let presence = |event| ServerMsg::Presence {
        id: id(),
        ts: TS,
        room: room("lobby"),
        nick: nick("Michael"),
        event,
    };
    vec![
        (
            ServerMsg::Welcome {
                account: false,
                session: id(),
                nick: nick("Michael"),
                server: label("chat-server/0.1.0"),
                protocol: 1,
                greeting: "Hello, Michael! Welcome to chat.".into(),
                motd: "Be kind.".into(),
                rooms: vec![RoomInfo { name: room("lobby"), members: 2 }],
                resume: Some(Uuid::from_u128(0x3b8e_51a0_6c2d_4f7e_9a14_c0d2_e8f6_1b3a).into()),
            },
            r#"{"type":"welcome","session":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","nick":"Michael","server":"chat-server/0.1.0","protocol":1,"greeting":"Hello, Michael! Welcome to chat.","motd":"Be kind.","rooms":[{"name":"lobby","members":2}],"resume":"3b8e51a0-6c2d-4f7e-9a14-c0d2e8f61b3a"}"#,
        ),
        (
            ServerMsg::Message {
                account: false,
                id: id(),
                room: room("lobby"),
                seq: 42,
                from: nick("Tracy"),
                kind: MessageKind::Say,
                text: text("hi"),
                ts: TS,
            },
            r#"{"type":"message","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","room":"lobby","seq":42,"from":"Tracy","kind":"say","text":"hi","ts":1763750000000}"#,
        ),
        (
            ServerMsg::History {
                room: room("lobby"),
                messages: vec![
                    Stored {
                        account: false,
                        id: id(),
                        seq: 1,
                        from: nick("Tracy"),
                        kind: MessageKind::Say,
                        text: Some(text("first!")),
                        ts: TS,
                    },
                    Stored {
                        account: false,
                        id: id(),
                        seq: 2,
                        from: nick("Michael"),
                        kind: MessageKind::Action,
                        text: Some(text("waves")),
                        ts: TS,
                    },
                ],
                beginning: true,
            },
            r#"{"type":"history","room":"lobby","messages":[{"id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","seq":1,"from":"Tracy","kind":"say","text":"first!","ts":1763750000000},{"id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","seq":2,"from":"Michael","kind":"action","text":"waves","ts":1763750000000}],"beginning":true}"#,
        ),
        (
            ServerMsg::Deleted {
                room: room("lobby"),
                id: id(),
                seq: 42,
                by: nick("Tracy"),
                ts: TS,
            },
            r#"{"type":"deleted","room":"lobby","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","seq":42,"by":"Tracy","ts":1763750000000}"#,
        ),
        (
            ServerMsg::History {
                room: room("lobby"),
                messages: vec![Stored {
                    account: false,
                    id: id(),
                    seq: 42,
                    from: nick("Tracy"),
                    kind: MessageKind::Deleted,
                    text: None,
                    ts: TS,
                }],
                beginning: false,
            },
            r#"{"type":"history","room":"lobby","messages":[{"id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","seq":42,"from":"Tracy","kind":"deleted","text":"","ts":1763750000000}],"beginning":false}"#,
        ),
        (
            ServerMsg::Private {
                account: false,
                offline: false,
                id: id(),
                from: nick("Tracy"),
                to: nick("Michael"),
                text: text("lunch?"),
                ts: TS,
            },
            r#"{"type":"private","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","from":"Tracy","to":"Michael","text":"lunch?","ts":1763750000000}"#,
        ),
        (
            presence(PresenceEvent::Joined),
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"lobby","nick":"Michael","event":"joined"}"#,
        ),
        (
            presence(PresenceEvent::Left { reason: Some(label("bye")) }),
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"lobby","nick":"Michael","event":"left","reason":"bye"}"#,
        ),
        (
            presence(PresenceEvent::Left { reason: None }),
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"lobby","nick":"Michael","event":"left"}"#,
        ),
        (
            presence(PresenceEvent::Renamed { to: nick("Mike") }),
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"lobby","nick":"Michael","event":"renamed","to":"Mike"}"#,
        ),
        (
            presence(PresenceEvent::Dropped { reason: label("connection reset") }),
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"lobby","nick":"Michael","event":"dropped","reason":"connection reset"}"#,
        ),
        (ServerMsg::Nick { nick: nick("Mike") }, r#"{"type":"nick","nick":"Mike"}"#),
        (
            ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Registered },
            r#"{"type":"account","nick":"Michael","event":"registered"}"#,
        ),
        (
            ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::PasswordChanged },
            r#"{"type":"account","nick":"Michael","event":"password_changed"}"#,
        ),
        (
            ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Unregistered },
            r#"{"type":"account","nick":"Michael","event":"unregistered"}"#,
        ),
        (
            ServerMsg::Message {
                id: id(),
                room: room("lobby"),
                seq: 43,
                from: nick("Michael"),
                account: true,
                kind: MessageKind::Say,
                text: text("it is me"),
                ts: TS,
            },
            r#"{"type":"message","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","room":"lobby","seq":43,"from":"Michael","account":true,"kind":"say","text":"it is me","ts":1763750000000}"#,
        ),
        (
            ServerMsg::Private {
                id: id(),
                from: nick("Tracy"),
                to: nick("Michael"),
                text: text("call me"),
                ts: TS,
                account: true,
                offline: true,
            },
            r#"{"type":"private","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","from":"Tracy","to":"Michael","text":"call me","ts":1763750000000,"account":true,"offline":true}"#,
        ),
        (
            ServerMsg::Error {
                code: ErrorCode::LoginThrottled,
                message: "too many failed logins for this account; try again in 4 s".into(),
                request: Some("hello".into()),
                retry_after_ms: Some(3200),
            },
            r#"{"type":"error","code":"login_throttled","message":"too many failed logins for this account; try again in 4 s","request":"hello","retry_after_ms":3200}"#,
        ),
        (
            ServerMsg::Rooms {
                rooms: vec![
                    RoomInfo { name: room("lobby"), members: 2 },
                    RoomInfo { name: room("rust"), members: 1 },
                ],
            },
            r#"{"type":"rooms","rooms":[{"name":"lobby","members":2},{"name":"rust","members":1}]}"#,
        ),
        (
            ServerMsg::Members {
                room: room("lobby"),
                nicks: vec![nick("Michael"), nick("Tracy")],
                roles: Default::default(),
                after: None,
                more: false,
            },
            r#"{"type":"members","room":"lobby","nicks":["Michael","Tracy"]}"#,
        ),
        (
            ServerMsg::Notice { id: id(), ts: TS, text: "You are now talking in #rust.".into() },
            r#"{"type":"notice","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"text":"You are now talking in #rust."}"#,
        ),
        (
            ServerMsg::Error {
                code: ErrorCode::NickInUse,
                message: "the nick Tracy is already in use".into(),
                request: Some("nick".into()),
                retry_after_ms: None,
            },
            r#"{"type":"error","code":"nick_in_use","message":"the nick Tracy is already in use","request":"nick"}"#,
        ),
        (
            ServerMsg::Error {
                code: ErrorCode::InvalidJson,
                message: "expected a JSON object".into(),
                request: None,
                retry_after_ms: None,
            },
            r#"{"type":"error","code":"invalid_json","message":"expected a JSON object"}"#,
        ),
        (
            ServerMsg::Error {
                code: ErrorCode::Flood,
                message: "slow down: you may send again in 1.5 s".into(),
                request: Some("say".into()),
                retry_after_ms: Some(1500),
            },
            r#"{"type":"error","code":"flood","message":"slow down: you may send again in 1.5 s","request":"say","retry_after_ms":1500}"#,
        ),
        (ServerMsg::Ping { token: 3 }, r#"{"type":"ping","token":3}"#),
        (ServerMsg::Pong { token: 7 }, r#"{"type":"pong","token":7}"#),
        (
            ServerMsg::Bye {
                code: ByeCode::Shutdown,
                message: "the server is shutting down".into(),
                retry_after_ms: None,
            },
            r#"{"type":"bye","code":"shutdown","message":"the server is shutting down"}"#,
        ),
        (
            ServerMsg::Bye {
                code: ByeCode::Killed,
                message: "disconnected by Michael: spam bot".into(),
                retry_after_ms: None,
            },
            r#"{"type":"bye","code":"killed","message":"disconnected by Michael: spam bot"}"#,
        ),
        (
            ServerMsg::Members {
                room: room("rust"),
                nicks: vec![nick("Michael"), nick("Sam"), nick("Tracy")],
                roles: [(nick("Michael"), Role::Owner), (nick("Tracy"), Role::Operator)].into(),
                after: None,
                more: false,
            },
            r#"{"type":"members","room":"rust","nicks":["Michael","Sam","Tracy"],"roles":{"Michael":"owner","Tracy":"operator"}}"#,
        ),
        (
            ServerMsg::Topic {
                room: room("rust"),
                topic: Some(Topic { text: label("Rust 1.92 is out"), by: nick("Tracy"), ts: TS }),
            },
            r#"{"type":"topic","room":"rust","topic":{"text":"Rust 1.92 is out","by":"Tracy","ts":1763750000000}}"#,
        ),
        (ServerMsg::Topic { room: room("rust"), topic: None }, r#"{"type":"topic","room":"rust"}"#),
        (
            ServerMsg::Modes {
                room: room("rust"),
                modes: Modes { invite_only: true, key: true, ..Modes::default() },
                owner: Some(nick("Michael")),
            },
            r#"{"type":"modes","room":"rust","modes":{"invite_only":true,"key":true},"owner":"Michael"}"#,
        ),
        (
            ServerMsg::Presence {
                id: id(),
                ts: TS,
                room: room("rust"),
                nick: nick("Tracy"),
                event: PresenceEvent::Kicked {
                    by: nick("Michael"),
                    reason: Some(label("spamming")),
                },
            },
            r#"{"type":"presence","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","nick":"Tracy","event":"kicked","by":"Michael","reason":"spamming"}"#,
        ),
        (
            moderation(Moderation::Banned {
                mask: Mask::Account(nick("Tracy")),
                until: Some(TS + 3_600_000),
                reason: None,
            }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"banned","mask":"account:Tracy","until":1763753600000}"#,
        ),
        (
            moderation(Moderation::Unbanned { mask: Mask::Account(nick("Tracy")) }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"unbanned","mask":"account:Tracy"}"#,
        ),
        (
            moderation(Moderation::Muted { nick: nick("Tracy"), until: None }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"muted","nick":"Tracy"}"#,
        ),
        (
            moderation(Moderation::Unmuted { nick: nick("Tracy") }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"unmuted","nick":"Tracy"}"#,
        ),
        (
            moderation(Moderation::Topic { text: Some(label("Rust 1.92 is out")) }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"topic","text":"Rust 1.92 is out"}"#,
        ),
        (
            moderation(Moderation::Modes { modes: Modes { moderated: true, ..Modes::default() } }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"modes","modes":{"moderated":true}}"#,
        ),
        (
            moderation(Moderation::Role { nick: nick("Tracy"), role: Role::Operator }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"role","nick":"Tracy","role":"operator"}"#,
        ),
        (
            moderation(Moderation::Claimed),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"claimed"}"#,
        ),
        (
            moderation(Moderation::Disowned),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"disowned"}"#,
        ),
        (
            moderation(Moderation::Invited { nick: nick("Tracy") }),
            r#"{"type":"moderation","id":"019aa7e2-5c4b-7d1e-8f3a-2b6c9d0e1f42","ts":1763750000000,"room":"rust","by":"Michael","action":"invited","nick":"Tracy"}"#,
        ),
        (
            ServerMsg::Bans {
                room: Some(room("rust")),
                bans: vec![BanInfo {
                    mask: "addr:2001:db8::/32".parse().unwrap(),
                    by: nick("Michael"),
                    ts: TS,
                    until: None,
                    reason: Some(label("spam bots")),
                }],
            },
            r#"{"type":"bans","room":"rust","bans":[{"mask":"addr:2001:db8::/32","by":"Michael","ts":1763750000000,"reason":"spam bots"}]}"#,
        ),
        (
            ServerMsg::Error {
                code: ErrorCode::NotOperator,
                message: "only operators of #rust may kick; ask its owner, Michael".into(),
                request: Some("kick".into()),
                retry_after_ms: None,
            },
            r#"{"type":"error","code":"not_operator","message":"only operators of #rust may kick; ask its owner, Michael","request":"kick"}"#,
        ),
    ]
}

fn moderation(action: Moderation) -> ServerMsg {
    ServerMsg::Moderation { id: id(), ts: TS, room: room("rust"), by: nick("Michael"), action }
}

fn check<T>(fixtures: Vec<(T, &'static str)>)
where
    T: serde::Serialize + Decode + PartialEq + std::fmt::Debug,
{
    for (value, line) in fixtures {
        let encoded = encode_line(&value);
        assert_eq!(
            std::str::from_utf8(&encoded).unwrap(),
            format!("{line}\n"),
            "encoding {value:?}"
        );
        let decoded = T::decode(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(decoded, value, "decoding {line}");
    }
}

/// Every client message encodes to its fixture line and parses back to the same value.
#[test]
fn client_messages_round_trip_to_fixed_lines() {
    check(client_fixtures());
}

/// Every server message encodes to its fixture line and parses back to the same value.
#[test]
fn server_messages_round_trip_to_fixed_lines() {
    check(server_fixtures());
}

/// The fixtures cover every client message type.
#[test]
fn every_client_type_has_a_fixture() {
    let covered: Vec<&str> = client_fixtures().iter().map(|(m, _)| m.type_name()).collect();
    for t in ClientMsg::TYPES {
        assert!(covered.contains(t), "no fixture for client message {t}");
    }
}

/// `docs/protocol.md` shows the same lines as the tests, so the docs cannot drift from the code.
#[test]
fn the_protocol_doc_shows_every_fixture() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("docs/protocol.md");
    let lines: Vec<&str> = client_fixtures()
        .into_iter()
        .map(|(_, l)| l)
        .chain(server_fixtures().into_iter().map(|(_, l)| l))
        .collect();
    for line in &lines {
        assert!(doc.contains(line), "docs/protocol.md lacks the line\n{line}");
    }
    // And every example line in the doc is one of the fixtures.
    for doc_line in doc.lines().filter(|l| l.starts_with("{\"type\"")) {
        assert!(
            lines.contains(&doc_line),
            "docs/protocol.md shows a line no test checks:\n{doc_line}"
        );
    }
}

/// Fields a newer peer adds are ignored, so the protocol can grow without breaking old clients.
#[test]
fn unknown_fields_are_ignored() {
    let msg = ClientMsg::decode(br#"{"type":"rooms","future":true}"#).unwrap();
    assert_eq!(msg, ClientMsg::Rooms);
    let msg = ServerMsg::decode(br#"{"type":"pong","token":1,"extra":[1,2]}"#).unwrap();
    assert_eq!(msg, ServerMsg::Pong { token: 1 });
}

/// An error code or bye code this client does not know yet still parses, as `other`.
#[test]
fn unknown_codes_parse_as_other() {
    let msg = ServerMsg::decode(br#"{"type":"error","code":"brand_new","message":"m"}"#).unwrap();
    assert!(matches!(msg, ServerMsg::Error { code: ErrorCode::Other, .. }));
    let msg = ServerMsg::decode(br#"{"type":"bye","code":"brand_new","message":"m"}"#).unwrap();
    assert!(matches!(msg, ServerMsg::Bye { code: ByeCode::Other, .. }));
}

/// Every bye code is written under the name docs/protocol.md gives it.
#[test]
fn bye_code_names_match_the_docs() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("docs/protocol.md");
    use ByeCode::*;
    for code in [
        Quit,
        Shutdown,
        TooManyErrors,
        TooSlow,
        UnsupportedProtocol,
        ServerFull,
        HelloTimeout,
        PingTimeout,
        Flooding,
        TooManyConnections,
        Replaced,
        Killed,
        Banned,
    ] {
        let name = serde_json::to_value(code).unwrap();
        let name = name.as_str().unwrap();
        assert!(docs.contains(&format!("`{name}`")), "docs/protocol.md names bye code {name}");
    }
}

/// Names are validated while parsing: an invalid nick never becomes a `Nick`.
#[test]
fn invalid_names_do_not_parse() {
    let e = ClientMsg::decode(br#"{"type":"nick","nick":"bad nick"}"#).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidNick);
    assert_eq!(e.request.as_deref(), Some("nick"));
}

/// The README's protocol table shows only lines that the tests hold fixed.
#[test]
fn the_readme_shows_only_fixture_lines() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let fixtures: Vec<&str> = client_fixtures()
        .into_iter()
        .map(|(_, l)| l)
        .chain(server_fixtures().into_iter().map(|(_, l)| l))
        .collect();
    let shown: Vec<&str> =
        readme.split('`').filter(|s| s.starts_with("{\"type\"") && s.ends_with('}')).collect();
    assert!(shown.len() >= ClientMsg::TYPES.len(), "the README's protocol table is missing");
    for line in shown {
        assert!(fixtures.contains(&line), "README.md shows a line no test checks:\n{line}");
    }
}
