//! The conversation pane: the current window's entries, wrapped under a hanging indent,
//! bottom-aligned, scrolled, with the window's title and state on its border.

use protocol::Nick;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{block, bottom_aligned, bottom_rows, fit, nick_style};
use crate::app::App;
use crate::entry::{ACCOUNT_MARK, Entry, EntryKind};
use crate::layout::Panes;
use crate::link::Connection;

/// How an entry is drawn besides its own content.
#[derive(Debug, Clone, Copy)]
struct Look<'a> {
    /// Our nick: drawn in its fixed colour.
    me: &'a Nick,
    /// It continues the entry before (same sender, soon after): the nick is not repeated.
    grouped: bool,
    /// Nick colours on.
    colors: bool,
}

/// The rows of one entry at `width`, styled.
fn entry_lines<'e>(entry: &'e Entry, width: usize, look: Look) -> Vec<Line<'e>> {
    let time = Span::styled(format!("{} ", entry.time), Style::new().fg(Color::DarkGray));
    let nick = |from: &Nick| nick_style(from, look.me, look.colors);
    let (mut label_style, mut text_style) = match (entry.kind, &entry.from) {
        (EntryKind::Say, Some(from)) => (nick(from).bold(), Style::new()),
        (EntryKind::Action, Some(from)) => {
            (nick(from).italic(), Style::new().add_modifier(Modifier::ITALIC))
        }
        (EntryKind::Day, _) => (Style::new().bold(), Style::new().bold()),
        (EntryKind::Error, _) => (Style::new().fg(Color::Red).bold(), Style::new().fg(Color::Red)),
        (EntryKind::Good, _) => (Style::new().fg(Color::DarkGray), Style::new().fg(Color::Green)),
        (EntryKind::Marker, _) => (
            Style::new().fg(Color::Yellow),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::ITALIC),
        ),
        _ => (Style::new().fg(Color::DarkGray), Style::new().fg(Color::DarkGray)),
    };
    // History is drawn dimmed: visibly earlier than the live conversation; so is what is
    // left of a deleted message.
    if entry.earlier || entry.deleted {
        label_style = label_style.add_modifier(Modifier::DIM);
        text_style = text_style.add_modifier(Modifier::DIM);
    }
    // A mention of us stands out: its nick reversed, its text bold.
    if entry.mention {
        label_style = label_style.add_modifier(Modifier::REVERSED);
        text_style = text_style.add_modifier(Modifier::BOLD);
    }
    let label = if look.grouped {
        // The same columns, so the entry's height (and the row index) does not change.
        vec![Span::raw(" ".repeat(entry.label().width()))]
    } else {
        label_spans(entry.label(), label_style, look.colors)
    };
    let rows = entry.text_rows(width);
    match entry.indent(width) {
        Some(indent) => rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let lead = if i == 0 {
                    [vec![time.clone()], label.clone()].concat()
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

/// The label's spans: an account's mark ([`ACCOUNT_MARK`]) stands out from the nick in
/// green when colours are on.
fn label_spans(label: String, style: Style, colors: bool) -> Vec<Span<'static>> {
    match label.split_once(ACCOUNT_MARK) {
        Some((nick, rest)) if colors => {
            let mark = style.fg(Color::Green).add_modifier(Modifier::BOLD);
            vec![
                Span::styled(nick.to_owned(), style),
                Span::styled(ACCOUNT_MARK.to_string(), mark),
                Span::styled(rest.to_owned(), style),
            ]
        }
        _ => vec![Span::styled(label, style)],
    }
}

pub(super) fn draw(frame: &mut Frame, app: &App, panes: &Panes) {
    let inner = panes.messages_inner();
    let Some(window) = app.windows.current_window() else {
        let text = match (app.link.state, &app.link.nick_trouble) {
            (_, Some(trouble)) => trouble.as_str(),
            (Connection::Closed, None) => "not connected",
            _ => "waiting for the server...",
        };
        if panes.bordered {
            frame.render_widget(block(" chat ".into()), panes.messages);
        }
        let text = Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: false });
        frame.render_widget(text.fg(Color::DarkGray), inner);
        return;
    };
    let width = inner.width as usize;
    // Scrolled up, the entries wholly below the view are skipped without being wrapped.
    let (below, rows_below) =
        if window.scroll > 0 { window.entries_below(window.scroll, width) } else { (0, 0) };
    let scroll = window.scroll - rows_below;
    let entries = window.entries();
    let colors = app.settings.colors;
    let newest_first = (0..entries.len().saturating_sub(below)).rev();
    let rows = bottom_rows(newest_first, inner.height as usize, scroll, |i| {
        let entry = &entries[i];
        let grouped = i > 0 && entry.continues(&entries[i - 1]);
        entry_lines(entry, width, Look { me: &app.link.nick, grouped, colors })
    });
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
    if let (Some(area), Some(topic)) = (panes.topic, window.room.topic()) {
        draw_topic(frame, area, topic);
    }
}

/// The room's topic (sanitised, on one line) on its row above the conversation: cut to the
/// row, never wrapped, reversed across the whole row so that it reads as a header.
fn draw_topic(frame: &mut Frame, area: Rect, topic: &str) {
    let text = fit(topic, area.width as usize, true);
    let style = Style::new().add_modifier(Modifier::REVERSED);
    frame.render_widget(Paragraph::new(text).style(style), area);
}
