//! The input pane: the line being typed, scrolled to keep the cursor in view, and the cursor.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::block;
use crate::app::App;
use crate::layout::{self, Panes};

pub(super) fn draw(frame: &mut Frame, app: &App, panes: &Panes) {
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
