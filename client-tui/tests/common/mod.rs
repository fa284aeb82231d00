//! Rendering-test harness: an `App` at a given size that has connected and joined lobby,
//! server messages fed to it, and the screen read back as text.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different part; panics are failures

use chat_tui::app::App;
use chat_tui::event::{Event, NetEvent, Security};
use chat_tui::settings::Settings;
use chat_tui::ui;
use protocol::{Label, MessageKind, Nick, PresenceEvent, RoomInfo, RoomName, ServerMsg, Text};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

/// Sequence numbers for test messages: increasing, as a server's are.
static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

/// Michael's client at `width` x `height`, connected, welcomed and in lobby.
pub fn app(width: u16, height: u16) -> App {
    let settings = Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    let mut app = App::new(settings, Rect::new(0, 0, width, height));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    net(
        &mut app,
        ServerMsg::Welcome {
            flood: None,
            account: false,
            session: Uuid::now_v7(),
            nick: nick("Michael"),
            server: Label::truncate("chat-server/0.1.0"),
            protocol: 1,
            greeting: "Hello, Michael! Welcome to chat.".into(),
            motd: "Be kind.".into(),
            rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
            resume: None,
        },
    );
    joined(&mut app, "lobby", "Michael");
    app
}

/// The server says `who` joined `room`.
pub fn joined(app: &mut App, room: &str, who: &str) {
    net(
        app,
        ServerMsg::Presence {
            id: Uuid::now_v7(),
            ts: 0,
            room: RoomName::parse(room).unwrap(),
            nick: nick(who),
            event: PresenceEvent::Joined,
        },
    );
}

/// The server sends `msg`.
pub fn net(app: &mut App, msg: ServerMsg) {
    app.update(Event::Net(NetEvent::Message(msg)));
}

/// `from` speaks in lobby.
pub fn message(app: &mut App, from: &str, kind: MessageKind, text: &str) {
    net(
        app,
        ServerMsg::Message {
            account: false,
            id: Uuid::now_v7(),
            room: RoomName::lobby(),
            seq: next_seq(),
            from: nick(from),
            kind,
            text: Text::parse(text).unwrap(),
            ts: 0,
        },
    );
}

/// `from` says `text` in `room`.
pub fn say_in(app: &mut App, room: &str, from: &str, text: &str) {
    net(
        app,
        ServerMsg::Message {
            account: false,
            id: Uuid::now_v7(),
            room: RoomName::parse(room).unwrap(),
            seq: next_seq(),
            from: nick(from),
            kind: MessageKind::Say,
            text: Text::parse(text).unwrap(),
            ts: 0,
        },
    );
}

pub fn say(app: &mut App, from: &str, text: &str) {
    message(app, from, MessageKind::Say, text);
}

/// The screen and the cursor after one frame.
pub fn render(app: &App) -> (Buffer, Position) {
    let mut terminal =
        Terminal::new(TestBackend::new(app.view.size.width, app.view.size.height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    let cursor = terminal.get_cursor_position().unwrap();
    (terminal.backend().buffer().clone(), cursor)
}

/// The text of row `y` within `area` as the terminal shows it: a wide character covers the
/// next cell too.
pub fn row_in(buf: &Buffer, area: Rect, y: u16) -> String {
    let mut text = String::new();
    let mut x = area.x;
    while x < area.right() {
        let symbol = buf[(x, y)].symbol();
        text.push_str(symbol);
        x += u16::try_from(symbol.width().max(1)).unwrap();
    }
    text
}

/// The whole row `y`.
pub fn row(buf: &Buffer, y: u16) -> String {
    row_in(buf, buf.area, y)
}

pub fn screen(buf: &Buffer) -> String {
    (0..buf.area.height).map(|y| row(buf, y)).collect::<Vec<_>>().join("\n")
}
