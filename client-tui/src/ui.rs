//! Drawing: `draw(frame, &App)` paints the panes where [`crate::layout`] puts them. It only
//! reads the app.

use protocol::{Nick, sanitize};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use crate::app::{App, LogKind};
use crate::entry::{Entry, EntryKind};
use crate::layout::{self, Panes};
use crate::link::Connection;
use crate::wrap::wrap;

/// Nick colours: mid-tones from the 256-colour palette, readable on dark and light backgrounds
/// alike (no white, black, yellow or grey, which vanish on one of them).
const NICK_COLORS: [Color; 12] = [
    Color::Indexed(160), // red
    Color::Indexed(28),  // green
    Color::Indexed(26),  // blue
    Color::Indexed(127), // magenta
    Color::Indexed(30),  // teal
    Color::Indexed(130), // brown-orange
    Color::Indexed(91),  // purple
    Color::Indexed(166), // orange
    Color::Indexed(64),  // olive
    Color::Indexed(31),  // steel blue
    Color::Indexed(168), // pink
    Color::Indexed(97),  // violet
];

/// A stable colour per nick (the same in every window, every run).
pub fn nick_color(nick: &Nick) -> Color {
    // FNV-1a: stable across runs and platforms, unlike the std hasher. Its high bits mix
    // better than its low ones. Of the lower-cased nick, not its `key()`: the key folds
    // look-alikes together for uniqueness, which spreads colours worse and may change.
    let hash =
        nick.as_str().to_lowercase().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    NICK_COLORS[((hash >> 32) % NICK_COLORS.len() as u64) as usize]
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let panes = app.panes(area);
    if panes.too_small {
        frame.render_widget(Paragraph::new("terminal too small"), area);
        return;
    }
    if let Some(log) = panes.log {
        draw_log(frame, app, log);
    }
    draw_messages(frame, app, &panes);
    if let Some(area) = panes.members {
        draw_members(frame, app, area);
    }
    draw_input(frame, app, &panes);
    draw_status(frame, app, panes.status);
    if let Some(paste) = &app.composer.paste {
        draw_paste(frame, area, paste);
    } else if app.view.show_help {
        draw_help(frame, area);
    }
}

/// A pane's frame with its title.
fn block(title: String) -> Block<'static> {
    layout::frame().title(Span::styled(title, Style::new().bold()))
}

/// Paints `rows` bottom-aligned in `area`, the last row at the bottom.
fn bottom_aligned(frame: &mut Frame, area: Rect, rows: Vec<Line<'_>>) {
    let height = area.height as usize;
    let skip = rows.len().saturating_sub(height);
    let pad = height.saturating_sub(rows.len());
    let mut lines: Vec<Line> = vec![Line::default(); pad];
    lines.extend(rows.into_iter().skip(skip));
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_log(frame: &mut Frame, app: &App, area: Rect) {
    let inner = layout::inside(area);
    let width = inner.width as usize;
    let mut rows = Vec::new();
    for line in app.log.iter().rev() {
        let style = match line.kind {
            LogKind::Info => Style::new(),
            LogKind::Good => Style::new().fg(Color::Green),
            LogKind::Error => Style::new().fg(Color::Red),
        };
        let indent = line.time.width() + 1;
        let text_rows = wrap(&line.text, width.saturating_sub(indent).max(1));
        let mut lines: Vec<Line> = text_rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let lead = if i == 0 { format!("{} ", line.time) } else { " ".repeat(indent) };
                Line::from(vec![
                    Span::styled(lead, Style::new().fg(Color::DarkGray)),
                    Span::styled(row, style),
                ])
            })
            .collect();
        lines.reverse();
        rows.extend(lines);
        if rows.len() >= inner.height as usize {
            break;
        }
    }
    rows.reverse();
    frame.render_widget(block(" connection ".into()), area);
    bottom_aligned(frame, inner, rows);
}

/// How an entry is drawn besides its own content.
#[derive(Debug, Clone, Copy)]
struct Look {
    /// It continues the entry before (same sender, soon after): the nick is not repeated.
    grouped: bool,
    /// Nick colours on.
    colors: bool,
}

/// The rows of one entry at `width`, styled.
fn entry_lines(entry: &Entry, width: usize, look: Look) -> Vec<Line<'_>> {
    let time = Span::styled(format!("{} ", entry.time), Style::new().fg(Color::DarkGray));
    let nick = |from: &Nick| {
        if look.colors { Style::new().fg(nick_color(from)) } else { Style::new() }
    };
    let (label_style, text_style) = match (entry.kind, &entry.from) {
        (EntryKind::Say, Some(from)) => (nick(from).bold(), Style::new()),
        (EntryKind::Action, Some(from)) => {
            (nick(from).italic(), Style::new().add_modifier(Modifier::ITALIC))
        }
        (EntryKind::Day, _) => (Style::new().bold(), Style::new().bold()),
        (EntryKind::Error, _) => (Style::new().fg(Color::Red).bold(), Style::new().fg(Color::Red)),
        (EntryKind::Marker, _) => (
            Style::new().fg(Color::Yellow),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::ITALIC),
        ),
        _ => (Style::new().fg(Color::DarkGray), Style::new().fg(Color::DarkGray)),
    };
    // History is drawn dimmed: visibly earlier than the live conversation.
    let (label_style, text_style) = if entry.earlier {
        (label_style.add_modifier(Modifier::DIM), text_style.add_modifier(Modifier::DIM))
    } else {
        (label_style, text_style)
    };
    // A mention of us stands out: its nick reversed, its text bold.
    let (label_style, text_style) = if entry.mention {
        (label_style.add_modifier(Modifier::REVERSED), text_style.add_modifier(Modifier::BOLD))
    } else {
        (label_style, text_style)
    };
    let label = if look.grouped {
        // The same columns, so the entry's height (and the row index) does not change.
        Span::raw(" ".repeat(entry.label().width()))
    } else {
        Span::styled(entry.label(), label_style)
    };
    let rows = entry.text_rows(width);
    match entry.indent(width) {
        Some(indent) => rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let lead = if i == 0 {
                    vec![time.clone(), label.clone()]
                } else {
                    vec![Span::raw(" ".repeat(indent))]
                };
                Line::from([lead, vec![Span::styled(row, text_style)]].concat())
            })
            .collect(),
        None => {
            // The head's first row starts with the time (ASCII, and always on the first row).
            let time_len = time.content.len();
            let mut lines: Vec<Line> = entry
                .head_rows(width)
                .into_iter()
                .enumerate()
                .map(|(i, row)| match row.split_at_checked(time_len) {
                    Some((t, rest)) if i == 0 => Line::from(vec![
                        Span::styled(t.to_owned(), time.style),
                        Span::styled(rest.to_owned(), label_style),
                    ]),
                    _ => Line::from(Span::styled(row, label_style)),
                })
                .collect();
            lines.extend(rows.into_iter().map(|row| Line::from(Span::styled(row, text_style))));
            lines
        }
    }
}

fn draw_messages(frame: &mut Frame, app: &App, panes: &Panes) {
    let inner = panes.messages_inner();
    let Some(window) = app.windows.current_window() else {
        let text = match app.link.state {
            Connection::Closed => "not connected",
            _ => "waiting for the server...",
        };
        if panes.bordered {
            frame.render_widget(block(" chat ".into()), panes.messages);
        }
        frame.render_widget(Paragraph::new(text).fg(Color::DarkGray), inner);
        return;
    };
    let width = inner.width as usize;
    // Scrolled up, the entries wholly below the view are skipped without being wrapped.
    let (below, rows_below) =
        if window.scroll > 0 { window.entries_below(window.scroll, width) } else { (0, 0) };
    let scroll = window.scroll - rows_below;
    let wanted = inner.height as usize + scroll;
    let mut rows: Vec<Line> = Vec::new();
    let entries = window.entries();
    let colors = app.settings.colors;
    for i in (0..entries.len().saturating_sub(below)).rev() {
        let entry = &entries[i];
        let grouped = i > 0 && entry.continues(&entries[i - 1]);
        let mut lines = entry_lines(entry, width, Look { grouped, colors });
        lines.reverse();
        rows.extend(lines);
        if rows.len() >= wanted {
            break;
        }
    }
    // `rows` runs bottom-up; drop the rows below the scroll position, then turn it around.
    let scroll = scroll.min(rows.len());
    let mut rows: Vec<Line> = rows.into_iter().skip(scroll).collect();
    rows.reverse();
    if panes.bordered {
        let mut title = format!(" {} ", window.target.title());
        if window.loading {
            title.push_str("[loading earlier messages...] ");
        } else if window.scroll > 0 {
            title.push_str(&format!("[scrolled up {} rows; PgDn] ", window.scroll));
        }
        frame.render_widget(block(title), panes.messages);
    }
    bottom_aligned(frame, inner, rows);
}

/// The current room's members, alphabetically, each in its colour.
fn draw_members(frame: &mut Frame, app: &App, area: Rect) {
    let Some(window) = app.windows.current_window() else { return };
    let title = format!(" {} members ", window.members.len());
    let inner = layout::inside(area);
    let mut nicks: Vec<&Nick> = window.members.iter().collect();
    nicks.sort_by_key(|n| n.as_str().to_lowercase());
    let width = inner.width as usize;
    let lines: Vec<Line> = nicks
        .into_iter()
        .take(inner.height as usize)
        .map(|n| {
            let shown = sanitize(n.as_str()).into_owned();
            // Cut to the pane at a character boundary that fits its columns.
            let mut cut = String::new();
            for c in shown.chars() {
                if cut.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) > width {
                    break;
                }
                cut.push(c);
            }
            let style =
                if app.settings.colors { Style::new().fg(nick_color(n)) } else { Style::new() };
            Line::styled(cut, style)
        })
        .collect();
    frame.render_widget(block(title), area);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_input(frame: &mut Frame, app: &App, panes: &Panes) {
    let (area, prompt) = if panes.bordered {
        frame.render_widget(block(format!(" {} ", sanitize(app.link.nick.as_str()))), panes.input);
        (layout::inside(panes.input), "")
    } else {
        (panes.input, "> ")
    };
    let prompt_width = prompt.width() as u16;
    let text_width = area.width.saturating_sub(prompt_width) as usize;
    let (shown, column) = app.composer.input.view(text_width);
    frame
        .render_widget(Paragraph::new(Line::from(vec![Span::raw(prompt), Span::raw(shown)])), area);
    if !app.view.show_help {
        let x = area.x + prompt_width + u16::try_from(column).unwrap_or(0);
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let (state, color) = match app.link.state {
        Connection::Connecting => ("connecting", Color::Yellow),
        Connection::Connected => ("connected", Color::Yellow),
        Connection::Registered => ("online", Color::Green),
        Connection::Closed if app.link.reconnecting() => ("reconnecting", Color::Yellow),
        Connection::Closed => ("offline", Color::Red),
    };
    let room = app.windows.current_window().map_or_else(|| "-".to_owned(), |w| w.target.title());
    let mut spans = vec![
        Span::styled(format!(" {state} "), Style::new().fg(Color::Black).bg(color)),
        Span::raw(format!(
            " {} · {} · {} ·",
            sanitize(&app.settings.server),
            sanitize(app.link.nick.as_str()),
            room
        )),
    ];
    for (i, w) in app.windows.iter().enumerate() {
        spans.push(Span::raw(" "));
        let mut label = format!("{}:{}", i + 1, w.target.title());
        if w.highlights > 0 {
            label.push_str(&format!("({}!)", w.unread));
        } else if w.unread > 0 {
            label.push_str(&format!("({})", w.unread));
        }
        let style = if i == app.windows.current {
            Style::new().bold().add_modifier(Modifier::REVERSED)
        } else if w.highlights > 0 {
            Style::new().fg(Color::Magenta).bold().add_modifier(Modifier::UNDERLINED)
        } else if w.unread > 0 {
            Style::new().fg(Color::Yellow).bold()
        } else {
            Style::new()
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A box of `lines` (plus borders) centred in `area`, at most `max_width` wide.
fn popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'_>>, max_width: u16) {
    let width = area.width.min(max_width);
    let height = area.height.min(u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2));
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block(format!(" {title} "))), popup);
}

/// Rows of a paste shown in its prompt.
const PASTE_PREVIEW_ROWS: usize = 5;

/// The question a multi-line paste asks, with its first lines.
fn draw_paste(frame: &mut Frame, area: Rect, paste: &crate::paste::PendingPaste) {
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines: Vec<Line> = paste
        .text
        .lines()
        .take(PASTE_PREVIEW_ROWS)
        .map(|l| Line::styled(format!("│ {}", sanitize(l)), dim))
        .collect();
    if paste.lines > PASTE_PREVIEW_ROWS {
        lines.push(Line::styled(format!("│ ... {} more", paste.lines - PASTE_PREVIEW_ROWS), dim));
    }
    if paste.cut > 0 {
        lines.push(Line::styled(format!("({} bytes past the limit left out)", paste.cut), dim));
    }
    lines.push(Line::default());
    for (key, what) in crate::paste::PasteChoice::KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("{key:<7}"), Style::new().bold()),
            Span::raw(what),
        ]));
    }
    popup(frame, area, &format!("paste of {} lines", paste.lines), lines, 64);
}

/// Widest the help overlay gets: its longest line, borders and padding included.
const HELP_WIDTH: u16 = 72;

fn draw_help(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = protocol::command::HELP
        .iter()
        .map(|(usage, what)| {
            Line::from(vec![
                Span::styled(format!("{usage:<16}"), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    for (key, what) in [
        ("/members", "show or hide the member list (also F2)"),
        ("/connect", "reconnect now instead of waiting"),
        ("", ""),
        ("Alt+1..9", "show window 1..9"),
        ("Ctrl+N / Ctrl+P", "next / previous window"),
        ("Alt+A", "next window with activity, mentions first"),
        ("Tab / Shift+Tab", "complete nick, command, room; cycle"),
        ("PgUp / PgDn", "scroll (or the mouse wheel)"),
        ("Up / Down", "recall sent lines"),
        ("Ctrl+A/E/U/W", "start, end, clear, delete word"),
        ("F1 / Esc", "toggle / close this help"),
        ("Ctrl+C", "quit"),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("{key:<16}"), Style::new().bold()),
            Span::raw(what),
        ]));
    }
    popup(frame, area, "help", lines, HELP_WIDTH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_colours_are_stable_and_spread() {
        let nick = |s| Nick::parse(s).unwrap();
        assert_eq!(nick_color(&nick("Michael")), nick_color(&nick("MICHAEL")));
        let names =
            ["Michael", "Tracy", "Guest", "Alice", "Bob", "Carol", "Dave", "Eve", "小明", "Zoë"];
        let distinct: std::collections::HashSet<_> =
            names.iter().map(|n| nick_color(&nick(n))).collect();
        assert!(distinct.len() >= 7, "only {} colours for {} names", distinct.len(), names.len());
        assert_ne!(nick_color(&nick("Michael")), nick_color(&nick("Tracy")));
    }
}
