//! The roll of every session the server runs, registered or not, by its direct queue: the
//! server's shutdown reaches each one through the queue it waits on anyway. A shutdown signal
//! of its own would be one more thing for every session to poll, and to register with, at
//! each of its wake-ups; those are one per message delivered.
//!
//! The roll holds weak handles, so a session that ends needs no step here: its entry is swept
//! when the roll would otherwise grow.

use std::sync::Mutex;

use super::direct::{DirectReceiver, WeakDirect};

/// The roll's room, at least, after a sweep.
const MIN_ROLL: usize = 64;

#[derive(Default)]
pub(super) struct Roll(Mutex<Entries>);

#[derive(Default)]
struct Entries {
    sessions: Vec<WeakDirect>,
    /// The server is shutting down: a session enlisted now is told at once.
    closing: bool,
}

impl Roll {
    /// Puts a new session on the roll.
    pub(super) fn enlist(&self, direct: &DirectReceiver) {
        let mut entries = crate::sync::lock(&self.0);
        if entries.closing {
            direct.sender().shut_down();
            return;
        }
        let sessions = &mut entries.sessions;
        if sessions.len() == sessions.capacity() {
            // Swept only when full, and then left at least half empty: each entry is looked
            // at a bounded number of times however sessions come and go. An entry keeps its
            // ended session's queue allocated until then, so after a burst the roll shrinks
            // back towards the sessions that last.
            sessions.retain(WeakDirect::lasts);
            let room = 2 * sessions.len().max(MIN_ROLL);
            if sessions.capacity() > 2 * room {
                sessions.shrink_to(room);
            }
            sessions.reserve(sessions.len().max(1));
        }
        sessions.push(direct.downgrade());
    }

    /// Tells every session on the roll, and any enlisted from now on, that the server is
    /// shutting down.
    pub(super) fn close(&self) {
        let sessions = {
            let mut entries = crate::sync::lock(&self.0);
            entries.closing = true;
            std::mem::take(&mut entries.sessions)
        };
        for direct in sessions.iter().filter_map(WeakDirect::upgrade) {
            direct.shut_down();
        }
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        crate::sync::lock(&self.0).sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use super::*;
    use crate::hub::DirectEvent;

    async fn next(direct: &DirectReceiver) -> DirectEvent {
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| direct.poll_recv(cx)))
            .await
            .expect("the session was told")
    }

    #[tokio::test]
    async fn closing_the_roll_tells_every_session_and_those_that_come_later() {
        let roll = Roll::default();
        let sessions: Vec<DirectReceiver> = (0..3).map(|_| DirectReceiver::default()).collect();
        for session in &sessions {
            roll.enlist(session);
        }
        roll.close();
        for session in &sessions {
            assert!(matches!(next(session).await, DirectEvent::Shutdown));
        }
        let late = DirectReceiver::default();
        roll.enlist(&late);
        assert!(matches!(next(&late).await, DirectEvent::Shutdown));
    }

    /// Sessions that come and go leave the roll a few times as long as the sessions that
    /// last, however many came and went.
    #[test]
    fn ended_sessions_are_swept() {
        let roll = Roll::default();
        let lasting: Vec<DirectReceiver> = (0..10).map(|_| DirectReceiver::default()).collect();
        for session in &lasting {
            roll.enlist(session);
        }
        for _ in 0..10_000 {
            roll.enlist(&DirectReceiver::default());
        }
        assert!(roll.entries() <= 4 * lasting.len(), "{} entries", roll.entries());
    }

    /// After a burst of sessions that end, the roll's room comes back down with the next
    /// sessions, so the ended ones' queues are not kept allocated.
    #[test]
    fn the_roll_shrinks_after_a_burst() {
        let roll = Roll::default();
        let burst: Vec<DirectReceiver> = (0..10_000).map(|_| DirectReceiver::default()).collect();
        for session in &burst {
            roll.enlist(session);
        }
        drop(burst);
        for _ in 0..20_000 {
            roll.enlist(&DirectReceiver::default());
        }
        let room = crate::sync::lock(&roll.0).sessions.capacity();
        assert!(room <= 8 * MIN_ROLL, "room for {room} entries after the burst");
    }
}
