//! The client's state, and `update`: one event in, state changed, effects out. No I/O here, so
//! every behaviour can be tested by feeding events (see `tests/app.rs`).
//!
//! This file holds `App`, made of its groups, and what every handler shares: the server
//! window's log, adding entries and notes, the conversation's size and scrolling. Each kind of event is
//! handled in a file of its own beside it.

use std::collections::VecDeque;
use std::time::Instant;

use protocol::{MessageKind, Nick, Stored, sanitize};
use ratatui::layout::Rect;

use crate::composer::Composer;
use crate::entry::{Entry, EntryKind, clean, for_us};
use crate::event::{Effect, Event};
use crate::ignore::IgnoreList;
use crate::layout::{Panes, View};
use crate::link::{Connection, Link};
use crate::login::Credential;
use crate::notify::Notifier;
use crate::pages::MemberPages;
use crate::settings::Settings;
use crate::window::Target;
use crate::windows::{SERVER, Windows};

mod attention;
mod backlog;
mod certificate;
mod ignore;
mod incoming;
mod keys;
mod link;
mod login;
mod paste;
mod people;
mod private;
mod rooms;
mod search;
mod send;

pub use link::{MAX_NICK_FALLBACKS, fallback_nick};
pub use private::{ACTION_PREFIX, as_action};

/// Server window lines the notice looks back through for what went wrong: the few lines
/// one failed attempt writes, not the whole log at every frame.
const NOTICE_LOOKBACK: usize = 16;

/// What a line of the server window's log reports: news, good news, something wrong, or
/// words the server addresses to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Good,
    Error,
    /// A server notice: counted as unread while another window is shown.
    Notice,
}

/// The whole client's state, in groups: what it started with, the connection, the windows
/// (the server window's log among them), the input side, the screen.
pub struct App {
    pub settings: Settings,
    pub link: Link,
    pub windows: Windows,
    pub composer: Composer,
    pub view: View,
    /// The time of the last [`Event::Tick`]: the app's clock.
    pub(crate) now: Instant,
    /// Something for us arrived and the bell is on: ring once after this event.
    ring: bool,
    /// Our away message, while we are away (`/away`).
    pub away: Option<protocol::Label>,
    /// A `/goto` paging back to its message.
    pub(crate) goto: Option<search::Goto>,
    /// What `/search` alone asks for: the older matches of the last search.
    pub(crate) older_matches: protocol::command::search::OlderMatches,
    /// The later pages of big rooms' member lists, asked for one at a time.
    pub(crate) pages: MemberPages,
    /// People whose messages are not shown (`/ignore`).
    pub ignored: IgnoreList,
    /// Whether the terminal has focus, and when the last notification went.
    pub(crate) notifier: Notifier,
    /// Effects raised while handling an event (notifications, chat log lines), added after
    /// the handler's own.
    raised: Vec<Effect>,
}

impl App {
    pub fn new(mut settings: Settings, size: Rect) -> Self {
        let credential = settings
            .password
            .take()
            .map(|(password, origin)| Credential::new(&settings.nick, password, origin));
        Self {
            link: Link::new(settings.nick.clone(), credential),
            settings,
            windows: Windows::default(),
            composer: Composer::default(),
            view: View::new(size),
            now: Instant::now(),
            ring: false,
            away: None,
            goto: None,
            older_matches: Default::default(),
            pages: MemberPages::default(),
            ignored: IgnoreList::default(),
            notifier: Notifier::default(),
            raised: Vec::new(),
        }
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = self.handle(event);
        effects.append(&mut self.raised);
        if std::mem::take(&mut self.ring) {
            effects.push(Effect::Bell);
        }
        effects
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Paste(text) if self.link.login.is_some() => {
                self.on_login_paste(&text);
                Vec::new()
            }
            Event::Paste(text) => {
                self.composer.receive_paste(&text);
                Vec::new()
            }
            Event::Scroll(rows) if self.view.show_help => {
                self.scroll_help(rows);
                Vec::new()
            }
            Event::Scroll(rows) => {
                let at_top = self.scroll_by(rows);
                if rows > 0 {
                    return self.load_older_if_at_top(at_top);
                }
                Vec::new()
            }
            Event::Resize(w, h) => {
                self.view.size = Rect::new(0, 0, w, h);
                Vec::new()
            }
            Event::Net(net) => self.on_net(net),
            Event::Tick(now) => self.on_tick(now),
            Event::Focus(focused) => {
                self.notifier.focused = Some(focused);
                Vec::new()
            }
        }
    }

    /// The local time now, as entries show it.
    pub(crate) fn time_now(&self) -> String {
        self.settings.time_of(protocol::now_millis())
    }

    /// A line in the server window: what the connection did, what the server said that
    /// belongs to no room.
    pub fn log(&mut self, kind: LogKind, text: &str) {
        let entry_kind = match kind {
            LogKind::Info | LogKind::Notice => EntryKind::Info,
            LogKind::Good => EntryKind::Good,
            LogKind::Error => EntryKind::Error,
        };
        let entry = Entry::note(self.time_now(), entry_kind, sanitize(text).into_owned());
        self.push(SERVER, entry);
        // Something gone wrong, or a notice, while another window is shown is news there.
        let news = matches!(kind, LogKind::Error | LogKind::Notice);
        if news && self.windows.current != SERVER {
            self.windows.server_mut().unread += 1;
        }
    }

    /// The server window's lines, oldest first.
    pub fn server_log(&self) -> &VecDeque<Entry> {
        self.windows.server().entries()
    }

    /// The panes in `area`: the member list beside the conversation when asked for and a
    /// window is shown; the topic's row above it when the window's room has a topic; the
    /// notice's row when there is one.
    pub fn panes(&self, area: Rect) -> Panes {
        let window = self.windows.current_window();
        let topic = window.is_some_and(|w| w.room.topic().is_some());
        self.view.panes(area, window.is_some(), topic, self.notice().is_some())
    }

    /// What the notice above the input says while the connection is not up and the server
    /// window is not the one shown: the newest of the server window's lines, and before it
    /// the last thing that went wrong, if that came later than the last good news and is
    /// not the newest line itself.
    pub fn notice(&self) -> Option<(Option<&Entry>, &Entry)> {
        if self.link.state == Connection::Registered || self.windows.current == SERVER {
            return None;
        }
        let log = self.server_log();
        let newest = log.back()?;
        let wrong = log
            .iter()
            .rev()
            .skip(1)
            .take(NOTICE_LOOKBACK)
            .take_while(|e| e.kind != EntryKind::Good)
            .find(|e| e.kind == EntryKind::Error && newest.kind != EntryKind::Error);
        Some((wrong, newest))
    }

    /// Width of the message pane's text area.
    pub fn message_width(&self) -> usize {
        self.panes(self.view.size).messages_inner().width as usize
    }

    pub(crate) fn message_height(&self) -> usize {
        self.panes(self.view.size).messages_inner().height as usize
    }

    /// Adds an entry to window `index`.
    pub(crate) fn push(&mut self, index: usize, entry: Entry) {
        if self.hides(index, &entry) {
            return;
        }
        // Our own words are never news to us.
        let mine = entry.from.as_ref().is_some_and(|f| self.link.is_me(f));
        let seen = index == self.windows.current || mine;
        let private =
            self.windows.get(index).is_some_and(|w| matches!(w.target, Target::Private(_)));
        if !mine && entry.from.is_some() && (entry.mention || private) {
            self.for_us(index, &entry);
        }
        self.record(index, &entry);
        let width = self.message_width();
        if let Some(w) = self.windows.get_mut(index) {
            w.push(entry, seen, width);
        }
    }

    /// Adds a line of the client's own to the current window.
    pub(crate) fn note(&mut self, kind: EntryKind, text: &str) {
        self.note_as(kind, sanitize(text).into_owned());
    }

    /// Adds a line the server sent to the current window; its line breaks are kept.
    pub(crate) fn note_from_server(&mut self, kind: EntryKind, text: &str) {
        self.note_as(kind, clean(text));
    }

    /// Adds `shown`, a text made safe to draw, to the current window.
    fn note_as(&mut self, kind: EntryKind, shown: String) {
        let entry = Entry::note(self.time_now(), kind, shown);
        self.push(self.windows.current, entry);
    }

    /// The entry for something `from` said at `ts`; `account`: logged in to `from`'s account.
    pub(crate) fn spoken(
        &self,
        from: Nick,
        account: bool,
        kind: EntryKind,
        text: &str,
        ts: u64,
    ) -> Entry {
        Entry {
            from: Some(from),
            account,
            ts: Some(ts),
            day: self.settings.day_of(ts),
            ..Entry::note(self.settings.time_of(ts), kind, clean(text))
        }
    }

    /// The entry for a room message; `earlier`: from the room's history rather than live. A
    /// tombstone (a deleted message) shows [`crate::entry::DELETED_TEXT`].
    pub(crate) fn message_entry(&self, m: &Stored, earlier: bool) -> Entry {
        let (kind, text) = match (m.kind, &m.text) {
            (MessageKind::Say, Some(text)) => (EntryKind::Say, text.as_str()),
            (MessageKind::Action, Some(text)) => (EntryKind::Action, text.as_str()),
            _ => (EntryKind::Say, ""),
        };
        let mention =
            !self.link.is_me(&m.from) && for_us(text, &self.link.nick, &self.settings.highlights);
        let mut entry = Entry {
            seq: Some(m.seq),
            id: Some(m.id),
            earlier,
            mention,
            ..self.spoken(m.from.clone(), m.account, kind, text, m.ts)
        };
        if m.is_deleted() {
            entry.delete();
        }
        entry
    }

    /// Scrolls the current window by `rows` (up is positive), within its conversation. Returns
    /// whether the view is at the top of what the window holds.
    pub(crate) fn scroll_by(&mut self, rows: i32) -> bool {
        let (width, height) = (self.message_width(), self.message_height());
        let Some(w) = self.windows.current_window_mut() else { return false };
        let max = w.total_rows(width).saturating_sub(height);
        let scroll = i64::try_from(w.scroll).unwrap_or(i64::MAX) + i64::from(rows);
        w.scroll = usize::try_from(scroll.max(0)).unwrap_or(0).min(max);
        w.scroll == max
    }
}
