//! The status line: the connection's state, whether it is encrypted (a lock for TLS, "not
//! encrypted" for clear text beyond this machine), server, nick (with a ✓ when logged in to
//! its account) and room, then every window with its activity ([`super::window_list`]).
//! When the windows do not fit, the server's address and the room go first, and, rather than
//! fold windows into "+N", the nick when the input's border shows it: the windows' activity
//! matters more than what the person already knows.

use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::window_list;
use crate::app::App;
use crate::entry::ACCOUNT_MARK;
use crate::event::Security;
use crate::link::Connection;

/// Shown before the server when the connection is TLS.
pub const LOCK: &str = "🔒";

/// How much comes before the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// The state, the server's address, the nick, the room shown.
    Full,
    /// The state and the nick.
    NoAddress,
    /// The state alone: the nick is on the input's border.
    Bare,
}

/// `bordered`: the input has a border, which names the nick and the progress of lines going
/// out one by one; without it, that progress comes after the state here.
pub(super) fn draw(frame: &mut Frame, app: &App, area: Rect, bordered: bool) {
    let width = area.width as usize;
    let progress = app.sending_progress().filter(|_| !bordered);
    let head = |level| {
        let mut spans = head(app, level);
        if let Some(progress) = &progress {
            // After the state and its lock or warning, which must stay in view.
            let warned = matches!(
                app.link.security,
                Some(Security::Tls(_) | Security::Plain { loopback: false })
            );
            let at = (1 + usize::from(warned)).min(spans.len());
            spans.insert(at, Span::styled(format!(" {progress}"), Style::new().fg(Color::Yellow)));
        }
        spans
    };
    let full = head(Head::Full);
    let short = head(Head::NoAddress);
    let whole = window_list::whole_width(app.windows.iter());
    let shortest = window_list::shortest_width(app.windows.iter());
    let head = if columns(&full) + whole <= width {
        full
    } else if columns(&short) + shortest <= width || !bordered {
        short
    } else {
        head(Head::Bare)
    };
    let left = width.saturating_sub(columns(&head));
    let list = window_list::spans(app.windows.iter(), app.windows.current, left);
    let spans = [head, list].concat();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Columns `spans` take.
fn columns(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// What comes before the windows: the state, the lock or warning, and as much as `level`
/// says.
fn head(app: &App, level: Head) -> Vec<Span<'static>> {
    let (state, color) = match app.link.state {
        Connection::Connecting => ("connecting", Color::Yellow),
        Connection::Connected => ("connected", Color::Yellow),
        Connection::Registered => ("online", Color::Green),
        Connection::Closed if app.link.reconnecting() => ("reconnecting", Color::Yellow),
        Connection::Closed => ("offline", Color::Red),
    };
    let mut spans =
        vec![Span::styled(format!(" {state} "), Style::new().fg(Color::Black).bg(color))];
    match app.link.security {
        Some(Security::Tls(_)) => spans.push(Span::raw(format!(" {LOCK}"))),
        Some(Security::Plain { loopback: false }) => {
            spans.push(Span::styled(" not encrypted", Style::new().fg(Color::Red).bold()));
        }
        Some(Security::Plain { loopback: true }) | None => {}
    }
    let nick = sanitize(app.link.nick.as_str()).into_owned();
    match level {
        Head::Full => {
            spans.push(Span::raw(format!(" {} · {nick}", sanitize(&app.settings.server))))
        }
        Head::NoAddress => spans.push(Span::raw(format!(" {nick}"))),
        Head::Bare => {}
    }
    // Logged in to the account: the same mark as its messages carry.
    if app.link.account {
        spans.push(Span::styled(format!(" {ACCOUNT_MARK}"), Style::new().fg(Color::Green).bold()));
    }
    if app.away.is_some() {
        spans.push(Span::styled(" (away)", Style::new().fg(Color::Yellow)));
    }
    if level == Head::Bare {
        return spans;
    }
    if level == Head::Full {
        let room =
            app.windows.current_window().map_or_else(|| "-".to_owned(), |w| w.target.title());
        spans.push(Span::raw(format!(" · {room} ·")));
    } else {
        spans.push(Span::raw(" ·"));
    }
    spans
}
