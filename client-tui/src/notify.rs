//! Desktop notifications through the terminal: a mention or a private message becomes an
//! OSC 777 (`ESC ] 777 ; notify ; TITLE ; BODY ESC \`, rxvt, foot, kitty, WezTerm, VTE) or an
//! OSC 9 (`ESC ] 9 ; BODY ESC \`, iTerm2, Windows Terminal, kitty) sequence, when the person
//! turns them on (`notify = "osc777"` or `"osc9"`, `--notify`). The app decides whether to
//! notify ([`Notifier`], no I/O); the terminal layer writes [`sequence`].
//!
//! Title and body come from other people: each is made one safe line ([`clean`]) before it
//! goes into an escape sequence, so nobody can end the sequence early and drive the terminal.

use std::time::{Duration, Instant};

use protocol::sanitize;
use serde::{Deserialize, Serialize};

/// Longest title, in characters: a notification's heading.
pub const MAX_TITLE_CHARS: usize = 64;

/// Longest body, in characters: desktop notifications show a few lines at most.
pub const MAX_BODY_CHARS: usize = 200;

/// At most one notification in this long: a busy channel's mentions do not flood the desktop
/// (the window's `!` count still says how many there were).
pub const NOTIFY_INTERVAL: Duration = Duration::from_secs(5);

/// Which sequence the terminal understands, or none (the default: a terminal that does not
/// know the sequence may show it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NotifyStyle {
    #[default]
    Off,
    Osc777,
    Osc9,
}

/// One notification: a title (where it happened) and a body (who said what).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// Text made safe for an escape sequence's parameter: one line, controls drawn as their
/// pictures ([`sanitize`]), `;` (which separates parameters) a `,`, at most `max` characters
/// (an ellipsis says something was cut).
pub fn clean(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    let safe: String =
        sanitize(&one_line).chars().map(|c| if c == ';' { ',' } else { c }).collect();
    if safe.chars().count() <= max {
        return safe;
    }
    let mut cut: String = safe.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The bytes that ask the terminal for `notice` in `style`; none when off.
pub fn sequence(style: NotifyStyle, notice: &Notice) -> Vec<u8> {
    let title = clean(&notice.title, MAX_TITLE_CHARS);
    let body = clean(&notice.body, MAX_BODY_CHARS);
    match style {
        NotifyStyle::Off => Vec::new(),
        NotifyStyle::Osc777 => format!("\x1b]777;notify;{title};{body}\x1b\\").into_bytes(),
        NotifyStyle::Osc9 => format!("\x1b]9;{title}: {body}\x1b\\").into_bytes(),
    }
}

/// Whether to notify: on, not for what the person is looking at, not too often.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    /// Whether the terminal has focus, once it has said (crossterm's focus events); `None`
    /// while unknown.
    pub focused: Option<bool>,
    /// When the last notification was sent.
    last: Option<Instant>,
}

impl Notifier {
    /// Whether something for us at `now` is notified; `shown`: it is in the window on screen.
    /// A shown window counts as looked at unless the terminal has said it lost focus. A yes
    /// counts towards [`NOTIFY_INTERVAL`].
    pub fn should_notify(&mut self, style: NotifyStyle, shown: bool, now: Instant) -> bool {
        if style == NotifyStyle::Off || (shown && self.focused != Some(false)) {
            return false;
        }
        if self.last.is_some_and(|last| now.saturating_duration_since(last) < NOTIFY_INTERVAL) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(title: &str, body: &str) -> Notice {
        Notice { title: title.into(), body: body.into() }
    }

    /// Nothing from another person can end the sequence or start another: no ESC, BEL, C1,
    /// newline or `;` reaches it, and both parts are bounded.
    #[test]
    fn hostile_text_cannot_escape_the_sequence() {
        let evil = "hi\x1b\\\x1b]0;pwned\x07\u{9c};x\nline2\u{202e}";
        for style in [NotifyStyle::Osc777, NotifyStyle::Osc9] {
            let bytes = sequence(style, &notice(evil, &evil.repeat(100)));
            let text = String::from_utf8(bytes).unwrap_or_default();
            let inner = &text[2..text.len() - 2];
            assert!(!inner.contains(['\x1b', '\x07', '\u{9c}', '\n', '\u{202e}']), "{inner:?}");
            let fields = if style == NotifyStyle::Osc777 { 4 } else { 2 };
            assert_eq!(inner.split(';').count(), fields, "{inner:?}");
            assert!(inner.chars().count() < MAX_TITLE_CHARS + MAX_BODY_CHARS + 20);
        }
        let plain = sequence(NotifyStyle::Osc777, &notice("#rust", "<Tracy> hi Michael"));
        assert_eq!(plain, b"\x1b]777;notify;#rust;<Tracy> hi Michael\x1b\\");
        assert!(sequence(NotifyStyle::Off, &notice("a", "b")).is_empty());
    }

    /// Not for the window looked at while the terminal has focus; at most one per interval.
    #[test]
    fn notifications_skip_the_shown_window_and_are_spaced() {
        let t0 = Instant::now();
        let mut n = Notifier::default();
        assert!(!n.should_notify(NotifyStyle::Off, false, t0), "off by default");
        assert!(!n.should_notify(NotifyStyle::Osc9, true, t0), "shown, focus unknown");
        n.focused = Some(true);
        assert!(!n.should_notify(NotifyStyle::Osc9, true, t0), "shown and focused");
        assert!(n.should_notify(NotifyStyle::Osc9, false, t0), "another window");
        assert!(!n.should_notify(NotifyStyle::Osc9, false, t0 + NOTIFY_INTERVAL / 2));
        n.focused = Some(false);
        assert!(n.should_notify(NotifyStyle::Osc9, true, t0 + NOTIFY_INTERVAL), "unfocused");
    }
}
