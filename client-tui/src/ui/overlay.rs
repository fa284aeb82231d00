//! What is drawn over the panes: the question a multi-line paste asks, and the help.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::block;
use crate::help::HelpLayout;
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

/// Every command and key, what each does: the rows of [`HelpLayout`] from `scroll` on, as
/// many as the box holds. When they do not all fit, the title says which are shown and how
/// to see the rest.
pub(super) fn draw_help(frame: &mut Frame, area: Rect, scroll: usize) {
    let help = HelpLayout::new(area);
    let first = scroll.min(help.max_scroll());
    let lines: Vec<Line> = help
        .rows
        .iter()
        .skip(first)
        .take(help.visible)
        .map(|row| {
            Line::from(vec![
                Span::styled(row.key.clone(), Style::new().bold()),
                Span::raw(row.text.clone()),
            ])
        })
        .collect();
    let title = if help.max_scroll() == 0 {
        " help ".to_owned()
    } else {
        let last = first + lines.len();
        format!(" help {}-{last} of {} · ↑↓ PgUp PgDn ", first + 1, help.rows.len())
    };
    frame.render_widget(Clear, help.area);
    frame.render_widget(Paragraph::new(lines).block(block(title)), help.area);
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
