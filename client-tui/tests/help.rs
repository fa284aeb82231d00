//! The help lists every command, the room commands included, and scrolls when it is taller
//! than the screen; Tab completes the new command names, and nicks after the commands about
//! a member.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::app::App;
use chat_tui::event::Event;
use chat_tui::help::{CLIENT_HELP, HelpLayout};
use common::{app, joined, render, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::command::HELP;

fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Every screen of the help from the top, PgDn after PgDn, until the last row is shown.
fn every_page(app: &mut App) -> Vec<String> {
    key(app, KeyCode::F(1));
    let mut pages = vec![screen(&render(app).0)];
    for _ in 0..50 {
        let before = app.view.help_scroll;
        key(app, KeyCode::PageDown);
        if app.view.help_scroll == before {
            break;
        }
        pages.push(screen(&render(app).0));
    }
    pages
}

/// At 80x24 and 40x12, scrolling the help shows every entry, each key whole; the title says
/// which rows are shown.
#[test]
fn the_help_scrolls_through_every_command() {
    for (width, height) in [(80, 24), (40, 12)] {
        let mut app = app(width, height);
        let pages = every_page(&mut app);
        assert!(pages.len() > 1, "{width}x{height}: taller than the screen, so it scrolls");
        assert!(pages[0].contains(" help 1-"), "{}", pages[0]);
        let all = pages.join("\n");
        for (key, _) in HELP.iter().chain(&CLIENT_HELP).filter(|(k, _)| !k.is_empty()) {
            assert!(all.contains(key), "{width}x{height}: {key} never shown:\n{all}");
        }
        let help = HelpLayout::new(app.view.size);
        let last = pages.last().unwrap();
        assert!(last.contains(&format!(" of {} ", help.rows.len())), "{last}");
        assert!(last.contains("Ctrl+C"), "{width}x{height}: the end is reachable:\n{last}");
        assert_eq!(app.view.help_scroll, help.max_scroll(), "PgDn stops at the end");
    }
}

/// Up, Down, Home, End and the wheel move through the help while it is open; Esc closes it
/// and it opens again at the top; closed, Up recalls lines again.
#[test]
fn keys_move_through_the_open_help_and_close_it() {
    let mut app = app(80, 24);
    key(&mut app, KeyCode::F(1));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.view.help_scroll, 2);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.view.help_scroll, 1);
    key(&mut app, KeyCode::End);
    let end = app.view.help_scroll;
    assert_eq!(end, HelpLayout::new(app.view.size).max_scroll());
    key(&mut app, KeyCode::Down);
    assert_eq!(app.view.help_scroll, end, "no further than the end");
    app.update(Event::Scroll(3));
    assert_eq!(app.view.help_scroll, end - 3, "the wheel scrolls the help");
    key(&mut app, KeyCode::Home);
    assert_eq!(app.view.help_scroll, 0);
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Esc);
    assert!(!app.view.show_help);
    for c in "/help".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert!(app.view.show_help);
    assert_eq!(app.view.help_scroll, 0, "opens at the top");
    assert!(screen(&render(&app).0).contains("/join ROOM"));
}

/// `/to`, `/ki`, `/dev`, `/unb` complete to the room commands, those named only in the help's
/// descriptions too.
#[test]
fn tab_completes_the_room_commands() {
    let mut app = app(80, 24);
    for (typed_text, want) in [
        ("/to", "/topic "),
        ("/ki", "/kick "),
        ("/kic", "/kick "),
        ("/mo", "/mode "),
        ("/dev", "/devoice "),
        ("/unb", "/unban "),
        ("/cl", "/claim "),
        ("/gb", "/gban "),
    ] {
        app.composer.input.set("");
        typed(&mut app, typed_text);
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.composer.input.as_str(), want, "{typed_text}");
    }
    // /ki is /kick, then /kill.
    app.composer.input.set("");
    typed(&mut app, "/ki");
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/kill ");
}

/// After `/kick`, `/ban`, `/mute`, `/op`, `/voice` a nick of the room completes; after
/// `/invite`, anyone known (from another room), then a room.
#[test]
fn tab_completes_nicks_after_the_room_commands() {
    let mut app = app(80, 24);
    joined(&mut app, "lobby", "Tracy");
    typed(&mut app, "/join rust");
    key(&mut app, KeyCode::Enter);
    joined(&mut app, "rust", "Michael");
    joined(&mut app, "rust", "Trevor");
    for command in ["/kick", "/ban", "/mute", "/op", "/voice", "/deop"] {
        app.composer.input.set("");
        typed(&mut app, &format!("{command} tr"));
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.composer.input.as_str(), format!("{command} Trevor "), "{command}");
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.composer.input.as_str(), format!("{command} Trevor "), "only the room's");
    }
    app.composer.input.set("");
    typed(&mut app, "/invite tr");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/invite Tracy ", "Tracy is in lobby, not here");
    typed(&mut app, "ru");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.composer.input.as_str(), "/invite Tracy rust ");
}

/// Every short name the command parser takes (`/j`, `/part`, `/list`, `/names`, `/q` and the
/// rest) is named in the help, so that IRC habits are found there.
#[test]
fn every_short_name_the_parser_takes_is_in_the_help() {
    let words: std::collections::HashSet<&str> = HELP
        .iter()
        .chain(&CLIENT_HELP)
        .flat_map(|(key, text)| [*key, *text])
        .flat_map(|s| s.split([' ', ',', '(', ')']))
        .collect();
    let aliases = [
        ("/j", "rust"),
        ("/part", ""),
        ("/list", ""),
        ("/names", ""),
        ("/m", "Tracy hi"),
        ("/query", "Tracy hi"),
        ("/t", ""),
        ("/k", "Tracy"),
        ("/q", ""),
        ("/quit", ""),
        ("/h", ""),
        ("/?", ""),
        ("/reconnect", ""),
    ];
    for (alias, args) in aliases {
        if alias != "/reconnect" {
            let line = format!("{alias} {args}");
            assert!(protocol::command::parse(line.trim()).is_ok(), "{alias}: the parser takes it");
        }
        assert!(words.contains(alias), "{alias} is not in the help");
    }
}
