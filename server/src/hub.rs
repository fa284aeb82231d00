//! The room registry: who is online, which rooms exist, who is in them.
//!
//! One `tokio::sync::broadcast` channel per room carries its events to every member. The hub
//! only changes membership and announces it; chat messages do not pass through it (a session
//! sends on the room's channel directly), so the hub's lock is never on the hot path.
//!
//! The state sits behind a `std::sync::Mutex`, not tokio's: every critical section is short,
//! never awaits, and a std mutex is faster for that (the mini-redis `db.rs` reasoning).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;

use protocol::{
    ErrorCode, Nick, NickKey, PresenceEvent, RequestError, RoomInfo, RoomName, ServerMsg, Text,
    now_millis,
};
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::cluster::{Change, Relay};
use crate::event::{Event, SharedEvent};
use crate::limits::{
    DIRECT_QUEUE, MAX_RESERVATIONS, MAX_ROOMS_LISTED, NICK_RESERVATION, RESERVE_AFTER,
    ROOM_BACKLOG_LOW, ROOM_CHANNEL_CAPACITY,
};

pub struct Hub {
    state: Mutex<State>,
    /// Most rooms at once (`--max-rooms`).
    max_rooms: usize,
    /// Most members of one room (`--max-room-members`).
    max_members: usize,
    /// How long a dropped session's nick is kept for its resume token (`--nick-reservation`).
    reservation: Duration,
    /// How long a session must have held its nick to be kept one.
    reserve_after: Duration,
    /// With several nodes: where presence and private messages go (through Redis, and back
    /// to every node's hub, this one's included). `None`: this hub is the whole chat.
    relay: Option<Relay>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, Room>,
    users: HashMap<NickKey, User>,
    /// Nicks of sessions that dropped, kept for a while for their resume token.
    reserved: HashMap<NickKey, Reservation>,
    /// `reserved` in the order its entries expire (a constant reservation time: the order
    /// they were made), to drop the expired ones without a scan.
    expiries: VecDeque<(Instant, NickKey)>,
    /// With several nodes: the sessions of the other nodes, for private messages and a quick
    /// refusal of a nick in use (Redis has the last word on nicks).
    remote: HashMap<NickKey, RemoteUser>,
}

/// This node's sessions and memberships, for Redis ([`Hub::local_view`]).
pub struct LocalView {
    /// Nick, session, resume token.
    pub users: Vec<(Nick, Uuid, Uuid)>,
    /// Room, nick, session.
    pub members: Vec<(RoomName, Nick, Uuid)>,
}

/// A session on another node.
struct RemoteUser {
    nick: Nick,
    session: Uuid,
    node: Arc<str>,
}

struct Reservation {
    nick: Nick,
    resume: Uuid,
    until: Instant,
}

impl State {
    fn drop_expired_reservations(&mut self, now: Instant) {
        while let Some((until, _)) = self.expiries.front()
            && *until <= now
        {
            let Some((until, key)) = self.expiries.pop_front() else { break };
            // The nick may have been reserved again since, until later.
            if self.reserved.get(&key).is_some_and(|r| r.until == until) {
                self.reserved.remove(&key);
            }
        }
    }

    /// Whether `session` still holds the nick of `key` (a new connection may have taken it
    /// over).
    fn holds(&self, key: &NickKey, session: Uuid) -> bool {
        self.users.get(key).is_some_and(|u| u.session == session)
    }

    /// Refuses `nick` if someone else holds it or it is kept for another session's token.
    fn check_free(
        &self,
        nick: &Nick,
        claim: Option<Uuid>,
        now: Instant,
    ) -> Result<(), RequestError> {
        let key = nick.key();
        if let Some(holder) = self.users.get(&key) {
            return Err(nick_in_use(nick, &holder.nick));
        }
        if let Some(holder) = self.remote.get(&key) {
            return Err(nick_in_use(nick, &holder.nick));
        }
        match self.reserved.get(&key) {
            Some(kept) if claim != Some(kept.resume) => Err(RequestError::new(
                ErrorCode::NickInUse,
                format!(
                    "the nick {} is kept for {} s for the one who held it, who lost the connection",
                    kept.nick,
                    kept.until.saturating_duration_since(now).as_secs().max(1)
                ),
            )),
            _ => Ok(()),
        }
    }
}

struct Room {
    tx: RoomChannel,
    /// By key, for uniqueness; lists are sorted by [`sort_members`]. With several nodes, the
    /// members on every node.
    members: BTreeMap<NickKey, Member>,
}

impl Room {
    fn new() -> Self {
        Self { tx: RoomChannel::new(), members: BTreeMap::new() }
    }

    fn nicks(&self) -> Vec<Nick> {
        self.members.values().map(|m| m.nick.clone()).collect()
    }
}

struct Member {
    nick: Nick,
    /// The member's session: a late departure of an earlier session of the same nick (on
    /// another node, say) does not remove a newer one.
    session: Uuid,
}

struct User {
    nick: Nick,
    /// The session that holds this nick.
    session: Uuid,
    /// The session's resume token: a new connection that shows it takes the nick over.
    resume: Uuid,
    /// When the session registered.
    since: Instant,
    /// Events for this session alone (private messages).
    direct: Direct,
    /// Sorted, no duplicates. A `Vec` of exactly its length rather than a `BTreeSet`, whose
    /// first node takes 192 bytes for the one room an idle session is in.
    rooms: Vec<RoomName>,
}

impl User {
    fn add_room(&mut self, room: &RoomName) {
        if let Err(at) = self.rooms.binary_search(room) {
            self.rooms.reserve_exact(1);
            self.rooms.insert(at, room.clone());
        }
    }

    fn remove_room(&mut self, room: &RoomName) {
        if let Ok(at) = self.rooms.binary_search(room) {
            self.rooms.remove(at);
        }
    }
}

/// A session's queue of direct events (private messages), written by other sessions through
/// the hub: in order, bounded by [`DIRECT_QUEUE`], and holding no memory while empty.
///
/// Not a `tokio::sync::mpsc` channel: that allocates 800 bytes up front (its cache-padded
/// state and a first block of 32 slots), for each of thousands of idle sessions that may
/// never get a private message. This is one small allocation; a message that arrives takes a
/// lock the session otherwise never touches.
#[derive(Default)]
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
}

/// [`DirectQueue::len`] of a session that has ended: nothing more is taken.
const CLOSED: usize = usize::MAX;

impl DirectQueue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<SharedEvent>> {
        // Every update is a single push or pop: a poisoned lock is consistent.
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side of a session's direct queue, held by the hub.
#[derive(Clone)]
pub struct Direct(Arc<DirectQueue>);

/// What a session takes from its direct queue.
#[derive(Debug)]
pub enum DirectEvent {
    Event(SharedEvent),
    /// A new connection took this session's nick over (see [`Hub::register`]): the session
    /// has left the hub and is to end.
    Replaced,
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
    fn replace(&self) {
        self.0.replaced.store(true, Ordering::Release);
        self.0.waker.wake();
    }
}

/// The session's end of its direct queue. Dropping it closes the queue.
#[derive(Default)]
pub struct DirectReceiver(Arc<DirectQueue>);

impl DirectReceiver {
    /// The sending side, for the hub.
    pub fn sender(&self) -> Direct {
        Direct(self.0.clone())
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
        match self.try_recv() {
            Some(event) => Poll::Ready(DirectEvent::Event(event)),
            None => Poll::Pending,
        }
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

/// A room's broadcast channel, how many of its messages are still on their way through the
/// history writer (not in the channel yet), and the senders waiting for its members to catch
/// up. Cheap to clone.
#[derive(Clone)]
pub struct RoomChannel {
    tx: broadcast::Sender<SharedEvent>,
    shared: Arc<RoomState>,
}

#[derive(Default)]
struct RoomState {
    /// Messages at the history writer.
    queued: AtomicUsize,
    /// Senders waiting in [`RoomChannel::caught_up`].
    waiting: AtomicUsize,
    /// Wakes them.
    drained: Notify,
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
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SharedEvent> {
        self.tx.subscribe()
    }

    /// A message for this room was handed to the history writer.
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
    /// batch of the room's events and by the history writer after a batch of its messages.
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

/// How a nick was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// It was free.
    New,
    /// A session held it and this one showed that session's resume token.
    TookOver,
    /// It was kept for a dropped session, whose resume token this one showed.
    Reclaimed,
}

/// A session's place in a room: the channel to speak on and the receiver to listen on.
pub struct Membership {
    /// The room's name, shared with the hub's entry (the session keeps this one rather than
    /// its own copy from the request).
    pub room: RoomName,
    pub tx: RoomChannel,
    pub rx: broadcast::Receiver<SharedEvent>,
    /// The join announcement, which is also the first event of `rx` from this session's
    /// point of view.
    pub announcement: SharedEvent,
    pub members: Vec<Nick>,
}

fn presence(room: &RoomName, nick: &Nick, event: PresenceEvent) -> SharedEvent {
    Event::new(ServerMsg::Presence {
        id: Uuid::now_v7(),
        ts: now_millis(),
        room: room.clone(),
        nick: nick.clone(),
        event,
    })
}

/// Puts a room's members in alphabetical order, ignoring case (keys are look-alike skeletons
/// and do not sort the way people read). Called after the hub's lock is released: for a big
/// room it is the slow part of a join.
fn sort_members(mut nicks: Vec<Nick>) -> Vec<Nick> {
    nicks.sort_by_cached_key(|n| (n.as_str().to_lowercase(), n.clone()));
    nicks
}

/// "the nick Tracy is already in use", or, when the holder's nick only looks like it,
/// "the nick Trаcy is too like Tracy, who is online".
fn nick_in_use(wanted: &Nick, holder: &Nick) -> RequestError {
    let message = if wanted.as_str().to_lowercase() == holder.as_str().to_lowercase() {
        format!("the nick {wanted} is already in use")
    } else {
        format!("the nick {wanted} is too like {holder}, who is online")
    };
    RequestError::new(ErrorCode::NickInUse, message)
}

/// A private message from `from` to `to`.
fn private(from: &Nick, to: &Nick, text: Text) -> SharedEvent {
    Event::new(ServerMsg::Private {
        id: Uuid::now_v7(),
        from: from.clone(),
        to: to.clone(),
        text,
        ts: now_millis(),
    })
}

/// The refusal for a private message whose recipient's queue is full.
fn recipient_busy(nick: &Nick) -> RequestError {
    RequestError::new(
        ErrorCode::RecipientBusy,
        format!("{nick} is not reading messages right now; try again later"),
    )
}

/// The refusal for a session whose nick a new connection took over (it is about to end).
fn taken_over() -> RequestError {
    RequestError::new(ErrorCode::NotRegistered, "a new connection took this session's nick over")
}

impl Hub {
    pub fn new(max_rooms: usize, max_members: usize) -> Self {
        Self {
            state: Mutex::default(),
            max_rooms,
            max_members,
            reservation: NICK_RESERVATION,
            reserve_after: RESERVE_AFTER,
            relay: None,
        }
    }

    /// Keeps the nick of a session that dropped after holding it for `after` for its resume
    /// token this long (zero: not at all).
    #[must_use]
    pub fn with_reservation(self, reservation: Duration, after: Duration) -> Self {
        Self { reservation, reserve_after: after, ..self }
    }

    /// Makes this hub one node of several: presence and private messages go through `relay`,
    /// and what other nodes do arrives through the `on_*` calls.
    #[must_use]
    pub fn with_relay(self, relay: Relay) -> Self {
        Self { relay: Some(relay), ..self }
    }

    /// The resume token of `session`, if it holds `nick`.
    pub fn resume_token(&self, nick: &Nick, session: Uuid) -> Option<Uuid> {
        self.state().users.get(&nick.key()).filter(|u| u.session == session).map(|u| u.resume)
    }

    /// Whether this hub is one node of several (nicks are then claimed in Redis first).
    pub fn clustered(&self) -> bool {
        self.relay.is_some()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (every update is a
        // single insert or remove), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `nick` for a new session, whose own resume token is `resume`. With `claim`,
    /// the resume token of an earlier session of this nick, the nick is taken over even while
    /// that session still holds it (its connection is dead but not yet noticed, or it is
    /// another device of the same person): the old session leaves its rooms as dropped and is
    /// told to end. A nick kept for a dropped session is given only to its token.
    pub fn register(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: Uuid,
        direct: Direct,
        claim: Option<Uuid>,
    ) -> Result<Registered, RequestError> {
        let mut state = self.state();
        let now = Instant::now();
        state.drop_expired_reservations(now);
        let key = nick.key();
        let how = if let Some(holder) = state.users.get(&key) {
            if claim.is_none_or(|claim| claim != holder.resume) {
                return Err(nick_in_use(nick, &holder.nick));
            }
            self.take_over(&mut state, &key);
            Registered::TookOver
        } else {
            state.check_free(nick, claim, now)?;
            if state.reserved.contains_key(&key) { Registered::Reclaimed } else { Registered::New }
        };
        self.insert_user(&mut state, nick, session, resume, direct, now);
        Ok(how)
    }

    /// Registers a nick that Redis has given this session (several nodes). A session of this
    /// node that holds it is taken over only if Redis says so (the token was shown); if Redis
    /// says the nick was free while a session here still has it (a rename on its way, Redis
    /// lost data), the nick is refused and let go again in Redis.
    pub fn register_granted(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: Uuid,
        direct: Direct,
        how: Registered,
    ) -> Result<(), RequestError> {
        let mut state = self.state();
        let key = nick.key();
        if let Some(holder) = state.users.get(&key) {
            if how != Registered::TookOver {
                let error = nick_in_use(nick, &holder.nick);
                if let Some(relay) = &self.relay {
                    relay.release(nick, session, resume, Duration::ZERO);
                }
                return Err(error);
            }
            self.take_over(&mut state, &key);
        }
        // Another node's holder (taken over, or gone): its own departure, when it comes, is
        // recognised by its session and changes nothing.
        state.remote.remove(&key);
        self.insert_user(&mut state, nick, session, resume, direct, Instant::now());
        Ok(())
    }

    /// Whether `session` is registered on this node.
    pub fn is_local(&self, session: Uuid) -> bool {
        self.state().users.values().any(|u| u.session == session)
    }

    /// Whether `session` of this node is in `room`.
    pub fn is_local_member(&self, room: &RoomName, session: Uuid) -> bool {
        let state = self.state();
        state.users.values().any(|u| u.session == session && u.rooms.binary_search(room).is_ok())
    }

    fn insert_user(
        &self,
        state: &mut State,
        nick: &Nick,
        session: Uuid,
        resume: Uuid,
        direct: Direct,
        now: Instant,
    ) {
        let key = nick.key();
        state.reserved.remove(&key);
        state.users.insert(
            key,
            User { nick: nick.clone(), session, resume, since: now, direct, rooms: Vec::new() },
        );
        if let Some(relay) = &self.relay {
            relay.online(session, nick);
        }
    }

    /// Ends the session holding `key` for a new connection that showed its token: it leaves
    /// its rooms as dropped ("reconnected") and is told to end.
    fn take_over(&self, state: &mut State, key: &NickKey) {
        let Some(old) = state.users.remove(key) else { return };
        let reason = protocol::Label::truncate("reconnected");
        for room in &old.rooms {
            let event = PresenceEvent::Dropped { reason: reason.clone() };
            self.remove_member(state, key, old.session, room, &presence(room, &old.nick, event));
        }
        old.direct.replace();
    }

    /// Another node's session took over `nick` from `session` of this node (several nodes).
    pub fn replaced(&self, nick: &Nick, session: Uuid) {
        let mut state = self.state();
        let key = nick.key();
        if state.holds(&key, session) {
            self.take_over(&mut state, &key);
        }
    }

    /// Puts `nick` in `room`, creating the room if new, and announces it to the room. The
    /// receiver is subscribed before the announcement is sent, so the joiner sees its own join.
    pub fn join(
        &self,
        nick: &Nick,
        session: Uuid,
        room: &RoomName,
    ) -> Result<Membership, RequestError> {
        let mut state = self.state();
        if !state.holds(&nick.key(), session) {
            return Err(taken_over());
        }
        if !state.rooms.contains_key(room) && state.rooms.len() >= self.max_rooms {
            return Err(RequestError::new(
                ErrorCode::TooManyRooms,
                format!(
                    "the server has {} rooms, the most it holds; join an existing one",
                    self.max_rooms
                ),
            ));
        }
        if state.rooms.get(room).is_some_and(|r| r.members.len() >= self.max_members) {
            return Err(RequestError::new(
                ErrorCode::RoomFull,
                format!("#{room} has {} members, the most a room may have", self.max_members),
            ));
        }
        let key = nick.key();
        // One name for the room, the map's: the user's list and the session share it.
        let room = state.rooms.get_key_value(room).map_or_else(|| room.clone(), |(r, _)| r.clone());
        if let Some(user) = state.users.get_mut(&key) {
            user.add_room(&room);
        }
        let entry = state.rooms.entry(room.clone()).or_insert_with(Room::new);
        entry.members.insert(key.clone(), Member { nick: nick.clone(), session });
        let rx = entry.tx.subscribe();
        let announcement = presence(&room, nick, PresenceEvent::Joined);
        self.announce(&entry.tx, session, &announcement, Change::Add { key, nick: nick.clone() });
        let (tx, members) = (entry.tx.clone(), entry.nicks());
        drop(state);
        Ok(Membership { room, tx, rx, announcement, members: sort_members(members) })
    }

    /// Sends a presence event to the room: on its channel, or, with several nodes, through
    /// Redis (which brings it back to this node's members too, in order with the messages).
    fn announce(&self, tx: &RoomChannel, session: Uuid, event: &SharedEvent, change: Change) {
        match &self.relay {
            Some(relay) => relay.presence(session, event, change),
            None => tx.send(event.clone()),
        }
    }

    /// Takes `nick` out of `room` and tells the room why. Returns the announcement, for the
    /// leaver (whose receiver is gone by the time it would arrive).
    pub fn leave(
        &self,
        nick: &Nick,
        session: Uuid,
        room: &RoomName,
        event: PresenceEvent,
    ) -> SharedEvent {
        let mut state = self.state();
        let key = nick.key();
        let announcement = presence(room, nick, event);
        if !state.holds(&key, session) {
            // Taken over: the session left every room then.
            return announcement;
        }
        if let Some(user) = state.users.get_mut(&key) {
            user.remove_room(room);
        }
        self.remove_member(&mut state, &key, session, room, &announcement);
        announcement
    }

    fn remove_member(
        &self,
        state: &mut State,
        key: &NickKey,
        session: Uuid,
        room: &RoomName,
        announcement: &SharedEvent,
    ) {
        let Some(entry) = state.rooms.get_mut(room) else { return };
        if entry.members.get(key).is_some_and(|m| m.session == session) {
            entry.members.remove(key);
        }
        let tx = entry.tx.clone();
        if entry.members.is_empty() {
            // A room exists while it has members.
            state.rooms.remove(room);
            if self.relay.is_none() {
                return;
            }
        }
        // With several nodes, even a room emptied here hears of it: Redis keeps its members.
        self.announce(&tx, session, announcement, Change::Remove { key: key.clone() });
    }

    /// Ends `session`'s presence on the server: leaves every room with `event` and frees its
    /// nick, or keeps the nick for the session's resume token for a while if `reserve`.
    /// Nothing happens if the nick is no longer the session's (it was taken over).
    pub fn unregister(&self, nick: &Nick, session: Uuid, event: PresenceEvent, reserve: bool) {
        let mut state = self.state();
        let key = nick.key();
        if !state.holds(&key, session) {
            return;
        }
        let Some(user) = state.users.remove(&key) else { return };
        for room in &user.rooms {
            let announcement = presence(room, &user.nick, event.clone());
            self.remove_member(&mut state, &key, session, room, &announcement);
        }
        let now = Instant::now();
        let keep = reserve
            && !self.reservation.is_zero()
            && now.duration_since(user.since) >= self.reserve_after;
        if let Some(relay) = &self.relay {
            // Redis frees or keeps it, for every node.
            let keep = if keep { self.reservation } else { Duration::ZERO };
            relay.release(&user.nick, session, user.resume, keep);
            return;
        }
        if keep && let Some(until) = now.checked_add(self.reservation) {
            state.drop_expired_reservations(now);
            while state.reserved.len() >= MAX_RESERVATIONS {
                let Some((until, oldest)) = state.expiries.pop_front() else { break };
                if state.reserved.get(&oldest).is_some_and(|r| r.until == until) {
                    state.reserved.remove(&oldest);
                }
            }
            state.expiries.push_back((until, key.clone()));
            state.reserved.insert(key, Reservation { nick: user.nick, resume: user.resume, until });
        }
    }

    /// Ends whatever `session` holds, for a session that could not end normally (its task
    /// panicked): no ghost nick or membership stays behind.
    pub fn forget(&self, session: Uuid) {
        let (nick, channels) = {
            let state = self.state();
            let Some(user) = state.users.values().find(|u| u.session == session) else { return };
            let channels: Vec<RoomChannel> = user
                .rooms
                .iter()
                .filter_map(|r| state.rooms.get(r))
                .map(|r| r.tx.clone())
                .collect();
            (user.nick.clone(), channels)
        };
        self.unregister(
            &nick,
            session,
            PresenceEvent::Dropped { reason: protocol::Label::truncate("server error") },
            false,
        );
        // Its receivers went with its task: senders waiting for its rooms look again.
        for channel in channels {
            channel.let_go();
        }
    }

    /// Renames `old` to `new` everywhere and tells each of its rooms.
    pub fn rename(&self, old: &Nick, session: Uuid, new: &Nick) -> Result<(), RequestError> {
        self.rename_checked(old, session, new, true)
    }

    /// A rename Redis has allowed (several nodes): `new` is this session's across the chat.
    pub fn rename_granted(
        &self,
        old: &Nick,
        session: Uuid,
        new: &Nick,
    ) -> Result<(), RequestError> {
        self.rename_checked(old, session, new, false)
    }

    fn rename_checked(
        &self,
        old: &Nick,
        session: Uuid,
        new: &Nick,
        check: bool,
    ) -> Result<(), RequestError> {
        let mut state = self.state();
        let (old_key, new_key) = (old.key(), new.key());
        if !state.holds(&old_key, session) {
            return Err(taken_over());
        }
        if old_key != new_key {
            if check {
                let now = Instant::now();
                state.drop_expired_reservations(now);
                state.check_free(new, None, now)?;
            } else {
                state.remote.remove(&new_key);
            }
        }
        let Some(mut user) = state.users.remove(&old_key) else {
            return Err(RequestError::new(ErrorCode::NotRegistered, "you are not registered"));
        };
        user.nick = new.clone();
        for room in &user.rooms {
            if let Some(entry) = state.rooms.get_mut(room) {
                entry.members.remove(&old_key);
                entry.members.insert(new_key.clone(), Member { nick: new.clone(), session });
                let event = presence(room, old, PresenceEvent::Renamed { to: new.clone() });
                let change =
                    Change::Move { from: old_key.clone(), key: new_key.clone(), nick: new.clone() };
                self.announce(&entry.tx, session, &event, change);
            }
        }
        state.users.insert(new_key, user);
        if let Some(relay) = &self.relay {
            relay.renamed(session, old, new);
        }
        Ok(())
    }

    /// Delivers a private message and returns it, for the sender's acknowledgement. With
    /// several nodes, a recipient on another node is sent it through Redis; if it cannot take
    /// it there, the sender hears so in an error.
    pub fn send_private(
        &self,
        from: &Nick,
        to: &Nick,
        text: Text,
    ) -> Result<SharedEvent, RequestError> {
        let state = self.state();
        let key = to.key();
        let Some(user) = state.users.get(&key) else {
            if let (Some(relay), Some(remote)) = (&self.relay, state.remote.get(&key)) {
                let event = private(from, &remote.nick, text);
                let sender = state.users.get(&from.key()).map(|u| u.session).unwrap_or_default();
                if !relay.private(&remote.node, sender, &event) {
                    return Err(RequestError::new(
                        ErrorCode::ServerBusy,
                        "the server is busy; try again in a moment",
                    ));
                }
                return Ok(event);
            }
            return Err(RequestError::new(
                ErrorCode::NoSuchNick,
                format!("nobody called {to} is online"),
            ));
        };
        let event = private(from, &user.nick, text);
        if from.key() != to.key() {
            user.direct.try_send(event.clone()).map_err(|_| recipient_busy(&user.nick))?;
        }
        Ok(event)
    }

    /// The biggest rooms (at most [`MAX_ROOMS_LISTED`]) with their member counts, sorted by name.
    pub fn rooms(&self) -> Vec<RoomInfo> {
        let state = self.state();
        let mut rooms: Vec<RoomInfo> = state
            .rooms
            .iter()
            .map(|(name, room)| RoomInfo {
                name: name.clone(),
                members: u32::try_from(room.members.len()).unwrap_or(u32::MAX),
            })
            .collect();
        drop(state);
        if rooms.len() > MAX_ROOMS_LISTED {
            rooms.select_nth_unstable_by(MAX_ROOMS_LISTED, |a, b| b.members.cmp(&a.members));
            rooms.truncate(MAX_ROOMS_LISTED);
        }
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The members of `room`, or `None` if there is no such room.
    pub fn members(&self, room: &RoomName) -> Option<Vec<Nick>> {
        let members = self.state().rooms.get(room).map(Room::nicks);
        members.map(sort_members)
    }
}

/// What other nodes did, as heard from Redis (several nodes).
impl Hub {
    fn ours(&self, node: &str) -> bool {
        self.relay.as_ref().is_some_and(|r| r.node() == node)
    }

    /// A room's presence event: another node's change to the members is applied (this node's
    /// own were applied when made), then this node's members of the room are shown it.
    pub fn on_presence(&self, node: &str, session: Uuid, event: SharedEvent) {
        let ServerMsg::Presence { room, nick, event: what, .. } = &event.msg else { return };
        let mut state = self.state();
        if !self.ours(node) {
            let key = nick.key();
            match what {
                PresenceEvent::Joined => {
                    let entry = state.rooms.entry(room.clone()).or_insert_with(Room::new);
                    entry.members.insert(key, Member { nick: nick.clone(), session });
                }
                PresenceEvent::Left { .. } | PresenceEvent::Dropped { .. } => {
                    if let Some(entry) = state.rooms.get_mut(room) {
                        if entry.members.get(&key).is_some_and(|m| m.session == session) {
                            entry.members.remove(&key);
                        }
                        if entry.members.is_empty() {
                            state.rooms.remove(room);
                        }
                    }
                }
                PresenceEvent::Renamed { to } => {
                    if let Some(entry) = state.rooms.get_mut(room)
                        && entry.members.get(&key).is_some_and(|m| m.session == session)
                    {
                        entry.members.remove(&key);
                        entry.members.insert(to.key(), Member { nick: to.clone(), session });
                    }
                }
            }
        }
        if let Some(entry) = state.rooms.get(room) {
            entry.tx.send(event.clone());
        }
    }

    /// A room message stored in Redis: to this node's members of the room. Returns whether
    /// anyone here is in it.
    pub fn deliver(&self, room: &RoomName, event: SharedEvent) -> bool {
        let state = self.state();
        match state.rooms.get(room) {
            Some(entry) if entry.tx.tx.receiver_count() > 0 => {
                entry.tx.send(event);
                true
            }
            _ => false,
        }
    }

    /// A session came online on another node.
    pub fn on_online(&self, node: &str, session: Uuid, nick: &Nick) {
        if self.ours(node) {
            return;
        }
        let remote = RemoteUser { nick: nick.clone(), session, node: node.into() };
        self.state().remote.insert(nick.key(), remote);
    }

    /// A session of another node went offline.
    pub fn on_offline(&self, session: Uuid, nick: &Nick) {
        let mut state = self.state();
        let key = nick.key();
        if state.remote.get(&key).is_some_and(|r| r.session == session) {
            state.remote.remove(&key);
        }
    }

    /// A session of another node renamed itself.
    pub fn on_renamed(&self, session: Uuid, nick: &Nick, to: &Nick) {
        let mut state = self.state();
        let key = nick.key();
        if state.remote.get(&key).is_some_and(|r| r.session == session)
            && let Some(mut user) = state.remote.remove(&key)
        {
            user.nick = to.clone();
            state.remote.insert(to.key(), user);
        }
    }

    /// A private message from another node for a session of this one. On failure, whether
    /// the recipient was busy (rather than gone).
    pub fn deliver_private(&self, event: SharedEvent) -> Result<(), bool> {
        let ServerMsg::Private { to, .. } = &event.msg else { return Err(false) };
        let state = self.state();
        let Some(user) = state.users.get(&to.key()) else { return Err(false) };
        user.direct.try_send(event).map_err(|e| e == NotQueued::Full)
    }

    /// Tells `session` (`nick`) why its private message was not delivered.
    pub fn bounce_error(&self, session: Uuid, nick: &Nick, error: RequestError) {
        let state = self.state();
        if let Some(user) = state.users.get(&nick.key()).filter(|u| u.session == session) {
            let _ = user.direct.try_send(Event::new(error.for_request("msg").to_msg()));
        }
    }

    /// Tells `session` (`nick`) that its private message to `to` on another node was not
    /// delivered.
    pub fn bounce(&self, session: Uuid, nick: &Nick, to: &Nick, busy: bool) {
        let state = self.state();
        let Some(user) = state.users.get(&nick.key()).filter(|u| u.session == session) else {
            return;
        };
        let error = if busy {
            recipient_busy(to)
        } else {
            RequestError::new(
                ErrorCode::NoSuchNick,
                format!("{to} went offline; your message was not delivered"),
            )
        };
        let _ = user.direct.try_send(Event::new(error.for_request("msg").to_msg()));
    }

    /// This node's sessions (nick, session, resume token) and memberships (room, nick,
    /// session): what it writes back into Redis after Redis lost track.
    pub fn local_view(&self) -> LocalView {
        let state = self.state();
        let users = state.users.values().map(|u| (u.nick.clone(), u.session, u.resume)).collect();
        let mut members = Vec::new();
        for user in state.users.values() {
            for room in &user.rooms {
                members.push((room.clone(), user.nick.clone(), user.session));
            }
        }
        LocalView { users, members }
    }

    /// Replaces what this hub knows of the other nodes: their sessions (nick, session, node)
    /// and their rooms' members (nick, session).
    pub fn load_remote(
        &self,
        users: Vec<(Nick, Uuid, String)>,
        rooms: Vec<(RoomName, Vec<(Nick, Uuid)>)>,
    ) {
        let mut state = self.state();
        let state = &mut *state;
        state.remote = users
            .into_iter()
            .filter(|(nick, _, _)| !state.users.contains_key(&nick.key()))
            .map(|(nick, session, node)| {
                (nick.key(), RemoteUser { nick, session, node: node.into() })
            })
            .collect();
        let users = &state.users;
        for room in state.rooms.values_mut() {
            room.members.retain(|key, m| users.get(key).is_some_and(|u| u.session == m.session));
        }
        for (name, members) in rooms {
            for (nick, session) in members {
                let key = nick.key();
                if users.contains_key(&key) {
                    continue;
                }
                let entry = state.rooms.entry(name.clone()).or_insert_with(Room::new);
                entry.members.insert(key, Member { nick, session });
            }
        }
        state.rooms.retain(|_, room| !room.members.is_empty());
        // Presence missed meanwhile cannot be replayed: this node's members get the room's
        // member list afresh instead.
        for (name, room) in &state.rooms {
            if room.tx.tx.receiver_count() > 0 {
                let nicks = sort_members(room.nicks());
                room.tx.send(Event::new(ServerMsg::Members { room: name.clone(), nicks }));
            }
        }
    }
}

#[cfg(test)]
impl Hub {
    /// Sessions registered now.
    #[cfg(test)]
    fn online(&self) -> usize {
        self.state().users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nick(s: &str) -> Nick {
        Nick::parse(s).unwrap()
    }

    /// The session of the test user first registered as `n` (the same for every spelling).
    fn sid(n: &Nick) -> Uuid {
        let key = n.key();
        let hash = key.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
            (h ^ u128::from(b)).wrapping_mul(0x0100_0000_0000_0000_0000_0000_013b)
        });
        Uuid::from_u128(hash)
    }

    fn register(hub: &Hub, name: &str) -> (Nick, DirectReceiver) {
        let rx = DirectReceiver::default();
        let n = nick(name);
        hub.register(&n, sid(&n), Uuid::new_v4(), rx.sender(), None).unwrap();
        (n, rx)
    }

    #[test]
    fn nicks_are_unique_ignoring_case() {
        let hub = Hub::new(100, 100);
        register(&hub, "Michael");
        let rx = DirectReceiver::default();
        let err = hub
            .register(&nick("MICHAEL"), Uuid::now_v7(), Uuid::new_v4(), rx.sender(), None)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NickInUse);
    }

    #[test]
    fn rooms_exist_while_they_have_members() {
        let hub = Hub::new(100, 100);
        let (m, _) = register(&hub, "Michael");
        let lobby = RoomName::lobby();
        let mut membership = hub.join(&m, sid(&m), &lobby).unwrap();
        let first = membership.rx.try_recv().unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &membership.announcement));
        assert_eq!(hub.rooms().len(), 1);
        hub.leave(&m, sid(&m), &lobby, PresenceEvent::Left { reason: None });
        assert!(hub.rooms().is_empty());
        assert!(hub.members(&lobby).is_none());
    }

    #[test]
    fn rename_moves_membership_and_frees_the_old_nick() {
        let hub = Hub::new(100, 100);
        let (m, _) = register(&hub, "Michael");
        let lobby = RoomName::lobby();
        let _membership = hub.join(&m, sid(&m), &lobby).unwrap();
        hub.rename(&m, sid(&m), &nick("Mike")).unwrap();
        assert_eq!(hub.members(&lobby).unwrap(), vec![nick("Mike")]);
        register(&hub, "michael");
        hub.unregister(&nick("Mike"), sid(&m), PresenceEvent::Left { reason: None }, false);
        assert!(hub.members(&lobby).is_none());
        assert_eq!(hub.online(), 1);
    }

    #[test]
    fn the_number_of_rooms_is_capped_and_lists_are_bounded() {
        let hub = Hub::new(MAX_ROOMS_LISTED + 1, 100);
        let (m, _) = register(&hub, "Michael");
        let mut memberships = Vec::new();
        for i in 0..=MAX_ROOMS_LISTED {
            memberships
                .push(hub.join(&m, sid(&m), &RoomName::parse(&format!("r{i}")).unwrap()).unwrap());
        }
        let err = hub.join(&m, sid(&m), &RoomName::parse("one-more").unwrap()).err().unwrap();
        assert_eq!(err.code, ErrorCode::TooManyRooms);
        assert!(
            hub.join(&m, sid(&m), &RoomName::parse("r0").unwrap()).is_ok(),
            "existing rooms stay open"
        );
        assert_eq!(hub.rooms().len(), MAX_ROOMS_LISTED);
    }

    /// Member lists read alphabetically, whatever order the look-alike keys sort in
    /// ("Michael"'s key starts "rn", after "rachel").
    #[test]
    fn member_lists_are_alphabetical_ignoring_case() {
        let hub = Hub::new(100, 100);
        let room = RoomName::lobby();
        let mut memberships = Vec::new();
        for name in ["rachel", "Michael", "anna", "Bob"] {
            let (n, _) = register(&hub, name);
            memberships.push(hub.join(&n, sid(&n), &room).unwrap());
        }
        let names =
            |nicks: Vec<Nick>| nicks.iter().map(|n| n.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(hub.members(&room).unwrap()), ["anna", "Bob", "Michael", "rachel"]);
        let last = memberships.pop().unwrap();
        assert_eq!(names(last.members), ["anna", "Bob", "Michael", "rachel"]);
    }

    /// A full room refuses the next member without half-adding it; a place that frees up
    /// can be taken.
    #[test]
    fn a_full_room_refuses_joins_until_someone_leaves() {
        let hub = Hub::new(100, 2);
        let room = RoomName::parse("small").unwrap();
        let (a, _) = register(&hub, "Anna");
        let (b, _) = register(&hub, "Bob");
        let (c, _) = register(&hub, "Cleo");
        let _ma = hub.join(&a, sid(&a), &room).unwrap();
        let _mb = hub.join(&b, sid(&b), &room).unwrap();
        let err = hub.join(&c, sid(&c), &room).err().unwrap();
        assert_eq!(err.code, ErrorCode::RoomFull);
        assert_eq!(hub.members(&room).unwrap().len(), 2);
        hub.leave(&a, sid(&a), &room, PresenceEvent::Left { reason: None });
        assert!(hub.join(&c, sid(&c), &room).is_ok());
        assert!(hub.join(&a, sid(&a), &room).is_err(), "full again");
    }

    #[test]
    fn forgetting_a_session_frees_its_nick_and_rooms() {
        let hub = Hub::new(100, 100);
        let rx = DirectReceiver::default();
        let session = Uuid::now_v7();
        hub.register(&nick("Michael"), session, Uuid::new_v4(), rx.sender(), None).unwrap();
        let _m = hub.join(&nick("Michael"), session, &RoomName::lobby()).unwrap();
        hub.forget(Uuid::now_v7());
        assert_eq!(hub.online(), 1, "another session's id changes nothing");
        hub.forget(session);
        assert_eq!(hub.online(), 0);
        assert!(hub.rooms().is_empty());
    }

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

    /// A user's rooms are kept sorted and once each, as a set would.
    #[test]
    fn a_users_rooms_are_a_sorted_set() {
        let hub = Hub::new(100, 100);
        let (m, _) = register(&hub, "Michael");
        let mut memberships = Vec::new();
        for name in ["b", "c", "a"] {
            memberships.push(hub.join(&m, sid(&m), &RoomName::parse(name).unwrap()).unwrap());
        }
        let rooms = |hub: &Hub| {
            let state = hub.state();
            state.users[&m.key()].rooms.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(rooms(&hub), ["a", "b", "c"]);
        hub.leave(
            &m,
            sid(&m),
            &RoomName::parse("b").unwrap(),
            PresenceEvent::Left { reason: None },
        );
        assert_eq!(rooms(&hub), ["a", "c"]);
        // The room's name is the hub's own, shared with the member.
        let again = hub.join(&m, sid(&m), &RoomName::parse("a").unwrap()).unwrap();
        let state = hub.state();
        let (key, _) = state.rooms.get_key_value(&again.room).unwrap();
        assert!(std::ptr::eq(key.as_str(), again.room.as_str()));
    }
    /// A resume token takes a held nick over: the old session is out of its rooms at once and
    /// told to end, and what it still asks of the hub is refused or changes nothing.
    #[test]
    fn the_resume_token_takes_a_nick_over() {
        let hub = Hub::new(100, 100);
        let (old_session, token) = (Uuid::now_v7(), Uuid::new_v4());
        let old = DirectReceiver::default();
        hub.register(&nick("Michael"), old_session, token, old.sender(), None).unwrap();
        let rust = RoomName::parse("rust").unwrap();
        let _m = hub.join(&nick("Michael"), old_session, &rust).unwrap();
        let (tracy, _) = register(&hub, "Tracy");
        let mut watch = hub.join(&tracy, sid(&tracy), &rust).unwrap();

        let wrong = DirectReceiver::default();
        let refused = hub.register(
            &nick("michael"),
            Uuid::now_v7(),
            Uuid::new_v4(),
            wrong.sender(),
            Some(Uuid::new_v4()),
        );
        assert_eq!(refused.unwrap_err().code, ErrorCode::NickInUse);
        assert!(!old.replaced());

        let (new_session, new) = (Uuid::now_v7(), DirectReceiver::default());
        let how =
            hub.register(&nick("michael"), new_session, Uuid::new_v4(), new.sender(), Some(token));
        assert_eq!(how.unwrap(), Registered::TookOver);
        assert!(old.replaced());
        assert_eq!(hub.members(&rust).unwrap(), vec![nick("Tracy")]);
        let events: Vec<_> = std::iter::from_fn(|| watch.rx.try_recv().ok()).collect();
        assert!(
            events.iter().any(|e| matches!(&e.msg, ServerMsg::Presence { nick, event: PresenceEvent::Dropped { reason }, .. }
                if nick.as_str() == "Michael" && reason.as_str() == "reconnected")),
            "{events:?}"
        );
        // The old session, ending late, touches nothing of the new one's.
        let err = hub.join(&nick("Michael"), old_session, &rust).err().unwrap();
        assert_eq!(err.code, ErrorCode::NotRegistered);
        let _n = hub.join(&nick("michael"), new_session, &rust).unwrap();
        hub.leave(&nick("Michael"), old_session, &rust, PresenceEvent::Left { reason: None });
        hub.unregister(&nick("Michael"), old_session, PresenceEvent::Left { reason: None }, true);
        assert_eq!(hub.members(&rust).unwrap(), vec![nick("michael"), nick("Tracy")]);
        assert_eq!(hub.online(), 2);
    }

    /// A session that dropped keeps its nick for its token for the reservation time; then
    /// anyone may have it.
    #[test]
    fn a_dropped_nick_is_reserved_for_its_token_for_a_while() {
        let hub = Hub::new(100, 100).with_reservation(Duration::from_millis(100), Duration::ZERO);
        let (session, token, rx) = (Uuid::now_v7(), Uuid::new_v4(), DirectReceiver::default());
        hub.register(&nick("Michael"), session, token, rx.sender(), None).unwrap();
        hub.unregister(&nick("Michael"), session, PresenceEvent::Left { reason: None }, true);
        assert_eq!(hub.online(), 0);
        let other = DirectReceiver::default();
        let err =
            hub.register(&nick("MICHAEL"), Uuid::now_v7(), Uuid::new_v4(), other.sender(), None);
        assert!(err.unwrap_err().message.contains("kept for"));
        let (_tracy, _) = register(&hub, "Tracy");
        let err = hub.rename(&nick("Tracy"), sid(&nick("Tracy")), &nick("Michael")).unwrap_err();
        assert_eq!(err.code, ErrorCode::NickInUse, "nor by a rename");
        let back = DirectReceiver::default();
        let how = hub.register(
            &nick("Michael"),
            Uuid::now_v7(),
            Uuid::new_v4(),
            back.sender(),
            Some(token),
        );
        assert_eq!(how.unwrap(), Registered::Reclaimed);

        // Reserved again, and this time the time runs out.
        hub.unregister(
            &nick("Michael"),
            sid(&nick("x")),
            PresenceEvent::Left { reason: None },
            true,
        );
        assert_eq!(hub.online(), 2, "another session's id changes nothing");
        let state_session = hub.state().users[&nick("Michael").key()].session;
        hub.unregister(&nick("Michael"), state_session, PresenceEvent::Left { reason: None }, true);
        std::thread::sleep(Duration::from_millis(150));
        let how =
            hub.register(&nick("Michael"), Uuid::now_v7(), Uuid::new_v4(), other.sender(), None);
        assert_eq!(how.unwrap(), Registered::New);
        assert!(hub.state().reserved.is_empty() && hub.state().expiries.is_empty());
    }
    /// Only a session that held its nick a while is kept a reservation, and there are never
    /// more than [`MAX_RESERVATIONS`]: connecting and dropping cannot lock nicks away.
    #[test]
    fn reservations_need_a_settled_session_and_are_capped() {
        let hub =
            Hub::new(100, 100).with_reservation(Duration::from_secs(60), Duration::from_secs(3600));
        let (session, rx) = (Uuid::now_v7(), DirectReceiver::default());
        hub.register(&nick("Brief"), session, Uuid::new_v4(), rx.sender(), None).unwrap();
        hub.unregister(&nick("Brief"), session, PresenceEvent::Left { reason: None }, true);
        assert!(hub.state().reserved.is_empty(), "a session of a moment keeps nothing");

        let hub = Hub::new(100, 100).with_reservation(Duration::from_secs(60), Duration::ZERO);
        for n in 0..=MAX_RESERVATIONS {
            let (session, rx) = (Uuid::now_v7(), DirectReceiver::default());
            let name = nick(&format!("n{n}"));
            hub.register(&name, session, Uuid::new_v4(), rx.sender(), None).unwrap();
            hub.unregister(&name, session, PresenceEvent::Left { reason: None }, true);
        }
        let state = hub.state();
        assert_eq!(state.reserved.len(), MAX_RESERVATIONS);
        assert!(!state.reserved.contains_key(&nick("n0").key()), "the oldest went");
    }

    /// With several nodes, presence goes out through the relay (not straight to the local
    /// channel) and comes back through `on_presence`; another node's late departure of an
    /// older session of a nick does not remove the newer one.
    #[test]
    fn another_nodes_presence_is_applied_by_session() {
        let (relay, mut queue) = Relay::detached("a");
        let hub = Hub::new(100, 100).with_relay(relay);
        let (m, _) = register(&hub, "Michael");
        let lobby = RoomName::lobby();
        let mut membership = hub.join(&m, sid(&m), &lobby).unwrap();
        assert!(membership.rx.try_recv().is_err(), "not sent locally: Redis brings it back");
        let mut published = 0;
        while let Ok(outgoing) = queue.try_recv() {
            if let crate::cluster::Outgoing::Presence { .. } = outgoing {
                published += 1;
            }
        }
        assert_eq!(published, 1);

        let tracy = nick("Tracy");
        let (old, new) = (Uuid::now_v7(), Uuid::now_v7());
        let joined = |session| {
            hub.on_presence("b", session, presence(&lobby, &tracy, PresenceEvent::Joined));
        };
        joined(old);
        hub.on_online("b", old, &tracy);
        assert_eq!(hub.members(&lobby).unwrap(), vec![nick("Michael"), tracy.clone()]);
        // Tracy came back on node c (a new session) before node b's departure arrived.
        hub.on_presence("c", new, presence(&lobby, &tracy, PresenceEvent::Joined));
        let gone = PresenceEvent::Dropped { reason: protocol::Label::truncate("server lost") };
        hub.on_presence("b", old, presence(&lobby, &tracy, gone));
        hub.on_offline(old, &tracy);
        assert_eq!(hub.members(&lobby).unwrap(), vec![nick("Michael"), tracy.clone()]);
        let events: Vec<_> = std::iter::from_fn(|| membership.rx.try_recv().ok()).collect();
        assert_eq!(events.len(), 3, "each heard event reaches the local members");

        // A reload keeps this node's own members and replaces the others'.
        hub.load_remote(vec![], vec![(lobby.clone(), vec![(nick("Anna"), Uuid::now_v7())])]);
        assert_eq!(hub.members(&lobby).unwrap(), vec![nick("Anna"), nick("Michael")]);
        let err = hub.send_private(&m, &tracy, Text::parse("hi").unwrap()).unwrap_err();
        assert_eq!(err.code, ErrorCode::NoSuchNick);
    }
}
