//! What a message asks of the person's attention, and what is kept of it: the bell and a
//! desktop notification for what is for us (a mention, a highlight word, a private message),
//! and a line in the window's chat log. Each is an effect the terminal layer carries out.

use super::App;
use crate::chatlog::Record;
use crate::entry::{Entry, EntryKind};
use crate::event::Effect;
use crate::notify::Notice;
use crate::window::Target;

impl App {
    /// `entry`, someone else's, is for us and lands in window `index`: the bell rings if it
    /// is on, and a notification goes if they are on and the person is not looking at it.
    pub(super) fn for_us(&mut self, index: usize, entry: &Entry) {
        if self.settings.bell {
            self.ring = true;
        }
        let shown = index == self.windows.current;
        if !self.notifier.should_notify(self.settings.notify, shown, self.now) {
            return;
        }
        let Some(w) = self.windows.get(index) else { return };
        let title = match &w.target {
            Target::Room(_) | Target::Server => format!("chat: {}", w.target.title()),
            Target::Private(_) => format!("chat: private, {}", w.target.title()),
        };
        let body = format!("{}{}", entry.label(), entry.text);
        self.raised.push(Effect::Notify(Notice { title, body }));
    }

    /// With chat logs on, `entry` (a message someone said live, ours included) becomes a line
    /// of window `index`'s log for the day it was sent: `HH:MM:SS <nick> text`, a line of its
    /// own for each of its lines. History shown on joining is not logged again.
    pub(super) fn record(&mut self, index: usize, entry: &Entry) {
        if !self.settings.logs
            || entry.earlier
            || entry.deleted
            || !matches!(entry.kind, EntryKind::Say | EntryKind::Action)
            || entry.from.is_none()
        {
            return;
        }
        let Some((day, time)) = entry.ts.and_then(|ts| self.settings.log_time_of(ts)) else {
            return;
        };
        let Some(w) = self.windows.get(index) else { return };
        let label = entry.label();
        let line = entry
            .text
            .split('\n')
            .map(|text| format!("{time} {label}{text}"))
            .collect::<Vec<_>>()
            .join("\n");
        self.raised.push(Effect::Record(Record { window: w.target.title(), day, line }));
    }
}
