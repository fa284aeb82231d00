//! A window: the conversation of one room or one private chat, or the server's own lines (the
//! server window), as the client keeps it: its entries, scroll position, unread counts, where
//! the person last read it (the read marker), members, what it knows of the room's authority
//! (topic, roles, key: [`RoomState`]) and what it holds of the room's history.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};

use chrono::NaiveDate;
use protocol::{Nick, RoomName, sanitize};
use uuid::Uuid;

use crate::entry::{Entry, EntryKind};
use crate::refill::Refill;
use crate::room::RoomState;
use crate::rows::RowIndex;

/// Entries kept per window; older ones are dropped. Bounds the client's memory in a busy room.
pub const MAX_SCROLLBACK: usize = 10_000;

/// The read marker's words: the line between what was read and what came after the person
/// left the window.
pub const READ_MARKER: &str = "new since you left";

/// Deletions of messages a window did not hold, remembered in case the message still comes
/// (in a page of history read before it was deleted): a page's worth of races.
const MAX_DELETED_REMEMBERED: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The server window, always window 1: connection events, the greeting and MOTD, server
    /// notices, errors not tied to a room.
    Server,
    Room(RoomName),
    Private(Nick),
}

/// The server window's title.
pub const SERVER_TITLE: &str = "server";

impl Target {
    /// "#lobby", "@Tracy": sanitised as [`Entry::label`] is.
    pub fn title(&self) -> String {
        match self {
            Target::Server => SERVER_TITLE.to_owned(),
            Target::Room(room) => format!("#{}", sanitize(room.as_str())),
            Target::Private(nick) => format!("@{}", sanitize(nick.as_str())),
        }
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
    /// The room's topic, its members' roles and the key it was joined with; empty for a
    /// private chat.
    pub room: RoomState,
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
    /// Ids of deleted messages the window did not hold when told, newest last, at most
    /// [`MAX_DELETED_REMEMBERED`].
    deleted_elsewhere: VecDeque<Uuid>,
    /// The person left this window: the next entry that arrives unseen gets the read
    /// marker ([`READ_MARKER`]) before it.
    marker_due: bool,
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
            room: RoomState::default(),
            oldest_seq: None,
            newest_seq: None,
            beginning: false,
            loading: false,
            refill: None,
            last_day: None,
            deleted_elsewhere: VecDeque::new(),
            marker_due: false,
            rows: RefCell::new(None),
        }
    }

    /// The person leaves this window: what it holds now is read. The read marker leaves
    /// its old place; the next entry to arrive unseen gets it.
    /// A window scrolled up shows the same rows when the person comes back (at the width it
    /// was last drawn at).
    pub fn left(&mut self) {
        if let Some(at) = self.entries.iter().rposition(is_read_marker) {
            match self.rows.get_mut().as_ref().map(RowIndex::width) {
                Some(width) => self.replace_at(at, None, width),
                None => {
                    self.entries.remove(at);
                }
            }
            // Every entry after it moves up a row: the rows are counted again when needed.
            *self.rows.get_mut() = None;
        }
        self.marker_due = true;
    }

    /// The conversation, oldest first.
    pub fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Every entry's time shown as `time`: for pictures of a screen whose lines the clock
    /// stamped (the server window's), which must not change from run to run.
    #[doc(hidden)]
    pub fn show_times_as(&mut self, time: &str) {
        for entry in &mut self.entries {
            entry.time = time.to_owned();
        }
        *self.rows.get_mut() = None;
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
        let entry = self.deleted_before(entry);
        if !seen && self.marker_due && entry.kind != EntryKind::Day {
            self.marker_due = false;
            self.push_entry(Entry::marker(READ_MARKER.to_owned()), width);
        }
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

    /// Shows message `id` as deleted wherever the window holds it: among its entries, or
    /// among the messages waiting for a refill. One it does not hold (yet: a page of history
    /// read before the deletion may still be on its way) is remembered, and shown deleted if
    /// it comes. Whether it held it.
    pub fn delete(&mut self, id: Uuid) -> bool {
        if let Some(refill) = &mut self.refill
            && let Some(held) = refill.got.values_mut().find(|m| m.id == id)
        {
            *held = held.clone().tombstone();
            return true;
        }
        let Some(entry) = self.entries.iter_mut().rev().find(|e| e.id == Some(id)) else {
            if self.deleted_elsewhere.len() == MAX_DELETED_REMEMBERED {
                self.deleted_elsewhere.pop_front();
            }
            self.deleted_elsewhere.push_back(id);
            return false;
        };
        entry.delete();
        // Its height may change: the rows are counted again when next needed.
        *self.rows.get_mut() = None;
        true
    }

    /// Whether the window holds the `queued:` note of line `note` ([`Entry::queued`]).
    pub fn holds_queued(&self, note: u64) -> bool {
        self.entries.iter().any(|e| e.queued == Some(note))
    }

    /// The `queued:` note of line `note`: changed by `change`, or taken out when it gives
    /// `None`. A window scrolled up keeps showing the same rows (`width`: the message pane's).
    pub fn queued_note(
        &mut self,
        note: u64,
        width: usize,
        change: impl FnOnce(Entry) -> Option<Entry>,
    ) {
        let Some(at) = self.entries.iter().rposition(|e| e.queued == Some(note)) else { return };
        let changed = change(self.entries[at].clone());
        self.replace_at(at, changed, width);
        // What follows may have moved: the rows are counted again when next needed.
        *self.rows.get_mut() = None;
    }

    /// Entry `at` replaced by `replacement`, or taken out. An entry below the rows shown (in a
    /// window scrolled up, `width` being the pane's) changes the scroll by the rows it gains
    /// or loses, so the rows shown stay.
    fn replace_at(&mut self, at: usize, replacement: Option<Entry>, width: usize) {
        // Rows below the entry: counted only in a window scrolled up.
        let below = || self.entries.iter().skip(at + 1).map(|e| e.height(width)).sum::<usize>();
        let under_the_view = self.scroll > 0 && below() < self.scroll;
        let was = self.entries.get(at).map_or(0, |e| e.height(width));
        let now = replacement.as_ref().map_or(0, |e| e.height(width));
        match replacement {
            Some(entry) => self.entries[at] = entry,
            None => {
                self.entries.remove(at);
            }
        }
        if under_the_view {
            self.scroll = (self.scroll + now).saturating_sub(was);
        }
    }

    /// Shows `entry` deleted if its message's deletion came before it.
    fn deleted_before(&self, mut entry: Entry) -> Entry {
        if entry.id.is_some_and(|id| self.deleted_elsewhere.contains(&id)) {
            entry.delete();
        }
        entry
    }

    /// `/clear`: the view emptied. A room's messages stay on the server: scrolling up past
    /// the top fetches them again, from the newest one cleared.
    pub fn clear(&mut self, width: usize) {
        self.entries.clear();
        *self.rows.get_mut() = Some(RowIndex::new(width, std::iter::empty()));
        self.scroll = 0;
        self.unread = 0;
        self.highlights = 0;
        self.last_day = None;
        self.oldest_seq = self.newest_seq.map(|seq| seq + 1);
        self.beginning = self.newest_seq.is_none();
    }

    /// Puts older entries (a page of history, oldest first) in front of what is held. A
    /// scrolled view keeps showing the same rows: rows are counted from the bottom. Past
    /// [`MAX_SCROLLBACK`] the oldest of the page are left out.
    pub fn prepend(&mut self, entries: Vec<Entry>) {
        // Day separators within the page, before each first entry of a day.
        let mut page = Vec::with_capacity(entries.len() + 1);
        let mut day = None;
        for entry in entries {
            let entry = self.deleted_before(entry);
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

/// Whether `entry` is the read marker.
fn is_read_marker(entry: &Entry) -> bool {
    entry.kind == EntryKind::Marker && entry.text == READ_MARKER
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::said;

    /// Leaving a window scrolled up past its read marker takes the marker out without moving
    /// the rows shown.
    #[test]
    fn leaving_keeps_a_scrolled_windows_rows() {
        let mut w = Window::new(Target::Room(RoomName::lobby()));
        for i in 0..20 {
            w.push(said(&format!("a{i}")), true, 80);
        }
        w.left();
        for i in 0..5 {
            w.push(said(&format!("b{i}")), false, 80);
        }
        // The marker and the five after it are below the rows shown.
        w.scroll = 8;
        let lowest_shown = |w: &Window| {
            let (below, _) = w.entries_below(w.scroll, 80);
            w.entries[w.entries.len() - 1 - below].text.clone()
        };
        let before = lowest_shown(&w);
        w.left();
        assert!(!w.entries.iter().any(is_read_marker));
        assert_eq!(lowest_shown(&w), before);
    }

    #[test]
    fn scrollback_is_bounded_and_scrolled_windows_stay_put() {
        let mut w = Window::new(Target::Room(RoomName::lobby()));
        for _ in 0..MAX_SCROLLBACK + 5 {
            w.push(said("x"), false, 80);
        }
        assert_eq!(w.entries.len(), MAX_SCROLLBACK);
        assert_eq!(w.unread, MAX_SCROLLBACK + 5);
        w.scroll = 3;
        w.push(said("y"), true, 80);
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
            w.push(said(&text(i)), true, width);
        }
        w.prepend((0..20).map(|i| said(&text(i * 3))).collect());
        for i in 0..MAX_SCROLLBACK {
            w.push(said(&text(i)), true, width);
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
