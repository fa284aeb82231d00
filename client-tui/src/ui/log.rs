//! The connection pane: the newest lines of the connection log, time first, wrapped under a
//! hanging indent.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::{block, bottom_aligned, bottom_rows};
use crate::app::{App, LogKind, LogLine};
use crate::layout;
use crate::wrap::wrap;

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let inner = layout::inside(area);
    let width = inner.width as usize;
    let rows =
        bottom_rows(app.log.iter().rev(), inner.height as usize, 0, |line| log_lines(line, width));
    frame.render_widget(block(" connection ".into()), area);
    bottom_aligned(frame, inner, rows);
}

/// The rows of one log line at `width`, styled by its kind.
fn log_lines(line: &LogLine, width: usize) -> Vec<Line<'_>> {
    let style = match line.kind {
        LogKind::Info => Style::new(),
        LogKind::Good => Style::new().fg(Color::Green),
        LogKind::Error => Style::new().fg(Color::Red),
    };
    let indent = line.time.width() + 1;
    wrap(&line.text, width.saturating_sub(indent).max(1))
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let lead = if i == 0 { format!("{} ", line.time) } else { " ".repeat(indent) };
            Line::from(vec![
                Span::styled(lead, Style::new().fg(Color::DarkGray)),
                Span::styled(row, style),
            ])
        })
        .collect()
}
