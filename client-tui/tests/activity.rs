//! Unread counts, mentions and private messages, the jump to activity, the bell; Tab
//! completion of nicks, commands and rooms.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::app::App;
use chat_tui::event::{Effect, Event};
use common::{app, joined, net, nick, say};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{MessageKind, RoomInfo, RoomName, ServerMsg, Text};
use uuid::Uuid;

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn said_in(app: &mut App, r: &str, from: &str, text: &str) -> Vec<Effect> {
    app.update(Event::Net(chat_tui::event::NetEvent::Message(ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: room(r),
        seq: common::next_seq(),
        from: nick(from),
        kind: MessageKind::Say,
        text: Text::parse(text).unwrap(),
        ts: 0,
    })))
}

fn private(app: &mut App, from: &str, text: &str) -> Vec<Effect> {
    app.update(Event::Net(chat_tui::event::NetEvent::Message(ServerMsg::Private {
        account: false,
        offline: false,
        id: Uuid::now_v7(),
        from: nick(from),
        to: nick("Michael"),
        text: Text::parse(text).unwrap(),
        ts: 0,
    })))
}

/// Michael in lobby (shown), #rust and #ops.
fn three_rooms() -> App {
    let mut app = app(100, 24);
    for r in ["rust", "ops"] {
        joined(&mut app, r, "Michael");
    }
    app
}

#[test]
fn unread_mentions_and_private_messages_are_counted_apart() {
    let mut app = three_rooms();
    said_in(&mut app, "rust", "Tracy", "anyone seen the build?");
    said_in(&mut app, "ops", "Tracy", "michael: the disk is full");
    said_in(&mut app, "ops", "Tracy", "still full");
    private(&mut app, "Tracy", "call me");
    let rust = &app.windows[2];
    assert_eq!((rust.unread, rust.highlights), (1, 0));
    let ops = &app.windows[3];
    assert_eq!((ops.unread, ops.highlights), (2, 1));
    assert!(ops.entries().iter().any(|e| e.mention && e.text == "michael: the disk is full"));
    let query = &app.windows[4];
    assert_eq!((query.unread, query.highlights), (1, 1));
    // Our own words mentioning ourselves are not news.
    said_in(&mut app, "rust", "Michael", "Michael is back");
    assert_eq!(app.windows[2].highlights, 0);
    let status = common::screen(&common::render(&app).0);
    assert!(status.contains("3:#rust(1) 4:#ops(2,1!) 5:@Tracy(1!)"), "{status}");
}

#[test]
fn alt_a_jumps_to_mentions_first_then_other_activity() {
    let mut app = three_rooms();
    said_in(&mut app, "rust", "Tracy", "plain talk");
    said_in(&mut app, "ops", "Tracy", "Michael, look");
    let alt_a = Event::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::ALT));
    app.update(alt_a.clone());
    assert_eq!(app.windows.current_room(), Some(&room("ops")), "the mention first");
    assert_eq!(app.windows[3].highlights, 0, "seen");
    app.update(alt_a.clone());
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    app.update(alt_a);
    assert_eq!(app.windows.current_room(), Some(&room("rust")), "nothing left: stays");
}

#[test]
fn the_bell_rings_for_mentions_and_private_messages_when_asked() {
    let mut quiet = three_rooms();
    assert!(said_in(&mut quiet, "rust", "Tracy", "Michael?").is_empty(), "off by default");
    let mut app = three_rooms();
    app.settings.bell = true;
    assert_eq!(said_in(&mut app, "rust", "Tracy", "Michael?"), vec![Effect::Bell]);
    assert_eq!(private(&mut app, "Tracy", "hi"), vec![Effect::Bell]);
    assert!(said_in(&mut app, "rust", "Tracy", "no mention").is_empty());
}

#[test]
fn tab_completes_nicks_of_the_room_and_cycles() {
    let mut app = app(80, 24);
    for who in ["Tracy", "Trevor", "Alice"] {
        joined(&mut app, "lobby", who);
    }
    // Trevor spoke last: he comes first.
    say(&mut app, "Trevor", "hello");
    typed(&mut app, "tr");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "Trevor: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "Tracy: ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "Trevor: ", "cycles round");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.composer.input.as_str(), "Tracy: ");
    // Typing ends the cycle; in the middle of a line the nick gets a space, not a colon.
    typed(&mut app, "ask al");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "Tracy: ask Alice ");
    // No candidate: nothing changes.
    typed(&mut app, "zz");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "Tracy: ask Alice zz");
}

#[test]
fn tab_completes_commands_and_rooms() {
    let mut app = app(80, 24);
    net(
        &mut app,
        ServerMsg::Rooms {
            rooms: vec![
                RoomInfo { name: room("rust"), members: 3 },
                RoomInfo { name: room("ruby"), members: 1 },
            ],
        },
    );
    typed(&mut app, "/jo");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/join ");
    typed(&mut app, "ru");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/join ruby ");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/join rust ");
    app.composer.input.set("");
    typed(&mut app, "see #ru");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "see #ruby ");
}
