//! The notice above the input: one row, shown only while the connection is not up and the
//! server window is not the one shown, so that what is wrong (and what happens next) is seen
//! from any window. It goes away when the connection is back; the server window keeps the
//! whole story.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::fit;
use crate::app::App;
use crate::entry::{Entry, EntryKind};

/// Between the notice's parts.
const SEPARATOR: &str = " · ";
/// Before the notice.
const LEAD: &str = "! ";
/// Fewest columns worth giving what went wrong before the newest line; with fewer, the
/// newest line (what happens next) is shown alone.
const MIN_WRONG_COLUMNS: usize = 16;

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some((wrong, newest)) = app.notice() else { return };
    let width = (area.width as usize).saturating_sub(LEAD.width());
    let first_line = |e: &Entry| e.text.lines().next().unwrap_or_default().to_owned();
    let next = first_line(newest);
    // What happens next is kept whole if it can be; what went wrong has the rest.
    let room = width.saturating_sub(next.width() + SEPARATOR.width());
    let text = match wrong {
        Some(wrong) if room >= MIN_WRONG_COLUMNS => {
            format!("{}{SEPARATOR}{next}", fit(&first_line(wrong), room, true))
        }
        _ => next,
    };
    let style = match wrong.unwrap_or(newest).kind {
        EntryKind::Error => Style::new().fg(Color::Red).bold(),
        _ => Style::new().fg(Color::Yellow),
    };
    let line =
        Line::from(vec![Span::styled(LEAD, style), Span::styled(fit(&text, width, true), style)]);
    frame.render_widget(Paragraph::new(line), area);
}
