//! What one kind of attacker did, counted by all its connections together: the figures of a
//! row of the attackers' table.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// An attacker kind's counters, shared by its connections (and, for the reference connection,
/// read while it runs).
#[derive(Default)]
pub struct Counts {
    /// Connections made (accepted by the kernel; the server may still refuse them).
    pub connections: AtomicU64,
    /// Request lines sent (hello and quit included).
    pub requests: AtomicU64,
    /// What the kind is after, as [`super::attackers::Kind::answer`] names it: messages
    /// accepted, member lists, pages of history, rooms made, joins, nick changes.
    pub answers: AtomicU64,
    /// Bytes the server sent it.
    pub bytes: AtomicU64,
    /// `error` lines with the code `flood`.
    pub refusals: AtomicU64,
    /// Other `error` lines.
    pub errors: AtomicU64,
    /// `bye` lines, by code.
    byes: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn bye(&self, code: &str) {
        *self.byes().entry(code.to_owned()).or_default() += 1;
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            connections: get(&self.connections),
            requests: get(&self.requests),
            answers: get(&self.answers),
            bytes: get(&self.bytes),
            refusals: get(&self.refusals),
            errors: get(&self.errors),
            byes: self.byes().clone(),
        }
    }

    /// The goodbyes; a panic elsewhere while they were held leaves a count, still good.
    fn byes(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.byes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`Counts`] read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub connections: u64,
    pub requests: u64,
    pub answers: u64,
    pub bytes: u64,
    pub refusals: u64,
    pub errors: u64,
    pub byes: BTreeMap<String, u64>,
}

impl Snapshot {
    /// Goodbyes of every code.
    pub fn goodbyes(&self) -> u64 {
        self.byes.values().sum()
    }

    /// "quit 812, flooding 3": the goodbyes by code, most first.
    pub fn bye_codes(&self) -> String {
        let mut codes: Vec<_> = self.byes.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        codes.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
    }
}
