//! `/search` and `/goto` in a room window: the server's matches listed in the window, newest
//! first, each with its number; `/goto SEQ` pages the window's history back (a page at a
//! time, as scrolling up does) until it holds that message, then scrolls to it with the
//! conversation around it.

use protocol::command::GOTO_AFTER;
use protocol::command::search::{NO_OLDER_MATCHES, OLDER_MATCHES_EXIST};
use protocol::{ClientMsg, Label, MessageKind, RoomName, Stored};

use super::App;
use super::backlog::page_before;
use crate::entry::{ACCOUNT_MARK, Entry, EntryKind, clean};
use crate::event::Effect;
use crate::window::Target;

/// A `/goto` under way: the room and the message it is to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goto {
    pub room: RoomName,
    pub seq: u64,
}

impl App {
    /// The answer to `/search`: the matches in the room's window, between markers.
    pub(crate) fn on_found(&mut self, room: RoomName, text: &Label, hits: &[Stored], more: bool) {
        self.older_matches.heard(&room, text, hits, more);
        let index = self.windows.open(Target::Room(room.clone()));
        let text = clean(text.as_str());
        if index != self.windows.current {
            // Asked from another window (`/search` alone): say where the answer went.
            let n = match hits.len() {
                1 => "1 match".to_owned(),
                n => format!("{n} matches"),
            };
            let note = format!("{n} of \"{text}\" in #{room}, newest first");
            self.note(EntryKind::Info, &note);
        }
        if hits.is_empty() {
            let note =
                Entry::note(self.time_now(), EntryKind::Info, format!("nothing holds \"{text}\""));
            self.push(index, note);
            return;
        }
        self.push(index, Entry::marker(format!("messages with \"{text}\", newest first")));
        for hit in hits {
            let from = if hit.account {
                format!("{} {ACCOUNT_MARK}", hit.from)
            } else {
                hit.from.to_string()
            };
            let said = match hit.kind {
                MessageKind::Action => format!("* {from} {}", hit.text()),
                _ => format!("{from}: {}", hit.text()),
            };
            let line = format!("#{} {} {}", hit.seq, self.settings.time_of(hit.ts), said);
            self.push(index, Entry::note(self.time_now(), EntryKind::Info, clean(&line)));
        }
        let end = if more { OLDER_MATCHES_EXIST } else { "end of matches" };
        self.push(index, Entry::marker(format!("{end}; /goto N shows message #N")));
    }

    /// `/search` alone: the request for the older matches of the last search, if it has any.
    pub(crate) fn search_older(&mut self) -> Option<ClientMsg> {
        let request = self.older_matches.next();
        if request.is_none() {
            self.note(EntryKind::Error, NO_OLDER_MATCHES);
        }
        request
    }

    /// `/goto SEQ` in a room window: shows that message, loading earlier pages first if the
    /// window does not hold it yet.
    pub(crate) fn goto(&mut self, seq: u64) -> Vec<Effect> {
        let Some(Target::Room(room)) = self.windows.current_window().map(|w| w.target.clone())
        else {
            self.note(EntryKind::Error, "/goto works in a room window");
            return Vec::new();
        };
        self.goto = Some(Goto { room, seq });
        self.continue_goto()
    }

    /// Takes the `/goto` under way one step: scrolls to its message if the window holds it,
    /// else asks for the page before what it holds.
    pub(crate) fn continue_goto(&mut self) -> Vec<Effect> {
        let Some(goto) = self.goto.clone() else { return Vec::new() };
        let Some(index) = self.windows.find(&Target::Room(goto.room.clone())) else {
            self.goto = None;
            return Vec::new();
        };
        let w = &self.windows[index];
        let at = w.entries().iter().rposition(|e| e.seq == Some(goto.seq));
        if let Some(at) = at {
            self.goto = None;
            self.scroll_to(index, at);
            return Vec::new();
        }
        let newest = w.newest_seq.unwrap_or(0);
        if goto.seq > newest || w.beginning || w.oldest_seq.is_none() {
            self.goto = None;
            self.note(EntryKind::Error, &format!("#{} has no message #{}", goto.room, goto.seq));
            return Vec::new();
        }
        if w.loading {
            return Vec::new();
        }
        let before = w.oldest_seq;
        self.windows[index].loading = true;
        vec![page_before(&goto.room, before)]
    }

    /// Scrolls window `index` so its entry `at` shows, with the messages after it below.
    fn scroll_to(&mut self, index: usize, at: usize) {
        let (width, height) = (self.message_width(), self.message_height());
        let w = &mut self.windows[index];
        let shown_after = usize::try_from(GOTO_AFTER).unwrap_or(usize::MAX);
        let below: usize = w.entries().iter().skip(at + 1).map(|e| e.height(width)).sum();
        let after: usize =
            w.entries().iter().skip(at + 1).take(shown_after).map(|e| e.height(width)).sum();
        let after = after.min(height.saturating_sub(w.entries()[at].height(width)));
        let max = w.total_rows(width).saturating_sub(height);
        w.scroll = below.saturating_sub(after).min(max);
        self.windows.switch_to(index);
    }
}
