//! The windows as the person meets them (TestBackend): the server window and the rows left
//! for the conversation, the notice while the connection is down, the view after `/leave`,
//! a room's number kept across leaving and joining again, answers in the window a question
//! was typed in, the read marker, and our own nick's colour.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::app::App;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::ui::{OWN_NICK_COLOR, nick_color};
use chat_tui::window::{READ_MARKER, Target};
use common::{app, joined, net, nick, render, row, say, say_in, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{ClientMsg, Label, PresenceEvent, RoomName, ServerMsg, Topic};
use uuid::Uuid;

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
}

fn alt(n: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(n), KeyModifiers::ALT))
}

/// Michael joins `name` by typing `/join` and the server's confirmation: its window is shown.
fn join(app: &mut App, name: &str) {
    type_line(app, &format!("/join {name}"));
    joined(app, name, "Michael");
}

/// The server says we left `name`.
fn left(app: &mut App, name: &str) {
    let event = PresenceEvent::Left { reason: None };
    net(
        app,
        ServerMsg::Presence {
            id: Uuid::now_v7(),
            ts: 0,
            room: room(name),
            nick: nick("Michael"),
            event,
        },
    );
}

fn topic(app: &mut App, name: &str, text: &str) {
    let topic = Topic { text: Label::parse(text).unwrap(), by: nick("Tracy"), ts: 0 };
    net(app, ServerMsg::Topic { room: room(name), topic: Some(topic) });
}

/// The rows of the screen that show one of the numbered lines ("said 07").
fn lines_shown(app: &App) -> usize {
    let (buf, _) = render(app);
    (0..buf.area.height).filter(|&y| row(&buf, y).contains("said ")).count()
}

/// At 80x24 the conversation has 17 rows even under a topic (18 without), where the
/// connection pane left 11; window 1 is the server window with the greeting.
#[test]
fn eighty_by_twenty_four_shows_seventeen_rows_of_conversation() {
    let mut app = app(80, 24);
    join(&mut app, "rust");
    topic(&mut app, "rust", "Rust 1.92 is out");
    for i in 0..40 {
        say_in(&mut app, "rust", "Tracy", &format!("said {i:02}"));
    }
    assert_eq!(lines_shown(&app), 17, "{}", screen(&render(&app).0));
    app.update(alt('1'));
    let shown = screen(&render(&app).0);
    assert!(shown.starts_with("┌ server ─"), "{shown}");
    assert!(shown.contains("-- Hello, Michael! Welcome to chat."), "{shown}");
    assert!(row(&render(&app).0, 23).contains("1:server"), "{shown}");
}

/// While the connection is down a row above the input says why and what happens next, in
/// every window but the server window (which has the whole story); it goes when the
/// connection is back.
#[test]
fn the_notice_says_what_is_wrong_until_it_is_fixed() {
    let mut app = app(80, 24);
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    let notice = row(&render(&app).0, 19);
    // What happens next is whole; what went wrong has the rest of the row.
    assert!(notice.starts_with("! disconnected: the server closed"), "{}", screen(&render(&app).0));
    assert!(notice.contains("… · reconnecting in "), "{notice}");
    assert!(notice.trim_end().ends_with("(attempt 1)"), "{notice}");
    app.update(alt('1'));
    let notice = row(&render(&app).0, 19);
    assert!(!notice.starts_with("! "), "the server window says it itself:\n{notice}");
    app.update(alt('2'));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    assert!(row(&render(&app).0, 19).starts_with("! "), "connected, not welcomed yet");
    net(
        &mut app,
        ServerMsg::Welcome {
            account: false,
            session: Uuid::now_v7(),
            nick: nick("Michael"),
            server: Label::truncate("chat-server/0.1.0"),
            protocol: 1,
            greeting: "Hello again".into(),
            motd: String::new(),
            rooms: Vec::new(),
            resume: None,
            flood: None,
        },
    );
    let shown = screen(&render(&app).0);
    assert!(!shown.contains("! "), "{shown}");
    assert!(row(&render(&app).0, 19).starts_with('└'), "the conversation has it back:\n{shown}");
}

/// `/leave` closes the room's window and shows the one before it, whose messages are then
/// read: no unread count is left on it.
#[test]
fn leaving_shows_the_window_before_it_read() {
    let mut app = app(80, 24);
    join(&mut app, "rust");
    say(&mut app, "Tracy", "one");
    say(&mut app, "Tracy", "two");
    assert_eq!(app.windows[1].unread, 2);
    let effects = type_line(&mut app, "/leave");
    assert_eq!(effects, vec![Effect::Send(ClientMsg::Leave { room: room("rust") })]);
    left(&mut app, "rust");
    assert_eq!(app.windows.current_room(), Some(&room("lobby")));
    assert_eq!(app.windows[1].unread, 0);
    let status = row(&render(&app).0, 23);
    assert!(status.trim_end().ends_with(" 1:server 2:#lobby"), "{status}");
}

/// A room left and joined again comes back at its number: Alt+3 still shows #rust, and the
/// windows after it keep theirs.
#[test]
fn a_room_joined_again_keeps_its_number() {
    let mut app = app(80, 24);
    join(&mut app, "rust");
    join(&mut app, "go");
    left(&mut app, "rust");
    assert_eq!(app.windows.find(&Target::Room(room("go"))), Some(2), "go moved up meanwhile");
    join(&mut app, "rust");
    assert_eq!(app.windows.find(&Target::Room(room("rust"))), Some(2));
    assert_eq!(app.windows.find(&Target::Room(room("go"))), Some(3));
    app.update(alt('4'));
    app.update(alt('3'));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
}

/// `/who lobby` typed in #rust is answered in #rust, the member list and the topic after it;
/// lobby's own window gets no line. A member list nobody typed for (on joining) stays in
/// its room's window.
#[test]
fn a_question_is_answered_where_it_was_typed() {
    let mut app = app(80, 24);
    join(&mut app, "rust");
    let effects = type_line(&mut app, "/who lobby");
    assert_eq!(effects, vec![Effect::Send(ClientMsg::Who { room: room("lobby"), after: None })]);
    let lobby_before = app.windows[1].entries().len();
    let members = ServerMsg::Members {
        room: room("lobby"),
        nicks: vec![nick("Michael"), nick("Tracy")],
        roles: Default::default(),
        after: None,
        more: false,
        away: Default::default(),
    };
    net(&mut app, members.clone());
    topic(&mut app, "lobby", "be kind");
    let rust: Vec<&str> =
        app.windows[2].entries().iter().rev().take(2).map(|e| e.text.as_str()).collect();
    assert_eq!(
        rust,
        ["topic of #lobby: be kind (set by Tracy)", "members of #lobby: Michael, Tracy"]
    );
    assert_eq!(app.windows[1].entries().len(), lobby_before, "nothing in lobby's window");
    assert_eq!(app.windows[1].members.len(), 2, "lobby's members are known all the same");
    net(&mut app, members);
    let lobby = app.windows[1].entries().back().unwrap();
    assert_eq!(lobby.text, "members of #lobby: Michael, Tracy", "not asked: the room's window");
}

/// A read marker: leave a window, lines arrive, come back: a line separates what was read
/// from what came after. Leaving again with nothing new takes it away.
#[test]
fn a_read_marker_separates_the_read_from_the_new() {
    let mut app = app(80, 24);
    say(&mut app, "Tracy", "read before");
    join(&mut app, "rust");
    say(&mut app, "Tracy", "new one");
    say(&mut app, "Tracy", "new two");
    app.update(alt('2'));
    let shown = screen(&render(&app).0);
    let at = |text: &str| shown.lines().position(|l| l.contains(text)).unwrap();
    assert!(at("read before") < at(READ_MARKER), "{shown}");
    assert_eq!(at(READ_MARKER) + 1, at("new one"), "{shown}");
    app.update(alt('3'));
    app.update(alt('2'));
    let shown = screen(&render(&app).0);
    assert!(!shown.contains(READ_MARKER), "nothing new since: no marker\n{shown}");
}

/// Our own nick is drawn in its fixed colour, whatever it is; others in theirs.
#[test]
fn our_own_nick_has_its_fixed_colour() {
    let mut app = app(80, 24);
    say(&mut app, "Michael", "mine");
    say(&mut app, "mallory", "hers");
    let (buf, _) = render(&app);
    let colour_of = |label: &str| {
        let y = (0..buf.area.height).find(|&y| row(&buf, y).contains(label)).unwrap();
        let x = row(&buf, y).find(label).unwrap();
        buf[(u16::try_from(x).unwrap(), y)].fg
    };
    assert_eq!(colour_of("<Michael>"), OWN_NICK_COLOR);
    assert_eq!(colour_of("<mallory>"), nick_color(&nick("mallory")));
    assert_ne!(nick_color(&nick("Michael")), nick_color(&nick("mallory")));
}

/// The server window is no room: text and `/delete` typed there are refused with the way
/// out, and nothing is sent.
#[test]
fn the_server_window_is_no_room() {
    let mut app = app(80, 24);
    app.update(alt('1'));
    for line in ["hello", "/delete", "/me waves"] {
        let before = app.server_log().len();
        assert!(type_line(&mut app, line).is_empty(), "{line}");
        assert_eq!(app.server_log().len(), before + 1, "{line}: one line says why");
        let last = app.server_log().back().unwrap();
        assert_eq!(last.text, "you are not in a room; /join one first", "{line}");
    }
}
