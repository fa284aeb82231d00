//! The member list beside the conversation: the current room's members, each in its colour.

use protocol::{Nick, sanitize};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{block, nick_style};
use crate::app::App;
use crate::layout;

/// The current room's members, alphabetically, each in its colour.
pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
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
                if cut.width() + c.width().unwrap_or(0) > width {
                    break;
                }
                cut.push(c);
            }
            Line::styled(cut, nick_style(n, app.settings.colors))
        })
        .collect();
    frame.render_widget(block(title), area);
    frame.render_widget(Paragraph::new(lines), inner);
}
