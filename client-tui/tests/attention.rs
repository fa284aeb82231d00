//! What reaches the person's attention and what is kept, without a terminal: events in,
//! state and effects out. `/ignore` (shown, counted, rung, followed across renames, in
//! history), highlight words, desktop notifications, and the chat log's lines.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::highlight::Highlights;
use chat_tui::notify::{NOTIFY_INTERVAL, Notice, NotifyStyle};
use chat_tui::settings::Settings;
use chat_tui::window::Target;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{MessageKind, Nick, PresenceEvent, RoomInfo, RoomName, ServerMsg, Stored, Text};
use ratatui::layout::Rect;
use uuid::Uuid;

/// Sequence numbers for test messages: increasing, as a server's are.
static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_seq() -> u64 {
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

/// 2026-12-03 14:05:09 UTC, in milliseconds.
const TS: u64 = 1_796_306_709_000;

/// Michael's client with `settings` changed by `change`, welcomed, in lobby and rust (shown).
fn app_with(change: impl FnOnce(&mut Settings)) -> App {
    let mut settings = Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    change(&mut settings);
    let mut app = App::new(settings, Rect::new(0, 0, 80, 24));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    server(
        &mut app,
        ServerMsg::Welcome {
            account: false,
            session: Uuid::now_v7(),
            nick: nick("Michael"),
            server: protocol::Label::truncate("chat-server/0.1.0"),
            protocol: 1,
            greeting: "Hello, Michael!".into(),
            motd: String::new(),
            rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
            resume: None,
            flood: None,
        },
    );
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    type_line(&mut app, "/join rust");
    server(&mut app, presence("rust", "Michael", PresenceEvent::Joined));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    app
}

fn server(app: &mut App, msg: ServerMsg) -> Vec<Effect> {
    app.update(Event::Net(NetEvent::Message(msg)))
}

fn presence(r: &str, n: &str, event: PresenceEvent) -> ServerMsg {
    ServerMsg::Presence { id: Uuid::now_v7(), ts: TS, room: room(r), nick: nick(n), event }
}

fn said(r: &str, from: &str, text: &str) -> ServerMsg {
    ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: room(r),
        seq: next_seq(),
        from: nick(from),
        kind: MessageKind::Say,
        text: Text::parse(text).unwrap(),
        ts: TS,
    }
}

fn private(from: &str, text: &str) -> ServerMsg {
    ServerMsg::Private {
        account: false,
        offline: false,
        id: Uuid::now_v7(),
        from: nick(from),
        to: nick("Michael"),
        text: Text::parse(text).unwrap(),
        ts: TS,
    }
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
}

fn window(app: &App, target: Target) -> &chat_tui::window::Window {
    &app.windows[app.windows.find(&target).unwrap()]
}

fn texts(app: &App, target: Target) -> Vec<String> {
    window(app, target).entries().iter().map(|e| e.text.clone()).collect()
}

fn lobby() -> Target {
    Target::Room(RoomName::lobby())
}

/// An ignored person's messages (and a look-alike's) are neither shown nor counted nor rung
/// for, their private messages open no window, the list follows their new nick, and
/// `/unignore` brings them back; each change asks for the list to be saved.
#[test]
fn ignored_people_are_not_shown_counted_or_rung_for() {
    let mut app = app_with(|s| s.bell = true);
    assert_eq!(type_line(&mut app, "/ignore Tracy"), [Effect::SaveIgnored(vec![nick("Tracy")])]);
    let effects = server(&mut app, said("lobby", "Tracy", "hi Michael"));
    assert!(effects.is_empty(), "no bell: {effects:?}");
    server(&mut app, said("lobby", "tracy", "a look-alike"));
    assert!(server(&mut app, private("Tracy", "psst")).is_empty());
    assert!(app.windows.find(&Target::Private(nick("Tracy"))).is_none(), "no private window");
    let w = window(&app, lobby());
    assert_eq!((w.unread, w.highlights), (0, 0));
    assert!(!texts(&app, lobby()).iter().any(|t| t.contains("Michael") || t.contains("look")));

    server(&mut app, presence("lobby", "Tracy", PresenceEvent::Renamed { to: nick("T2") }));
    server(&mut app, said("lobby", "T2", "renamed and still here"));
    assert!(!texts(&app, lobby()).iter().any(|t| t.contains("still here")), "followed");

    assert_eq!(type_line(&mut app, "/ignore"), []);
    assert_eq!(texts(&app, Target::Room(room("rust"))).last().unwrap(), "ignored: Tracy");
    assert_eq!(type_line(&mut app, "/unignore Tracy"), [Effect::SaveIgnored(vec![])]);
    let effects = server(&mut app, said("lobby", "T2", "back, Michael"));
    assert_eq!(effects, [Effect::Bell]);
    assert_eq!(texts(&app, lobby()).last().unwrap(), "back, Michael");
    assert_eq!(window(&app, lobby()).highlights, 1);

    assert_eq!(type_line(&mut app, "/ignore Michael"), [], "not ourselves");
    assert_eq!(type_line(&mut app, "/unignore Sam"), []);
    assert_eq!(texts(&app, Target::Room(room("rust"))).last().unwrap(), "Sam is not ignored");
}

fn stored(seq: u64, from: &str, text: &str) -> Stored {
    Stored {
        account: false,
        id: Uuid::now_v7(),
        seq,
        from: nick(from),
        kind: MessageKind::Say,
        text: Some(Text::parse(text).unwrap()),
        ts: TS,
    }
}

/// History leaves ignored people out too, and still counts their messages as held: a live
/// copy of one is not shown, and an older page is asked for before the oldest of them.
#[test]
fn history_leaves_ignored_people_out_but_counts_their_messages() {
    let mut app = app_with(|_| {});
    app.ignored.add(nick("Tracy")).unwrap();
    let base = next_seq() + 100;
    SEQ.fetch_add(200, std::sync::atomic::Ordering::Relaxed);
    let page = vec![stored(base, "Tracy", "old one"), stored(base + 1, "Sam", "kept")];
    server(&mut app, ServerMsg::History { room: room("rust"), messages: page, beginning: false });
    let rust = Target::Room(room("rust"));
    assert!(texts(&app, rust.clone()).contains(&"kept".to_owned()));
    assert!(!texts(&app, rust.clone()).iter().any(|t| t.contains("old one")));
    assert_eq!(window(&app, rust.clone()).oldest_seq, Some(base));
    // The page's newest is held: the same message live is not shown twice.
    server(
        &mut app,
        ServerMsg::Message {
            account: false,
            id: Uuid::now_v7(),
            room: room("rust"),
            seq: base + 1,
            from: nick("Sam"),
            kind: MessageKind::Say,
            text: Text::parse("kept").unwrap(),
            ts: TS,
        },
    );
    let kept = texts(&app, rust.clone()).iter().filter(|t| *t == "kept").count();
    assert_eq!(kept, 1);
    // All of a page ignored: still a page held, and the next older one asked for before it.
    let page = vec![stored(base - 2, "Tracy", "a"), stored(base - 1, "Tracy", "b")];
    server(&mut app, ServerMsg::History { room: room("rust"), messages: page, beginning: false });
    assert_eq!(window(&app, rust).oldest_seq, Some(base - 2));
}

/// A highlight word marks a message like a mention of our nick: counted with `!`, rung for;
/// inside a longer word it does not.
#[test]
fn highlight_words_mark_messages_like_mentions() {
    let words = vec!["deploy".to_owned(), "Rust".to_owned()];
    let mut app = app_with(|s| {
        s.bell = true;
        s.highlights = Highlights::parse(&words).unwrap();
    });
    assert!(server(&mut app, said("lobby", "Tracy", "redeployed rusty things")).is_empty());
    assert_eq!(server(&mut app, said("lobby", "Tracy", "DEPLOY at five")), [Effect::Bell]);
    let w = window(&app, lobby());
    assert_eq!((w.unread, w.highlights), (2, 1));
    let marked: Vec<bool> = w.entries().iter().rev().take(2).map(|e| e.mention).collect();
    assert_eq!(marked, [true, false]);
    assert!(server(&mut app, said("lobby", "Michael", "deploy")).is_empty(), "ours: not for us");
}

fn notices(effects: &[Effect]) -> Vec<Notice> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// Notifications, when on: for mentions and private messages, not for the window looked at
/// while the terminal has focus, at most one per interval.
#[test]
fn notifications_for_what_is_for_us_spaced_and_not_for_what_is_looked_at() {
    let mut app = app_with(|s| s.notify = NotifyStyle::Osc777);
    let t0 = Instant::now();
    app.update(Event::Tick(t0));
    app.update(Event::Focus(true));
    assert!(notices(&server(&mut app, said("lobby", "Tracy", "plain talk"))).is_empty());
    let got = notices(&server(&mut app, said("lobby", "Tracy", "hi Michael")));
    assert_eq!(got, [Notice { title: "chat: #lobby".into(), body: "<Tracy> hi Michael".into() }]);
    assert!(notices(&server(&mut app, private("Sam", "psst"))).is_empty(), "within the interval");
    app.update(Event::Tick(t0 + NOTIFY_INTERVAL));
    let got = notices(&server(&mut app, private("Sam", "psst")));
    assert_eq!(got[0].title, "chat: private, @Sam");
    app.update(Event::Tick(t0 + NOTIFY_INTERVAL * 2));
    assert!(notices(&server(&mut app, said("rust", "Tracy", "Michael?"))).is_empty(), "shown");
    app.update(Event::Focus(false));
    assert_eq!(notices(&server(&mut app, said("rust", "Tracy", "Michael!"))).len(), 1);
    let mut quiet = app_with(|_| {});
    assert!(notices(&server(&mut quiet, private("Sam", "psst"))).is_empty(), "off by default");
    quiet.update(Event::Tick(t0 + Duration::from_secs(1)));
}

fn records(effects: &[Effect]) -> Vec<(String, String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) => Some((r.window.clone(), r.day.to_string(), r.line.clone())),
            _ => None,
        })
        .collect()
}

/// With logs on, live messages (ours, others', `/me`, private) become log lines of their
/// window and day, a line per line of text; history shown on joining does not; off, nothing.
#[test]
fn chat_log_lines_for_live_messages_only() {
    let mut app = app_with(|s| s.logs = true);
    let got = records(&server(&mut app, said("lobby", "Tracy", "one\ntwo")));
    let day = "2026-12-03".to_owned();
    assert_eq!(
        got,
        [("#lobby".into(), day.clone(), "14:05:09 <Tracy> one\n14:05:09 <Tracy> two".into())]
    );
    let action = ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: room("rust"),
        seq: next_seq(),
        from: nick("Michael"),
        kind: MessageKind::Action,
        text: Text::parse("waves").unwrap(),
        ts: TS,
    };
    let got = records(&server(&mut app, action));
    assert_eq!(got, [("#rust".into(), day.clone(), "14:05:09 * Michael waves".into())]);
    let got = records(&server(&mut app, private("Sam", "psst")));
    assert_eq!(got, [("@Sam".into(), day, "14:05:09 <Sam> psst".into())]);
    type_line(&mut app, "/join ops");
    server(&mut app, presence("ops", "Michael", PresenceEvent::Joined));
    let page = vec![stored(next_seq(), "Tracy", "from before")];
    let got = records(&server(
        &mut app,
        ServerMsg::History { room: room("ops"), messages: page, beginning: true },
    ));
    assert!(got.is_empty(), "history is not logged again: {got:?}");
    let mut off = app_with(|_| {});
    assert!(records(&server(&mut off, said("lobby", "Tracy", "hi"))).is_empty());
}
