//! A window: the conversation of one room or one private chat, as the client keeps it.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};

use chrono::NaiveDate;
use protocol::{Nick, RoomName, sanitize};
use unicode_width::UnicodeWidthStr;

use crate::refill::Refill;
use crate::rows::RowIndex;
use crate::wrap::wrap;

/// Entries kept per window; older ones are dropped. Bounds the client's memory in a busy room.
pub const MAX_SCROLLBACK: usize = 10_000;

/// Consecutive messages of one sender closer than this are drawn as one group.
pub const GROUP_WINDOW_MS: u64 = 5 * 60 * 1000;

/// "Sunday 22 November 2026".
pub fn day_title(day: NaiveDate) -> String {
    day.format("%A %-d %B %Y").to_string()
}

/// Narrowest text column worth a hanging indent; narrower windows put the text under the nick.
const MIN_TEXT_COLUMNS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Room(RoomName),
    Private(Nick),
}

impl Target {
    /// "#lobby", "@Tracy": sanitised as [`Entry::label`] is.
    pub fn title(&self) -> String {
        match self {
            Target::Room(room) => format!("#{}", sanitize(room.as_str())),
            Target::Private(nick) => format!("@{}", sanitize(nick.as_str())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Say,
    Action,
    /// Presence and other things the client or server reports.
    Info,
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
    pub text: String,
    /// The room's sequence number, for messages.
    pub seq: Option<u64>,
    /// From the room's history rather than live: drawn dimmed.
    pub earlier: bool,
    /// Someone else's message that mentions our nick: drawn highlighted.
    pub mention: bool,
    /// When it was sent, for grouping and day separators: milliseconds since the epoch.
    pub ts: Option<u64>,
    /// Its local day, for day separators.
    pub day: Option<NaiveDate>,
}

impl Entry {
    /// An entry that is not a room message.
    pub fn note(time: String, kind: EntryKind, text: String) -> Self {
        Self {
            time,
            kind,
            from: None,
            text,
            seq: None,
            earlier: false,
            mention: false,
            ts: None,
            day: None,
        }
    }

    /// The separator before the first entry of `day`.
    pub fn day_separator(day: NaiveDate) -> Self {
        Self { day: Some(day), ..Self::note(String::new(), EntryKind::Day, day_title(day)) }
    }

    /// Whether this entry continues `previous`: the same sender saying more within
    /// [`GROUP_WINDOW_MS`], drawn without repeating the nick.
    pub fn continues(&self, previous: &Entry) -> bool {
        self.kind == EntryKind::Say
            && previous.kind == EntryKind::Say
            && self.earlier == previous.earlier
            && self.from.is_some()
            && self.from == previous.from
            && match (self.ts, previous.ts) {
                (Some(t), Some(p)) => t >= p && t - p < GROUP_WINDOW_MS,
                _ => false,
            }
    }

    /// What comes before the text: "<Tracy> ", "* Tracy ", "-- ". A nick is valid, and still
    /// sanitised: for its display form (`protocol::sanitize::display_form`).
    pub fn label(&self) -> String {
        match (&self.kind, &self.from) {
            (EntryKind::Say, Some(from)) => format!("<{}> ", sanitize(from.as_str())),
            (EntryKind::Action, Some(from)) => format!("* {} ", sanitize(from.as_str())),
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

#[derive(Debug, Clone)]
pub struct Window {
    pub target: Target,
    /// The conversation, oldest first. Private: every change goes through a method that keeps
    /// the row index (`rows`) in step.
    entries: VecDeque<Entry>,
    /// Rows scrolled up from the bottom; 0 follows new messages.
    pub scroll: usize,
    /// Messages that arrived while another window was shown.
    pub unread: usize,
    /// Of those, the ones for us: mentions of our nick, and every message of a private chat.
    pub highlights: usize,
    /// Who is in the room, kept up to date from member lists and presence.
    pub members: BTreeSet<Nick>,
    /// Sequence numbers of the oldest and newest room messages held.
    pub oldest_seq: Option<u64>,
    pub newest_seq: Option<u64>,
    /// The oldest message held is the room's first kept one: nothing earlier to fetch.
    pub beginning: bool,
    /// An older page has been asked for and not arrived yet.
    pub loading: bool,
    /// The day of the newest dated entry: a message of another day gets a separator first.
    last_day: Option<NaiveDate>,
    /// Catching up after a reconnect: messages wait here until the gap is filled.
    pub refill: Option<Refill>,
    /// The rows of `entries` at the width last drawn or scrolled at, built when first needed
    /// and then kept up to date: a cache, so drawing (which only reads) may fill it.
    rows: RefCell<Option<RowIndex>>,
}

impl Window {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            entries: VecDeque::new(),
            scroll: 0,
            unread: 0,
            highlights: 0,
            members: BTreeSet::new(),
            oldest_seq: None,
            newest_seq: None,
            beginning: false,
            loading: false,
            refill: None,
            last_day: None,
            rows: RefCell::new(None),
        }
    }

    /// The conversation, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Appends entries past [`MAX_SCROLLBACK`], which no client does: for measuring how drawing
    /// scales with a longer scrollback than the bound.
    #[doc(hidden)]
    pub fn hold_beyond_bound(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for entry in entries {
            if let Some(rows) = self.rows.get_mut() {
                rows.push_back(entry.height(rows.width()));
            }
            self.entries.push_back(entry);
        }
    }

    /// Adds an entry. A window scrolled up keeps showing the same rows; `width` is the current
    /// width of the message pane, to know how many rows the entry adds.
    pub fn push(&mut self, entry: Entry, seen: bool, width: usize) {
        if let Some(day) = entry.day.filter(|_| entry.kind != EntryKind::Day)
            && self.last_day != Some(day)
        {
            self.last_day = Some(day);
            self.push_entry(Entry::day_separator(day), width);
        }
        if !seen && matches!(entry.kind, EntryKind::Say | EntryKind::Action) {
            self.unread += 1;
            if entry.mention || matches!(self.target, Target::Private(_)) {
                self.highlights += 1;
            }
        }
        if let Some(seq) = entry.seq {
            self.newest_seq = Some(seq);
            self.oldest_seq.get_or_insert(seq);
        }
        self.push_entry(entry, width);
    }

    /// Appends one entry, keeping the bound, the scroll position and the row index.
    fn push_entry(&mut self, entry: Entry, width: usize) {
        if self.scroll > 0 {
            self.scroll += entry.height(width);
        }
        let rows = self.rows.get_mut();
        if self.entries.len() == MAX_SCROLLBACK {
            if let Some(rows) = rows.as_mut() {
                rows.pop_front();
            }
            if self.entries.pop_front().is_some_and(|dropped| dropped.seq.is_some()) {
                // The oldest held message is gone: paging must start after it again.
                self.oldest_seq = self.entries.iter().find_map(|e| e.seq);
                self.beginning = false;
            }
        }
        if let Some(rows) = rows {
            rows.push_back(entry.height(rows.width()));
        }
        self.entries.push_back(entry);
    }

    /// Puts older entries (a page of history, oldest first) in front of what is held. A
    /// scrolled view keeps showing the same rows: rows are counted from the bottom. Past
    /// [`MAX_SCROLLBACK`] the oldest of the page are left out.
    pub fn prepend(&mut self, entries: Vec<Entry>) {
        // Day separators within the page, before each first entry of a day.
        let mut page = Vec::with_capacity(entries.len() + 1);
        let mut day = None;
        for entry in entries {
            if let Some(d) = entry.day.filter(|d| Some(*d) != day) {
                day = Some(d);
                page.push(Entry::day_separator(d));
            }
            page.push(entry);
        }
        // The page ends on the day the window starts with: that day's separator moves up.
        if let Some(d) = day
            && self.entries.front().is_some_and(|e| e.kind == EntryKind::Day && e.day == Some(d))
        {
            self.entries.pop_front();
            if let Some(rows) = self.rows.get_mut() {
                rows.pop_front();
            }
        }
        self.last_day = self.last_day.or(day);
        let room = MAX_SCROLLBACK.saturating_sub(self.entries.len());
        let skip = page.len().saturating_sub(room);
        for entry in page.into_iter().skip(skip).rev() {
            if let Some(seq) = entry.seq {
                self.oldest_seq = Some(seq);
                self.newest_seq.get_or_insert(seq);
            }
            if let Some(rows) = self.rows.get_mut() {
                rows.push_front(entry.height(rows.width()));
            }
            self.entries.push_front(entry);
        }
    }

    /// All rows of the conversation at `width`.
    pub fn total_rows(&self, width: usize) -> usize {
        self.with_rows(width, RowIndex::total)
    }

    /// How many of the newest entries lie wholly within the bottom `rows` rows at `width`, and
    /// how many rows they take: a view scrolled up by `rows` starts above them.
    pub fn entries_below(&self, rows: usize, width: usize) -> (usize, usize) {
        self.with_rows(width, |index| index.below(rows))
    }

    /// Runs `f` on the row index at `width`, built first if there is none for that width.
    fn with_rows<T>(&self, width: usize, f: impl FnOnce(&RowIndex) -> T) -> T {
        let mut cache = self.rows.borrow_mut();
        if let Some(index) = cache.as_ref().filter(|i| i.fits(width, self.entries.len())) {
            return f(index);
        }
        let heights = self.entries.iter().map(|e| e.height(width));
        f(cache.insert(RowIndex::new(width, heights)))
    }
}

/// Whether `text` mentions `nick`: the nick, in any case, not inside a longer word.
pub fn mentions(text: &str, nick: &Nick) -> bool {
    let nick = nick.as_str().to_lowercase();
    let text = text.to_lowercase();
    let part_of_nick = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(&nick).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + nick.len()..].chars().next();
        !before.is_some_and(part_of_nick) && !after.is_some_and(part_of_nick)
    })
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

    fn entry(text: &str) -> Entry {
        Entry {
            from: Nick::parse("Tracy").ok(),
            ..Entry::note("12:00".into(), EntryKind::Say, text.into())
        }
    }

    #[test]
    fn hanging_indent_when_wide_text_below_when_narrow() {
        let e = entry("hello there world");
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

    #[test]
    fn scrollback_is_bounded_and_scrolled_windows_stay_put() {
        let mut w = Window::new(Target::Room(RoomName::lobby()));
        for _ in 0..MAX_SCROLLBACK + 5 {
            w.push(entry("x"), false, 80);
        }
        assert_eq!(w.entries.len(), MAX_SCROLLBACK);
        assert_eq!(w.unread, MAX_SCROLLBACK + 5);
        w.scroll = 3;
        w.push(entry("y"), true, 80);
        assert_eq!(w.scroll, 4);
    }

    /// The row index, kept up to date through live messages, an older page and entries dropped
    /// at the bound, answers as counting every entry's rows afresh does.
    #[test]
    fn the_row_index_keeps_in_step_with_the_entries() {
        let text = |i: usize| format!("{i} {}{}", "word ".repeat(i % 7), "你".repeat(i % 5));
        let mut w = Window::new(Target::Room(RoomName::lobby()));
        let width = 24;
        assert_eq!(w.total_rows(width), 0, "builds the index, empty");
        for i in 0..100 {
            w.push(entry(&text(i)), true, width);
        }
        w.prepend((0..20).map(|i| entry(&text(i * 3))).collect());
        for i in 0..MAX_SCROLLBACK {
            w.push(entry(&text(i)), true, width);
        }
        let heights: Vec<usize> = w.entries.iter().map(|e| e.height(width)).collect();
        assert_eq!(w.total_rows(width), heights.iter().sum::<usize>());
        for rows in (0..200).chain([5_000, 20_000, 1_000_000]) {
            let (mut count, mut taken) = (0, 0);
            for h in heights.iter().rev() {
                if taken + h > rows {
                    break;
                }
                (count, taken) = (count + 1, taken + h);
            }
            assert_eq!(w.entries_below(rows, width), (count, taken), "{rows} rows");
        }
    }
}
