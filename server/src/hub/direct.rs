//! A session's queue of direct events: private messages, the news that a new connection
//! took its nick over, a moderator's orders (leave a room, end), and the server's shutdown.
//! Written by other sessions through the hub, read by the session. It also carries what the
//! hub needs to know of the session to match a ban against it: its address and whether it is
//! logged in.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

use protocol::{ByeCode, RoomName};

use crate::event::SharedEvent;
use crate::limits::DIRECT_QUEUE;

/// A session's queue of direct events (private messages), written by other sessions through
/// the hub: in order, bounded by [`DIRECT_QUEUE`], and holding no memory while empty.
///
/// Not a `tokio::sync::mpsc` channel: that allocates 800 bytes up front (its cache-padded
/// state and a first block of 32 slots), for each of thousands of idle sessions that may
/// never get a private message. This is one small allocation; a message that arrives takes a
/// lock the session otherwise never touches.
struct DirectQueue {
    events: Mutex<VecDeque<SharedEvent>>,
    /// How many events `events` holds, or [`CLOSED`] once the session has ended. Written
    /// under the lock; read without it for a quick look (the session looks after every event
    /// it takes from its rooms).
    len: AtomicUsize,
    /// The session waiting for an event.
    waker: AtomicWaker,
    /// A new connection took the session's nick over: the session is to end.
    replaced: AtomicBool,
    /// The server is shutting down: the session is to say goodbye and end. Here rather than
    /// in a signal of its own, so a session waiting for events waits on one thing less.
    shutdown: AtomicBool,
    /// A moderator's orders, in the order given; few (one per room the session is in, and an
    /// end), so not bounded like `events`.
    orders: Mutex<Vec<Order>>,
    /// Whether `orders` has any, for a look without the lock.
    has_orders: AtomicBool,
    /// The client's address, for address bans.
    peer: IpAddr,
    /// Whether the session is logged in to its nick's account, for account bans.
    logged_in: AtomicBool,
    /// When the session last spoke (ms since the epoch; 0: never), for `whois`'s idle time:
    /// the session stores it without the hub's lock, the hub reads it when asked.
    spoke: AtomicU64,
}

/// What a moderator's act tells a session to do.
#[derive(Debug)]
pub enum Order {
    /// It was removed from `room` (the hub has taken it out already); `event` is the `kicked`
    /// presence to show, if the room's channel has not brought it.
    Leave { room: RoomName, event: SharedEvent },
    /// It is to end with this goodbye (a server admin's kill or ban).
    End { code: ByeCode, message: String },
}

/// [`DirectQueue::len`] of a session that has ended: nothing more is taken.
const CLOSED: usize = usize::MAX;

impl DirectQueue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<SharedEvent>> {
        crate::sync::lock(&self.events)
    }
}

/// The sending side of a session's direct queue, held by the hub.
#[derive(Clone)]
pub struct Direct(Arc<DirectQueue>);

/// What a session takes from its direct queue.
#[derive(Debug)]
pub enum DirectEvent {
    Event(SharedEvent),
    /// A new connection took this session's nick over (see [`Hub::claim_nick`](crate::hub::Hub::claim_nick)): the session
    /// has left the hub and is to end.
    Replaced,
    /// The server is shutting down.
    Shutdown,
    Order(Order),
}

/// Why a direct event was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// [`DIRECT_QUEUE`] events are waiting already.
    Full,
    /// The session has ended.
    Closed,
}

impl Direct {
    /// Queues `event` for the session, unless its queue is full or it has ended.
    pub fn try_send(&self, event: SharedEvent) -> Result<(), NotQueued> {
        {
            let mut events = self.0.lock();
            match self.0.len.load(Ordering::Relaxed) {
                CLOSED => return Err(NotQueued::Closed),
                len if len >= DIRECT_QUEUE => return Err(NotQueued::Full),
                _ => {}
            }
            events.push_back(event);
            self.0.len.store(events.len(), Ordering::Release);
        }
        self.0.waker.wake();
        Ok(())
    }

    /// Tells the session it was replaced by a new connection.
    pub(super) fn replace(&self) {
        self.0.replaced.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    /// Tells the session the server is shutting down.
    pub(super) fn shut_down(&self) {
        self.0.shutdown.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    /// Gives the session a moderator's order.
    pub fn order(&self, order: Order) {
        crate::sync::lock(&self.0.orders).push(order);
        self.0.has_orders.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    pub(super) fn peer(&self) -> IpAddr {
        self.0.peer
    }

    pub(super) fn logged_in(&self) -> bool {
        self.0.logged_in.load(Ordering::Acquire)
    }

    /// When the session last spoke (ms since the epoch), if it has.
    pub(super) fn spoke(&self) -> Option<u64> {
        Some(self.0.spoke.load(Ordering::Relaxed)).filter(|&ms| ms > 0)
    }
}

/// What a room rings to wake a member's session for the events it sends: the waker of the
/// session's direct queue, which the session registers for its rooms and its direct events
/// alike. One waker per session rather than one per room: a session waiting on many rooms
/// registers once, and a room wakes its members without locking anything of theirs.
#[derive(Clone)]
pub struct Bell(Arc<DirectQueue>);

impl Bell {
    pub fn ring(&self) {
        self.0.waker.wake();
    }
}

/// A look at a session's direct queue that does not keep the session's queue alive, for the
/// hub's roll of sessions.
pub(super) struct WeakDirect(Weak<DirectQueue>);

impl WeakDirect {
    /// The queue, while its session lasts.
    pub(super) fn upgrade(&self) -> Option<Direct> {
        self.0.upgrade().map(Direct)
    }

    /// Whether its session still lasts.
    pub(super) fn lasts(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// The session's end of its direct queue. Dropping it closes the queue.
pub struct DirectReceiver(Arc<DirectQueue>);

impl Default for DirectReceiver {
    /// For a client at an unspecified address (tests).
    fn default() -> Self {
        Self::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    }
}

impl DirectReceiver {
    /// The queue of a session whose client is at `peer`.
    pub fn new(peer: IpAddr) -> Self {
        Self(Arc::new(DirectQueue {
            events: Mutex::default(),
            len: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
            replaced: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            orders: Mutex::default(),
            has_orders: AtomicBool::new(false),
            peer,
            logged_in: AtomicBool::new(false),
            spoke: AtomicU64::new(0),
        }))
    }

    /// Whether the session is logged in to its nick's account, as ban checks see it.
    pub fn set_logged_in(&self, logged_in: bool) {
        self.0.logged_in.store(logged_in, Ordering::Release);
    }

    /// The session spoke (a message, an action, a private message) at `ms`.
    pub fn spoke(&self, ms: u64) {
        self.0.spoke.store(ms, Ordering::Relaxed);
    }

    /// The sending side, for the hub.
    pub fn sender(&self) -> Direct {
        Direct(self.0.clone())
    }

    /// What the session's rooms ring when they send ([`crate::hub::RoomChannel::listen`]).
    pub fn bell(&self) -> Bell {
        Bell(self.0.clone())
    }

    /// Wakes the task of `cx` when a room rings or a direct event comes: registered before
    /// the session looks at its rooms and its queue, so nothing that comes after the look is
    /// missed.
    pub fn register(&self, cx: &Context<'_>) {
        self.0.waker.register(cx.waker());
    }

    /// A look at the queue that lasts no longer than the session, for the hub's roll.
    pub(super) fn downgrade(&self) -> WeakDirect {
        WeakDirect(Arc::downgrade(&self.0))
    }

    /// The next event already queued, if any. The session asks after every event it takes
    /// from its rooms, so the usual answer, none, is one load.
    #[inline]
    pub fn try_recv(&self) -> Option<SharedEvent> {
        // Not `CLOSED` either: that is set only once this receiver is gone.
        if self.0.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.take()
    }

    fn take(&self) -> Option<SharedEvent> {
        let mut events = self.0.lock();
        let event = events.pop_front();
        if events.is_empty() {
            // Emptied: the buffer goes back, so an idle session holds none.
            *events = VecDeque::new();
        }
        self.0.len.store(events.len(), Ordering::Release);
        event
    }

    /// The next event, once there is one. Cancel-safe: an event is only taken when returned.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<DirectEvent> {
        // Registered before the look, so an event queued in between wakes the session.
        self.0.waker.register(cx.waker());
        if self.replaced() {
            return Poll::Ready(DirectEvent::Replaced);
        }
        if self.0.shutdown.load(Ordering::Acquire) {
            return Poll::Ready(DirectEvent::Shutdown);
        }
        if let Some(order) = self.take_order() {
            return Poll::Ready(DirectEvent::Order(order));
        }
        match self.try_recv() {
            Some(event) => Poll::Ready(DirectEvent::Event(event)),
            None => Poll::Pending,
        }
    }

    /// The oldest order not yet carried out.
    fn take_order(&self) -> Option<Order> {
        if !self.0.has_orders.load(Ordering::Acquire) {
            return None;
        }
        let mut orders = crate::sync::lock(&self.0.orders);
        let order = (!orders.is_empty()).then(|| orders.remove(0));
        if orders.is_empty() {
            *orders = Vec::new();
            self.0.has_orders.store(false, Ordering::Release);
        }
        order
    }

    /// Whether a new connection took the session's nick over.
    pub fn replaced(&self) -> bool {
        self.0.replaced.load(Ordering::Acquire)
    }
}

impl Drop for DirectReceiver {
    fn drop(&mut self) {
        let mut events = self.0.lock();
        *events = VecDeque::new();
        self.0.len.store(CLOSED, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use protocol::ServerMsg;

    fn pong(token: u64) -> SharedEvent {
        Event::new(ServerMsg::Pong { token })
    }

    fn token(event: &SharedEvent) -> u64 {
        match event.msg {
            ServerMsg::Pong { token } => token,
            _ => panic!("not a pong"),
        }
    }

    /// Direct events come out in the order they went in; past [`DIRECT_QUEUE`] the sender is
    /// refused, and an ended session takes nothing more.
    #[test]
    fn a_direct_queue_is_ordered_and_bounded() {
        let rx = DirectReceiver::default();
        let tx = rx.sender();
        for n in 0..DIRECT_QUEUE as u64 {
            tx.try_send(pong(n)).unwrap();
        }
        assert_eq!(tx.try_send(pong(0)), Err(NotQueued::Full));
        assert_eq!(token(&rx.try_recv().unwrap()), 0);
        tx.try_send(pong(1000)).unwrap();
        let rest: Vec<u64> = std::iter::from_fn(|| rx.try_recv()).map(|e| token(&e)).collect();
        let expected: Vec<u64> = (1..DIRECT_QUEUE as u64).chain([1000]).collect();
        assert_eq!(rest, expected);
        assert_eq!(rx.0.lock().capacity(), 0, "an empty queue holds no memory");
        drop(rx);
        assert_eq!(tx.try_send(pong(1)), Err(NotQueued::Closed));
    }

    #[tokio::test]
    async fn a_waiting_session_is_woken_by_a_direct_event() {
        let rx = DirectReceiver::default();
        let tx = rx.sender();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            tx.try_send(pong(7)).unwrap();
        });
        let event = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            std::future::poll_fn(|cx| rx.poll_recv(cx)),
        )
        .await
        .unwrap();
        let DirectEvent::Event(event) = event else { panic!("not an event") };
        assert_eq!(token(&event), 7);
        sender.await.unwrap();
        // And by being replaced.
        let replace = rx.sender();
        let replacer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            replace.replace();
        });
        let event = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            std::future::poll_fn(|cx| rx.poll_recv(cx)),
        )
        .await
        .unwrap();
        assert!(matches!(event, DirectEvent::Replaced));
        replacer.await.unwrap();
    }
}
