//! `/away`, `/whois`, `/search` and `/goto` in the client: the requests typed, and the
//! answers shown where they belong, made safe to draw.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::event::{Effect, Event};
use common::{app, net, nick, render, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{ClientMsg, Label, MessageKind, RoomName, ServerMsg, Stored, Text};
use uuid::Uuid;

fn type_line(app: &mut chat_tui::app::App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
}

fn label(s: &str) -> Label {
    Label::parse(s).unwrap()
}

fn stored(seq: u64, from: &str, text: &str) -> Stored {
    Stored {
        id: Uuid::now_v7(),
        seq,
        from: nick(from),
        account: false,
        kind: MessageKind::Say,
        text: Some(Text::parse(text).unwrap()),
        ts: 0,
    }
}

/// `/away` sends the request; our own answer is noted and kept; someone else's away message
/// lands in their private window, with its escape sequence made harmless.
#[test]
fn away_answers_go_to_the_private_window() {
    let mut app = app(80, 24);
    let effects = type_line(&mut app, "/away gone fishing");
    assert_eq!(effects, [Effect::Send(ClientMsg::Away { text: Some(label("gone fishing")) })]);
    net(&mut app, ServerMsg::Away { nick: nick("Michael"), text: Some(label("gone fishing")) });
    assert_eq!(app.away, Some(label("gone fishing")));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("You are away: gone fishing"), "{shown}");
    let status = shown.lines().last().unwrap();
    assert!(status.contains("(away)"), "the status line says so: {status}");

    net(&mut app, ServerMsg::Away { nick: nick("Tracy"), text: Some(label("lunch\u{1b}[2J")) });
    let tracy = app.windows.find(&chat_tui::window::Target::Private(nick("Tracy"))).unwrap();
    let text: Vec<&str> = app.windows[tracy].entries().iter().map(|e| e.text.as_str()).collect();
    assert!(text.iter().any(|t| t.starts_with("Tracy is away: lunch")), "{text:?}");
    assert!(!text.iter().any(|t| t.contains('\u{1b}')), "{text:?}");

    net(&mut app, ServerMsg::Away { nick: nick("Michael"), text: None });
    assert_eq!(app.away, None);
    assert!(!screen(&render(&app).0).lines().last().unwrap().contains("(away)"));
}

/// A member list's away messages show after it, in the room's window, sanitised.
#[test]
fn away_members_are_listed_after_the_members() {
    let mut app = app(80, 24);
    net(
        &mut app,
        ServerMsg::Members {
            room: RoomName::lobby(),
            nicks: vec![nick("Michael"), nick("Tracy")],
            roles: Default::default(),
            after: None,
            more: false,
            away: [(nick("Tracy"), label("gone\u{1b}[31m fishing"))].into(),
        },
    );
    let shown = screen(&render(&app).0);
    assert!(shown.contains("away in #lobby: Tracy (gone"), "{shown}");
    assert!(!shown.contains('\u{1b}'), "{shown}");
}

/// `/whois NICK` asks; the answer's lines show in the current window.
#[test]
fn whois_lines_show_in_the_window() {
    let mut app = app(80, 24);
    let effects = type_line(&mut app, "/whois Tracy");
    assert_eq!(effects, [Effect::Send(ClientMsg::Whois { nick: nick("Tracy") })]);
    net(
        &mut app,
        ServerMsg::Whois {
            nick: nick("Tracy"),
            account: true,
            away: Some(label("reading")),
            rooms: vec![RoomName::lobby()],
            since: Some(1_763_750_000_000),
            idle: Some(125),
            elsewhere: false,
        },
    );
    let shown = screen(&render(&app).0);
    for line in ["Tracy ✓ is logged in to the account Tracy", "away: reading", "in #lobby"] {
        assert!(shown.contains(line), "{line} in\n{shown}");
    }
    assert!(shown.contains("idle 2 min"), "{shown}");
}

/// `/search` asks about the current room; the matches show with their numbers; `/goto` pages
/// back until the window holds the message, then scrolls to it.
#[test]
fn search_lists_matches_and_goto_pages_back_to_one() {
    let mut app = app(80, 24);
    let effects = type_line(&mut app, "/search map");
    let want = ClientMsg::Search {
        room: RoomName::lobby(),
        text: label("map"),
        before: None,
        limit: protocol::limits::MAX_SEARCH_PAGE,
    };
    assert_eq!(effects, [Effect::Send(want)]);

    // The window holds messages 300 to 320, as a join's backlog.
    let backlog: Vec<Stored> =
        (300..=320).map(|s| stored(s, "Sam", &format!("line {s}"))).collect();
    net(
        &mut app,
        ServerMsg::History { room: RoomName::lobby(), messages: backlog, beginning: false },
    );
    net(
        &mut app,
        ServerMsg::Found {
            room: RoomName::lobby(),
            text: label("map"),
            messages: vec![stored(150, "Tracy", "the map is in the drawer")],
            more: false,
        },
    );
    let shown = screen(&render(&app).0);
    assert!(shown.contains("#150 "), "{shown}");
    assert!(shown.contains("Tracy: the map is in the drawer"), "{shown}");

    let effects = type_line(&mut app, "/goto 150");
    let page = |before| {
        Effect::Send(ClientMsg::History {
            room: RoomName::lobby(),
            before: Some(before),
            limit: protocol::limits::MAX_HISTORY_PAGE,
        })
    };
    assert_eq!(effects, [page(300)]);
    let older: Vec<Stored> = (200..300).map(|s| stored(s, "Sam", &format!("line {s}"))).collect();
    net(
        &mut app,
        ServerMsg::History { room: RoomName::lobby(), messages: older, beginning: false },
    );
    let mut older: Vec<Stored> =
        (100..200).map(|s| stored(s, "Sam", &format!("line {s}"))).collect();
    older[50] = stored(150, "Tracy", "the map is in the drawer");
    let effects = app.update(Event::Net(chat_tui::event::NetEvent::Message(ServerMsg::History {
        room: RoomName::lobby(),
        messages: older,
        beginning: false,
    })));
    assert!(effects.is_empty(), "found: no more pages asked for: {effects:?}");
    let shown = screen(&render(&app).0);
    assert!(shown.contains("line 151"), "the conversation after it: {shown}");
    let at = shown.lines().position(|l| l.contains("the map is in the drawer")).unwrap();
    let last = shown.lines().position(|l| l.contains("line 160")).unwrap();
    assert!(at < last, "the message, then what followed it:\n{shown}");
}

/// `/search` alone asks for the matches older than the oldest one shown, in the room and with
/// the text of the last search; once the last page is shown it says there are none.
#[test]
fn search_alone_shows_older_matches() {
    let mut app = app(80, 24);
    let lobby = RoomName::lobby();
    let found = |messages, more| ServerMsg::Found {
        room: lobby.clone(),
        text: label("map"),
        messages,
        more,
    };
    net(
        &mut app,
        found(vec![stored(90, "Tracy", "map one"), stored(41, "Tracy", "map two")], true),
    );
    let shown = screen(&render(&app).0);
    assert!(shown.contains("older matches may exist: /search alone shows them"), "{shown}");

    // Asked from another window, it is still the last search's room.
    type_line(&mut app, "/query Tracy");
    let effects = type_line(&mut app, "/search");
    let want = ClientMsg::Search {
        room: lobby.clone(),
        text: label("map"),
        before: Some(41),
        limit: protocol::limits::MAX_SEARCH_PAGE,
    };
    assert_eq!(effects, [Effect::Send(want)]);

    net(&mut app, found(vec![stored(7, "Tracy", "map three")], false));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("1 match of \"map\" in #lobby"), "where the answer went: {shown}");
    let effects = type_line(&mut app, "/search");
    assert!(effects.is_empty(), "nothing older to ask for: {effects:?}");
    let shown = screen(&render(&app).0);
    assert!(shown.contains("no older matches to show"), "{shown}");
}
