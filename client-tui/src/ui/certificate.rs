//! What a refused certificate puts over the panes: the first-use question (the fingerprint,
//! what trusting it means, y/n) and the warning that a server's certificate changed (the old
//! and new fingerprints, and the file to edit if the change is expected).

use protocol::fingerprint::{Sha256Digest, show};
use protocol::sanitize;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::block;
use super::overlay::framed_popup;
use crate::tls::Refusal;
use crate::wrap::wrap;

/// Widest these boxes get, borders and padding included.
const WIDTH: u16 = 72;
/// Columns of borders and padding.
const FRAME: u16 = 4;

pub(super) fn draw(frame: &mut Frame, area: Rect, refusal: &Refusal) {
    let width = usize::from(area.width.min(WIDTH).saturating_sub(FRAME)).max(1);
    let mut text = Text { lines: Vec::new(), width };
    match refusal {
        Refusal::Unknown { server, fingerprint, reason } => {
            text.say(&format!(
                "{} shows a certificate that is not trusted yet: {}.",
                sanitize(server),
                sanitize(reason)
            ));
            text.blank();
            text.say("Its SHA-256 fingerprint:");
            text.fingerprint(fingerprint, Style::new().bold());
            text.blank();
            text.say(
                "Trust it only if this is the server's fingerprint (chat-server prints it when \
                 it starts). Once trusted it is remembered in known_servers, and not asked again.",
            );
            text.blank();
            text.key("y", "trust it and connect");
            text.key("n", "do not connect");
            framed_popup(frame, area, block(" unknown certificate ".into()), text.lines, WIDTH);
        }
        Refusal::Changed { server, known, fingerprint, file } => {
            let server = sanitize(server);
            let red = Style::new().fg(Color::Red).bold();
            text.say(&format!(
                "The certificate of {server} is NOT the one you trusted before. Someone may be \
                 intercepting the connection, or the server has a new certificate. Not connecting."
            ));
            text.blank();
            text.say("Trusted before:");
            for digest in known {
                text.fingerprint(digest, Style::new());
            }
            text.say("Now:");
            text.fingerprint(fingerprint, red);
            text.blank();
            let file = file
                .as_ref()
                .map_or_else(|| "known_servers".to_owned(), |f| f.display().to_string());
            text.say(&format!(
                "If you know why it changed, delete the line for {server} in {file}, then type \
                 /connect."
            ));
            text.blank();
            text.key("Esc", "close this warning");
            let framing = block(" WARNING: certificate changed ".into()).border_style(red);
            framed_popup(frame, area, framing, text.lines, WIDTH);
        }
        Refusal::NotPinned { .. } | Refusal::Untrusted { .. } => {}
    }
}

/// The box's lines, wrapped to its width.
struct Text {
    lines: Vec<Line<'static>>,
    width: usize,
}

impl Text {
    fn say(&mut self, text: &str) {
        self.lines.extend(wrap(text, self.width).into_iter().map(|row| Line::raw(row.to_owned())));
    }

    fn blank(&mut self) {
        self.lines.push(Line::default());
    }

    /// A fingerprint in two rows of 16 bytes, as people compare it by eye.
    fn fingerprint(&mut self, digest: &Sha256Digest, style: Style) {
        let shown = show(digest);
        // 16 pairs and their colons: 47 columns, then the colon between the halves.
        let (first, second) = shown.split_at(shown.len().min(48));
        for half in [first, second] {
            let row = format!("  {half}");
            self.lines.extend(
                wrap(&row, self.width).into_iter().map(|r| Line::styled(r.to_owned(), style)),
            );
        }
    }

    fn key(&mut self, key: &str, what: &str) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("{key:<5}"), Style::new().bold()),
            Span::raw(what.to_owned()),
        ]));
    }
}
