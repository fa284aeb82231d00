//! A room's earlier messages: the backlog shown on joining, and older pages fetched when the
//! person scrolls up past the top of what the client holds.

use protocol::{ClientMsg, RoomName, Stored, limits::MAX_HISTORY_PAGE};

use super::App;
use super::ignore::passed;
use crate::entry::Entry;
use crate::event::Effect;
use crate::window::Target;

impl App {
    /// A page of history: the backlog of a room just joined (the window holds no messages
    /// yet), or an older page asked for by scrolling up.
    pub(crate) fn on_history(
        &mut self,
        room: RoomName,
        messages: Vec<Stored>,
        beginning: bool,
    ) -> Vec<Effect> {
        let index = self.windows.open(Target::Room(room.clone()));
        if self.windows[index].refill.is_some() {
            return self.refill_page(index, messages, beginning);
        }
        let start =
            if beginning { Some(Entry::marker(format!("the beginning of #{room}"))) } else { None };
        let window = &self.windows[index];
        if window.newest_seq.is_none() {
            // The backlog on joining, between markers, before the live conversation.
            let mut entries: Vec<Entry> = start.into_iter().collect();
            if !messages.is_empty() {
                entries.push(Entry::marker("earlier messages".into()));
                let shown = messages.iter().filter(|m| !self.ignores(&m.from));
                entries.extend(shown.map(|m| self.message_entry(m, true)));
                entries.push(Entry::marker("now".into()));
            }
            let w = &mut self.windows[index];
            w.beginning = beginning;
            for entry in entries {
                w.push(entry, true, 0);
            }
            messages.iter().for_each(|m| passed(w, m.seq));
            return Vec::new();
        }
        // An older page: only what is older than what the window holds, in front.
        let oldest = window.oldest_seq.unwrap_or(u64::MAX);
        let mut entries: Vec<Entry> = start.into_iter().collect();
        let older = messages.iter().filter(|m| m.seq < oldest);
        entries.extend(
            older.clone().filter(|m| !self.ignores(&m.from)).map(|m| self.message_entry(m, true)),
        );
        let w = &mut self.windows[index];
        w.loading = false;
        w.beginning = beginning;
        w.prepend(entries);
        older.for_each(|m| passed(w, m.seq));
        // A `/goto` under way may need this page, or the one before it.
        self.continue_goto()
    }

    /// When the current window is scrolled to the top of what it holds, asks for the page
    /// before it (once at a time, and not past the beginning).
    pub(crate) fn load_older_if_at_top(&mut self, at_top: bool) -> Vec<Effect> {
        let Some(w) = self.windows.current_window_mut() else { return Vec::new() };
        let Target::Room(room) = &w.target else { return Vec::new() };
        if !at_top || w.beginning || w.loading {
            return Vec::new();
        }
        w.loading = true;
        vec![page_before(room, w.oldest_seq)]
    }
}

/// Asks for the page of `room`'s history before message `before` (the newest page if `None`).
pub(super) fn page_before(room: &RoomName, before: Option<u64>) -> Effect {
    Effect::Send(ClientMsg::History { room: room.clone(), before, limit: MAX_HISTORY_PAGE })
}
