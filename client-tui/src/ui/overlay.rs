//! What is drawn over the panes: the question a multi-line paste asks, and the help.

use protocol::command::HELP;
use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::block;
use crate::paste::{PasteChoice, PendingPaste};

/// Rows of a paste shown in its prompt.
const PASTE_PREVIEW_ROWS: usize = 5;

/// The question a multi-line paste asks, with its first lines.
pub(super) fn draw_paste(frame: &mut Frame, area: Rect, paste: &PendingPaste) {
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
    lines.extend(PasteChoice::KEYS.iter().map(|(key, what)| key_row(key, what, 7)));
    popup(frame, area, &format!("paste of {} lines", paste.lines), lines, 64);
}

/// Widest the help overlay gets: its longest line, borders and padding included.
const HELP_WIDTH: u16 = 76;

/// The client's own commands and its keys, after the protocol's commands in the help.
const CLIENT_HELP: [(&str, &str); 12] = [
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
];

/// Every command and key, what each does.
pub(super) fn draw_help(frame: &mut Frame, area: Rect) {
    let lines: Vec<Line> =
        HELP.iter().chain(&CLIENT_HELP).map(|(key, what)| key_row(key, what, 19)).collect();
    popup(frame, area, "help", lines, HELP_WIDTH);
}

/// A row of a table of keys: the key in bold, padded to `width` columns, then what it does.
fn key_row(key: &str, what: &'static str, width: usize) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{key:<width$}"), Style::new().bold()), Span::raw(what)])
}

/// A box of `lines` (plus borders) centred in `area`, at most `max_width` wide.
fn popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'_>>, max_width: u16) {
    framed_popup(frame, area, block(format!(" {title} ")), lines, max_width);
}

/// [`popup`] in a frame of the caller's.
pub(super) fn framed_popup(
    frame: &mut Frame,
    area: Rect,
    framing: Block<'_>,
    lines: Vec<Line<'_>>,
    max_width: u16,
) {
    let width = area.width.min(max_width);
    let height = area.height.min(u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_add(2));
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(framing), popup);
}
