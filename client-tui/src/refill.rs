//! Filling in after a reconnect: a window that held messages before the loss collects here
//! the messages after the newest one it held (the join backlog, older pages, live ones), until
//! nothing between is missing. Then it shows them all at once, each once, in sequence order.

use std::collections::BTreeMap;

use protocol::Stored;

/// Most missed messages a window fills in after a reconnect; older ones are left to scrolling
/// up (and the window says so).
pub const MAX_REFILL: usize = 2_000;

/// A window catching up after a reconnect.
#[derive(Debug, Clone, Default)]
pub struct Refill {
    /// The newest message the window held when the connection was lost.
    pub after: u64,
    /// Messages newer than `after` received so far, by sequence number.
    pub got: BTreeMap<u64, Stored>,
}

impl Refill {
    /// Catching up on what came after message `after`.
    pub fn new(after: u64) -> Self {
        Self { after, got: BTreeMap::new() }
    }

    /// Keeps `m` if the window did not hold it already. A message held deleted stays so,
    /// whatever copy of it comes later (a page read before the deletion).
    pub fn hold(&mut self, m: Stored) {
        if m.seq > self.after && !self.got.get(&m.seq).is_some_and(Stored::is_deleted) {
            self.got.insert(m.seq, m);
        }
    }

    /// Whether nothing between `after` and what was received is missing.
    pub fn complete(&self) -> bool {
        self.got.first_key_value().is_none_or(|(&first, _)| first <= self.after + 1)
    }

    /// Whether the refill ends now: nothing is missing, or nothing more can be fetched (the
    /// room's history `beginning` was reached, or [`MAX_REFILL`] are held).
    pub fn done(&self, beginning: bool) -> bool {
        self.complete() || beginning || self.got.len() >= MAX_REFILL
    }

    /// The oldest message received: the next page is asked for before it.
    pub fn oldest(&self) -> Option<u64> {
        self.got.first_key_value().map(|(&seq, _)| seq)
    }

    /// How many messages before the oldest received are missing and left out, if any are.
    pub fn left_out(&self) -> Option<u64> {
        self.oldest().filter(|_| !self.complete()).map(|first| first - self.after - 1)
    }
}
