//! The status line: the connection's state, server, nick and room, then every window with
//! its unread count.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::link::Connection;

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let (state, color) = match app.link.state {
        Connection::Connecting => ("connecting", Color::Yellow),
        Connection::Connected => ("connected", Color::Yellow),
        Connection::Registered => ("online", Color::Green),
        Connection::Closed if app.link.reconnecting() => ("reconnecting", Color::Yellow),
        Connection::Closed => ("offline", Color::Red),
    };
    let room = app.windows.current_window().map_or_else(|| "-".to_owned(), |w| w.target.title());
    let mut spans = vec![
        Span::styled(format!(" {state} "), Style::new().fg(Color::Black).bg(color)),
        Span::raw(format!(
            " {} · {} · {} ·",
            sanitize(&app.settings.server),
            sanitize(app.link.nick.as_str()),
            room
        )),
    ];
    for (i, w) in app.windows.iter().enumerate() {
        spans.push(Span::raw(" "));
        let mut label = format!("{}:{}", i + 1, w.target.title());
        if w.highlights > 0 {
            label.push_str(&format!("({}!)", w.unread));
        } else if w.unread > 0 {
            label.push_str(&format!("({})", w.unread));
        }
        let style = if i == app.windows.current {
            Style::new().bold().add_modifier(Modifier::REVERSED)
        } else if w.highlights > 0 {
            Style::new().fg(Color::Magenta).bold().add_modifier(Modifier::UNDERLINED)
        } else if w.unread > 0 {
            Style::new().fg(Color::Yellow).bold()
        } else {
            Style::new()
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
