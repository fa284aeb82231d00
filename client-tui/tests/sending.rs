//! Sending, without a terminal: private windows (`/query`, `/me`, `/who`, `/close`), `/clear`,
//! a `/msg` echoed where it was typed, lines typed while offline queued and sent after the
//! rejoin, pastes paced to the server's advertised rate, and a fallback nick at start-up.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::entry::EntryKind;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::link::Connection;
use chat_tui::settings::Settings;
use chat_tui::unsent::MAX_QUEUED;
use chat_tui::window::Target;
use common::{app, joined, net, nick, render, row_in, say_in, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{
    ClientMsg, ErrorCode, FloodRate, Label, MessageKind, RequestError, RoomInfo, RoomName,
    ServerMsg, Text,
};
use ratatui::layout::Rect;
use uuid::Uuid;

fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    for c in line.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter)
}

fn texts(app: &App) -> Vec<String> {
    app.windows.current_window().unwrap().entries().iter().map(|e| e.text.clone()).collect()
}

fn private(from: &str, to: &str, t: &str) -> ServerMsg {
    ServerMsg::Private {
        id: Uuid::now_v7(),
        from: nick(from),
        to: nick(to),
        text: text(t),
        ts: 0,
        account: false,
        offline: false,
    }
}

fn welcome_as(name: &str, flood: Option<FloodRate>) -> ServerMsg {
    ServerMsg::Welcome {
        flood,
        account: false,
        session: Uuid::now_v7(),
        nick: nick(name),
        server: Label::truncate("chat-server/0.1.0"),
        protocol: 1,
        greeting: format!("Hello, {name}! Welcome to chat."),
        motd: String::new(),
        rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
        resume: None,
    }
}

fn lobby_say(t: &str) -> Effect {
    Effect::Send(ClientMsg::Say { room: RoomName::lobby(), text: text(t) })
}

/// `/query Tracy` opens and shows the private window and sends nothing; again, it switches
/// back to the same window.
#[test]
fn query_opens_a_private_window_without_sending() {
    let mut app = app(80, 24);
    assert!(type_line(&mut app, "/query Tracy").is_empty());
    let tracy = Target::Private(nick("Tracy"));
    assert_eq!(app.windows.current_window().unwrap().target, tracy);
    assert_eq!(
        type_line(&mut app, "hi"),
        vec![Effect::Send(ClientMsg::Msg { to: nick("Tracy"), text: text("hi") })]
    );
    app.windows.switch_to(1);
    type_line(&mut app, "/query tracy");
    assert_eq!(app.windows.len(), 3, "the same window, by look-alike nick (beside server, lobby)");
    assert_eq!(app.windows.current, 2);
}

/// `/me` in a private window goes as a private action, and one that comes back is drawn as an
/// action, not as `/me` text.
#[test]
fn me_works_in_a_private_window() {
    let mut app = app(80, 24);
    type_line(&mut app, "/query Tracy");
    assert_eq!(
        type_line(&mut app, "/me waves"),
        vec![Effect::Send(ClientMsg::Msg { to: nick("Tracy"), text: text("/me waves") })]
    );
    net(&mut app, private("Tracy", "Michael", "/me waves back"));
    let last = app.windows.current_window().unwrap().entries().back().unwrap().clone();
    assert_eq!((last.kind, last.text.as_str()), (EntryKind::Action, "waves back"));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("* Tracy waves back"), "{shown}");
}

/// `/who` in a private window says whether the person is in one of our rooms, from what the
/// client knows; nothing is asked of the server.
#[test]
fn who_in_a_private_window_says_where_the_person_is() {
    let mut app = app(80, 24);
    joined(&mut app, "lobby", "Tracy");
    type_line(&mut app, "/query Tracy");
    let whois = ClientMsg::Whois { nick: nick("Tracy") };
    assert_eq!(type_line(&mut app, "/who"), vec![Effect::Send(whois)], "and the server is asked");
    assert_eq!(texts(&app).last().unwrap(), "Tracy is online, in #lobby");
    type_line(&mut app, "/query Sam");
    type_line(&mut app, "/who");
    assert!(texts(&app).last().unwrap().starts_with("Sam is in none of your rooms"));
}

/// A `/msg` typed in a room is echoed there as well as in the private window; one typed in
/// the private window is not shown twice.
#[test]
fn msg_is_echoed_where_it_was_typed() {
    let mut app = app(80, 24);
    type_line(&mut app, "/msg Tracy a secret");
    net(&mut app, private("Michael", "Tracy", "a secret"));
    assert_eq!(app.windows.current_room(), Some(&RoomName::lobby()));
    assert_eq!(texts(&app).last().unwrap(), "-> Tracy: a secret");
    app.windows.switch_to(1);
    type_line(&mut app, "/msg Tracy again");
    net(&mut app, private("Michael", "Tracy", "again"));
    let shown = texts(&app);
    assert_eq!(shown.iter().filter(|t| t.contains("again")).count(), 1, "{shown:?}");
    app.windows.switch_to(0);
    assert!(!texts(&app).iter().any(|t| t.contains("again")));
}

/// `/close` closes a private window at once, and leaves a room (its window closes when the
/// server confirms); `/clear` empties the view, and scrolling up fetches the room's messages
/// again from the newest one cleared.
#[test]
fn close_and_clear() {
    let mut app = app(80, 24);
    type_line(&mut app, "/query Tracy");
    assert!(type_line(&mut app, "/close").is_empty());
    assert_eq!(app.windows.len(), 2, "the server window and lobby");
    assert_eq!(app.windows.current_room(), Some(&RoomName::lobby()));
    say_in(&mut app, "lobby", "Tracy", "one");
    let newest = app.windows.current_window().unwrap().newest_seq.unwrap();
    assert!(type_line(&mut app, "/clear").is_empty());
    assert!(texts(&app).is_empty());
    assert_eq!(
        key(&mut app, KeyCode::PageUp),
        vec![Effect::Send(ClientMsg::History {
            room: RoomName::lobby(),
            before: Some(newest + 1),
            limit: protocol::limits::MAX_HISTORY_PAGE
        })]
    );
    assert_eq!(
        type_line(&mut app, "/close"),
        vec![Effect::Send(ClientMsg::Leave { room: RoomName::lobby() })]
    );
}

/// The connection (plain, on loopback) is up again.
fn connected(app: &mut App) {
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
}

/// Connected and welcomed as Michael, with the server's flood `rate` if it says one: the
/// effects of the welcome (the rejoins, the first queued line).
fn back_online(app: &mut App, rate: Option<FloodRate>) -> Vec<Effect> {
    connected(app);
    app.update(Event::Net(NetEvent::Message(welcome_as("Michael", rate))))
}

/// Michael's own message `t` in `room`, as the server echoes it.
fn echo(room: &RoomName, t: &str) -> ServerMsg {
    ServerMsg::Message {
        id: Uuid::now_v7(),
        room: room.clone(),
        seq: common::next_seq(),
        from: nick("Michael"),
        account: false,
        kind: MessageKind::Say,
        text: text(t),
        ts: 0,
    }
}

/// Michael in #rust, looking at it, when the connection is lost.
fn offline_in_rust() -> App {
    let mut app = app(80, 24);
    joined(&mut app, "rust", "Michael");
    app.windows.switch_to(2);
    app.update(Event::Net(NetEvent::Closed { reason: "reset".into() }));
    app
}

/// Lines typed while offline are shown as queued (grey, as notes are), stay in order, and go
/// after the rejoin once welcomed back, one after the other's echo.
#[test]
fn offline_lines_are_queued_and_sent_after_the_rejoin() {
    let mut app = offline_in_rust();
    assert!(type_line(&mut app, "first").is_empty());
    assert!(type_line(&mut app, "/me second").is_empty());
    assert!(app.composer.input.is_empty(), "the line is taken, not left to retype");
    let last = app.windows.current_window().unwrap().entries().back().unwrap().clone();
    assert_eq!((last.kind, last.text.as_str()), (EntryKind::Info, "queued: * second"));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("-- queued: first"), "{shown}");
    // Back: the rejoin first, then the first queued line; the second after its echo.
    let effects = back_online(&mut app, None);
    let rust = RoomName::parse("rust").unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::Send(ClientMsg::Join { room: rust.clone(), key: None }),
            Effect::Send(ClientMsg::Say { room: rust.clone(), text: text("first") }),
        ]
    );
    assert_eq!(
        app.update(Event::Net(NetEvent::Message(echo(&rust, "first")))),
        vec![Effect::Send(ClientMsg::Action { room: rust, text: text("second") })]
    );
}

/// A queued line's grey note leaves once its echo shows the line, and an answer to another
/// request (a rejoin refused) does not stop the rest; when the connection goes again first,
/// the line on its way is "sent, not confirmed" (it may be stored) and those waiting "not
/// sent". A window scrolled up keeps showing the same rows meanwhile.
#[test]
fn queued_notes_leave_with_their_echo_or_say_not_sent() {
    let mut app = app(80, 24);
    joined(&mut app, "rust", "Michael");
    app.windows.switch_to(2);
    for i in 0..30 {
        say_in(&mut app, "rust", "Tracy", &format!("t{i}"));
    }
    app.update(Event::Net(NetEvent::Closed { reason: "reset".into() }));
    for line in ["first", "second", "third"] {
        type_line(&mut app, line);
    }
    // Scrolled up past the notes: they are below the rows shown.
    app.windows.current_window_mut().unwrap().scroll = 5;
    let top = |app: &App| screen(&render(app).0).lines().nth(1).unwrap().to_owned();
    back_online(&mut app, None);
    let refused = RequestError::new(ErrorCode::Banned, "you are banned from #lobby");
    app.update(Event::Net(NetEvent::Message(refused.for_request("join").to_msg())));
    let rust = RoomName::parse("rust").unwrap();
    let shown_before = top(&app);
    let effects = app.update(Event::Net(NetEvent::Message(echo(&rust, "first"))));
    assert_eq!(effects, [Effect::Send(ClientMsg::Say { room: rust, text: text("second") })]);
    let shown = texts(&app);
    assert!(!shown.iter().any(|t| t == "queued: first"), "echoed: its note left: {shown:?}");
    assert!(shown.iter().any(|t| t == "queued: second"), "{shown:?}");
    assert_eq!(top(&app), shown_before, "the view scrolled up did not move");

    app.update(Event::Net(NetEvent::Closed { reason: "reset".into() }));
    let window = app.windows.current_window().unwrap();
    let given_up: Vec<_> = window
        .entries()
        .iter()
        .filter(|e| e.text.ends_with(": second") || e.text.ends_with(": third"))
        .map(|e| (e.kind, e.text.as_str()))
        .collect();
    let unconfirmed = "sent, not confirmed (see the room after the rejoin): second";
    assert_eq!(given_up, [(EntryKind::Error, unconfirmed), (EntryKind::Error, "not sent: third")]);
    assert!(!texts(&app).iter().any(|t| t.starts_with("queued: ")), "{:?}", texts(&app));
}

/// A queued line the server refuses was not stored: it and the lines after it say `not sent`,
/// and the count says two.
#[test]
fn a_refused_queued_line_says_not_sent() {
    let mut app = offline_in_rust();
    type_line(&mut app, "first");
    type_line(&mut app, "second");
    back_online(&mut app, None);
    let refused = RequestError::new(ErrorCode::NotInRoom, "you are not in #rust");
    app.update(Event::Net(NetEvent::Message(refused.for_request("say").to_msg())));
    let shown = texts(&app);
    for want in ["not sent: first", "not sent: second"] {
        assert!(shown.iter().any(|t| t == want), "{want} in {shown:?}");
    }
    assert!(shown.iter().any(|t| t.ends_with(": 2 pasted lines not sent")), "{shown:?}");
}

/// The queue is bounded: past [`MAX_QUEUED`] a line is refused, says so, and stays in the
/// input line.
#[test]
fn a_full_queue_says_so_and_keeps_the_line() {
    let mut app = app(80, 24);
    app.update(Event::Net(NetEvent::Closed { reason: "reset".into() }));
    for i in 0..MAX_QUEUED {
        type_line(&mut app, &format!("line {i}"));
    }
    assert_eq!(app.composer.unsent.len(), MAX_QUEUED);
    type_line(&mut app, "one too many");
    assert!(texts(&app).last().unwrap().contains("lines are queued already"));
    assert_eq!(app.composer.input.as_str(), "one too many");
    assert_eq!(app.composer.unsent.len(), MAX_QUEUED);
}

/// A command that cannot be queued (a join) is not thrown away while offline: it is back in
/// the input line.
#[test]
fn an_offline_command_stays_in_the_input_line() {
    let mut app = app(80, 24);
    app.update(Event::Net(NetEvent::Closed { reason: "reset".into() }));
    assert!(type_line(&mut app, "/join rust").is_empty());
    assert_eq!(app.composer.input.as_str(), "/join rust");
    assert!(texts(&app).last().unwrap().starts_with("not connected to the server"));
}

/// Michael in lobby on an 80-column terminal `rows` high, welcomed at `rate`, at `t0`, with
/// `paste` going out line by line: its first line sent.
fn pasting(rows: u16, rate: FloodRate, t0: Instant, paste: &str) -> App {
    let settings = Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    let mut app = App::new(settings, Rect::new(0, 0, 80, rows));
    app.update(Event::Tick(t0));
    back_online(&mut app, Some(rate));
    joined(&mut app, "lobby", "Michael");
    app.update(Event::Paste(paste.into()));
    assert_eq!(key(&mut app, KeyCode::Char('l')), vec![lobby_say("l1")]);
    app
}

/// A paste line by line goes at the rate the welcome advertises: the burst at once (each
/// after the echo of the one before), then one line per interval, with one progress line
/// on the screen and no refusal.
#[test]
fn a_paste_is_paced_to_the_advertised_rate() {
    let t0 = Instant::now();
    let mut app = pasting(24, FloodRate { burst: 2, every_ms: 500 }, t0, "l1\nl2\nl3\nl4\n");
    // Our own line comes back: the echo.
    let sent = |app: &mut App, t: &str| {
        app.update(Event::Net(NetEvent::Message(echo(&RoomName::lobby(), t))))
    };
    assert_eq!(sent(&mut app, "l1"), vec![lobby_say("l2")], "within the burst");
    assert!(sent(&mut app, "l2").is_empty(), "the burst is spent: l3 waits");
    let margin = chat_tui::pace::JITTER_MARGIN;
    let at = |ms: u64| t0 + Duration::from_millis(ms) + margin;
    assert_eq!(app.next_deadline(), Some(at(500)));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("sending 3/4..."), "{shown}");
    assert!(app.update(Event::Tick(at(499))).is_empty());
    assert_eq!(app.update(Event::Tick(at(500))), vec![lobby_say("l3")]);
    assert!(sent(&mut app, "l3").is_empty());
    assert_eq!(app.update(Event::Tick(at(1000))), vec![lobby_say("l4")]);
    assert!(sent(&mut app, "l4").is_empty());
    assert_eq!(app.next_deadline(), None, "all sent");
    assert!(!screen(&render(&app).0).contains("sending"));
}

/// A paste sent as one message while a paste goes out line by line waits behind it: its echo
/// is not taken for the line on its way, and it goes in its turn.
#[test]
fn a_paste_as_one_waits_behind_lines_going_out() {
    let mut app = pasting(24, FloodRate { burst: 10, every_ms: 100 }, Instant::now(), "l1\nl2\n");
    app.update(Event::Paste("x\ny\n".into()));
    assert!(key(&mut app, KeyCode::Char('o')).is_empty(), "behind l2");
    let lobby = RoomName::lobby();
    let sent = |app: &mut App, t: &str| app.update(Event::Net(NetEvent::Message(echo(&lobby, t))));
    assert_eq!(sent(&mut app, "l1"), vec![lobby_say("l2")]);
    assert_eq!(sent(&mut app, "l2"), vec![lobby_say("x\ny")]);
}

/// A terminal too short for the input's border shows the progress of lines going out one by
/// one in the status line instead.
#[test]
fn without_the_input_border_the_progress_is_in_the_status_line() {
    let app = pasting(6, FloodRate { burst: 1, every_ms: 500 }, Instant::now(), "l1\nl2\nl3\n");
    let shown = screen(&render(&app).0);
    let status = shown.lines().last().unwrap();
    assert!(status.contains("online  sending 1/3..."), "{shown}");
}

/// Our nick taken at start-up: the reason is in the conversation pane, `Michael_` is tried
/// at once, then `Michael__`...; welcomed as the fallback, the first window says why.
#[test]
fn a_taken_nick_falls_back_and_says_why() {
    let settings = Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    let mut app = App::new(settings, Rect::new(0, 0, 80, 24));
    connected(&mut app);
    let taken = || ServerMsg::Error {
        code: ErrorCode::NickInUse,
        message: "the nick Michael is in use".into(),
        request: Some("hello".into()),
        retry_after_ms: None,
    };
    let effects = app.update(Event::Net(NetEvent::Message(taken())));
    let [Effect::Send(ClientMsg::Hello { nick: tried, .. })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(tried.as_str(), "Michael_");
    // In the conversation pane, not only in the server window.
    let (buf, _) = render(&app);
    let pane = app.panes(buf.area).messages_inner();
    let shown: Vec<String> = (pane.top()..pane.bottom()).map(|y| row_in(&buf, pane, y)).collect();
    let shown = shown.join("\n");
    assert!(shown.contains("the nick Michael is in use; trying Michael_"), "{shown}");
    let effects = app.update(Event::Net(NetEvent::Message(taken())));
    assert!(
        matches!(&effects[..], [Effect::Send(ClientMsg::Hello { nick, .. })] if nick.as_str() == "Michael__")
    );
    app.update(Event::Net(NetEvent::Message(welcome_as("Michael__", None))));
    joined(&mut app, "lobby", "Michael__");
    assert_eq!(app.link.state, Connection::Registered);
    assert!(texts(&app).last().unwrap().contains("trying Michael__ instead"));
}

/// The fallbacks are bounded: after the last, the person is asked to pick a nick.
#[test]
fn fallbacks_are_bounded() {
    let settings = Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    let mut app = App::new(settings, Rect::new(0, 0, 80, 24));
    let mut tries = 0;
    loop {
        let effects = app.update(Event::Net(NetEvent::Message(ServerMsg::Error {
            code: ErrorCode::NickInUse,
            message: "in use".into(),
            request: Some("hello".into()),
            retry_after_ms: None,
        })));
        if effects.is_empty() {
            break;
        }
        tries += 1;
        assert!(tries <= chat_tui::app::MAX_NICK_FALLBACKS);
    }
    assert_eq!(tries, chat_tui::app::MAX_NICK_FALLBACKS);
    let shown = screen(&render(&app).0);
    assert!(shown.contains("pick another with /nick NAME"), "{shown}");
}
