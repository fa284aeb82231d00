//! One line of a conversation and how it sits in rows: its label, its hanging indent, where
//! it wraps, whether it continues the one before. Also what goes into one: untrusted text made
//! safe to draw ([`clean`]) and whether it is for us ([`for_us`]: our nick, a highlight
//! word).

use chrono::NaiveDate;
use protocol::{Nick, sanitize};
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

use crate::highlight::{Highlights, contains_word};
use crate::wrap::wrap;

/// After the nick of a sender who was logged in to that nick's account. Not a character a
/// nick may hold, so no guest can put it in their name.
pub const ACCOUNT_MARK: char = '✓';

/// What a deleted message shows instead of its text, drawn dimmed.
pub const DELETED_TEXT: &str = "(message deleted)";

/// Consecutive messages of one sender closer than this are drawn as one group.
pub const GROUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// "Sunday 22 November 2026".
pub fn day_title(day: NaiveDate) -> String {
    day.format("%A %-d %B %Y").to_string()
}

/// Narrowest text column worth a hanging indent; narrower windows put the text under the nick.
const MIN_TEXT_COLUMNS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Say,
    Action,
    /// Presence and other things the client or server reports.
    Info,
    /// The connection coming up or coming back (in the server window).
    Good,
    Error,
    /// A boundary in the conversation: where earlier history starts or ends.
    Marker,
    /// The first entry of a new day follows.
    Day,
}

/// One line of a conversation. `text` is already sanitised: safe to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Local time, formatted ("14:05").
    pub time: String,
    pub kind: EntryKind,
    pub from: Option<Nick>,
    /// `from` was logged in to the account of that nick, not a guest using it: drawn with
    /// [`ACCOUNT_MARK`].
    pub account: bool,
    pub text: String,
    /// The room's sequence number, for messages.
    pub seq: Option<u64>,
    /// The message's id, for room messages: a `deleted` event names it, and `/delete` sends
    /// the last of ours.
    pub id: Option<Uuid>,
    /// The message was deleted: its text is [`DELETED_TEXT`], drawn dimmed.
    pub deleted: bool,
    /// From the room's history rather than live: drawn dimmed.
    pub earlier: bool,
    /// Someone else's message that mentions our nick or holds a highlight word: drawn
    /// highlighted.
    pub mention: bool,
    /// When it was sent, for grouping and day separators: milliseconds since the epoch.
    pub ts: Option<u64>,
    /// Its local day, for day separators.
    pub day: Option<NaiveDate>,
    /// A private message kept by the server while we were away, delivered at login.
    pub offline: bool,
    /// The `queued:` note of a line typed while offline: the line's number
    /// ([`crate::paste::Line::note`]), so the note leaves once the line's echo shows it.
    pub queued: Option<u64>,
}

impl Entry {
    /// An entry that is not a room message.
    pub fn note(time: String, kind: EntryKind, text: String) -> Self {
        Self {
            time,
            kind,
            from: None,
            account: false,
            text,
            seq: None,
            id: None,
            deleted: false,
            earlier: false,
            mention: false,
            ts: None,
            day: None,
            offline: false,
            queued: None,
        }
    }

    /// A boundary in the conversation: where earlier history starts or ends, what was missed.
    pub fn marker(text: String) -> Self {
        Self::note(String::new(), EntryKind::Marker, text)
    }

    /// Shows this message as deleted: its text replaced, no longer a mention of anyone.
    pub fn delete(&mut self) {
        self.kind = EntryKind::Say;
        self.text = DELETED_TEXT.to_owned();
        self.deleted = true;
        self.mention = false;
    }

    /// The separator before the first entry of `day`.
    pub fn day_separator(day: NaiveDate) -> Self {
        Self { day: Some(day), ..Self::note(String::new(), EntryKind::Day, day_title(day)) }
    }

    /// Whether this entry continues `previous`: the same sender (a guest and an account of
    /// the same nick are two) saying more within [`GROUP_WINDOW_MS`], drawn without repeating
    /// the nick.
    pub fn continues(&self, previous: &Entry) -> bool {
        self.kind == EntryKind::Say
            && previous.kind == EntryKind::Say
            && self.earlier == previous.earlier
            && self.from.is_some()
            && self.from == previous.from
            && self.account == previous.account
            && match (self.ts, previous.ts) {
                (Some(t), Some(p)) => t >= p && t - p < GROUP_WINDOW_MS,
                _ => false,
            }
    }

    /// What comes before the text: `<Tracy> `, `<Tracy✓> ` (an account's), `* Tracy `, `-- `.
    /// A nick is valid, and still sanitised: for its display form
    /// (`protocol::sanitize::display_form`).
    pub fn label(&self) -> String {
        let mark = if self.account { ACCOUNT_MARK.to_string() } else { String::new() };
        match (&self.kind, &self.from) {
            (EntryKind::Say, Some(from)) => format!("<{}{mark}> ", sanitize(from.as_str())),
            (EntryKind::Action, Some(from)) => format!("* {}{mark} ", sanitize(from.as_str())),
            (EntryKind::Error, _) => "!! ".to_owned(),
            (EntryKind::Marker | EntryKind::Day, _) => "── ".to_owned(),
            _ => "-- ".to_owned(),
        }
    }

    /// Columns of the time and label, the text's hanging indent; `None` when the window is too
    /// narrow and the text goes below them instead.
    pub fn indent(&self, width: usize) -> Option<usize> {
        let indent = self.time.width() + 1 + self.label().width();
        (width >= indent + MIN_TEXT_COLUMNS).then_some(indent)
    }

    /// The text's rows at `width`.
    pub fn text_rows(&self, width: usize) -> Vec<&str> {
        match self.indent(width) {
            Some(indent) => wrap(&self.text, width - indent),
            None => wrap(&self.text, width),
        }
    }

    /// The time and label when the window is too narrow for a hanging indent: rows of their
    /// own above the text, wrapped like it, so that a long nick is shown whole rather than cut
    /// off at the edge (two nicks that differ only at the end would look the same).
    pub fn head_rows(&self, width: usize) -> Vec<String> {
        let head = format!("{} {}", self.time, self.label());
        wrap(head.trim_end(), width).into_iter().map(str::to_owned).collect()
    }

    /// Rows this entry takes at `width`.
    pub fn height(&self, width: usize) -> usize {
        let rows = self.text_rows(width).len();
        if self.indent(width).is_some() { rows } else { rows + self.head_rows(width).len() }
    }
}

/// Untrusted text made safe to draw; line breaks are kept and drawn as separate rows.
pub fn clean(text: &str) -> String {
    text.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

/// Whether `text` mentions `nick`: the nick, in any case, not inside a longer word.
pub fn mentions(text: &str, nick: &Nick) -> bool {
    contains_word(&text.to_lowercase(), &nick.as_str().to_lowercase())
}

/// Whether `text` is for us: it mentions `nick`, or holds one of the person's highlight
/// words. Either way the entry is marked as a mention.
pub fn for_us(text: &str, nick: &Nick, highlights: &Highlights) -> bool {
    mentions(text, nick) || highlights.matches(text)
}

/// Tracy saying `text` at 12:00: an entry for tests.
#[cfg(test)]
pub(crate) fn said(text: &str) -> Entry {
    Entry {
        from: Nick::parse("Tracy").ok(),
        ..Entry::note("12:00".into(), EntryKind::Say, text.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_whole_nicks_in_any_case() {
        let me = Nick::parse("Mike").unwrap();
        assert!(mentions("hi mike!", &me));
        assert!(mentions("MIKE: look", &me));
        assert!(mentions("@Mike", &me));
        assert!(!mentions("Mikey is here", &me));
        assert!(!mentions("micromike", &me));
        assert!(!mentions("mike_2 said", &me));
        assert!(mentions("mikemike mike", &me));
    }

    #[test]
    fn an_accounts_mark_is_no_guests_to_take() {
        assert!(Nick::parse(&format!("Tracy{ACCOUNT_MARK}")).is_err(), "no nick holds the mark");
        let guest = said("hi");
        let account = Entry { account: true, ..said("hi") };
        assert_eq!((guest.label(), account.label()), ("<Tracy> ".into(), "<Tracy✓> ".into()));
        let action = Entry { kind: EntryKind::Action, ..account.clone() };
        assert_eq!(action.label(), "* Tracy✓ ");
        let (mut first, mut second) = (guest.clone(), account.clone());
        (first.ts, second.ts) = (Some(0), Some(1000));
        assert!(!second.continues(&first), "a guest and an account are two senders");
        let third = Entry { ts: Some(2000), ..second.clone() };
        assert!(third.continues(&second));
    }

    #[test]
    fn hanging_indent_when_wide_text_below_when_narrow() {
        let e = said("hello there world");
        assert_eq!(e.indent(40), Some(14)); // "12:00 " + "<Tracy> "
        assert_eq!(e.height(40), 1);
        assert_eq!(e.indent(20), None);
        assert_eq!(e.height(20), 2);
    }

    #[test]
    fn a_long_nick_wraps_above_the_text_in_a_narrow_window() {
        let e = Entry {
            from: Nick::parse(&"龍".repeat(32)).ok(),
            ..Entry::note("12:00".into(), EntryKind::Say, "hi".into())
        };
        let head = e.head_rows(20);
        assert_eq!(
            head,
            [
                "12:00 ",
                "<龍龍龍龍龍龍龍龍龍",
                "龍龍龍龍龍龍龍龍龍龍",
                "龍龍龍龍龍龍龍龍龍龍",
                "龍龍龍>"
            ]
        );
        assert!(head.iter().all(|r| r.width() <= 20));
        assert_eq!(e.height(20), head.len() + 1);
    }
}
