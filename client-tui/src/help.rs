//! What the help says and how it sits on the screen: every command (the protocol's
//! [`HELP`] and the client's own) and key, laid out in rows for the overlay's width, and the
//! overlay's size in a terminal. The app scrolls through the rows (`View::help_scroll`, keys
//! in `app/keys.rs`); `ui/overlay.rs` draws the ones in view. Both ask here, so they agree
//! on how far the help scrolls.

use protocol::command::HELP;
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

use crate::wrap::wrap;

/// Widest the help overlay gets, borders and padding included.
pub const HELP_WIDTH: u16 = 76;

/// Columns inside the overlay that are not text: two borders and a column of padding each
/// side.
const FRAME_COLUMNS: u16 = 4;

/// Columns of the key column: a key and at least one space.
const KEY_COLUMNS: usize = 20;

/// Narrowest description column beside the keys; narrower overlays put each description
/// under its key instead.
const MIN_TEXT_COLUMNS: usize = 24;

/// Indent of a description under its key, in a narrow overlay or after a long key.
const UNDER_INDENT: usize = 2;

/// The client's own commands and its keys, after the protocol's commands in the help. An
/// empty row separates the commands from the keys.
pub const CLIENT_HELP: [(&str, &str); 19] = [
    ("/query NAME", "open a private window with NAME, sending nothing"),
    ("/close", "close this window (a room's is left)"),
    ("/clear", "empty this window; PgUp brings the history back"),
    ("/members", "show or hide the member list (also F2)"),
    ("/connect", "reconnect now instead of waiting (also /reconnect)"),
    ("/ignore [NICK]", "hide NICK's messages, kept across runs; alone: list"),
    ("/unignore NICK", "show NICK's messages again"),
    ("short names", ALIASES),
    ("", ""),
    ("Alt+1..9", "show window 1..9 (1: the server window)"),
    ("Ctrl+N / Ctrl+P", "next / previous window"),
    ("Alt+A", "next window with activity, mentions first"),
    ("Tab / Shift+Tab", "complete nick, command, room; cycle"),
    ("PgUp / PgDn", "scroll the conversation, or this help while it is open"),
    ("Up / Down", "recall sent lines (scroll this help while it is open)"),
    ("Ctrl+A/E/U/W", "start, end, clear, delete word"),
    ("F1 / Esc", "toggle / close this help"),
    ("Ctrl+C", "quit"),
    ("mouse = false", "in the config (or --no-mouse): select text without Shift"),
];

/// The other names the command parser accepts, so that IRC habits are found in the help.
pub const ALIASES: &str = "/j join, /part leave, /list rooms, /names who, /m msg (so is \
    /query NAME TEXT), /t topic, /k kick, /q /quit exit, /h /? help";

/// One row of the help: a key (drawn bold, possibly empty) and text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpRow {
    /// The key and the spaces that pad it to the description's column.
    pub key: String,
    pub text: String,
}

impl HelpRow {
    fn new(key: String, text: &str) -> Self {
        Self { key, text: text.to_owned() }
    }
}

/// Every entry of the help, the protocol's commands first.
pub fn entries() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    HELP.iter().chain(&CLIENT_HELP)
}

/// The help's rows for a text area `width` columns wide. A key and its description share a
/// row where both fit; a longer description wraps under itself; a key too long for its column
/// has a row of its own with the description under it, and a narrow area puts every
/// description under its key. No row is wider than `width` (a word wider than the whole
/// row is cut by [`wrap`]).
pub fn rows(width: usize) -> Vec<HelpRow> {
    let width = width.max(1);
    let beside = width >= KEY_COLUMNS + MIN_TEXT_COLUMNS;
    let mut rows = Vec::new();
    for (key, what) in entries() {
        if key.is_empty() && what.is_empty() {
            rows.push(HelpRow::new(String::new(), ""));
            continue;
        }
        if beside && key.width() < KEY_COLUMNS {
            let pad = " ".repeat(KEY_COLUMNS - key.width());
            for (i, part) in wrap(what, width - KEY_COLUMNS).into_iter().enumerate() {
                let lead = if i == 0 { format!("{key}{pad}") } else { " ".repeat(KEY_COLUMNS) };
                rows.push(HelpRow::new(lead, part));
            }
            continue;
        }
        for part in wrap(key, width) {
            rows.push(HelpRow::new(part.to_owned(), ""));
        }
        let indent = if beside { KEY_COLUMNS } else { UNDER_INDENT.min(width - 1) };
        for part in wrap(what, width - indent) {
            rows.push(HelpRow::new(" ".repeat(indent), part));
        }
    }
    rows
}

/// The help in a terminal of `area`: where its box goes, its rows, and how many of them it
/// shows at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLayout {
    /// The box, borders included, centred in the area.
    pub area: Rect,
    pub rows: Vec<HelpRow>,
    /// Rows shown at once: the box's height inside its borders.
    pub visible: usize,
}

impl HelpLayout {
    pub fn new(area: Rect) -> Self {
        let width = area.width.min(HELP_WIDTH);
        let rows = rows(usize::from(width.saturating_sub(FRAME_COLUMNS)));
        let wanted = u16::try_from(rows.len()).unwrap_or(u16::MAX).saturating_add(2);
        let height = area.height.min(wanted);
        let popup = Rect::new(
            area.x + (area.width - width) / 2,
            area.y + (area.height - height) / 2,
            width,
            height,
        );
        Self { area: popup, visible: usize::from(height.saturating_sub(2)), rows }
    }

    /// The furthest the help scrolls: its last row at the bottom of the box.
    pub fn max_scroll(&self) -> usize {
        self.rows.len().saturating_sub(self.visible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_fits_and_every_entry_is_there() {
        for width in 1..=80 {
            let rows = rows(width);
            for row in &rows {
                let shown = row.key.width() + row.text.width();
                assert!(shown <= width, "{width}: {row:?} is {shown} wide");
            }
            let all: String =
                rows.iter().map(|r| format!("{}{}", r.key, r.text)).collect::<Vec<_>>().join(" ");
            if width >= 30 {
                for (key, _) in entries() {
                    assert!(all.contains(key), "{width}: {key} missing");
                }
            }
        }
    }

    #[test]
    fn wide_areas_put_keys_beside_narrow_ones_above() {
        let wide = rows(72);
        assert_eq!(wide[0].key.trim_end(), "/join ROOM");
        assert!(wide[0].text.starts_with("join a room"));
        let narrow = rows(36);
        assert_eq!(narrow[0], HelpRow::new("/join ROOM".into(), ""));
        assert!(narrow[1].key == "  " && narrow[1].text.starts_with("join a room"));
    }
}
