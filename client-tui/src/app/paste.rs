//! What the app does with pastes: asks what to do with a multi-line one, sends it as the
//! person chose, and keeps a paste sent line by line going as the server echoes each line.

use std::time::Instant;

use crossterm::event::KeyEvent;
use protocol::{ErrorCode, Nick, RoomName, Text};

use super::App;
use crate::entry::{Entry, EntryKind};
use crate::event::Effect;
use crate::link::Connection;
use crate::paste::{Destination, Line, LineQueue, Pace, PasteChoice};

/// Why lines going out one by one were given up: what it says of the line on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The server refused it: not stored.
    Refused,
    /// Its echo never came: it may be stored.
    NoEcho,
    /// The connection went before its echo came: it may be stored.
    ConnectionLost,
}

impl App {
    /// A key while a paste waits for a choice.
    pub(crate) fn on_paste_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        let Some(choice) = PasteChoice::from_key(key) else { return Vec::new() };
        let Some(paste) = self.composer.paste.take() else { return Vec::new() };
        match choice {
            PasteChoice::Cancel => Vec::new(),
            PasteChoice::Edit => {
                self.composer.input.insert_str(&paste.text);
                Vec::new()
            }
            PasteChoice::AsOne => match Text::parse(&paste.text) {
                Ok(text) => self.send_to_current(text),
                Err(e) => {
                    self.note(
                        EntryKind::Error,
                        &format!("cannot send the paste as one message: {e}; try line by line"),
                    );
                    self.composer.paste = Some(paste);
                    Vec::new()
                }
            },
            PasteChoice::LineByLine => self.send_lines(&paste.text),
        }
    }

    /// Whether a paste can be sent now; if not, says so.
    fn registered_for_paste(&mut self) -> bool {
        if self.link.state != Connection::Registered {
            self.note(EntryKind::Error, "not connected to the server; paste not sent");
            return false;
        }
        true
    }

    /// Where the current window's messages go; if nowhere, says so.
    fn paste_destination(&mut self) -> Option<Destination> {
        let to = self.windows.current_window().and_then(|w| Destination::of(&w.target));
        if to.is_none() {
            self.note(EntryKind::Error, "you are not in a room; /join one first");
        }
        to
    }

    fn send_to_current(&mut self, text: Text) -> Vec<Effect> {
        if !self.registered_for_paste() {
            return Vec::new();
        }
        let Some(to) = self.paste_destination() else { return Vec::new() };
        if let Some(queue) = self.composer.sending.as_mut() {
            // Behind the lines still going out, or its echo would be taken for theirs.
            queue.push(Line { to, action: false, text, note: None });
            return self.send_next_line();
        }
        vec![Effect::Send(to.request(text))]
    }

    /// Line by line: after whatever is still going out, at the server's pace.
    fn send_lines(&mut self, text: &str) -> Vec<Effect> {
        if !self.registered_for_paste() {
            return Vec::new();
        }
        let Some(to) = self.paste_destination() else { return Vec::new() };
        let lines = LineQueue::new(to, text);
        match self.composer.sending.as_mut() {
            Some(queue) => queue.extend(lines),
            None => self.composer.sending = Some(lines),
        }
        self.send_next_line()
    }

    /// Our own message arrived in room `room` (or a private one to `to`): if it is the line
    /// on its way, the next one goes.
    pub(crate) fn paste_echoed(
        &mut self,
        room: Option<&RoomName>,
        to: Option<&Nick>,
    ) -> Vec<Effect> {
        let Some(mut queue) = self.composer.sending.take() else { return Vec::new() };
        let pacer = &mut self.composer.pacer;
        let (next, note) = queue.echoed(room, to, self.now, pacer);
        self.composer.sending = Some(queue).filter(|q| q.left() > 0);
        if let Some(note) = note {
            // Its echo shows it now.
            self.change_queued_note(note, |_| None);
        }
        next.map(Effect::Send).into_iter().collect()
    }

    /// Changes the `queued:` note of line `note`, wherever it was typed (see
    /// [`crate::window::Window::queued_note`]).
    fn change_queued_note(&mut self, note: u64, change: impl FnOnce(Entry) -> Option<Entry>) {
        let held = (0..self.windows.len()).find(|&i| self.windows[i].holds_queued(note));
        let width = self.message_width();
        if let Some(index) = held {
            self.windows[index].queued_note(note, width, change);
        }
    }

    /// An error from the server while lines are on their way, answering `request`: for the
    /// line on its way (a message, or an error that names no request), flood control's "slow
    /// down" retries the line and anything else stops the rest; an answer to another request
    /// (a rejoin, a `/whois`) leaves them going. (The error is shown either way.)
    pub(crate) fn paste_refused(
        &mut self,
        request: Option<&str>,
        code: ErrorCode,
        retry_after_ms: Option<u64>,
    ) {
        let Some(queue) = self.composer.sending.as_mut() else { return };
        if request.is_some_and(|r| !queue.answers(r)) {
            return;
        }
        if queue.refused(code, retry_after_ms, self.now) {
            self.stop_paste(Stopped::Refused);
        }
    }

    /// Gives up the lines not yet sent, saying why.
    pub(crate) fn stop_paste(&mut self, why: Stopped) {
        let Some(queue) = self.composer.sending.take() else { return };
        let (reason, on_its_way) = match why {
            Stopped::Refused => ("the server refused a line", "not sent: "),
            Stopped::NoEcho => ("no echo from the server", "sent, not confirmed: "),
            Stopped::ConnectionLost => {
                ("connection lost", "sent, not confirmed (see the room after the rejoin): ")
            }
        };
        // The line on its way counts as not sent only when the server refused it.
        let unconfirmed = why != Stopped::Refused && queue.in_flight();
        let unsent = queue.left() - usize::from(unconfirmed);
        let maybe = if unconfirmed { " (the one on its way may have been)" } else { "" };
        self.note(EntryKind::Error, &format!("{reason}: {unsent} pasted lines not sent{maybe}"));
        if let Some(note) = queue.in_flight_note() {
            self.mark_queued_note(note, on_its_way);
        }
        for note in queue.waiting_notes() {
            self.mark_queued_note(note, "not sent: ");
        }
    }

    /// The `queued:` note of line `note`, given up: red, `queued: ` replaced by `label`.
    fn mark_queued_note(&mut self, note: u64, label: &str) {
        self.change_queued_note(note, |entry| {
            let text = entry.text.replacen("queued: ", label, 1);
            Some(Entry { kind: EntryKind::Error, text, queued: None, ..entry })
        });
    }

    /// Sends the next line when the pace allows, resends a refused line when flood control
    /// does; gives up on a line never echoed.
    pub(crate) fn pace_paste(&mut self, now: Instant) -> Vec<Effect> {
        let Some(queue) = self.composer.sending.as_mut() else { return Vec::new() };
        match queue.pace(now, &mut self.composer.pacer) {
            Pace::Wait => Vec::new(),
            Pace::Send(request) => vec![Effect::Send(request)],
            Pace::GiveUp => {
                self.stop_paste(Stopped::NoEcho);
                Vec::new()
            }
        }
    }

    pub(crate) fn paste_deadline(&self) -> Option<Instant> {
        self.composer.sending.as_ref()?.deadline()
    }
}
