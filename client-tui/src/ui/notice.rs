//! The notice above the input: one row, shown only while the connection is not up and the
//! server window is not the one shown, so that what is wrong (and what happens next) is seen
//! from any window. It goes away when the connection is back; the server window keeps the
//! whole story.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::fit;
use crate::app::App;
use crate::entry::{Entry, EntryKind};

/// Between the notice's parts.
const SEPARATOR: &str = " · ";

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some((wrong, newest)) = app.notice() else { return };
    let width = area.width as usize;
    let text: String = wrong
        .into_iter()
        .chain([newest])
        .map(|e| e.text.lines().next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(SEPARATOR);
    let style = |e: &Entry| match e.kind {
        EntryKind::Error => Style::new().fg(Color::Red).bold(),
        _ => Style::new().fg(Color::Yellow),
    };
    let lead = Span::styled("! ", style(wrong.unwrap_or(newest)));
    let text = fit(&text, width.saturating_sub(2), true);
    let line = Line::from(vec![lead, Span::styled(text, style(wrong.unwrap_or(newest)))]);
    frame.render_widget(Paragraph::new(line), area);
}
