//! Where a typed message goes: to the server at once; after the lines still on their way (a
//! paste, the lines of an earlier absence), so they keep their order; or, while offline, into
//! the unsent lines ([`crate::unsent`]), shown in grey as queued and sent after the next rejoin.

use protocol::sanitize;

use super::{App, LogKind};
use crate::entry::{Entry, EntryKind};
use crate::event::Effect;
use crate::link::Connection;
use crate::paste::{Destination, Line, LineQueue};
use crate::unsent::{Full, MAX_QUEUED};
use crate::window::Target;

/// How a queued line is shown: `queued: hello`, `queued: * waves`, `queued: -> Tracy: hi`.
fn queued_text(line: &Line) -> String {
    let text = sanitize(line.text.as_str());
    match (&line.to, line.action) {
        (Destination::Person(to), _) => format!("queued: -> {}: {text}", sanitize(to.as_str())),
        (Destination::Room(_), true) => format!("queued: * {text}"),
        (Destination::Room(_), false) => format!("queued: {text}"),
    }
}

impl App {
    /// A message typed in the current window (a line, `/me`, `/msg`). `typed`: the line as
    /// typed, given back to the input line if it cannot even be queued.
    pub(super) fn send_line(&mut self, line: Line, typed: Option<String>) -> Vec<Effect> {
        if let Destination::Person(to) = &line.to
            && let Some(w) = self.windows.current_window()
            && w.target != Target::Private(to.clone())
        {
            let typed_in = w.target.clone();
            self.composer.unsent.msg_typed(to, typed_in);
        }
        if self.link.state != Connection::Registered {
            return self.queue_offline(line, typed);
        }
        if let Some(queue) = self.composer.sending.as_mut() {
            // Behind the lines still going out, which the queue sends in turn.
            queue.push(line);
            return Vec::new();
        }
        self.composer.pacer.charge(self.now);
        vec![Effect::Send(line.request())]
    }

    /// Not connected: `line` waits with the unsent lines, shown grey in the window as queued.
    fn queue_offline(&mut self, line: Line, typed: Option<String>) -> Vec<Effect> {
        let shown = sanitize(&queued_text(&line)).into_owned();
        match self.composer.unsent.queue(line) {
            Ok(note) => {
                let entry = Entry::note(self.time_now(), EntryKind::Info, shown);
                self.push(self.windows.current, Entry { queued: Some(note), ..entry });
            }
            Err(Full) => {
                self.note(
                    EntryKind::Error,
                    &format!(
                        "not connected, and {MAX_QUEUED} lines are queued already: not queued \
                         (it is back in the input line)"
                    ),
                );
                if let Some(typed) = typed {
                    self.composer.input.set(&typed);
                }
            }
        }
        Vec::new()
    }

    /// Welcomed: the lines typed while offline go, in order, after the rejoins already asked
    /// for, at the server's pace.
    pub(crate) fn send_queued(&mut self) -> Vec<Effect> {
        let lines = self.composer.unsent.take();
        if lines.is_empty() {
            return Vec::new();
        }
        let n = lines.len();
        self.log(LogKind::Info, &format!("sending {n} lines typed while offline"));
        let queue = match self.composer.sending.take() {
            Some(mut queue) => {
                lines.into_iter().for_each(|line| queue.push(line));
                queue
            }
            None => LineQueue::of(lines),
        };
        self.composer.sending = Some(queue);
        self.send_next_line()
    }

    /// The next line of the queue on its way, if one may go now.
    pub(crate) fn send_next_line(&mut self) -> Vec<Effect> {
        let Some(mut queue) = self.composer.sending.take() else { return Vec::new() };
        let effects: Vec<Effect> = queue
            .send_next(self.now, &mut self.composer.pacer)
            .map(Effect::Send)
            .into_iter()
            .collect();
        self.composer.sending = Some(queue).filter(|q| q.left() > 0);
        effects
    }

    /// The progress of lines going out one by one ("sending 7/15..."), while there are more
    /// than one.
    pub fn sending_progress(&self) -> Option<String> {
        self.composer.sending.as_ref().filter(|q| q.total() > 1).map(LineQueue::progress)
    }
}
