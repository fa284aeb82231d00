//! The member list beside the conversation: the current room's members, ranked as IRC
//! clients rank them (owner `~`, operators `@`, voiced `+`, then members), each in its colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{block, fit, nick_style};
use crate::app::App;
use crate::layout;

/// The current room's members, by role then alphabetically, each marked and in its colour.
pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(window) = app.windows.current_window() else { return };
    let title = format!(" {} members ", window.members.len());
    let inner = layout::inside(area);
    let width = inner.width as usize;
    let lines: Vec<Line> = window
        .room
        .ranked(&window.members)
        .into_iter()
        .take(inner.height as usize)
        .map(|(role, n)| {
            let mark = role.mark();
            // Cut to the pane at a character boundary that fits its columns.
            let shown =
                fit(&protocol::sanitize(n.as_str()), width.saturating_sub(mark.width()), false);
            Line::from(vec![
                Span::styled(mark, Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(shown, nick_style(n, &app.link.nick, app.settings.colors)),
            ])
        })
        .collect();
    frame.render_widget(block(title), area);
    frame.render_widget(Paragraph::new(lines), inner);
}
