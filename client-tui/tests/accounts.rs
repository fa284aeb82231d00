//! Accounts in the client, without a terminal: the masked password prompt, the password in
//! every hello and nowhere else, `/register` and friends kept out of the history and off the
//! screen, the ✓ of a logged-in session and of an account's messages, offline private
//! messages, and logins that are refused or throttled.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::link::Connection;
use chat_tui::password::Origin;
use chat_tui::settings::Settings;
use common::{app, net, nick, render, row, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{
    AccountEvent, ByeCode, ClientMsg, ErrorCode, Label, MessageKind, Password, RoomInfo, RoomName,
    ServerMsg, Stored, Text,
};
use ratatui::layout::Rect;
use uuid::Uuid;

const SECRET: &str = "hunter2hunter2";

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| app.update(key(KeyCode::Char(c)))).collect()
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    let mut effects = type_text(app, line);
    effects.extend(app.update(key(KeyCode::Enter)));
    effects
}

/// Everything the person could see: the screen, and the whole server window and every
/// window's entries (scrolled out of view or not).
fn everything_shown(app: &App) -> String {
    let mut all = screen(&render(app).0);
    for line in app.server_log() {
        all.push('\n');
        all.push_str(&line.text);
    }
    for w in app.windows.iter() {
        for e in w.entries() {
            all.push('\n');
            all.push_str(&e.text);
        }
    }
    all
}

/// Michael's client, connected (not yet welcomed), with `password` configured.
fn connecting(password: Option<(&str, Origin)>) -> App {
    let settings = Settings {
        password: password.map(|(p, o)| (Password::parse(p).unwrap(), o)),
        ..Settings::new(nick("Michael"), "127.0.0.1:7878".into())
    };
    let mut app = App::new(settings, Rect::new(0, 0, 80, 24));
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    app
}

fn error(code: ErrorCode, message: &str, retry_after_ms: Option<u64>) -> ServerMsg {
    ServerMsg::Error {
        code,
        message: message.into(),
        request: Some("hello".into()),
        retry_after_ms,
    }
}

fn welcome(account: bool) -> ServerMsg {
    ServerMsg::Welcome {
        flood: None,
        account,
        session: Uuid::now_v7(),
        nick: nick("Michael"),
        server: Label::truncate("chat-server/0.1.0"),
        protocol: 1,
        greeting: "Hello, Michael! Welcome to chat.".into(),
        motd: String::new(),
        rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
        resume: None,
    }
}

/// The password a hello carries, if any.
fn hello_password(msg: &ClientMsg) -> Option<String> {
    match msg {
        ClientMsg::Hello { password, .. } => password.as_ref().map(|p| p.expose().to_owned()),
        other => panic!("not a hello: {other:?}"),
    }
}

fn status(app: &App) -> String {
    let (buf, _) = render(app);
    row(&buf, buf.area.height - 1)
}

/// `password_required` turns the input line into a prompt that shows an asterisk per
/// character; Enter says hello again on the same connection with the password, which is
/// never drawn, logged or shown by Debug.
#[test]
fn the_prompt_masks_the_password_and_sends_it_in_hello() {
    let mut app = connecting(None);
    assert_eq!(hello_password(&app.link.hello()), None);
    // A line typed before the welcome: refused, but kept for recall.
    type_line(&mut app, "/join rust");
    net(
        &mut app,
        error(
            ErrorCode::PasswordRequired,
            "Michael is a registered account: log in with its password",
            None,
        ),
    );
    let screen_now = screen(&render(&app).0);
    assert!(screen_now.contains("│ Password for Michael: "), "{screen_now}");
    assert!(type_text(&mut app, SECRET).is_empty());
    let (buf, cursor) = render(&app);
    let input = row(&buf, 21);
    assert!(input.contains("Password for Michael: ************** "), "{input}");
    assert_eq!(usize::from(cursor.x), 2 + "Password for Michael: ".len() + SECRET.len());
    assert!(!everything_shown(&app).contains("hunter"), "{}", everything_shown(&app));
    assert!(!format!("{:?}", app.link).contains("hunter"));
    // Keys that would act elsewhere do nothing here: no recall, no completion, no scrolling.
    for code in [KeyCode::Up, KeyCode::Tab, KeyCode::PageUp, KeyCode::Down] {
        assert!(app.update(key(code)).is_empty());
        assert!(app.composer.input.is_empty(), "{code:?} acted behind the prompt");
        assert_eq!(app.link.login.as_ref().unwrap().len(), SECRET.len());
    }
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Send(hello)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(hello_password(hello).as_deref(), Some(SECRET));
    assert!(!format!("{effects:?}").contains("hunter"), "{effects:?}");
    assert!(app.link.login.is_none());
    net(&mut app, welcome(true));
    assert!(!everything_shown(&app).contains("hunter"));
    assert!(app.composer.input.is_empty(), "nothing typed went into the input line");
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.input.as_str(), "/join rust", "nor into its history");
    app.composer.input.take();
    // Kept for this run's reconnects.
    app.update(Event::Net(NetEvent::Closed { reason: "gone".into() }));
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some(SECRET));
}

/// The connection ends while the prompt is open (the server's hello timeout): nothing is
/// retried until the password is typed; Enter then connects with it.
#[test]
fn a_connection_lost_at_the_prompt_waits_for_the_password() {
    let mut app = connecting(None);
    net(&mut app, error(ErrorCode::PasswordRequired, "log in", None));
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    assert_eq!(app.link.retry_at(), None);
    assert!(
        app.server_log().back().unwrap().text.starts_with("not reconnecting until the password")
    );
    assert!(app.link.login.is_some(), "the prompt stays");
    type_text(&mut app, SECRET);
    assert_eq!(app.update(key(KeyCode::Enter)), vec![Effect::Connect]);
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some(SECRET));
}

/// A paste goes into the prompt (its first line), not into the input line.
#[test]
fn a_paste_into_the_prompt_stays_masked() {
    let mut app = connecting(None);
    net(&mut app, error(ErrorCode::PasswordRequired, "log in", None));
    app.update(Event::Paste(format!("{SECRET}\nsecond line")));
    assert!(app.composer.input.is_empty());
    assert!(!everything_shown(&app).contains("hunter"));
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Send(hello)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(hello_password(hello).as_deref(), Some(SECRET));
}

/// Esc closes the prompt and the connection, and says how to go on; nothing is retried by
/// itself. /nick then connects at once under the other nick.
#[test]
fn esc_gives_up_the_login_until_asked() {
    let mut app = connecting(None);
    net(&mut app, error(ErrorCode::PasswordRequired, "log in", None));
    type_text(&mut app, "half");
    assert_eq!(app.update(key(KeyCode::Esc)), vec![Effect::Disconnect]);
    assert!(app.link.login.is_none());
    assert_eq!(app.link.state, Connection::Closed);
    assert_eq!(app.link.retry_at(), None, "not retried by itself");
    let log: Vec<&str> = app.server_log().iter().map(|l| l.text.as_str()).collect();
    assert!(log.iter().any(|l| l.contains("/connect") && l.contains("/nick NAME")), "{log:?}");
    assert_eq!(app.link.hello().type_name(), "hello");
    assert_eq!(type_line(&mut app, "/nick Mike"), vec![Effect::Connect]);
    assert_eq!(app.link.nick.as_str(), "Mike");
}

/// A configured password that the server refuses is forgotten (never tried again), the log
/// says where it came from, and the prompt asks for the right one.
#[test]
fn a_wrong_configured_password_is_forgotten_and_asked_for() {
    let mut app = connecting(Some((SECRET, Origin::Env)));
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some(SECRET));
    net(&mut app, error(ErrorCode::WrongPassword, "wrong password for Michael", None));
    assert!(app.link.login.is_some());
    assert_eq!(hello_password(&app.link.hello()), None);
    let log: Vec<&str> = app.server_log().iter().map(|l| l.text.as_str()).collect();
    assert!(log.contains(&"wrong password for Michael (from CHAT_PASSWORD)"), "{log:?}");
    assert!(!everything_shown(&app).contains("hunter"));
}

/// The password goes only to the account it is for: after /nick to another nick before the
/// welcome, the hello carries none.
#[test]
fn the_password_is_sent_for_its_own_account_only() {
    let mut app = connecting(Some((SECRET, Origin::File)));
    net(&mut app, error(ErrorCode::NickInUse, "the nick Michael is already in use", None));
    let effects = type_line(&mut app, "/nick Mike");
    let [Effect::Send(hello)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(hello_password(hello), None);
    // A look-alike of the account's nick is the same account.
    let effects = type_line(&mut app, "/nick MICHAEL");
    let [Effect::Send(hello)] = &effects[..] else { panic!("{effects:?}") };
    assert_eq!(hello_password(hello).as_deref(), Some(SECRET));
}

/// Three wrong passwords end the connection: it is not retried with a wrong password; the
/// prompt stays, and Enter connects again with what was typed.
#[test]
fn a_failed_login_is_not_retried_in_a_loop() {
    let mut app = connecting(None);
    net(&mut app, error(ErrorCode::WrongPassword, "wrong password for Michael", None));
    net(
        &mut app,
        ServerMsg::Bye {
            code: ByeCode::LoginFailed,
            message: "too many wrong passwords".into(),
            retry_after_ms: None,
        },
    );
    app.update(Event::Net(NetEvent::Closed { reason: "the server closed the connection".into() }));
    assert_eq!(app.link.retry_at(), None);
    let later = Instant::now() + Duration::from_secs(3600);
    assert!(app.update(Event::Tick(later)).is_empty(), "nothing is tried by itself");
    assert!(
        app.server_log()
            .back()
            .unwrap()
            .text
            .starts_with("not reconnecting: too many wrong passwords")
    );
    type_text(&mut app, SECRET);
    assert_eq!(app.update(key(KeyCode::Enter)), vec![Effect::Connect]);
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some(SECRET));
}

/// A throttled login closes the connection and waits at least as long as the server says
/// before the next attempt, however short the backoff.
#[test]
fn a_throttled_login_is_not_hammered() {
    let mut app = connecting(Some((SECRET, Origin::Command)));
    let now = Instant::now();
    app.update(Event::Tick(now));
    let effects = app.update(Event::Net(NetEvent::Message(error(
        ErrorCode::LoginThrottled,
        "too many failed logins for this account; try again in 30 s",
        Some(30_000),
    ))));
    assert_eq!(effects, vec![Effect::Disconnect]);
    let at = app.link.retry_at().unwrap();
    assert!(at >= now + Duration::from_secs(30), "retried after {:?}", at - now);
    assert!(app.update(Event::Tick(now + Duration::from_secs(29))).is_empty());
    assert_eq!(app.update(Event::Tick(now + Duration::from_secs(31))), vec![Effect::Connect]);
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some(SECRET), "still the password");
    let log: Vec<&str> = app.server_log().iter().map(|l| l.text.as_str()).collect();
    assert!(log.iter().any(|l| l.contains("try again in 30 s")), "{log:?}");
}

/// The status line marks a logged-in session with ✓, a guest's not; registering adds the
/// mark, unregistering takes it away.
#[test]
fn the_status_line_marks_a_logged_in_session() {
    let mut app = connecting(Some((SECRET, Origin::Env)));
    net(&mut app, welcome(true));
    assert!(status(&app).contains(" 127.0.0.1:7878 · Michael ✓ · "), "{}", status(&app));
    net(&mut app, ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Unregistered });
    assert!(status(&app).contains(" 127.0.0.1:7878 · Michael · "), "{}", status(&app));
    let mut guest = app_guest();
    assert!(!status(&guest).contains('✓'), "{}", status(&guest));
    type_line(&mut guest, "/register correct horse");
    net(&mut guest, ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Registered });
    assert!(status(&guest).contains(" · Michael ✓ · "), "{}", status(&guest));
    guest.update(Event::Net(NetEvent::Closed { reason: "gone".into() }));
    assert!(!status(&guest).contains('✓'), "not logged in while offline");
}

fn app_guest() -> App {
    app(80, 24)
}

/// `/register PASSWORD` is sent, echoed as asterisks (while typed too), kept out of the input
/// history and off the screen; once registered, the password is every later hello's.
/// `/passwd` replaces it, `/unregister` forgets it.
#[test]
fn register_is_masked_kept_out_of_history_and_remembered() {
    let mut app = app(80, 24);
    type_line(&mut app, "an ordinary line");
    type_text(&mut app, "/register correct horse");
    let (buf, cursor) = render(&app);
    let input = row(&buf, 21);
    assert!(input.contains("/register ******* *****"), "{input}");
    assert!(!screen(&buf).contains("horse"), "{}", screen(&buf));
    assert_eq!(usize::from(cursor.x), 2 + "/register correct horse".len(), "the cursor stays");
    let effects = app.update(key(KeyCode::Enter));
    let [Effect::Send(ClientMsg::Register { password })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(password.expose(), "correct horse");
    let shown = everything_shown(&app);
    assert!(shown.contains("/register ********"), "{shown}");
    assert!(!shown.contains("horse"), "{shown}");
    assert!(!format!("{:?}", app.composer).contains("horse"));
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.input.as_str(), "an ordinary line", "the /register line is skipped");
    app.update(key(KeyCode::Up));
    assert_eq!(app.composer.input.as_str(), "an ordinary line");
    app.composer.input.take();

    assert_eq!(hello_password(&app.link.hello()), None, "not before the server says so");
    net(&mut app, ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Registered });
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some("correct horse"));
    assert!(everything_shown(&app).contains("is now your account"));

    let effects = type_line(&mut app, "/passwd correct-horse battery-staple");
    assert!(matches!(&effects[..], [Effect::Send(ClientMsg::Passwd { .. })]), "{effects:?}");
    assert!(everything_shown(&app).contains("/passwd ******** ********"));
    net(
        &mut app,
        ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::PasswordChanged },
    );
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some("battery-staple"));

    // A refused change keeps the password that works.
    type_line(&mut app, "/passwd battery-staple short");
    net(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::WeakPassword,
            message: "a password has at least 8 characters".into(),
            request: Some("passwd".into()),
            retry_after_ms: None,
        },
    );
    assert_eq!(hello_password(&app.link.hello()).as_deref(), Some("battery-staple"));
    let last = app.windows.current_window().unwrap().entries().back().unwrap().text.clone();
    assert_eq!(last, "password not accepted: a password has at least 8 characters");

    type_line(&mut app, "/UNREGISTER battery-staple");
    net(&mut app, ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Unregistered });
    assert_eq!(hello_password(&app.link.hello()), None);
    let shown = everything_shown(&app);
    for secret in ["horse", "battery", "staple", "short"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(!format!("{:?}", app.composer).contains("battery"));
    assert!(!format!("{:?}", app.link).contains("battery"));
}

fn message(from: &str, account: bool, text: &str, ts: u64) -> ServerMsg {
    ServerMsg::Message {
        account,
        id: Uuid::now_v7(),
        room: RoomName::lobby(),
        seq: common::next_seq(),
        from: nick(from),
        kind: MessageKind::Say,
        text: Text::parse(text).unwrap(),
        ts,
    }
}

/// A guest's line and an account's line of the same nick render differently, the account's
/// with ✓ after the nick; they are never grouped as one sender's.
#[test]
fn a_guest_and_an_account_of_the_same_nick_look_different() {
    let mut app = app(80, 24);
    net(&mut app, message("Tracy", false, "same words", 0));
    net(&mut app, message("Tracy", true, "same words", 1000));
    let (buf, _) = render(&app);
    let guest = row(&buf, 17);
    let account = row(&buf, 18);
    assert!(guest.starts_with("│ 00:00 <Tracy> same words "), "{}", screen(&buf));
    assert!(account.starts_with("│ 00:00 <Tracy✓> same words "), "{}", screen(&buf));
    assert_ne!(guest, account);
    // The mark in its own colour.
    let mark = buf[(14, 18)].clone();
    assert_eq!(mark.symbol(), "✓");
    assert_ne!(mark.fg, buf[(10, 18)].fg);
    // And the other way round: an account's line, then a guest's.
    net(&mut app, message("Tracy", false, "a guest again", 2000));
    let (buf, _) = render(&app);
    assert!(row(&buf, 18).starts_with("│ 00:00 <Tracy> a guest again"), "{}", screen(&buf));
}

/// History pages and private windows show the mark the same way.
#[test]
fn history_and_private_messages_carry_the_mark() {
    let mut app = app(80, 24);
    let stored = |seq, account, text: &str| Stored {
        id: Uuid::now_v7(),
        seq,
        from: nick("Tracy"),
        account,
        kind: MessageKind::Say,
        text: Some(Text::parse(text).unwrap()),
        ts: 0,
    };
    net(
        &mut app,
        ServerMsg::History {
            room: RoomName::lobby(),
            messages: vec![stored(1, true, "kept as account"), stored(2, false, "kept as guest")],
            beginning: true,
        },
    );
    let shown = screen(&render(&app).0);
    assert!(shown.contains("<Tracy✓> kept as account"), "{shown}");
    assert!(shown.contains("<Tracy> kept as guest"), "{shown}");
    net(
        &mut app,
        ServerMsg::Private {
            account: true,
            offline: false,
            id: Uuid::now_v7(),
            from: nick("Tracy"),
            to: nick("Michael"),
            text: Text::parse("psst").unwrap(),
            ts: 0,
        },
    );
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT)));
    let shown = screen(&render(&app).0);
    assert!(shown.contains("<Tracy✓> psst"), "{shown}");
}

/// A private message kept while we were away is marked so, under the day and time it was
/// sent; our own message to someone away is acknowledged as kept.
#[test]
fn offline_private_messages_are_marked() {
    let mut app = app(80, 24);
    // Tuesday 1 December 2026, 09:15 UTC (the test's settings are UTC).
    let sent = 1_796_116_500_000;
    let private = |from: &str, to: &str, text: &str, ts| ServerMsg::Private {
        account: true,
        offline: true,
        id: Uuid::now_v7(),
        from: nick(from),
        to: nick(to),
        text: Text::parse(text).unwrap(),
        ts,
    };
    net(&mut app, private("Tracy", "Michael", "are you there?", sent));
    net(&mut app, private("Tracy", "Michael", "call me", sent + 60_000));
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT)));
    let shown = screen(&render(&app).0);
    let rows: Vec<&str> = shown.lines().filter(|r| r.starts_with("│ ")).collect();
    let at = rows.iter().position(|r| r.contains("Tuesday 1 December 2026")).unwrap();
    assert!(rows[at + 1].contains("── received while you were away"), "{shown}");
    assert!(rows[at + 2].contains("09:15 <Tracy✓> are you there?"), "{shown}");
    assert!(rows[at + 3].contains("09:16"), "{shown}");
    assert!(rows[at + 3].contains("call me"), "{shown}");
    assert_eq!(shown.matches("received while you were away").count(), 1, "{shown}");

    net(&mut app, private("Michael", "Zoe", "see you tomorrow", protocol::now_millis()));
    let zoe = app.windows.iter().position(|w| w.target.title() == "@Zoe").unwrap();
    let texts: Vec<&str> = app.windows[zoe].entries().iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.ends_with(&["see you tomorrow", "Zoe is away: kept, delivered when they log in"]),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.contains("received while you were away")), "{texts:?}");
    // Sent from another window (/msg): said there too.
    let here = app.windows.current_window().unwrap().entries().back().unwrap().text.clone();
    assert_eq!(here, "Zoe is away: kept, delivered when they log in");
}

/// The new refusals read as words with a way out.
#[test]
fn account_errors_are_explained() {
    let mut app = connecting(None);
    net(
        &mut app,
        error(
            ErrorCode::NickRegistered,
            "the nick Mіchael is too like Michael, a registered account; if it is yours, log \
             in as Michael with its password, or pick another nick",
            None,
        ),
    );
    assert!(app.link.login.is_none(), "no password asked for someone else's account");
    assert!(app.server_log().back().unwrap().text.ends_with("(/nick NAME picks another)"));
    let mut app = app_guest();
    net(
        &mut app,
        ServerMsg::Error {
            code: ErrorCode::MailboxFull,
            message: "Tracy is away and has 100 messages waiting; try again later".into(),
            request: Some("msg".into()),
            retry_after_ms: None,
        },
    );
    let last = app.windows.current_window().unwrap().entries().back().unwrap().text.clone();
    assert!(last.starts_with("not delivered: Tracy is away"), "{last}");
}
