//! Rendering with ratatui's `TestBackend`: the panes, wide characters, hostile text, every size.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::event::Event;
use chat_tui::layout;
use common::{app, render, row, say, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Position;

/// At 80x24: the conversation, the input with the nick, the status line (the connection's
/// lines are in window 1, the server window).
#[test]
fn three_panes_and_a_status_line() {
    let mut app = app(80, 24);
    say(&mut app, "Tracy", "hi Michael");
    let (buf, _) = render(&app);
    let screen = screen(&buf);
    assert!(row(&buf, 0).starts_with("┌ #lobby ─"), "{screen}");
    assert!(row(&buf, 18).starts_with("│ 00:00 <Tracy> hi Michael"), "{screen}");
    assert!(row(&buf, 20).starts_with("┌ Michael ─"), "{screen}");
    assert!(
        row(&buf, 23).starts_with(" online  127.0.0.1:7878 · Michael · #lobby · 1:server 2:#lobby"),
        "{screen}"
    );
}

/// Chinese text and emoji wrap inside the pane: every row of the message pane keeps its right
/// border in the last column.
#[test]
fn wide_characters_wrap_without_breaking_the_layout() {
    let mut app = app(40, 20);
    say(
        &mut app,
        "小明",
        "你好世界，这是一条很长的中文消息，它应该正确地换行而不破坏布局 👋🎉 done",
    );
    let (buf, _) = render(&app);
    let screen = screen(&buf);
    for y in 7..15 {
        assert_eq!(buf[(39, y)].symbol(), "│", "row {y} lost its border:\n{screen}");
        assert_eq!(buf[(0, y)].symbol(), "│", "row {y} lost its border:\n{screen}");
    }
    assert!(screen.contains("<小明>"), "{screen}");
    assert!(screen.contains("done"), "{screen}");
}

/// A message made of escape sequences, controls and bidi overrides is drawn as visible
/// characters: no cell of the screen holds anything a terminal would act on.
#[test]
fn hostile_messages_are_drawn_harmlessly() {
    let mut app = app(80, 24);
    say(
        &mut app,
        "Mallory",
        "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}]52;c;ZXZpbA==\u{7}\u{202e}txt.exe\u{9b}31m\u{200b}",
    );
    let (buf, _) = render(&app);
    for cell in buf.content() {
        for c in cell.symbol().chars() {
            assert!(
                !c.is_control() && !protocol::sanitize::is_invisible(c),
                "cell holds U+{:04X}:\n{}",
                c as u32,
                screen(&buf)
            );
        }
    }
    assert!(screen(&buf).contains("␛[2J␛]0;pwned␇"), "{}", screen(&buf));
}

/// The cursor sits after what was typed, counting Chinese characters as two columns.
#[test]
fn the_cursor_follows_display_width() {
    let mut app = app(80, 24);
    for c in "你好ab".chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
    }
    let (buf, cursor) = render(&app);
    assert_eq!(cursor, Position::new(2 + 6, 21), "{}", screen(&buf));
    app.update(Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)));
    app.update(Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)));
    app.update(Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE)));
    let (_, cursor) = render(&app);
    assert_eq!(cursor, Position::new(2 + 2, 21));
}

/// Every terminal size renders without a panic; too small ones say so.
#[test]
fn every_size_renders() {
    for width in 0..=45 {
        for height in 0..=20 {
            let mut app = app(width, height);
            say(&mut app, "Tracy", "some words 和中文 to wrap around 🎉");
            for c in "typing 你好".chars() {
                app.update(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
            }
            let (buf, _) = render(&app);
            let too_small = width < layout::MIN_WIDTH || height < layout::MIN_HEIGHT;
            if too_small && width >= 18 && height >= 1 {
                assert!(row(&buf, 0).starts_with("terminal too small"), "{width}x{height}");
            }
            if !too_small {
                assert!(screen(&buf).contains("typing"), "{width}x{height}:\n{}", screen(&buf));
            }
        }
    }
}

/// The smallest supported size, 20x5, still shows the conversation, the input and the status.
#[test]
fn twenty_by_five() {
    let mut app = app(20, 5);
    say(&mut app, "Tracy", "hi");
    let (buf, _) = render(&app);
    let screen = screen(&buf);
    assert!(screen.contains("hi"), "{screen}");
    assert!(row(&buf, 3).starts_with("> "), "{screen}");
    assert!(row(&buf, 4).contains("online"), "{screen}");
}

/// The help overlay lists the commands, and at its end (End) the keys (`tests/help.rs`
/// scrolls through all of it).
#[test]
fn help_overlay_lists_commands() {
    let mut app = app(80, 24);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    let screen = screen(&buf);
    for needle in ["help", "/join ROOM", "/msg NAME TEXT", "/kick NICK [REASON]"] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE)));
    let screen = common::screen(&render(&app).0);
    for needle in ["Alt+1..9", "Ctrl+C"] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
}

/// Scrolled up, the title says so and shows older messages.
#[test]
fn scrolled_view_is_marked() {
    let mut app = app(80, 24);
    for i in 0..50 {
        say(&mut app, "Tracy", &format!("message {i}"));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    let screen = screen(&buf);
    assert!(row(&buf, 0).contains("scrolled up"), "{screen}");
    assert!(!screen.contains("message 49"), "{screen}");
}

/// A message `minutes` after midnight of 22 November 2026 (UTC, the test app's zone).
fn at(app: &mut chat_tui::app::App, from: &str, text: &str, minutes: u64) {
    const DAY_START_MS: u64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z
    common::net(
        app,
        protocol::ServerMsg::Message {
            account: false,
            id: uuid::Uuid::now_v7(),
            room: protocol::RoomName::lobby(),
            seq: common::next_seq(),
            from: common::nick(from),
            kind: protocol::MessageKind::Say,
            text: protocol::Text::parse(text).unwrap(),
            ts: DAY_START_MS + minutes * 60_000,
        },
    );
}

/// A new day gets a separator; a sender's consecutive messages within minutes are drawn as
/// one group, the nick shown once; another sender or a long pause starts a new group.
#[test]
fn day_separators_and_grouped_messages() {
    let mut app = app(80, 24);
    at(&mut app, "Tracy", "late night", 23 * 60 + 58);
    at(&mut app, "Tracy", "first of the day", 24 * 60 + 1);
    at(&mut app, "Tracy", "and more", 24 * 60 + 2);
    at(&mut app, "Alice", "hello", 24 * 60 + 3);
    at(&mut app, "Alice", "after a pause", 24 * 60 + 30);
    let screen = screen(&render(&app).0);
    assert!(screen.contains("── Sunday 22 November 2026"), "{screen}");
    assert!(screen.contains("── Monday 23 November 2026"), "{screen}");
    assert!(screen.contains("00:01 <Tracy> first of the day"), "{screen}");
    assert!(screen.contains("00:02         and more"), "{screen}");
    assert!(screen.contains("00:03 <Alice> hello"), "{screen}");
    assert!(screen.contains("00:30 <Alice> after a pause"), "{screen}");
}

/// F2 shows the member list beside the conversation when there is room, and hides it again;
/// the conversation wraps to the narrower pane.
#[test]
fn the_member_list_can_be_toggled() {
    let mut app = app(100, 24);
    for who in ["Tracy", "alice", "Bob"] {
        common::joined(&mut app, "lobby", who);
    }
    let wide = app.message_width();
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    let shown = screen(&buf);
    assert!(row(&buf, 0).contains("┐┌ 4 members ───"), "{shown}");
    for (y, who) in (1..).zip(["alice", "Bob", "Michael", "Tracy"]) {
        assert!(row(&buf, y).ends_with(&format!("││ {who:<18} │")), "{shown}");
    }
    assert!(app.message_width() < wide);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    assert_eq!(app.message_width(), wide);
    // Too narrow for it: not shown, and nothing breaks.
    let mut narrow = common::app(40, 20);
    narrow.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    assert!(!screen(&render(&narrow).0).contains("members"));
}
