//! The status line: the connection's state, whether it is encrypted (a lock for TLS, "not
//! encrypted" for clear text beyond this machine), server, nick (with a ✓ when logged in to
//! its account) and room, then every window with its unread count.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::entry::ACCOUNT_MARK;
use crate::event::Security;
use crate::link::Connection;

/// Shown before the server when the connection is TLS.
pub const LOCK: &str = "🔒";

pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let (state, color) = match app.link.state {
        Connection::Connecting => ("connecting", Color::Yellow),
        Connection::Connected => ("connected", Color::Yellow),
        Connection::Registered => ("online", Color::Green),
        Connection::Closed if app.link.reconnecting() => ("reconnecting", Color::Yellow),
        Connection::Closed => ("offline", Color::Red),
    };
    let room = app.windows.current_window().map_or_else(|| "-".to_owned(), |w| w.target.title());
    let mut spans =
        vec![Span::styled(format!(" {state} "), Style::new().fg(Color::Black).bg(color))];
    match app.link.security {
        Some(Security::Tls(_)) => spans.push(Span::raw(format!(" {LOCK}"))),
        Some(Security::Plain { loopback: false }) => {
            spans.push(Span::styled(" not encrypted", Style::new().fg(Color::Red).bold()));
        }
        Some(Security::Plain { loopback: true }) | None => {}
    }
    spans.push(Span::raw(format!(
        " {} · {}",
        sanitize(&app.settings.server),
        sanitize(app.link.nick.as_str()),
    )));
    // Logged in to the account: the same mark as its messages carry.
    if app.link.account {
        spans.push(Span::styled(format!(" {ACCOUNT_MARK}"), Style::new().fg(Color::Green).bold()));
    }
    spans.push(Span::raw(format!(" · {room} ·")));
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
