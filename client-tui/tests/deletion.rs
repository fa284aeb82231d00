//! Deleted messages in the client: a `deleted` event replaces the text wherever the message
//! is shown, and `/delete` asks the server to delete our last message in the room.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::entry::DELETED_TEXT;
use chat_tui::event::{Effect, Event};
use common::{app, joined, net, next_seq, nick, render, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{ClientMsg, MessageKind, RoomName, ServerMsg, Stored, Text};
use ratatui::style::Modifier;
use uuid::Uuid;

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

/// `from` says `text` in `r`; the message's id.
fn said(app: &mut chat_tui::app::App, r: &str, from: &str, text: &str) -> Uuid {
    let id = Uuid::now_v7();
    net(
        app,
        ServerMsg::Message {
            account: false,
            id,
            room: room(r),
            seq: next_seq(),
            from: nick(from),
            kind: MessageKind::Say,
            text: Text::parse(text).unwrap(),
            ts: 0,
        },
    );
    id
}

fn deleted(r: &str, id: Uuid, by: &str) -> ServerMsg {
    ServerMsg::Deleted { room: room(r), id, seq: 0, by: nick(by), ts: 0 }
}

fn type_line(app: &mut chat_tui::app::App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
}

/// The cells of the first place `text` is drawn, and whether every one of them is dimmed.
fn dimmed(buf: &ratatui::buffer::Buffer, text: &str) -> bool {
    let screen = screen(buf);
    let (y, line) = screen.lines().enumerate().find(|(_, l)| l.contains(text)).unwrap();
    let x = line[..line.find(text).unwrap()].chars().count();
    (0..text.chars().count()).all(|i| {
        let cell = &buf[(u16::try_from(x + i).unwrap(), u16::try_from(y).unwrap())];
        cell.modifier.contains(Modifier::DIM)
    })
}

/// A `deleted` event replaces the message's text with "(message deleted)", dimmed, in the
/// window that shows it, whether or not it is the current one; the text is drawn nowhere.
#[test]
fn a_deleted_message_reads_message_deleted() {
    let mut app = app(80, 24);
    let secret = said(&mut app, "lobby", "Tracy", "the secret plan");
    said(&mut app, "lobby", "Tracy", "and more");
    assert!(screen(&render(&app).0).contains("the secret plan"));

    net(&mut app, deleted("lobby", secret, "Tracy"));
    let (buf, _) = render(&app);
    let shown = screen(&buf);
    assert!(!shown.contains("secret plan"), "{shown}");
    assert!(shown.contains(&format!("<Tracy> {DELETED_TEXT}")), "{shown}");
    assert!(shown.contains("and more"), "{shown}");
    assert!(dimmed(&buf, DELETED_TEXT), "{shown}");
    assert!(!dimmed(&buf, "and more"));

    // In a window not shown at the moment.
    joined(&mut app, "rust", "Michael");
    let elsewhere = said(&mut app, "lobby", "Tracy", "said in lobby while in rust");
    net(&mut app, deleted("lobby", elsewhere, "Tracy"));
    let lobby = app.windows.find(&chat_tui::window::Target::Room(room("lobby"))).unwrap();
    let texts: Vec<&str> = app.windows[lobby].entries().iter().map(|e| e.text.as_str()).collect();
    assert!(!texts.iter().any(|t| t.contains("while in rust")), "{texts:?}");
    assert_eq!(texts.iter().filter(|t| **t == DELETED_TEXT).count(), 2, "{texts:?}");
}

/// A tombstone in history reads "(message deleted)" too; a page that was read before a
/// deletion the client was already told of shows the message deleted all the same.
#[test]
fn tombstones_and_late_pages_show_the_message_deleted() {
    let mut app = app(80, 24);
    let stored = |seq, text: &str| Stored {
        id: Uuid::now_v7(),
        seq,
        from: nick("Tracy"),
        account: false,
        kind: MessageKind::Say,
        text: Some(Text::parse(text).unwrap()),
        ts: 0,
    };
    joined(&mut app, "rust", "Michael");
    let (gone, late) = (stored(1, "first, then deleted"), stored(2, "deleted as the page came"));
    net(&mut app, deleted("rust", late.id, "Tracy"));
    let messages = vec![gone.tombstone(), late, stored(3, "still here")];
    net(&mut app, ServerMsg::History { room: room("rust"), messages, beginning: true });
    let rust = app.windows.find(&chat_tui::window::Target::Room(room("rust"))).unwrap();
    app.windows.switch_to(rust);
    let shown = screen(&render(&app).0);
    assert!(!shown.contains("first, then deleted"), "{shown}");
    assert!(!shown.contains("as the page came"), "{shown}");
    assert_eq!(shown.matches(DELETED_TEXT).count(), 2, "{shown}");
    assert!(shown.contains("still here"), "{shown}");
}

/// `/delete` asks to delete our last message in the room that is not deleted yet: others'
/// messages are not ours; once none is left, it says so and sends nothing.
#[test]
fn slash_delete_sends_our_last_message() {
    let mut app = app(80, 24);
    let first = said(&mut app, "lobby", "Michael", "first");
    let second = said(&mut app, "lobby", "Michael", "second");
    said(&mut app, "lobby", "Tracy", "not mine");
    let delete = |id| vec![Effect::Send(ClientMsg::Delete { room: room("lobby"), id })];
    assert_eq!(type_line(&mut app, "/delete"), delete(second));
    net(&mut app, deleted("lobby", second, "Michael"));
    assert_eq!(type_line(&mut app, "/delete"), delete(first));
    net(&mut app, deleted("lobby", first, "Michael"));
    assert_eq!(type_line(&mut app, "/delete"), Vec::new());
    let last = app.windows.current_window().unwrap().entries().back().unwrap().text.clone();
    assert_eq!(last, "nothing of yours to delete in #lobby");
}

/// `/help` lists `/delete`.
#[test]
fn help_lists_delete() {
    assert!(chat_tui::help::entries().any(|(key, _)| *key == "/delete"));
    let mut app = app(80, 40);
    type_line(&mut app, "/help");
    let shown = screen(&render(&app).0);
    assert!(shown.contains("/delete"), "{shown}");
}
