//! Whole screens at 80x24, 120x40, 40x12 and 20x5, compared with the snapshots in `tests/snapshots/`
//! (insta): a change to the layout shows up as a diff to review, not as a silent drift.
//! Times of day in the server window come from the clock and are shown as `HH:MM`.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p chat-tui --test snapshots`,
//! then review the `.snap` files in the diff.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::app::App;
use chat_tui::event::Event;
use common::{app, joined, message, net, nick, render, say, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{Label, MessageKind, Role, RoomName, ServerMsg, Text, Topic};
use uuid::Uuid;

/// The screen as text. The server window's times come from the clock: they are set to
/// `HH:MM` first (masking them on the screen would miss one half hidden by an overlay).
fn masked(app: &mut App) -> String {
    app.windows.server_mut().show_times_as("HH:MM");
    screen(&render(app).0)
}

/// A lively lobby: people come in, talk in several scripts, one mentions Michael, one acts,
/// a private message waits in its own window, and a second room has unread messages.
fn lively(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    for who in ["Tracy", "小明", "Zoë"] {
        joined(&mut app, "lobby", who);
    }
    say(&mut app, "Tracy", "morning all");
    say(&mut app, "Tracy", "the build is green again");
    say(&mut app, "小明", "你好！今天的会议改到下午三点 👋");
    message(&mut app, "Zoë", MessageKind::Action, "waves from Zürich");
    say(&mut app, "Zoë", "Michael: can you review the wrap fix? It handles emoji 🎉 and CJK now");
    net(
        &mut app,
        ServerMsg::Private {
            account: false,
            offline: false,
            id: Uuid::now_v7(),
            from: nick("Tracy"),
            to: nick("Michael"),
            text: Text::parse("lunch?").unwrap(),
            ts: 0,
        },
    );
    app
}

#[test]
fn screen_80x24() {
    insta::assert_snapshot!(masked(&mut lively(80, 24)));
}

#[test]
fn screen_120x40_with_members() {
    let mut app = lively(120, 40);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    insta::assert_snapshot!(masked(&mut app));
}

#[test]
fn screen_20x5() {
    insta::assert_snapshot!(masked(&mut lively(20, 5)));
}

#[test]
fn too_small_below_20x5() {
    insta::assert_snapshot!(masked(&mut lively(19, 5)));
}

#[test]
fn help_overlay_80x24() {
    let mut app = lively(80, 24);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    insta::assert_snapshot!(masked(&mut app));
}

/// The help scrolled to its end: the keys, and the title saying which rows these are.
#[test]
fn help_overlay_80x24_end() {
    let mut app = lively(80, 24);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    app.update(Event::Key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE)));
    insta::assert_snapshot!(masked(&mut app));
}

/// Narrow: each description under its key, nothing cut off; the top and the end.
#[test]
fn help_overlay_40x12() {
    let mut app = lively(40, 12);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    insta::assert_snapshot!(masked(&mut app));
    app.update(Event::Key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE)));
    insta::assert_snapshot!(masked(&mut app));
}

/// Michael owns #rust, whose topic heads the conversation; the member list (F2) marks the
/// owner, the operator and the voiced member, in that order, before the rest.
fn room_with_owners(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    for c in "/join rust".chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    joined(&mut app, "rust", "Michael");
    let roles = [("Michael", Role::Owner), ("Tracy", Role::Operator), ("Sam", Role::Voiced)];
    net(
        &mut app,
        ServerMsg::Members {
            room: RoomName::parse("rust").unwrap(),
            nicks: ["Bob", "Michael", "Sam", "Tracy", "zoë"].iter().map(|n| nick(n)).collect(),
            roles: roles.iter().map(|(n, r)| (nick(n), *r)).collect(),
            after: None,
            more: false,
            away: Default::default(),
        },
    );
    net(
        &mut app,
        ServerMsg::Topic {
            room: RoomName::parse("rust").unwrap(),
            topic: Some(Topic {
                text: Label::parse("Rust 1.92 is out · notes at blog.rust-lang.org · be kind")
                    .unwrap(),
                by: nick("Tracy"),
                ts: 0,
            }),
        },
    );
    common::say_in(&mut app, "rust", "Tracy", "the release is out, with the new lints");
    common::say_in(&mut app, "rust", "Sam", "nice");
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    app
}

/// [`masked`], with every time of day on the screen shown as `HH:MM`: the client's own lines
/// in a window (a member list, a topic) are timed by the clock too.
fn masked_clock(app: &mut App) -> String {
    let screen: Vec<char> = masked(app).chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < screen.len() {
        let time = screen
            .get(i..i + 5)
            .filter(|t| t[2] == ':' && [0, 1, 3, 4].iter().all(|&d| t[d].is_ascii_digit()));
        if time.is_some() {
            out.push_str("HH:MM");
            i += 5;
        } else {
            out.push(screen[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn room_with_topic_and_roles_80x24() {
    insta::assert_snapshot!(masked_clock(&mut room_with_owners(80, 24)));
}

/// Too narrow for the member list: the topic, cut to its row, over the conversation.
#[test]
fn room_with_topic_and_roles_40x12() {
    insta::assert_snapshot!(masked_clock(&mut room_with_owners(40, 12)));
}

#[test]
fn paste_prompt_80x24() {
    let mut app = lively(80, 24);
    app.update(Event::Paste("fn main() {\n    println!(\"hi\");\n}\n".into()));
    insta::assert_snapshot!(masked(&mut app));
}

/// Logged in (✓ in the status line), a guest and an account of the same nick, one after
/// the other, a private message kept while away.
#[test]
fn accounts_80x24() {
    let mut app = app(80, 24);
    // As a welcome with `account` says (the answer to /register would add a line at the
    // time of day).
    app.link.account = true;
    for (account, text) in [(false, "I am Tracy, honest"), (true, "no, I am Tracy")] {
        net(
            &mut app,
            ServerMsg::Message {
                account,
                id: Uuid::now_v7(),
                room: protocol::RoomName::lobby(),
                seq: common::next_seq(),
                from: nick("Tracy"),
                kind: MessageKind::Say,
                text: Text::parse(text).unwrap(),
                ts: 0,
            },
        );
    }
    net(
        &mut app,
        ServerMsg::Private {
            account: true,
            offline: true,
            id: Uuid::now_v7(),
            from: nick("Tracy"),
            to: nick("Michael"),
            text: Text::parse("call me when you are back").unwrap(),
            ts: 0,
        },
    );
    insta::assert_snapshot!(masked(&mut app));
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT)));
    insta::assert_snapshot!(masked(&mut app));
}

/// The password prompt: an asterisk per character typed, and nothing else of it.
#[test]
fn password_prompt_80x24() {
    let settings = chat_tui::settings::Settings::new(nick("Michael"), "127.0.0.1:7878".into());
    let mut app = App::new(settings, ratatui::layout::Rect::new(0, 0, 80, 24));
    app.update(Event::Net(chat_tui::event::NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: chat_tui::event::Security::Plain { loopback: true },
    }));
    net(
        &mut app,
        ServerMsg::Error {
            code: protocol::ErrorCode::PasswordRequired,
            message: "Michael is a registered account: log in with its password".into(),
            request: Some("hello".into()),
            retry_after_ms: None,
        },
    );
    for c in "hunter2".chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    let screen = masked(&mut app);
    assert!(!screen.contains("hunter2"));
    insta::assert_snapshot!(screen);
}

/// Window 1, the server window: what the connection did, the greeting and the MOTD, where
/// the connection pane used to be, and a server notice that came while #lobby was shown.
#[test]
fn server_window_80x24() {
    let mut app = lively(80, 24);
    let text = "maintenance at 22:00 UTC".to_owned();
    net(&mut app, ServerMsg::Notice { id: Uuid::now_v7(), ts: 0, text });
    let lobby = masked(&mut app);
    assert!(status_row(&lobby).contains(" 1:server(1) "), "the notice is news:\n{lobby}");
    assert!(!lobby.contains("maintenance"), "not in #lobby:\n{lobby}");
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT)));
    insta::assert_snapshot!(masked(&mut app));
}

/// Eight rooms and two private chats besides lobby and the server window, unread messages
/// here and there, and a mention of Michael in the last window opened.
fn many_windows(width: u16, height: u16) -> App {
    let mut app = lively(width, height);
    let rooms = ["rust", "operations", "design-review", "release", "support", "random", "infra"];
    for room in rooms {
        joined(&mut app, room, "Michael");
    }
    common::say_in(&mut app, "rust", "Tracy", "anyone?");
    common::say_in(&mut app, "support", "Sam", "the printer again");
    common::say_in(&mut app, "support", "Sam", "still");
    joined(&mut app, "announcements", "Michael");
    common::say_in(&mut app, "announcements", "Tracy", "Michael: the release is yours");
    app
}

/// The status row of a screen.
fn status_row(screen: &str) -> &str {
    screen.lines().last().unwrap()
}

/// At 80 columns every window is listed: the address and room go, names are shortened, and
/// the mention in the last window is there with its count apart from the unread ones.
#[test]
fn status_line_many_windows_80x24() {
    let screen = masked(&mut many_windows(80, 24));
    let status = status_row(&screen);
    assert!(!status.contains("127.0.0.1"), "the address goes first:\n{status}");
    assert!(status.contains("11:#an…(1,1!)"), "the mention in the last window:\n{status}");
    insta::assert_snapshot!(screen);
}

/// At 40 columns the quietest windows fold into "+N", which keeps the most important mark of
/// those it stands for; the window shown and the mention stay listed.
#[test]
fn status_line_many_windows_40x12() {
    let screen = masked(&mut many_windows(40, 12));
    let status = status_row(&screen);
    assert!(status.contains("2:#lo"), "the window shown:\n{status}");
    assert!(status.contains("(1,1!)"), "the mention:\n{status}");
    assert!(status.contains(" +"), "the rest folded:\n{status}");
    insta::assert_snapshot!(screen);
}
