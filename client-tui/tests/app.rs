//! The client's behaviour without a terminal: events in, state and effects out.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use chat_tui::app::App;
use chat_tui::entry::EntryKind;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::link::Connection;
use chat_tui::settings::Settings;
use chat_tui::window::Target;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{
    ClientMsg, ErrorCode, MessageKind, Nick, PresenceEvent, RoomInfo, RoomName, ServerMsg, Text,
};
use ratatui::layout::Rect;
use uuid::Uuid;

/// Sequence numbers for test messages: increasing, as a server's are.
static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}
fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}
fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

fn new_app(start_room: &str) -> App {
    let settings = Settings {
        rooms: vec![room(start_room)],
        ..Settings::new(nick("Michael"), "127.0.0.1:7878".into())
    };
    App::new(settings, Rect::new(0, 0, 80, 24))
}

fn server(app: &mut App, msg: ServerMsg) -> Vec<Effect> {
    app.update(Event::Net(NetEvent::Message(msg)))
}

fn welcome(app: &mut App) -> Vec<Effect> {
    app.update(Event::Net(NetEvent::Connecting { server: "127.0.0.1:7878".into() }));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    server(
        app,
        ServerMsg::Welcome {
            flood: None,
            account: false,
            session: Uuid::now_v7(),
            nick: nick("Michael"),
            server: protocol::Label::truncate("chat-server/0.1.0"),
            protocol: 1,
            greeting: "Hello, Michael! Welcome to chat.".into(),
            motd: "Be kind.".into(),
            rooms: vec![RoomInfo { name: room("lobby"), members: 1 }],
            resume: None,
        },
    )
}

fn presence(r: &str, n: &str, event: PresenceEvent) -> ServerMsg {
    ServerMsg::Presence { id: Uuid::now_v7(), ts: 0, room: room(r), nick: nick(n), event }
}

fn said(r: &str, from: &str, t: &str) -> ServerMsg {
    ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: room(r),
        seq: SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        from: nick(from),
        kind: MessageKind::Say,
        text: text(t),
        ts: 0,
    }
}

/// A registered app sitting in lobby.
fn in_lobby() -> App {
    let mut app = new_app("lobby");
    welcome(&mut app);
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    app
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn alt(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

/// Types `line` and presses Enter.
fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Enter))
}

fn last_text(app: &App) -> String {
    app.windows.current_window().unwrap().entries().back().unwrap().text.clone()
}

/// The welcome fills the server window and marks the session registered; the first join opens
/// the lobby window.
#[test]
fn welcome_and_first_join() {
    let mut app = new_app("lobby");
    assert!(welcome(&mut app).is_empty());
    assert_eq!(app.link.state, Connection::Registered);
    let log: Vec<&str> = app.server_log().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(log[0], "connecting to 127.0.0.1:7878...");
    assert_eq!(log[1], "connected to 127.0.0.1:7878");
    assert_eq!(log[2], "Hello, Michael! Welcome to chat.");
    assert_eq!(log[3], "Be kind.");
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    assert_eq!(app.windows.current_room(), Some(&room("lobby")));
}

/// `--room rust` joins rust after the welcome and shows it once the server confirms.
#[test]
fn the_start_room_is_joined_and_shown() {
    let mut app = new_app("rust");
    let effects = welcome(&mut app);
    assert_eq!(effects, vec![Effect::Send(ClientMsg::Join { room: room("rust"), key: None })]);
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    server(&mut app, presence("rust", "Michael", PresenceEvent::Joined));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    assert_eq!(app.windows.len(), 3);
}

/// Text typed without a slash is said in the current room; the line is cleared and can be
/// recalled with Up, and Down goes back to an empty line.
#[test]
fn typing_says_and_up_recalls() {
    let mut app = in_lobby();
    let effects = type_line(&mut app, "hello 你好");
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::Say { room: room("lobby"), text: text("hello 你好") })]
    );
    assert!(app.composer.input.is_empty());
    type_line(&mut app, "second");
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.input.as_str(), "second");
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.input.as_str(), "hello 你好");
    app.update(key(KeyCode::Down));
    assert_eq!(app.composer.input.as_str(), "second");
    app.update(key(KeyCode::Down));
    assert_eq!(app.composer.input.as_str(), "");
}

/// Editing keys: left/right/home/end, backspace and delete act at the cursor.
#[test]
fn editing_keys_act_at_the_cursor() {
    let mut app = in_lobby();
    for c in "helo".chars() {
        app.update(key(KeyCode::Char(c)));
    }
    app.update(key(KeyCode::Left));
    app.update(key(KeyCode::Char('l')));
    app.update(key(KeyCode::Home));
    app.update(key(KeyCode::Delete));
    app.update(key(KeyCode::Char('H')));
    app.update(key(KeyCode::End));
    app.update(key(KeyCode::Char('!')));
    app.update(key(KeyCode::Backspace));
    assert_eq!(app.composer.input.as_str(), "Hello");
}

/// Messages from others land in their room's window, sanitised; the room's members follow
/// presence.
#[test]
fn messages_and_presence_fill_the_window() {
    let mut app = in_lobby();
    server(
        &mut app,
        ServerMsg::Members {
            room: room("lobby"),
            nicks: vec![nick("Michael")],
            roles: Default::default(),
            after: None,
            more: false,
            away: Default::default(),
        },
    );
    server(&mut app, presence("lobby", "Tracy", PresenceEvent::Joined));
    assert_eq!(last_text(&app), "Tracy joined");
    server(&mut app, said("lobby", "Tracy", "hi"));
    let entry = app.windows.current_window().unwrap().entries().back().unwrap().clone();
    assert_eq!(
        (entry.kind, entry.from, entry.text.as_str()),
        (EntryKind::Say, Some(nick("Tracy")), "hi")
    );
    server(&mut app, presence("lobby", "Tracy", PresenceEvent::Renamed { to: nick("Trace") }));
    assert_eq!(last_text(&app), "Tracy is now known as Trace");
    let members: Vec<&str> =
        app.windows.current_window().unwrap().members.iter().map(Nick::as_str).collect();
    assert_eq!(members, ["Michael", "Trace"]);
    server(
        &mut app,
        presence(
            "lobby",
            "Trace",
            PresenceEvent::Dropped { reason: protocol::Label::truncate("timeout") },
        ),
    );
    assert_eq!(last_text(&app), "Trace dropped (timeout)");
    assert_eq!(app.windows.current_window().unwrap().members.len(), 1);
}

/// Hostile text is stored with every control, escape and bidi character made visible.
#[test]
fn hostile_text_is_defused_before_it_is_stored() {
    let mut app = in_lobby();
    server(
        &mut app,
        said("lobby", "Mallory", "\u{1b}[2J\u{1b}]0;title\u{7}\u{202e}abc\u{9b}1m\nline two"),
    );
    let stored = last_text(&app);
    assert_eq!(stored, "␛[2J␛]0;title␇\u{FFFD}abc\u{FFFD}1m\nline two");
    assert!(!stored.chars().any(|c| c.is_control() && c != '\n'));
}

/// /join asks the server and shows the room once joined; joining a room you are in switches to
/// it; Alt+N and Ctrl+N/P switch windows.
#[test]
fn joining_and_switching_windows() {
    let mut app = in_lobby();
    assert_eq!(
        type_line(&mut app, "/join #Rust"),
        vec![Effect::Send(ClientMsg::Join { room: room("rust"), key: None })]
    );
    assert_eq!(app.windows.current_room(), Some(&room("lobby")), "not before the server confirms");
    server(&mut app, presence("rust", "Michael", PresenceEvent::Joined));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    app.update(alt('2'));
    assert_eq!(app.windows.current_room(), Some(&room("lobby")));
    assert!(type_line(&mut app, "/join rust").is_empty());
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    app.update(ctrl('p'));
    assert_eq!(app.windows.current_room(), Some(&room("lobby")));
    app.update(ctrl('n'));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    app.update(ctrl('n'));
    assert_eq!(app.windows.current_window().unwrap().target, Target::Server, "round the end");
    app.update(alt('3'));
    app.update(alt('9'));
    assert_eq!(app.windows.current_room(), Some(&room("rust")), "no window 9: nothing changes");
}

/// Activity in another window is counted as unread until it is shown; our own words are not.
#[test]
fn unread_counts() {
    let mut app = in_lobby();
    server(&mut app, presence("rust", "Michael", PresenceEvent::Joined));
    app.update(alt('2'));
    server(&mut app, said("rust", "Tracy", "one"));
    server(&mut app, said("rust", "Tracy", "two"));
    server(&mut app, said("rust", "Michael", "mine"));
    server(&mut app, presence("rust", "Eve", PresenceEvent::Joined));
    assert_eq!(app.windows[2].unread, 2);
    app.update(alt('3'));
    assert_eq!(app.windows[2].unread, 0);
}

/// A private message opens a window for the other person; text typed there goes to them; /leave
/// closes it.
#[test]
fn private_messages_have_their_own_window() {
    let mut app = in_lobby();
    server(
        &mut app,
        ServerMsg::Private {
            account: false,
            offline: false,
            id: Uuid::now_v7(),
            from: nick("Tracy"),
            to: nick("Michael"),
            text: text("psst"),
            ts: 0,
        },
    );
    assert_eq!(app.windows[2].target, Target::Private(nick("Tracy")));
    assert_eq!(app.windows[2].unread, 1);
    app.update(alt('3'));
    let effects = type_line(&mut app, "what?");
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::Msg { to: nick("Tracy"), text: text("what?") })]
    );
    // Our own echo lands in the same window.
    server(
        &mut app,
        ServerMsg::Private {
            account: false,
            offline: false,
            id: Uuid::now_v7(),
            from: nick("Michael"),
            to: nick("Tracy"),
            text: text("what?"),
            ts: 0,
        },
    );
    assert_eq!(app.windows.len(), 3);
    assert!(type_line(&mut app, "/leave").is_empty());
    assert_eq!(app.windows.len(), 2);
    let effects = type_line(&mut app, "/msg Tracy see you");
    assert_eq!(
        effects,
        vec![Effect::Send(ClientMsg::Msg { to: nick("Tracy"), text: text("see you") })]
    );
}

/// A nick change comes once, through one shared room: every room window Tracy is in, and the
/// private window with her, follow it, each with a line; a room she is not in is left alone.
#[test]
fn a_nick_change_told_once_reaches_every_window_with_that_person() {
    let mut app = in_lobby();
    for (r, nicks) in [
        ("lobby", ["Michael", "Tracy"]),
        ("rust", ["Michael", "Tracy"]),
        ("go", ["Michael", "Sam"]),
    ] {
        server(&mut app, presence(r, "Michael", PresenceEvent::Joined));
        let nicks = nicks.iter().map(|n| nick(n)).collect();
        server(
            &mut app,
            ServerMsg::Members {
                room: room(r),
                nicks,
                roles: Default::default(),
                after: None,
                more: false,
                away: Default::default(),
            },
        );
    }
    server(
        &mut app,
        ServerMsg::Private {
            account: false,
            offline: false,
            id: Uuid::now_v7(),
            from: nick("Tracy"),
            to: nick("Michael"),
            text: text("psst"),
            ts: 0,
        },
    );
    server(&mut app, presence("rust", "Tracy", PresenceEvent::Renamed { to: nick("Trace") }));
    let window = |target: Target| app.windows.iter().find(|w| w.target == target).unwrap();
    for r in ["lobby", "rust"] {
        let w = window(Target::Room(room(r)));
        assert!(w.members.contains(&nick("Trace")) && !w.members.contains(&nick("Tracy")), "{r}");
        let last = w.entries().back().unwrap().text.clone();
        assert_eq!(last, "Tracy is now known as Trace", "{r}");
    }
    let go = window(Target::Room(room("go")));
    assert!(go.entries().iter().all(|e| !e.text.contains("known as")), "not her room");
    let private = window(Target::Private(nick("Trace")));
    assert_eq!(private.entries().back().unwrap().text, "Tracy is now known as Trace");
    assert!(app.windows.iter().all(|w| w.target != Target::Private(nick("Tracy"))));
}

/// A big room's member list comes in pages: the client asks for the next page itself, and
/// each page adds to the list the first one began.
#[test]
fn a_member_list_in_pages_is_asked_for_and_put_together() {
    let mut app = in_lobby();
    let page = |nicks: &[&str], after: Option<&str>, more| ServerMsg::Members {
        room: room("lobby"),
        nicks: nicks.iter().map(|n| nick(n)).collect(),
        roles: Default::default(),
        after: after.map(nick),
        more,
        away: Default::default(),
    };
    let effects = server(&mut app, page(&["Anna", "Bob"], None, true));
    let next = ClientMsg::Who { room: room("lobby"), after: Some(nick("Bob")) };
    assert_eq!(effects, vec![Effect::Send(next)]);
    assert!(server(&mut app, page(&["Cleo", "Michael"], Some("Bob"), false)).is_empty());
    let members: Vec<&str> =
        app.windows.current_window().unwrap().members.iter().map(Nick::as_str).collect();
    assert_eq!(members, ["Anna", "Bob", "Cleo", "Michael"]);
    assert_eq!(last_text(&app), "more members of #lobby: Cleo, Michael");
    server(&mut app, page(&["Zed"], None, false));
    let members = &app.windows.current_window().unwrap().members;
    assert_eq!(members.len(), 1, "a first page starts a new list");
}

/// The server confirming our leave closes the room's window.
#[test]
fn leaving_closes_the_window() {
    let mut app = in_lobby();
    type_line(&mut app, "/join rust");
    server(&mut app, presence("rust", "Michael", PresenceEvent::Joined));
    assert_eq!(
        type_line(&mut app, "/leave"),
        vec![Effect::Send(ClientMsg::Leave { room: room("rust") })]
    );
    server(&mut app, presence("rust", "Michael", PresenceEvent::Left { reason: None }));
    assert_eq!(app.windows.len(), 2);
    assert_eq!(app.windows.current_room(), Some(&room("lobby")));
}

/// /exit and Ctrl+C say goodbye to the server and quit; offline, they just quit.
#[test]
fn exit_and_ctrl_c_quit_cleanly() {
    let mut app = in_lobby();
    assert_eq!(
        type_line(&mut app, "/exit"),
        vec![Effect::Send(ClientMsg::Quit { reason: None }), Effect::Quit]
    );
    assert_eq!(
        type_line(&mut app, "/quit bye"),
        vec![
            Effect::Send(ClientMsg::Quit { reason: Some(protocol::Label::truncate("bye")) }),
            Effect::Quit
        ]
    );
    assert_eq!(
        app.update(ctrl('c')),
        vec![Effect::Send(ClientMsg::Quit { reason: None }), Effect::Quit]
    );
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    assert_eq!(app.update(ctrl('c')), vec![Effect::Quit]);
}

/// When the server goes away the client stays up, says so (and when it will try again), and
/// sends nothing meanwhile: a typed line is queued for the next connection.
#[test]
fn a_lost_connection_is_explained_and_nothing_is_sent() {
    let mut app = in_lobby();
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    assert_eq!(app.link.state, Connection::Closed);
    let lost = app.server_log().iter().rev().nth(1).unwrap();
    assert_eq!(
        (lost.kind, lost.text.as_str()),
        (EntryKind::Error, "disconnected: the server closed the connection")
    );
    assert!(app.server_log().back().unwrap().text.starts_with("reconnecting in "));
    assert!(type_line(&mut app, "anyone?").is_empty());
    assert_eq!(last_text(&app), "queued: anyone?");
}

/// An unreachable server is explained in the server window.
#[test]
fn an_unreachable_server_is_explained() {
    let mut app = new_app("lobby");
    app.update(Event::Net(NetEvent::Failed {
        reason: "cannot connect to 127.0.0.1:1: refused".into(),
    }));
    assert_eq!(app.link.state, Connection::Closed);
    let failed = app.server_log().iter().rev().nth(1).unwrap();
    assert_eq!(failed.text, "cannot connect to 127.0.0.1:1: refused");
}

/// A nick in use at hello is explained with a way out (a fallback is tried, /nick picks
/// another); /nick then retries the hello.
#[test]
fn a_taken_nick_can_be_replaced_before_registration() {
    let mut app = new_app("lobby");
    app.update(Event::Net(NetEvent::Connected {
        server: "x".into(),
        security: Security::Plain { loopback: true },
    }));
    server(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::NickInUse,
            message: "the nick Michael is already in use".into(),
            request: Some("hello".into()),
            retry_after_ms: None,
        },
    );
    assert_eq!(
        app.server_log().back().unwrap().text,
        "the nick Michael is already in use; trying Michael_ instead (/nick NAME picks another)"
    );
    let effects = type_line(&mut app, "/nick Michael2");
    assert!(
        matches!(&effects[..], [Effect::Send(ClientMsg::Hello { nick: n, .. })] if n.as_str() == "Michael2")
    );
}

/// Server errors and bad commands show in the current window; nothing is sent for a bad command.
#[test]
fn errors_are_shown_where_the_person_is_looking() {
    let mut app = in_lobby();
    assert!(type_line(&mut app, "/dance").is_empty());
    assert_eq!(last_text(&app), "unknown command /dance; type /help for the list");
    assert!(type_line(&mut app, "/join a room with spaces").is_empty());
    assert_eq!(last_text(&app), "usage: /join ROOM [KEY]");
    server(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::NotInRoom,
            message: "you are not in #x".into(),
            request: Some("say".into()),
            retry_after_ms: None,
        },
    );
    let entry = app.windows.current_window().unwrap().entries().back().unwrap();
    assert_eq!((entry.kind, entry.text.as_str()), (EntryKind::Error, "you are not in #x"));
}

/// Pings are answered.
#[test]
fn pings_are_answered() {
    let mut app = in_lobby();
    assert_eq!(
        server(&mut app, ServerMsg::Ping { token: 7 }),
        vec![Effect::Send(ClientMsg::Pong { token: 7 })]
    );
}

/// PgUp scrolls back; new messages do not move a scrolled view; PgDn returns to the bottom.
#[test]
fn paging_through_history() {
    let mut app = in_lobby();
    for i in 0..100 {
        server(&mut app, said("lobby", "Tracy", &format!("message {i}")));
    }
    app.update(key(KeyCode::PageUp));
    let scrolled = app.windows.current_window().unwrap().scroll;
    assert!(scrolled > 0);
    server(&mut app, said("lobby", "Tracy", "new"));
    assert_eq!(
        app.windows.current_window().unwrap().scroll,
        scrolled + 1,
        "the view stays on the same rows"
    );
    for _ in 0..100 {
        app.update(key(KeyCode::PageUp));
    }
    let top = app.windows.current_window().unwrap().scroll;
    app.update(key(KeyCode::PageUp));
    assert_eq!(
        app.windows.current_window().unwrap().scroll,
        top,
        "scrolling stops at the first message"
    );
    for _ in 0..100 {
        app.update(key(KeyCode::PageDown));
    }
    assert_eq!(app.windows.current_window().unwrap().scroll, 0);
}

/// /help and F1 open the help overlay; Esc closes it.
#[test]
fn help_overlay() {
    let mut app = in_lobby();
    type_line(&mut app, "/help");
    assert!(app.view.show_help);
    app.update(key(KeyCode::Esc));
    assert!(!app.view.show_help);
    app.update(key(KeyCode::F(1)));
    assert!(app.view.show_help);
}

/// A bracketed paste of one line is inserted as text, never sent by itself (several lines ask
/// first: `tests/paste.rs`).
#[test]
fn pastes_are_inserted_not_sent() {
    let mut app = in_lobby();
    assert!(app.update(Event::Paste("one\ttwo\u{1b}[31m\n".into())).is_empty());
    assert_eq!(app.composer.input.as_str(), "one    two[31m");
}

fn stored(seq: u64, t: &str) -> protocol::Stored {
    protocol::Stored {
        account: false,
        id: Uuid::now_v7(),
        seq,
        from: nick("Tracy"),
        kind: MessageKind::Say,
        text: Some(text(t)),
        ts: 0,
    }
}

fn history(r: &str, seqs: std::ops::RangeInclusive<u64>, beginning: bool) -> ServerMsg {
    ServerMsg::History {
        room: room(r),
        messages: seqs.map(|s| stored(s, &format!("m{s}"))).collect(),
        beginning,
    }
}

/// The backlog shown on joining sits between markers, drawn as earlier history; live messages
/// follow, and one the backlog already had is not shown twice.
#[test]
fn the_backlog_is_marked_and_live_messages_follow_it_once() {
    let mut app = new_app("lobby");
    welcome(&mut app);
    server(&mut app, history("lobby", 1..=3, true));
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    let w = app.windows.current_window().unwrap();
    let kinds: Vec<(EntryKind, &str, bool)> =
        w.entries().iter().map(|e| (e.kind, e.text.as_str(), e.earlier)).collect();
    assert_eq!(
        kinds,
        [
            (EntryKind::Marker, "the beginning of #lobby", false),
            (EntryKind::Marker, "earlier messages", false),
            (EntryKind::Day, "Thursday 1 January 1970", false),
            (EntryKind::Say, "m1", true),
            (EntryKind::Say, "m2", true),
            (EntryKind::Say, "m3", true),
            (EntryKind::Marker, "now", false),
            (EntryKind::Info, "you joined #lobby", false),
        ]
    );
    let live = |seq| ServerMsg::Message {
        account: false,
        id: Uuid::now_v7(),
        room: room("lobby"),
        seq,
        from: nick("Tracy"),
        kind: MessageKind::Say,
        text: text(&format!("live {seq}")),
        ts: 0,
    };
    server(&mut app, live(3));
    server(&mut app, live(4));
    let texts: Vec<&str> =
        app.windows.current_window().unwrap().entries().iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.iter().filter(|t| t.starts_with("live")).count(), 1, "{texts:?}");
    assert_eq!(texts.last(), Some(&"live 4"));
    assert_eq!(app.windows[1].unread, 0, "the backlog is not unread news");
}

/// Scrolling up past the top asks for the page before the oldest message held, once; the page
/// goes in front; at the beginning of the room no more is asked for.
#[test]
fn scrolling_up_past_the_top_pages_back() {
    let mut app = new_app("lobby");
    welcome(&mut app);
    server(&mut app, history("lobby", 151..=200, false));
    server(&mut app, presence("lobby", "Michael", PresenceEvent::Joined));
    let mut requests = Vec::new();
    for _ in 0..20 {
        requests.extend(app.update(key(KeyCode::PageUp)));
    }
    assert_eq!(
        requests,
        vec![Effect::Send(ClientMsg::History {
            room: room("lobby"),
            before: Some(151),
            limit: 100
        })],
        "one request while the page is on its way"
    );
    assert!(app.windows[1].loading);
    let scrolled = app.windows[1].scroll;
    server(&mut app, history("lobby", 51..=150, false));
    assert!(!app.windows[1].loading);
    assert_eq!(app.windows[1].scroll, scrolled, "the view stays where it was");
    assert_eq!(app.windows[1].oldest_seq, Some(51));
    let mut requests = Vec::new();
    for _ in 0..40 {
        requests.extend(app.update(key(KeyCode::PageUp)));
    }
    assert_eq!(
        requests,
        vec![Effect::Send(ClientMsg::History {
            room: room("lobby"),
            before: Some(51),
            limit: 100
        })]
    );
    server(&mut app, history("lobby", 1..=50, true));
    let first = app.windows[1].entries().front().unwrap();
    assert_eq!((first.kind, first.text.as_str()), (EntryKind::Marker, "the beginning of #lobby"));
    let seqs: Vec<u64> = app.windows[1].entries().iter().filter_map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "every message once, in order");
    for _ in 0..40 {
        assert!(app.update(key(KeyCode::PageUp)).is_empty(), "nothing before the beginning");
    }
}
