//! The registry: who is connected, which rooms exist, who is in them.
//!
//! One `tokio::sync::broadcast` channel per room ([`RoomChannel`]) carries its events to every
//! member. The hub changes membership and announces it; room messages reach the channels from
//! the broker (stored, then sent), never through the hub's lock on a single node. With several
//! nodes the hub also knows the other nodes' sessions and members ([`elsewhere`]), and what
//! must reach them leaves through [`Elsewhere`], which the broker implements.
//!
//! The state sits behind a `std::sync::Mutex`, not tokio's: every critical section is short,
//! never awaits, and a std mutex is faster for that (the mini-redis `db.rs` reasoning).
//!
//! - [`direct`]: a session's queue of private messages.
//! - [`room_channel`]: a room's channel and its back-pressure.
//! - [`reservations`]: nicks kept for a dropped session's resume token.
//! - [`elsewhere`]: the other nodes: what the hub tells them, and what it applies from them.

mod direct;
pub mod elsewhere;
mod reservations;
mod room_channel;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use protocol::{
    ErrorCode, Nick, NickKey, PresenceEvent, RequestError, RoomInfo, RoomName, ServerMsg, Text,
    now_millis,
};
use uuid::Uuid;

use crate::event::{Event, SharedEvent};
use crate::limits::{MAX_ROOMS_LISTED, NICK_RESERVATION, RESERVE_AFTER};
pub use direct::{Direct, DirectEvent, DirectReceiver, NotQueued};
use elsewhere::RemoteUser;
pub use elsewhere::{Alone, Change, Elsewhere, LocalView};
use reservations::Reservations;
pub use room_channel::RoomChannel;

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
    /// The other nodes, if any: what they must hear of this node's changes goes there.
    elsewhere: Box<dyn Elsewhere>,
}

#[derive(Default)]
struct State {
    rooms: HashMap<RoomName, Room>,
    users: HashMap<NickKey, User>,
    /// Nicks of sessions that dropped, kept for a while for their resume token.
    reserved: Reservations,
    /// With several nodes: the sessions of the other nodes, for private messages and a quick
    /// refusal of a nick in use (the broker has the last word on nicks).
    remote: HashMap<NickKey, RemoteUser>,
}

impl State {
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
        self.reserved.check(nick, claim, now)
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
            elsewhere: Box::new(Alone),
        }
    }

    /// Keeps the nick of a session that dropped after holding it for `after` for its resume
    /// token this long (zero: not at all).
    #[must_use]
    pub fn with_reservation(self, reservation: Duration, after: Duration) -> Self {
        Self { reservation, reserve_after: after, ..self }
    }

    /// Makes this hub one node of several: what the other nodes must hear goes to
    /// `elsewhere`, and what they do arrives through the calls of [`elsewhere`].
    #[must_use]
    pub fn with_elsewhere(self, elsewhere: Box<dyn Elsewhere>) -> Self {
        Self { elsewhere, ..self }
    }

    /// The resume token of `session`, if it holds `nick`.
    pub fn resume_token(&self, nick: &Nick, session: Uuid) -> Option<Uuid> {
        self.state().users.get(&nick.key()).filter(|u| u.session == session).map(|u| u.resume)
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
        state.reserved.drop_expired(now);
        let key = nick.key();
        let how = if let Some(holder) = state.users.get(&key) {
            if claim.is_none_or(|claim| claim != holder.resume) {
                return Err(nick_in_use(nick, &holder.nick));
            }
            self.take_over(&mut state, &key);
            Registered::TookOver
        } else {
            state.check_free(nick, claim, now)?;
            if state.reserved.contains(&key) { Registered::Reclaimed } else { Registered::New }
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
                self.elsewhere.release(nick, session, resume, Duration::ZERO);
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
        self.elsewhere.online(session, nick);
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

    /// Sends a presence event to the room: through the other nodes when there are any (it
    /// comes back to this node's members in order with the room's messages), else on the
    /// room's channel at once.
    fn announce(&self, tx: &RoomChannel, session: Uuid, event: &SharedEvent, change: Change) {
        if !self.elsewhere.presence(session, event, change) {
            tx.send(event.clone());
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
        }
        // Even a room emptied here is told: the other nodes keep its members too (alone, its
        // channel has nobody left to hear).
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
        // With several nodes the broker frees or keeps it, for every node.
        let kept_for = if keep { self.reservation } else { Duration::ZERO };
        if self.elsewhere.release(&user.nick, session, user.resume, kept_for) {
            return;
        }
        if keep && let Some(until) = now.checked_add(self.reservation) {
            state.reserved.keep(user.nick, user.resume, until, now);
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
                state.reserved.drop_expired(now);
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
        self.elsewhere.renamed(session, old, new);
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
            if let Some(remote) = state.remote.get(&key) {
                let event = private(from, &remote.nick, text);
                let sender = state.users.get(&from.key()).map(|u| u.session).unwrap_or_default();
                if !self.elsewhere.private(&remote.node, sender, &event) {
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
    use crate::limits::MAX_RESERVATIONS;

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
        assert_eq!(hub.state().reserved.len(), 0);
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
        assert_eq!(hub.state().reserved.len(), 0, "a session of a moment keeps nothing");

        let hub = Hub::new(100, 100).with_reservation(Duration::from_secs(60), Duration::ZERO);
        for n in 0..=MAX_RESERVATIONS {
            let (session, rx) = (Uuid::now_v7(), DirectReceiver::default());
            let name = nick(&format!("n{n}"));
            hub.register(&name, session, Uuid::new_v4(), rx.sender(), None).unwrap();
            hub.unregister(&name, session, PresenceEvent::Left { reason: None }, true);
        }
        let state = hub.state();
        assert_eq!(state.reserved.len(), MAX_RESERVATIONS);
        assert!(!state.reserved.contains(&nick("n0").key()), "the oldest went");
    }
}
