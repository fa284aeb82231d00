//! A room's broadcast channel and the bells of the members listening to it; its
//! back-pressure, the senders it holds back while its members catch up, is
//! [`back_pressure`]'s.
//!
//! Members do not wait in the broadcast channel itself: its receivers each lock the channel's
//! tail to join its list of waiters, at every wait, and a session in several rooms would wait
//! on several such lists. A member takes events with `try_recv` and waits on its session's one
//! waker, which each room it listens to rings after every event it sends, or once after a batch
//! of them ([`Listener`], [`BatchRooms`]).

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use slab::Slab;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{Notify, broadcast};

mod back_pressure;

pub use back_pressure::{HeldBack, Share};

use super::direct::Bell;
use crate::event::SharedEvent;
use crate::limits::ROOM_CHANNEL_CAPACITY;

/// A room's broadcast channel, how many of its messages are still on their way through the
/// broker (not stored and in the channel yet), and the senders waiting for its members to catch
/// up. Cheap to clone.
#[derive(Clone)]
pub struct RoomChannel {
    shared: Arc<RoomState>,
}

#[derive(Default)]
struct RoomState {
    /// The broadcast channel, made when a member of this node first subscribes: its buffer is
    /// [`ROOM_CHANNEL_CAPACITY`] slots (tens of KiB), and with several nodes the hub knows every
    /// room of every node, most of them without a member here. Until then a send reaches
    /// nobody, as it would with no receivers.
    tx: OnceLock<broadcast::Sender<SharedEvent>>,
    /// Messages at the broker.
    queued: AtomicUsize,
    /// Senders held back ([`HeldBack`]).
    waiting: AtomicUsize,
    /// Times the room let its held senders go: a sender held before the latest goes on.
    releases: AtomicU64,
    /// Senders held since the latest release: a release lets someone go, or is not made.
    held_since: AtomicUsize,
    /// What the latest release gave each sender it let go ([`RoomChannel::hold_back`]).
    share: AtomicU16,
    /// Wakes them.
    drained: Notify,
    /// Events sent, counted just after each is in the channel ([`Drained`]).
    sent: AtomicU64,
    /// The bells of the members listening ([`Listener`]), rung after each event.
    bells: Mutex<Slab<Bell>>,
}

/// A member's receiver of a room's events, with its bell on the room's list: the room rings it
/// after every event it sends, once the event is counted in [`RoomChannel::sent`]. Dropping it
/// takes the bell off the list.
pub struct Listener {
    rx: broadcast::Receiver<SharedEvent>,
    key: usize,
    room: Arc<RoomState>,
}

impl Listener {
    /// The next event already in the channel, if any.
    pub fn try_recv(&mut self) -> Result<SharedEvent, TryRecvError> {
        self.rx.try_recv()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        crate::sync::lock(&self.room.bells).try_remove(self.key);
    }
}

impl RoomChannel {
    pub(crate) fn new() -> Self {
        Self { shared: Arc::default() }
    }

    /// Sends `event` to the room's receivers, counts it, and rings the listening members'
    /// bells: a member that looks after its bell has rung finds the event counted.
    pub fn send(&self, event: SharedEvent) {
        self.send_unrung(event);
        self.ring();
    }

    /// Sends and counts `event` but rings nobody: for a batch, whose rooms are rung once at
    /// its end ([`BatchRooms::send`]). Ringing costs a look at every member's bell, and a
    /// member awake for the batch's first event takes the rest with it.
    fn send_unrung(&self, event: SharedEvent) {
        // No receivers left (everyone just left), or none ever (no channel yet), is fine.
        if let Some(tx) = self.shared.tx.get() {
            let _ = tx.send(event);
        }
        self.shared.sent.fetch_add(1, Ordering::Release);
    }

    /// Rings the bells of the members listening.
    fn ring(&self) {
        for (_, bell) in crate::sync::lock(&self.shared.bells).iter() {
            bell.ring();
        }
    }

    /// A receiver of the events sent from now on. Subscribed under the hub's lock, before a
    /// join is announced, so the joiner sees its own join; its member then listens with it.
    pub fn subscribe(&self) -> broadcast::Receiver<SharedEvent> {
        self.shared.tx.get_or_init(|| broadcast::channel(ROOM_CHANNEL_CAPACITY).0).subscribe()
    }

    /// Rings `bell` after each event the room sends, for as long as the listener lasts; `rx`
    /// is one of this room's receivers.
    pub fn listen(&self, rx: broadcast::Receiver<SharedEvent>, bell: Bell) -> Listener {
        let key = crate::sync::lock(&self.shared.bells).insert(bell);
        Listener { rx, key, room: self.shared.clone() }
    }

    /// How many events were sent so far ([`Drained`]).
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Acquire)
    }

    /// Whether anyone listens to the room on this node.
    pub fn has_receivers(&self) -> bool {
        self.shared.tx.get().is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Whether the broadcast channel has been made: a member of this node subscribed.
    #[cfg(test)]
    pub(crate) fn is_made(&self) -> bool {
        self.shared.tx.get().is_some()
    }

    /// Whether `other` is this room's channel.
    pub fn is(&self, other: &RoomChannel) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The rooms of a batch of messages, each once: their members are rung, and their waiting
/// senders woken, once per batch, not once per message.
#[derive(Default)]
pub struct BatchRooms(Vec<RoomChannel>);

impl BatchRooms {
    pub fn add(&mut self, room: &RoomChannel) {
        if !self.0.iter().any(|r| r.is(room)) {
            self.0.push(room.clone());
        }
    }

    /// Sends `event` to `room`, whose members are rung at [`BatchRooms::ring`].
    pub fn send(&mut self, room: &RoomChannel, event: SharedEvent) {
        room.send_unrung(event);
        self.add(room);
    }

    /// Rings the members of every room sent to, once each: after the batch's last send.
    pub fn ring(&self) {
        for room in &self.0 {
            room.ring();
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
/// at the same moment and not yet counted, and the room rings the member's bell once it is
/// counted.
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
