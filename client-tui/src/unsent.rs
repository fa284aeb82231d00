//! Unsent lines: what was typed for the server that it has not had yet. Lines typed while the
//! client is not connected wait here, in order, shown as queued in their windows, and go out
//! after the rejoin on the next welcome (paced, as a paste line by line is: `crate::paste`).
//! It also remembers where each `/msg` was typed, so that its echo is shown there as well as
//! in the private window.

use std::collections::VecDeque;

use protocol::{Nick, NickKey};

use crate::paste::Line;
use crate::window::Target;

/// Most lines kept while offline: a few minutes of typing. Past it a line is refused (and
/// stays in the input line), rather than a long absence queueing a flood.
pub const MAX_QUEUED: usize = 50;

/// Most `/msg`s remembered awaiting their echo: more than anyone types between two echoes.
pub const MAX_ECHO_PLACES: usize = 32;

/// The queue is full: the line was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Debug, Default)]
pub struct Unsent {
    /// Typed while offline, oldest first, at most [`MAX_QUEUED`].
    queued: VecDeque<Line>,
    /// `/msg`s typed in another window than their private one, oldest first: the person
    /// they went to, and the window typed in.
    echo_places: VecDeque<(NickKey, Target)>,
    /// Numbers given to the queued lines' notes so far.
    notes: u64,
}

impl Unsent {
    /// Keeps `line` for the next connection, numbered for its `queued:` note; returns that
    /// number, or [`Full`].
    pub fn queue(&mut self, mut line: Line) -> Result<u64, Full> {
        if self.queued.len() >= MAX_QUEUED {
            return Err(Full);
        }
        self.notes += 1;
        line.note = Some(self.notes);
        self.queued.push_back(line);
        Ok(self.notes)
    }

    /// Lines waiting for a connection.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// The lines kept, oldest first, to be sent now.
    pub fn take(&mut self) -> Vec<Line> {
        self.queued.drain(..).collect()
    }

    /// A `/msg` to `to` was typed in window `typed_in`: its echo is shown there too.
    pub fn msg_typed(&mut self, to: &Nick, typed_in: Target) {
        if self.echo_places.len() == MAX_ECHO_PLACES {
            self.echo_places.pop_front();
        }
        self.echo_places.push_back((to.key(), typed_in));
    }

    /// The echo of a private message to `to` arrived (or its refusal, `None`: the oldest):
    /// where it was typed, if elsewhere than its private window.
    pub fn msg_answered(&mut self, to: Option<&Nick>) -> Option<Target> {
        let at = match to {
            Some(to) => self.echo_places.iter().position(|(key, _)| *key == to.key())?,
            None => 0,
        };
        self.echo_places.remove(at).map(|(_, target)| target)
    }
}
