//! A room's broadcast channel and its back-pressure: how far the room's slowest member is
//! behind, and the senders waiting for it to catch up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::{Notify, broadcast};

use crate::event::SharedEvent;
use crate::limits::{ROOM_BACKLOG_LOW, ROOM_CHANNEL_CAPACITY};

/// A room's broadcast channel, how many of its messages are still on their way through the
/// broker (not stored and in the channel yet), and the senders waiting for its members to catch
/// up. Cheap to clone.
#[derive(Clone)]
pub struct RoomChannel {
    tx: broadcast::Sender<SharedEvent>,
    shared: Arc<RoomState>,
}

#[derive(Default)]
struct RoomState {
    /// Messages at the broker.
    queued: AtomicUsize,
    /// Senders waiting in [`RoomChannel::caught_up`].
    waiting: AtomicUsize,
    /// Wakes them.
    drained: Notify,
    /// Events sent, counted just after each is in the channel ([`Drained`]).
    sent: AtomicU64,
}

/// Counts a sender as waiting for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RoomChannel {
    pub(crate) fn new() -> Self {
        Self { tx: broadcast::channel(ROOM_CHANNEL_CAPACITY).0, shared: Arc::default() }
    }

    pub fn send(&self, event: SharedEvent) {
        // No receivers left (everyone just left) is fine.
        let _ = self.tx.send(event);
        self.shared.sent.fetch_add(1, Ordering::Release);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SharedEvent> {
        self.tx.subscribe()
    }

    /// How many events were sent so far ([`Drained`]).
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Acquire)
    }

    /// Whether anyone listens to the room on this node.
    pub fn has_receivers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A message for this room was handed to the broker.
    pub fn queue(&self) {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A queued message was broadcast or refused. Whoever dequeues a batch wakes the waiting
    /// senders once after it ([`RoomChannel::wake_senders`]): a refused message lowers the
    /// backlog with no member reading.
    pub fn dequeue(&self) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether `other` is this room's channel.
    pub fn is(&self, other: &RoomChannel) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How far behind the room's slowest member is: the events it has not read yet, and the
    /// messages that will reach it once stored.
    pub fn backlog(&self) -> usize {
        self.tx.len() + self.shared.queued.load(Ordering::Relaxed)
    }

    /// Completes once the room's backlog is below [`ROOM_BACKLOG_LOW`]: what a sender that
    /// got too far ahead of the room's members waits for. Members wake it as they read
    /// ([`RoomChannel::wake_senders`]); it polls nothing.
    pub async fn caught_up(&self) {
        self.shared.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.shared.waiting);
        loop {
            let notified = self.shared.drained.notified();
            tokio::pin!(notified);
            // Registered (and counted in `waiting`) before the look, so a member that reads in
            // between still wakes it.
            notified.as_mut().enable();
            if self.backlog() < ROOM_BACKLOG_LOW {
                return;
            }
            notified.await;
        }
    }

    /// Wakes the senders waiting for the room if it has caught up: called by a member after a
    /// batch of the room's events and by the broker after a batch of its messages.
    /// One fence and one atomic load when nobody waits.
    pub fn wake_senders(&self) {
        // Orders this member's reads before the look at `waiting`, against the waiter's
        // `waiting` increment before its look at the backlog: one of the two sees the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.waiting.load(Ordering::SeqCst) > 0 && self.backlog() < ROOM_BACKLOG_LOW {
            self.shared.drained.notify_waiters();
        }
    }

    /// A member let go of the room (left, stopped reading, ended): the waiting senders look
    /// again, since the backlog may have been its alone.
    pub fn let_go(&self) {
        if self.shared.waiting.load(Ordering::SeqCst) > 0 {
            self.shared.drained.notify_waiters();
        }
    }
}

/// The rooms of a batch of messages, each once: their waiting senders are woken once per
/// batch, not once per message.
#[derive(Default)]
pub struct BatchRooms(Vec<RoomChannel>);

impl BatchRooms {
    pub fn add(&mut self, room: &RoomChannel) {
        if !self.0.iter().any(|r| r.is(room)) {
            self.0.push(room.clone());
        }
    }

    /// Once the batch's messages are stored and sent, or refused.
    pub fn wake_senders(self) {
        for room in self.0 {
            room.wake_senders();
        }
    }
}

/// What a member knows of its receiver having been read to the end: how many events the room
/// had sent ([`RoomChannel::sent`], read before the look) when a look found it empty, and how
/// many the member took since. Looking at an empty broadcast receiver locks the room's
/// channel; this tells with one atomic load that a look would find nothing, which after a
/// paced message it always would.
///
/// An event sent before the count was read is in the receiver by the time of the look, so a
/// look that found nothing took every counted event: the only event it can miss is one sent
/// at the same moment and not yet counted, which the member's wait for its rooms then takes
/// at once, in a write of its own.
#[derive(Clone, Copy, Default)]
pub struct Drained {
    /// `sent` when the receiver was last found empty; meaningless while `known` is false.
    at: u64,
    taken: u64,
    known: bool,
}

impl Drained {
    /// Whether the receiver may hold an event, the room having sent `sent`: it was never found
    /// empty, or more were sent since than were taken.
    pub fn may_hold_more(&self, sent: u64) -> bool {
        !self.known || sent.wrapping_sub(self.at) > self.taken
    }

    /// A look found the receiver empty; the room had sent `sent` just before it.
    pub fn found_empty(&mut self, sent: u64) {
        *self = Self { at: sent, taken: 0, known: true };
    }

    /// An event was taken from the receiver.
    pub fn took(&mut self) {
        self.taken = self.taken.wrapping_add(1);
    }
}
