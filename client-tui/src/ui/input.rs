//! The input pane: the line being typed, scrolled to keep the cursor in view, and the cursor.
//! A password is never drawn: the password prompt shows an asterisk per character typed, and
//! the arguments of `/register`, `/passwd` and `/unregister` are drawn as asterisks too.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr};

use super::block;
use crate::app::App;
use crate::layout::{self, Panes};
use crate::login::{PasswordPrompt, secret_command};

pub(super) fn draw(frame: &mut Frame, app: &App, panes: &Panes) {
    let (area, prompt) = if panes.bordered {
        let nick = sanitize(app.link.nick.as_str());
        // Lines going out one by one say how far they are, in place of `!! slow down`s.
        let title = match app.sending_progress() {
            Some(progress) => format!(" {nick} · {progress} "),
            None => format!(" {nick} "),
        };
        frame.render_widget(block(title), panes.input);
        (layout::inside(panes.input), "")
    } else {
        (panes.input, "> ")
    };
    if let Some(login) = &app.link.login {
        draw_password_prompt(frame, area, login);
        return;
    }
    let prompt_width = prompt.width() as u16;
    let text_width = area.width.saturating_sub(prompt_width) as usize;
    let input = &app.composer.input;
    let (range, column) = input.view_range(text_width);
    let shown = match secret_command(input.as_str()) {
        Some(secret) => masked(input.as_str(), range, secret),
        None => input.as_str()[range].to_owned(),
    };
    frame
        .render_widget(Paragraph::new(Line::from(vec![Span::raw(prompt), Span::raw(shown)])), area);
    if !app.view.show_help {
        let x = area.x + prompt_width + u16::try_from(column).unwrap_or(0);
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

/// The part `range` of `line`, every character from byte `secret` on (but spaces) drawn as
/// asterisks of its width: the columns, and so the cursor, stay where they were.
fn masked(line: &str, range: std::ops::Range<usize>, secret: usize) -> String {
    let start = range.start;
    line[range]
        .char_indices()
        .map(|(i, c)| {
            if start + i < secret || c == ' ' {
                c.to_string()
            } else {
                "*".repeat(c.width().unwrap_or(0))
            }
        })
        .collect()
}

/// "Password for Michael: ********", an asterisk per character typed (the newest ones when
/// they do not fit), the cursor after them.
fn draw_password_prompt(frame: &mut Frame, area: ratatui::layout::Rect, login: &PasswordPrompt) {
    let label = login.label();
    let room = (area.width as usize).saturating_sub(label.width() + 1);
    let stars = "*".repeat(login.len().min(room));
    let width = label.width() + stars.len();
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(label, Style::new().bold()),
            Span::raw(stars),
        ])),
        area,
    );
    let x = area.x.saturating_add(u16::try_from(width).unwrap_or(u16::MAX));
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
}
