//! Multi-line pastes ask first; line by line they go one at a time, waiting out flood control.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::event::{Effect, Event};
use common::{app, message, net, render, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{ClientMsg, ErrorCode, MessageKind, RoomName, ServerMsg, Text};

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn say(text: &str) -> Effect {
    Effect::Send(ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(text).unwrap() })
}

const PASTE: &str = "first line\r\nsecond line\n\tthird\n";

#[test]
fn a_single_line_paste_goes_into_the_input_line() {
    let mut app = app(80, 24);
    assert!(app.update(Event::Paste("just this\n".into())).is_empty());
    assert_eq!(app.composer.input.as_str(), "just this");
    assert!(app.composer.paste.is_none());
}

#[test]
fn a_multi_line_paste_asks_first_and_can_be_cancelled() {
    let mut app = app(80, 24);
    assert!(app.update(Event::Paste(PASTE.into())).is_empty());
    let paste = app.composer.paste.as_ref().unwrap();
    assert_eq!(paste.lines, 3);
    let shown = screen(&render(&app).0);
    assert!(shown.contains("paste of 3 lines"), "{shown}");
    assert!(shown.contains("send line by line"), "{shown}");
    // Keys other than the choices do nothing; typed letters do not reach the input line.
    assert!(key(&mut app, KeyCode::Char('x')).is_empty());
    assert!(app.composer.paste.is_some() && app.composer.input.is_empty());
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.composer.paste.is_none() && app.composer.input.is_empty());
}

#[test]
fn as_one_message_keeps_the_lines() {
    let mut app = app(80, 24);
    app.update(Event::Paste(PASTE.into()));
    assert_eq!(key(&mut app, KeyCode::Enter), vec![say("first line\nsecond line\n    third")]);
    // It comes back as one message, drawn as one block under one nick.
    message(&mut app, "Michael", MessageKind::Say, "first line\nsecond line\n    third");
    let shown = screen(&render(&app).0);
    assert!(shown.contains("00:00 <Michael> first line"), "{shown}");
    assert!(shown.contains("                second line"), "{shown}");
}

#[test]
fn edit_puts_the_paste_in_the_input_line() {
    let mut app = app(80, 24);
    app.update(Event::Paste(PASTE.into()));
    assert!(key(&mut app, KeyCode::Char('e')).is_empty());
    assert_eq!(app.composer.input.as_str(), "first line second line     third");
}

#[test]
fn line_by_line_waits_for_each_echo_and_for_flood_control() {
    let mut app = app(80, 24);
    let t0 = Instant::now();
    app.update(Event::Tick(t0));
    app.update(Event::Paste(PASTE.into()));
    assert_eq!(key(&mut app, KeyCode::Char('l')), vec![say("first line")]);
    assert!(app.update(Event::Tick(t0 + Duration::from_secs(1))).is_empty(), "one at a time");
    // The echo sends the next line.
    let echo = |app: &mut App, text: &str| {
        app.update(Event::Net(chat_tui::event::NetEvent::Message(ServerMsg::Message {
            account: false,
            id: uuid::Uuid::now_v7(),
            room: RoomName::lobby(),
            seq: common::next_seq(),
            from: common::nick("Michael"),
            kind: MessageKind::Say,
            text: Text::parse(text).unwrap(),
            ts: 0,
        })))
    };
    assert_eq!(echo(&mut app, "first line"), vec![say("second line")]);
    // Flood control refuses it: sent again when the server says, not before.
    net(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::Flood,
            message: "slow down: you may send again in 0.5 s".into(),
            request: Some("say".into()),
            retry_after_ms: Some(500),
        },
    );
    // Heard at the app's time t0 + 1 s: the line goes again at t0 + 1.5 s, not before.
    let refused_at = t0 + Duration::from_secs(1);
    assert!(app.update(Event::Tick(refused_at + Duration::from_millis(499))).is_empty());
    assert_eq!(
        app.update(Event::Tick(refused_at + Duration::from_millis(500))),
        vec![say("second line")]
    );
    assert_eq!(echo(&mut app, "second line"), vec![say("    third")]);
    assert!(echo(&mut app, "    third").is_empty());
    assert_eq!(app.next_deadline(), None, "nothing left to send");
}

#[test]
fn a_lost_connection_stops_the_rest_and_says_so() {
    let mut app = app(80, 24);
    app.update(Event::Paste(PASTE.into()));
    assert_eq!(key(&mut app, KeyCode::Char('l')), vec![say("first line")]);
    app.update(Event::Net(chat_tui::event::NetEvent::Closed { reason: "reset".into() }));
    let shown = screen(&render(&app).0);
    // The first line went: it may be stored, so it is not counted as not sent.
    let said = "connection lost: 2 pasted lines not sent (the one on its way may";
    assert!(shown.contains(said), "{shown}");
}
