//! Losing the connection and coming back, with a fake clock: backoff between attempts, one
//! attempt at a time, the same nick, the rooms rejoined and what was missed filled in once.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::entry::EntryKind;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::link::Connection;
use chat_tui::reconnect::{BACKOFF_FIRST, BACKOFF_MAX};
use chat_tui::window::Target;
use common::{app, net, nick};
use protocol::{
    ByeCode, ClientMsg, Label, MessageKind, PresenceEvent, RoomInfo, RoomName, ServerMsg, Stored,
    Text,
};
use uuid::Uuid;

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn stored(seq: u64) -> Stored {
    Stored {
        account: false,
        id: Uuid::now_v7(),
        seq,
        from: nick("Tracy"),
        kind: MessageKind::Say,
        text: Some(Text::parse(&format!("message {seq}")).unwrap()),
        ts: 0,
    }
}

fn live(r: &str, seq: u64) -> ServerMsg {
    stored(seq).into_message(room(r)).unwrap()
}

fn page(r: &str, seqs: impl Iterator<Item = u64>, beginning: bool) -> ServerMsg {
    ServerMsg::History { room: room(r), messages: seqs.map(stored).collect(), beginning }
}

fn welcome() -> ServerMsg {
    ServerMsg::Welcome {
        flood: None,
        account: false,
        session: Uuid::now_v7(),
        nick: nick("Michael"),
        server: Label::truncate("chat-server/0.1.0"),
        protocol: 1,
        greeting: "Hello, Michael!".into(),
        motd: String::new(),
        rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
        resume: Some(TOKEN.into()),
    }
}

/// The resume token of every welcome here.
const TOKEN: Uuid = Uuid::from_u128(0x005e_c2e7);

fn joined(r: &str) -> ServerMsg {
    ServerMsg::Presence {
        id: Uuid::now_v7(),
        ts: 0,
        room: room(r),
        nick: nick("Michael"),
        event: PresenceEvent::Joined,
    }
}

fn closed(app: &mut App) {
    app.update(Event::Net(NetEvent::Closed { reason: "connection reset".into() }));
}

fn tick(app: &mut App, at: Instant) -> Vec<Effect> {
    app.update(Event::Tick(at))
}

/// Michael in lobby and #rust, which holds messages 1 to 3; #rust is shown.
fn in_rust() -> App {
    let mut app = app(80, 24);
    net(&mut app, joined("rust"));
    net(&mut app, page("rust", 1..=3, true));
    app.windows.switch_to(2);
    app
}

/// The texts of the messages a window holds, in order.
fn messages(app: &App, r: &str) -> Vec<String> {
    let w = app.windows.iter().find(|w| w.target == Target::Room(room(r))).unwrap();
    w.entries().iter().filter(|e| e.kind == EntryKind::Say).map(|e| e.text.clone()).collect()
}

fn texts(seqs: impl Iterator<Item = u64>) -> Vec<String> {
    seqs.map(|s| format!("message {s}")).collect()
}

/// Comes back: ticks until the app asks to connect, then connects and is welcomed.
fn come_back(app: &mut App, from: Instant) -> Vec<Effect> {
    assert_eq!(tick(app, from + BACKOFF_MAX), vec![Effect::Connect]);
    app.update(Event::Net(NetEvent::Connecting { server: "127.0.0.1:7878".into() }));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    app.update(Event::Net(NetEvent::Message(welcome())))
}

#[test]
fn a_lost_connection_is_retried_once_after_a_backoff() {
    let mut app = in_rust();
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    assert_eq!(app.link.state, Connection::Closed);
    assert!(app.link.reconnecting());
    let log: Vec<&str> = app.server_log().iter().map(|l| l.text.as_str()).collect();
    assert!(log.iter().any(|l| l.starts_with("reconnecting in ")), "{log:?}");
    let due = app.next_deadline().unwrap();
    assert!(due >= t0 + BACKOFF_FIRST / 2 && due <= t0 + BACKOFF_FIRST, "first wait {due:?}");
    assert!(tick(&mut app, due - Duration::from_millis(1)).is_empty(), "not before the time");
    assert_eq!(tick(&mut app, due), vec![Effect::Connect]);
    assert!(tick(&mut app, due + BACKOFF_MAX).is_empty(), "one attempt at a time");
    // That attempt fails too: the next wait is longer.
    app.update(Event::Net(NetEvent::Failed { reason: "refused".into() }));
    let second = app.next_deadline().unwrap() - due;
    assert!(second >= BACKOFF_FIRST, "second wait {second:?}");
    // The screen is kept meanwhile.
    assert_eq!(messages(&app, "rust"), texts(1..=3));
}

#[test]
fn waits_grow_to_the_ceiling_and_never_beyond() {
    let mut app = in_rust();
    let mut now = Instant::now();
    tick(&mut app, now);
    closed(&mut app);
    let mut waits = Vec::new();
    for _ in 0..12 {
        let due = app.next_deadline().unwrap();
        waits.push(due - now);
        now = due;
        assert_eq!(tick(&mut app, now), vec![Effect::Connect]);
        app.update(Event::Net(NetEvent::Failed { reason: "refused".into() }));
    }
    assert!(waits.iter().all(|w| *w <= BACKOFF_MAX), "{waits:?}");
    assert!(waits[11] >= BACKOFF_MAX / 2, "{waits:?}");
    assert!(waits[0] < waits[3] && waits[3] < waits[6], "{waits:?}");
}

#[test]
fn coming_back_rejoins_and_fills_in_each_message_once() {
    let mut app = in_rust();
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    let effects = come_back(&mut app, t0);
    assert_eq!(effects, vec![Effect::Send(ClientMsg::Join { room: room("rust"), key: None })]);
    assert_eq!(app.link.state, Connection::Registered);
    // The join's backlog overlaps what the window holds; a live message follows.
    net(&mut app, joined("rust"));
    assert!(app.update(Event::Net(NetEvent::Message(page("rust", 2..=6, false)))).is_empty());
    net(&mut app, live("rust", 7));
    assert_eq!(messages(&app, "rust"), texts(1..=7));
    let markers: Vec<String> = app.windows[2]
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::Marker)
        .map(|e| e.text.clone())
        .collect();
    assert!(markers.contains(&"3 messages while you were away".to_owned()), "{markers:?}");
    assert_eq!(app.windows.current_room(), Some(&room("rust")), "still looking at #rust");
}

#[test]
fn a_long_absence_is_filled_in_from_older_pages() {
    let mut app = in_rust();
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    come_back(&mut app, t0);
    // The backlog holds only the last 50 of 107 missed; the client asks for the page before.
    let effects = app.update(Event::Net(NetEvent::Message(page("rust", 61..=110, false))));
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::History { room: room("rust"), before: Some(61), limit: 100 })]
    );
    // A live message arrives before that page: it waits for it.
    net(&mut app, live("rust", 111));
    assert_eq!(messages(&app, "rust"), texts(1..=3));
    net(&mut app, page("rust", 1..=60, true));
    assert_eq!(messages(&app, "rust"), texts(1..=111));
    net(&mut app, live("rust", 111));
    assert_eq!(messages(&app, "rust"), texts(1..=111), "no duplicate");
}

#[test]
fn quitting_or_a_final_goodbye_is_not_retried() {
    let mut app = in_rust();
    app.update(Event::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('c'),
        crossterm::event::KeyModifiers::CONTROL,
    )));
    closed(&mut app);
    assert!(!app.link.reconnecting());
    assert_eq!(app.next_deadline(), None);

    let mut app = in_rust();
    net(
        &mut app,
        ServerMsg::Bye {
            code: ByeCode::UnsupportedProtocol,
            message: "protocol 1 is not supported".into(),
            retry_after_ms: None,
        },
    );
    closed(&mut app);
    assert!(!app.link.reconnecting());
    assert!(app.server_log().back().unwrap().text.starts_with("not reconnecting: "));
}

/// The hello of a comeback shows the token of the last welcome, so the server gives the nick
/// back at once; being replaced in turn by a newer connection with that token is final.
#[test]
fn a_comeback_shows_the_resume_token_and_being_replaced_is_final() {
    let mut app = in_rust();
    let ClientMsg::Hello { resume, .. } = app.link.hello() else { unreachable!() };
    assert_eq!(resume, None, "common::app's welcome had no token");
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    come_back(&mut app, t0);
    let ClientMsg::Hello { resume, nick, .. } = app.link.hello() else { unreachable!() };
    assert_eq!((resume, nick.as_str()), (Some(TOKEN.into()), "Michael"));

    net(
        &mut app,
        ServerMsg::Bye {
            code: ByeCode::Replaced,
            message: "a new connection took over".into(),
            retry_after_ms: None,
        },
    );
    closed(&mut app);
    assert!(!app.link.reconnecting(), "two clients with one token would take turns forever");
    assert!(app.server_log().back().unwrap().text.starts_with("not reconnecting: "));
}

#[test]
fn a_server_shutdown_is_retried() {
    let mut app = in_rust();
    net(
        &mut app,
        ServerMsg::Bye {
            code: ByeCode::Shutdown,
            message: "restarting".into(),
            retry_after_ms: None,
        },
    );
    closed(&mut app);
    assert!(app.link.reconnecting());
}

/// Turned away for connecting too often: the next attempt waits as long as the server said,
/// however short the backoff would be.
#[test]
fn a_throttled_connection_waits_as_long_as_the_server_said() {
    let mut app = in_rust();
    let t0 = Instant::now();
    tick(&mut app, t0);
    let wait = BACKOFF_MAX * 3;
    net(
        &mut app,
        ServerMsg::Bye {
            code: ByeCode::Throttled,
            message: "you are connecting too often: try again in 90 s".into(),
            retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap()),
        },
    );
    closed(&mut app);
    assert!(app.link.reconnecting());
    let due = app.next_deadline().unwrap();
    assert!(due >= t0 + wait, "tried again after {:?}", due - t0);
}

/// Back before the server has noticed the old connection died, the nick is still taken: the
/// client does not settle for another nick, it drops this connection and tries again later.
#[test]
fn a_nick_still_held_by_the_old_connection_is_waited_for() {
    let mut app = in_rust();
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    assert_eq!(tick(&mut app, t0 + BACKOFF_MAX), vec![Effect::Connect]);
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    let effects = app.update(Event::Net(NetEvent::Message(ServerMsg::Error {
        code: protocol::ErrorCode::NickInUse,
        message: "the nick Michael is taken".into(),
        request: Some("hello".into()),
        retry_after_ms: None,
    })));
    assert_eq!(effects, vec![Effect::Disconnect]);
    assert!(app.link.reconnecting());
    assert_eq!(app.link.nick.as_str(), "Michael", "keeps its nick");
}

/// Away belongs to the session: coming back, the client tells the new one again, after the
/// rejoin.
#[test]
fn coming_back_away_says_so_again() {
    let mut app = in_rust();
    let gone = Label::parse("gone fishing").unwrap();
    app.update(Event::Net(NetEvent::Message(ServerMsg::Away {
        nick: common::nick("Michael"),
        text: Some(gone.clone()),
    })));
    let t0 = Instant::now();
    tick(&mut app, t0);
    closed(&mut app);
    let effects = come_back(&mut app, t0);
    assert_eq!(
        effects,
        vec![
            Effect::Send(ClientMsg::Join { room: room("rust"), key: None }),
            Effect::Send(ClientMsg::Away { text: Some(gone) }),
        ]
    );
}
