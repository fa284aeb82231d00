//! Fuzzing the plain-text dialect with proptest. Lines of any bytes (control characters,
//! escape sequences, GBK, half a UTF-8 character, slash commands gone wrong), cut into chunks of
//! any size with pauses anywhere, never make [`Plain`] panic; and nothing it writes back to a
//! plain client holds a control character other than the CR LF that ends each line: no ESC, no
//! C1 control, no bidi override, no invisible character, no variation selector (what
//! `protocol::sanitize` promises for text from others).
//!
//! Two properties drive [`Plain`] directly (through a stand-in for the session); one drives a
//! real server's plain port over TCP, with one case per hundred asked for, since each is a
//! connection.
//!
//! The default case counts keep this file to a few seconds in debug mode. A long run:
//! `PROPTEST_CASES=1000000 cargo test --release -p chat-server --test fuzz_plain`. Failures are
//! kept in `fuzz_plain.proptest-regressions` and replayed first on every run.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use chat_server::ServerInfo;
use chat_server::dialect::plain::{Charset, Plain};
use chat_server::dialect::{Dialect, View};
use encoding_rs::GBK;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use protocol::limits::{MAX_LINE_BYTES, MAX_TEXT_BYTES};
use protocol::sanitize::is_invisible;
use protocol::{
    AccountEvent, ByeCode, ClientMsg, ErrorCode, Label, Line, LineCodec, MessageKind, Nick,
    PresenceEvent, RequestError, RoomInfo, RoomName, ServerMsg, Stored, Text,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Decoder;
use uuid::Uuid;

/// Cases per property: `PROPTEST_CASES` when set, else `default`. Read here because a `cases`
/// written in the config would override the variable.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---- What a plain client may be sent ----

fn is_variation_selector(ch: char) -> bool {
    matches!(ch, '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}')
}

/// One line written to a plain client, without its CR LF: no control character, nothing
/// invisible, direction-changing or glyph-switching.
fn check_line(line: &str) {
    let bad = line.chars().find(|&c| c.is_control() || is_invisible(c) || is_variation_selector(c));
    assert!(bad.is_none(), "{bad:?} written to a plain client in {line:?}");
}

/// Lines in the client's charset, each ended by CR LF and clean.
fn check_output(out: &[u8], charset: Charset) {
    let text = match charset {
        Charset::Utf8 => std::str::from_utf8(out).expect("UTF-8 output").to_owned(),
        Charset::Gbk => {
            GBK.decode_without_bom_handling_and_without_replacement(out).expect("GBK").into_owned()
        }
    };
    assert!(text.is_empty() || text.ends_with("\r\n"), "unterminated output {text:?}");
    text.split_terminator("\r\n").for_each(check_line);
}

/// What the server sent on the wire: lines ended by CR LF, each clean. In UTF-8, as the input
/// is kept from turning the session to GBK (see [`no_gbk_lines`]); a line that is not UTF-8 is
/// read as GBK all the same, in case a stalled test machine made a line of a piece of one.
fn check_wire(out: &[u8]) {
    let Some(lines) = out.strip_suffix(b"\n") else {
        assert!(out.is_empty(), "unterminated output");
        return;
    };
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").expect("CR LF line ends");
        let text = match std::str::from_utf8(line) {
            Ok(text) => text.to_owned(),
            Err(_) => GBK
                .decode_without_bom_handling_and_without_replacement(line)
                .expect("UTF-8 or GBK")
                .into_owned(),
        };
        check_line(&text);
    }
}

/// `bytes` with every line that would turn the session to GBK spoilt by a byte that is neither
/// UTF-8 nor GBK: bytes in GBK can be read as UTF-8 with other characters (a GBK line can hold
/// the bytes of U+FEFF), so the wire check needs to know the charset.
fn no_gbk_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let (body, end) = match line.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        out.extend_from_slice(body);
        let gbk = GBK.decode_without_bom_handling_and_without_replacement(body).is_some();
        if std::str::from_utf8(body).is_err() && gbk {
            out.push(0xff);
        }
        out.extend_from_slice(end);
    }
    out
}

// ---- A stand-in for the session around the dialect ----

fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

fn id() -> Uuid {
    Uuid::from_u128(0x019a_a7e2_5c4b_7d1e_8f3a_2b6c_9d0e_1f42)
}

/// Feeds bytes to a [`Plain`] the way a session does: a [`LineCodec`] of the real limit, an
/// unterminated line taken after a pause, each line read, each request answered the way the
/// server would answer it (the client's own words come back in its echo). Everything written to
/// the client is checked as it is written.
struct Session {
    plain: Plain,
    codec: LineCodec,
    buf: BytesMut,
    nick: Option<Nick>,
    rooms: Vec<RoomName>,
}

impl Session {
    fn new() -> Self {
        let mut plain = Plain::new();
        let mut out = BytesMut::new();
        plain.greet(&mut out);
        check_output(&out, plain.charset());
        let codec = LineCodec::new(MAX_LINE_BYTES);
        Self { plain, codec, buf: BytesMut::new(), nick: None, rooms: Vec::new() }
    }

    fn receive(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        while let Some(line) = self.codec.decode(&mut self.buf).unwrap() {
            self.line(line);
        }
    }

    /// The client paused: what it sent so far is a line.
    fn pause(&mut self) {
        if let Some(line) = self.codec.take_partial(&mut self.buf) {
            self.line(line);
        }
    }

    fn end(&mut self) {
        while let Some(line) = self.codec.decode_eof(&mut self.buf).unwrap() {
            self.line(line);
        }
    }

    fn line(&mut self, line: Line) {
        let mut out = BytesMut::new();
        let view = View { nick: self.nick.as_ref(), rooms: &self.rooms };
        match self.plain.read(line, view, &mut out) {
            None => {}
            Some(Ok(request)) => {
                let name = request.type_name();
                for reply in self.answer(request) {
                    self.write(&reply, &mut out);
                }
                // Requests can fail too, with the server's words.
                let failed = RequestError::new(ErrorCode::NotInRoom, "you are not in that room");
                self.write(&failed.for_request(name).to_msg(), &mut out);
            }
            Some(Err(error)) => self.write(&error.to_msg(), &mut out),
        }
        check_output(&out, self.plain.charset());
    }

    fn write(&mut self, msg: &ServerMsg, out: &mut BytesMut) {
        let view = View { nick: self.nick.as_ref(), rooms: &self.rooms };
        self.plain.write(msg, view, out);
    }

    /// What the server sends back for `request`.
    fn answer(&mut self, request: ClientMsg) -> Vec<ServerMsg> {
        let me = self.nick.clone().unwrap_or_else(|| nick("someone"));
        let presence = |room: &RoomName, event| ServerMsg::Presence {
            id: id(),
            ts: 1,
            room: room.clone(),
            nick: me.clone(),
            event,
        };
        let members = |room: &RoomName| ServerMsg::Members {
            room: room.clone(),
            nicks: vec![me.clone()],
            roles: Default::default(),
            after: None,
            more: false,
        };
        match request {
            ClientMsg::Hello { nick, .. } => {
                self.nick = Some(nick.clone());
                self.rooms.push(RoomName::lobby());
                let lobby = RoomName::lobby();
                vec![
                    welcome(&nick),
                    ServerMsg::Presence {
                        id: id(),
                        ts: 1,
                        room: lobby.clone(),
                        nick,
                        event: PresenceEvent::Joined,
                    },
                ]
            }
            ClientMsg::Join { room, .. } => {
                self.rooms.retain(|r| r != &room);
                self.rooms.push(room.clone());
                vec![presence(&room, PresenceEvent::Joined), members(&room)]
            }
            ClientMsg::Leave { room } => {
                self.rooms.retain(|r| r != &room);
                vec![presence(&room, PresenceEvent::Left { reason: None })]
            }
            ClientMsg::Say { room, text } => vec![message(&room, &me, MessageKind::Say, text)],
            ClientMsg::Action { room, text } => {
                vec![message(&room, &me, MessageKind::Action, text)]
            }
            ClientMsg::Msg { to, text } => {
                vec![ServerMsg::Private {
                    id: id(),
                    from: me.clone(),
                    to,
                    text,
                    ts: 1,
                    account: false,
                    offline: false,
                }]
            }
            ClientMsg::Nick { nick } => {
                self.nick = Some(nick.clone());
                vec![
                    ServerMsg::Nick { nick: nick.clone() },
                    presence(&RoomName::lobby(), PresenceEvent::Renamed { to: nick }),
                ]
            }
            ClientMsg::Rooms => {
                let rooms = self.rooms.iter().map(|r| RoomInfo { name: r.clone(), members: 1 });
                vec![ServerMsg::Rooms { rooms: rooms.collect() }]
            }
            ClientMsg::Who { room, .. } => vec![members(&room)],
            ClientMsg::Register { .. } => {
                vec![ServerMsg::Account { nick: me.clone(), event: AccountEvent::Registered }]
            }
            ClientMsg::Passwd { .. } => {
                vec![ServerMsg::Account { nick: me.clone(), event: AccountEvent::PasswordChanged }]
            }
            ClientMsg::Unregister { .. } => {
                vec![ServerMsg::Account { nick: me.clone(), event: AccountEvent::Unregistered }]
            }
            ClientMsg::Ping { token } => vec![ServerMsg::Pong { token }],
            // Moderation is answered by the room (or refused); the model expects nothing of it.
            ClientMsg::Pong { .. }
            | ClientMsg::History { .. }
            | ClientMsg::Delete { .. }
            | ClientMsg::Topic { .. }
            | ClientMsg::Mode { .. }
            | ClientMsg::Kick { .. }
            | ClientMsg::Ban { .. }
            | ClientMsg::Unban { .. }
            | ClientMsg::Bans { .. }
            | ClientMsg::Mute { .. }
            | ClientMsg::Unmute { .. }
            | ClientMsg::Role { .. }
            | ClientMsg::Invite { .. }
            | ClientMsg::Claim { .. }
            | ClientMsg::Disown { .. }
            | ClientMsg::Kill { .. }
            | ClientMsg::Gban { .. }
            | ClientMsg::Ungban { .. }
            | ClientMsg::Gbans => Vec::new(),
            ClientMsg::Quit { reason } => vec![
                presence(&RoomName::lobby(), PresenceEvent::Left { reason }),
                ServerMsg::Bye { code: ByeCode::Quit, message: "bye".into(), retry_after_ms: None },
            ],
        }
    }
}

fn welcome(nick: &Nick) -> ServerMsg {
    ServerMsg::Welcome {
        account: false,
        session: id(),
        nick: nick.clone(),
        server: Label::truncate("chat-server/0.1.0"),
        protocol: 1,
        greeting: format!("Hello, {nick}! Welcome to chat."),
        motd: "Be kind.\nNo spam.".into(),
        rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
        resume: None,
    }
}

fn message(room: &RoomName, from: &Nick, kind: MessageKind, text: Text) -> ServerMsg {
    ServerMsg::Message {
        account: false,
        id: id(),
        room: room.clone(),
        seq: 1,
        from: from.clone(),
        kind,
        text,
        ts: 1,
    }
}

// ---- Strategies ----

/// What people, and people up to no good, type at a plain-text port.
const TYPED: &[&str] = &[
    "Michael",
    "小明",
    "Tracy",
    "exit",
    "/exit",
    " EXIT ",
    "/quit gone\u{1b}[2J",
    "/join ",
    "/join #Rust",
    "/j ",
    "/leave",
    "/part ",
    "/rooms",
    "/who ",
    "/nick ",
    "/msg ",
    "/m Tracy ",
    "/me ",
    "/help",
    "/?",
    "//",
    "/",
    " ",
    "\t",
    "\u{1b}[2J",
    "\u{1b}]0;pwned\u{7}",
    "\u{1b}]52;c;ZXZpbA==\u{1b}\\",
    "\u{1b}P+q\u{1b}\\",
    "\u{9b}31m",
    "\u{85}",
    "\u{202e}",
    "\u{2066}",
    "\u{200b}",
    "\u{feff}",
    "\u{2028}",
    "\u{e0041}",
    "\u{fe0f}",
    "\u{301}\u{301}\u{301}\u{301}\u{301}\u{301}",
    "\u{0}",
    "\u{7}",
    "\u{8}",
    "\u{7f}",
    "\r",
];

/// Bytes that are not UTF-8: some are GBK ("小明", a two-byte pair), some are nothing at all.
const RAW: &[&[u8]] = &[
    b"\x9b",
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe4\xb8",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xd0\xa1\xc3\xf7",
    b"\x81\x40",
    b"\xa1\xa1",
    b"\xfe\xfe",
];

/// Characters that have broken terminals somewhere.
const NASTY: &[char] = &[
    '\0',
    '\u{7}',
    '\t',
    '\n',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9b}',
    '\u{301}',
    '\u{34f}',
    '\u{200b}',
    '\u{200e}',
    '\u{202e}',
    '\u{2028}',
    '\u{2066}',
    '\u{fe0f}',
    '\u{feff}',
    '\u{e0041}',
    '\u{e0100}',
    '\u{3164}',
    'é',
    '小',
    '😀',
];

fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range(' ', '~'),
        2 => any::<char>(),
        2 => select(NASTY),
    ]
}

fn hostile() -> impl Strategy<Value = String> {
    vec(hostile_char(), 0..40).prop_map(String::from_iter)
}

fn gbk(s: &str) -> Vec<u8> {
    GBK.encode(s).0.into_owned()
}

/// Characters for GBK lines: ASCII, Chinese, and now and then one that GBK cannot hold.
fn gbk_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range(' ', '~'),
        4 => prop::char::range('一', '龥'),
        1 => hostile_char(),
    ]
}

/// What a plain client sends: pieces of the above, random bytes, GBK, line ends, and now and
/// then a line over the limit.
fn typed_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => vec(any::<u8>(), 0..16),
        4 => select(TYPED).prop_map(|t| t.as_bytes().to_vec()),
        2 => select(RAW).prop_map(<[u8]>::to_vec),
        2 => vec(gbk_char(), 0..8).prop_map(|c| gbk(&String::from_iter(c))),
        3 => hostile().prop_map(String::into_bytes),
        4 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => (any::<u8>(), MAX_LINE_BYTES - 99..MAX_LINE_BYTES + 99).prop_map(|(b, n)| vec![b; n]),
    ];
    vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Read sizes, each maybe followed by a pause long enough to end an unterminated line.
fn reads() -> impl Strategy<Value = Vec<(usize, bool)>> {
    vec((prop_oneof![1..4usize, 1..64usize, 1..4096usize], prop::bool::weighted(0.2)), 1..12)
}

/// Valid nicks, a few of them often (so a message is sometimes from "me"), some with marks.
fn any_nick() -> impl Strategy<Value = Nick> {
    const NICKS: &[&str] = &["Michael", "Tracy", "小明", "Zoë", "हिंदी", "Nguyễn", "e\u{301}"];
    let letter = prop_oneof![prop::char::range('a', 'z'), prop::char::range('一', '鿿')];
    let made = vec(letter, 1..=32);
    prop_oneof![select(NICKS).prop_map(str::to_owned), made.prop_map(String::from_iter)]
        .prop_filter_map("valid nick", |s| Nick::parse(&s).ok())
}

fn room() -> impl Strategy<Value = RoomName> {
    const ROOMS: &[&str] = &["lobby", "rust", "日本", "a.b-c_d", "ünï"];
    select(ROOMS).prop_map(|r| RoomName::parse(r).unwrap())
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        9 => vec(hostile_char(), 1..60).prop_map(String::from_iter),
        1 => (select(NASTY), 1..=MAX_TEXT_BYTES / 4).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
    .prop_filter_map("valid text", |s| Text::parse(&s).ok())
}

fn label() -> impl Strategy<Value = Label> {
    hostile().prop_map(|s| Label::truncate(&s))
}

/// The operator's words (the chat's name, the motd): trusted, so printable; lines of them
/// joined by `newline`.
fn operator_text(newline: &'static str) -> impl Strategy<Value = String> {
    let ch = prop_oneof![4 => prop::char::range(' ', '~'), 1 => prop::char::range('一', '鿿')];
    let line = vec(ch, 0..30).prop_map(String::from_iter);
    vec(line, 1..4).prop_map(move |lines| lines.join(newline))
}

/// A stored message: said, an action, or now and then a deleted one's tombstone.
fn stored() -> impl Strategy<Value = Stored> {
    (any_nick(), 0..5u8, text()).prop_map(|(from, kind, text)| {
        let stored = Stored {
            account: false,
            id: id(),
            seq: 1,
            from,
            kind: if kind == 0 { MessageKind::Action } else { MessageKind::Say },
            text: Some(text),
            ts: 1,
        };
        if kind == 4 { stored.tombstone() } else { stored }
    })
}

fn presence_event() -> impl Strategy<Value = PresenceEvent> {
    prop_oneof![
        Just(PresenceEvent::Joined),
        prop::option::of(label()).prop_map(|reason| PresenceEvent::Left { reason }),
        any_nick().prop_map(|to| PresenceEvent::Renamed { to }),
        label().prop_map(|reason| PresenceEvent::Dropped { reason }),
    ]
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    const ERRORS: &[ErrorCode] =
        &[ErrorCode::InvalidJson, ErrorCode::NickInUse, ErrorCode::BadCommand, ErrorCode::Other];
    const BYES: &[ByeCode] =
        &[ByeCode::Quit, ByeCode::Shutdown, ByeCode::TooManyErrors, ByeCode::Other];
    prop_oneof![
        (any_nick(), operator_text(""), operator_text("\n")).prop_map(|(nick, name, motd)| {
            let ServerMsg::Welcome { session, server, protocol, rooms, resume, .. } =
                welcome(&nick)
            else {
                unreachable!()
            };
            let greeting = format!("Hello, {nick}! Welcome to {name}.");
            ServerMsg::Welcome {
                session,
                nick,
                server,
                protocol,
                greeting,
                motd,
                rooms,
                resume,
                account: false,
            }
        }),
        (room(), any_nick(), any::<bool>(), text()).prop_map(|(room, from, action, text)| {
            let kind = if action { MessageKind::Action } else { MessageKind::Say };
            message(&room, &from, kind, text)
        }),
        (room(), vec(stored(), 0..4), any::<bool>()).prop_map(|(room, messages, beginning)| {
            ServerMsg::History { room, messages, beginning }
        }),
        (room(), any_nick()).prop_map(|(room, by)| ServerMsg::Deleted {
            room,
            id: id(),
            seq: 1,
            by,
            ts: 1
        }),
        (any_nick(), any_nick(), text()).prop_map(|(from, to, text)| ServerMsg::Private {
            account: false,
            offline: false,
            id: id(),
            from,
            to,
            text,
            ts: 1
        }),
        (room(), any_nick(), presence_event()).prop_map(|(room, nick, event)| {
            ServerMsg::Presence { id: id(), ts: 1, room, nick, event }
        }),
        any_nick().prop_map(|nick| ServerMsg::Nick { nick }),
        vec((room(), any::<u32>()), 0..4).prop_map(|r| ServerMsg::Rooms {
            rooms: r.into_iter().map(|(name, members)| RoomInfo { name, members }).collect()
        }),
        (room(), vec(any_nick(), 0..4)).prop_map(|(room, nicks)| ServerMsg::Members {
            room,
            nicks,
            roles: Default::default(),
            after: None,
            more: false,
        }),
        (room(), any_nick(), hostile()).prop_map(|(room, by, text)| ServerMsg::Topic {
            room,
            topic: Some(protocol::Topic { text: Label::truncate(&text), by, ts: 1 })
        }),
        (room(), any_nick(), hostile()).prop_map(|(room, by, text)| ServerMsg::Moderation {
            id: id(),
            ts: 1,
            room,
            by,
            action: protocol::Moderation::Topic { text: Some(Label::truncate(&text)) }
        }),
        (room(), any_nick(), hostile()).prop_map(|(room, by, reason)| ServerMsg::Moderation {
            id: id(),
            ts: 1,
            room,
            by: by.clone(),
            action: protocol::Moderation::Banned {
                mask: protocol::Mask::Nick(by),
                until: None,
                reason: Some(Label::truncate(&reason))
            }
        }),
        hostile().prop_map(|text| ServerMsg::Notice { id: id(), ts: 1, text }),
        (select(ERRORS), hostile(), prop::option::of(hostile())).prop_map(
            |(code, message, request)| {
                let error = RequestError::new(code, message);
                match request {
                    Some(request) => error.for_request(&request).to_msg(),
                    None => error.to_msg(),
                }
            }
        ),
        any::<u64>().prop_map(|token| ServerMsg::Ping { token }),
        any::<u64>().prop_map(|token| ServerMsg::Pong { token }),
        (select(BYES), hostile()).prop_map(|(code, message)| ServerMsg::Bye {
            code,
            message,
            retry_after_ms: None
        }),
    ]
}

/// Cuts `bytes` into reads of the given sizes (taken in turn), each maybe followed by a pause.
fn by_reads<'a>(bytes: &'a [u8], reads: &[(usize, bool)]) -> Vec<(&'a [u8], bool)> {
    let mut chunks = Vec::new();
    let mut rest = bytes;
    for &(size, pause) in reads.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        chunks.push((chunk, pause));
        rest = tail;
    }
    chunks
}

// ---- Properties ----

proptest! {
    #![proptest_config(config(128))]

    /// Any bytes, in any reads with pauses anywhere, before or after the nick: the dialect
    /// never panics, and every answer (its own, the server's, the echo of the client's own
    /// words) is clean lines in the client's charset.
    #[test]
    fn any_input_is_answered_with_clean_lines(
        bytes in typed_input(), reads in reads(), login in any::<bool>(),
    ) {
        let mut session = Session::new();
        if login {
            session.receive(b"Michael\n");
        }
        for (chunk, pause) in by_reads(&bytes, &reads) {
            session.receive(chunk);
            if pause {
                session.pause();
            }
        }
        session.end();
    }

    /// Any event, however hostile the text, reasons and messages in it, is written to a plain
    /// client as clean lines, in UTF-8 and in GBK, registered or not.
    #[test]
    fn any_event_is_written_as_clean_lines(
        msg in server_msg(),
        gbk in any::<bool>(),
        me in prop::option::of(any_nick()),
        rooms in vec(room(), 0..3),
    ) {
        let mut plain = Plain::new();
        let mut out = BytesMut::new();
        if gbk {
            let line = Line::Complete(BytesMut::from(&b"\xd0\xa1\xc3\xf7"[..]));
            plain.read(line, View { nick: None, rooms: &[] }, &mut out);
            prop_assert_eq!(plain.charset(), Charset::Gbk);
        }
        out.clear();
        plain.write(&msg, View { nick: me.as_ref(), rooms: &rooms }, &mut out);
        check_output(&out, plain.charset());
    }
}

/// Connects to the plain port, writes `bytes` in the given reads (a short gap where a pause
/// is asked for: the real pause that ends a line takes 300 ms, too long for many cases), ends
/// its side, and returns everything the server wrote until it closed.
async fn talk(addr: SocketAddr, bytes: &[u8], reads: &[(usize, bool)], login: bool) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let received = tokio::spawn(async move {
        let mut out = Vec::new();
        // A reset (the server hung up on too many errors) ends the output too.
        let _ = reader.read_to_end(&mut out).await;
        out
    });
    let login: &[u8] = if login { b"Fuzzer\n" } else { b"" };
    // At most about 200 writes: a write of a few bytes costs a round trip through the server,
    // and the splits inside a line are the other tests' part.
    let least = bytes.len() / 200;
    let reads: Vec<_> = reads.iter().map(|&(size, pause)| (size.max(least), pause)).collect();
    for (chunk, pause) in [(login, false)].into_iter().chain(by_reads(bytes, &reads)) {
        if writer.write_all(chunk).await.is_err() {
            break;
        }
        if pause {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let _ = writer.shutdown().await;
    timeout(Duration::from_secs(10), received).await.expect("the server closes").unwrap()
}

/// Set when a thread of the server under test panics: a session task that panics only loses
/// its connection, so the test must look for it.
static SERVER_PANICKED: AtomicBool = AtomicBool::new(false);

/// The thread name of the runtime the server under test runs on.
const SERVER_THREAD: &str = "fuzz-plain-server";

/// The same kind of input (in UTF-8: GBK is the other tests' part), through a real server's
/// plain port, flood control on: no session panics, and whatever it answers (the server's own
/// errors, flood refusals, the echo, presence) is clean lines after the greeting. Few cases,
/// each a connection.
#[test]
fn the_plain_port_answers_any_input_with_clean_lines() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(SERVER_THREAD) {
            SERVER_PANICKED.store(true, Ordering::SeqCst);
        }
        default_hook(info);
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .unwrap();
    let info = ServerInfo { motd: "Be kind.\nNo spam.".into(), ..ServerInfo::default() };
    let server = rt.block_on(common::start_server_with(info));
    // One case per hundred asked for: each is a connection to a real server.
    let cases = config(1600).cases / 100;
    let config = ProptestConfig { cases: cases.max(16), source_file: Some(file!()), ..config(0) };
    let input = (typed_input(), reads(), any::<bool>());
    let result = TestRunner::new(config).run(&input, |(bytes, reads, login)| {
        let out = rt.block_on(talk(server.plain, &no_gbk_lines(&bytes), &reads, login));
        prop_assert!(!SERVER_PANICKED.load(Ordering::SeqCst), "the server panicked");
        prop_assert!(out.starts_with(b"Welcome! What's your name?\r\n"));
        check_wire(&out);
        Ok(())
    });
    rt.block_on(server.shutdown());
    result.unwrap();
}
