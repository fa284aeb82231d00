//! The registry: who is connected, which rooms exist, who is in them.
//!
//! One `tokio::sync::broadcast` channel per room ([`RoomChannel`]) carries its events to every
//! member. The hub changes membership and announces it; room messages reach the channels from
//! the broker (stored, then sent), never through the hub's lock on a single node. With several
//! nodes the hub also knows the other nodes' sessions and members ([`elsewhere`]), and what
//! must reach them leaves through [`Elsewhere`], which the broker implements.
//!
//! The state sits behind a `std::sync::Mutex`, not tokio's: every critical section is short,
//! never awaits, and a std mutex is faster for that than an async one.
//!
//! - [`sessions`]: registering nicks, renames, private messages, a session's end.
//! - [`rooms`]: joining, leaving, the lists of members.
//! - [`listing`]: the list of rooms, built again only after something changed.
//! - [`direct`]: a session's queue of private messages.
//! - [`people`]: away messages, and what `whois` tells of a session.
//! - [`room_channel`]: a room's channel and its back-pressure.
//! - [`reservations`]: nicks kept for a dropped session's resume token.
//! - [`resume`]: resume tokens as the hub keeps them, hashed.
//! - [`elsewhere`]: the other nodes: what the hub tells them, and what it applies from them.
//! - [`authority`]: every room's authority (owner, roles, modes, bans), and acts applied.

mod applied;
mod authority;
mod direct;
pub mod elsewhere;
mod listing;
mod people;
mod reservations;
mod resume;
mod roll;
mod room_channel;
mod rooms;
mod sessions;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use protocol::{
    ErrorCode, Nick, NickKey, PresenceEvent, RequestError, RoomKey, RoomName, ServerMsg, Text,
    now_millis,
};
use uuid::Uuid;

use crate::event::{Event, SharedEvent};
use crate::limits::{NICK_RESERVATION, RESERVE_AFTER};
pub use authority::AuthorityCell;
pub use direct::{Bell, Direct, DirectEvent, DirectReceiver, NotQueued, Order};
use elsewhere::RemoteUser;
pub use elsewhere::{Alone, Change, Elsewhere, LocalView, RemoteSession};
pub use people::away_text;
use reservations::Reservations;
pub use resume::ResumeHash;
pub use room_channel::{BatchRooms, Drained, HeldBack, Listener, RoomChannel, Share};

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
    /// The accounts of the server's admins (`--admin`); SIGHUP may replace them.
    admins: arc_swap::ArcSwap<Vec<NickKey>>,
    /// Changes to rooms' members and authority so far, and the room list as of some count.
    changes: std::sync::atomic::AtomicU64,
    listing: Mutex<listing::Listing>,
    /// Every session, registered or not, to tell of the shutdown. Its own lock: a
    /// connection's start does not wait for the state's.
    roll: roll::Roll,
    /// How many users are away, this node's and (with several nodes) the others' it knows;
    /// changed under the state's lock, read without it: while none is, a members page needs
    /// no look-up of its nicks.
    away_users: std::sync::atomic::AtomicUsize,
    /// The acts applied lately, for the broker to wait on ([`Hub::act_applied`]).
    applied: applied::Applied,
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
    /// Registered accounts, by key, with the nick each was registered as. On a single node
    /// this is the authority on who may use a nick; with several, the broker checks in Redis
    /// and this stays empty.
    accounts: HashMap<NickKey, Nick>,
    /// The rooms by their look-alike key: a join names the room that exists, not a new one
    /// that reads the same. Entries of rooms that are gone are dropped with them.
    room_keys: HashMap<RoomKey, RoomName>,
    /// Every room's authority that has any (and the server's, under
    /// [`crate::authority::SERVER`]), by the room's look-alike key; a room without any has a
    /// cell while it exists.
    authority: HashMap<String, AuthorityCell>,
    /// How many rooms each account owns, kept in step with `authority`'s owners: a join
    /// that makes a room asks it without walking every room.
    owned: HashMap<NickKey, usize>,
}

impl State {
    /// The room that exists under `room` or a look-alike of it, if any.
    fn existing_room(&self, room: &RoomName) -> Option<RoomName> {
        if self.rooms.contains_key(room) {
            return Some(room.clone());
        }
        self.room_keys.get(&room.key()).filter(|name| self.rooms.contains_key(*name)).cloned()
    }

    /// The room `name`, made if new (and indexed by its key).
    fn room_entry(&mut self, name: &RoomName) -> &mut Room {
        if !self.rooms.contains_key(name) {
            self.room_keys.insert(name.key(), name.clone());
            crate::metrics::rooms(self.rooms.len() + 1);
        }
        self.rooms.entry(name.clone()).or_insert_with(Room::new)
    }

    /// Forgets the room `name` (it has no members left).
    fn remove_room(&mut self, name: &RoomName) {
        self.rooms.remove(name);
        crate::metrics::rooms(self.rooms.len());
        self.forget_authority(name);
        let key = name.key();
        if self.room_keys.get(&key) == Some(name) {
            self.room_keys.remove(&key);
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
            return Err(nick_in_use(nick, holder.nick.as_str()));
        }
        if let Some(holder) = self.remote.get(&key) {
            return Err(nick_in_use(nick, holder.nick.as_str()));
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

    /// The members others know of: those announced, and `viewer`'s own session even if it
    /// joined quietly.
    /// Members others know of (quiet ones left out), for room lists.
    fn known(&self) -> u32 {
        let known = self.members.values().filter(|m| !m.quiet).count();
        u32::try_from(known).unwrap_or(u32::MAX)
    }

    fn nicks(&self, viewer: Option<Uuid>) -> Vec<Nick> {
        self.members
            .values()
            .filter(|m| !m.quiet || Some(m.session) == viewer)
            .map(|m| m.nick.clone())
            .collect()
    }
}

struct Member {
    nick: Nick,
    /// The member's session: a late departure of an earlier session of the same nick (on
    /// another node, say) does not remove a newer one.
    session: Uuid,
    /// Joined without an announcement (the session had used up its presence budget: it keeps
    /// coming and going). Nobody else is told of it, here or on other nodes, until it speaks
    /// in the room; its leave and nick changes there are then not told either, as IRC's
    /// delayed-join mode does.
    quiet: bool,
}

impl Member {
    fn new(nick: Nick, session: Uuid) -> Self {
        Self { nick, session, quiet: false }
    }
}

struct User {
    nick: Nick,
    /// The session that holds this nick.
    session: Uuid,
    /// The session's resume token, hashed: a new connection that shows it takes the nick over.
    resume: ResumeHash,
    /// When the session registered.
    since: Instant,
    /// Events for this session alone (private messages).
    direct: Direct,
    /// Sorted, no duplicates. A `Vec` of exactly its length rather than a `BTreeSet`, whose
    /// first node takes 192 bytes for the one room an idle session is in.
    rooms: Vec<RoomName>,
    /// Set while the session is away (`/away`); boxed, so a session that never is holds a
    /// pointer's worth.
    away: Option<Box<people::Away>>,
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

/// A nick claimed: how, and whether the session is logged in to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub how: Registered,
    pub account: bool,
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
    /// The members with a role, when the session joined.
    pub roles: BTreeMap<Nick, protocol::Role>,
    /// The room's authority, as it changes.
    pub authority: AuthorityCell,
    /// The join made the room (it had no members).
    pub created: bool,
    /// The join was not announced (see `Member::quiet`): the session shows its own join
    /// itself, and announces it when it first speaks there ([`Hub::unquiet`]).
    pub quiet: bool,
}

fn presence(room: &RoomName, nick: &Nick, event: PresenceEvent) -> SharedEvent {
    presence_as(Uuid::now_v7(), room, nick, event)
}

/// A presence event with a given id: a nick change is one event told in every room the nick
/// is in, under one id, so that a member who shares several of those rooms is told once.
fn presence_as(id: Uuid, room: &RoomName, nick: &Nick, event: PresenceEvent) -> SharedEvent {
    Event::new(ServerMsg::Presence {
        id,
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
    nicks.sort_by_cached_key(member_order);
    nicks
}

fn member_order(nick: &Nick) -> (String, Nick) {
    (nick.as_str().to_lowercase(), nick.clone())
}

/// Where `nick` is in `nicks`, sorted as member lists are: `Err` if it is there already,
/// else `Ok` with the index it would take.
pub fn member_position(nicks: &[Nick], nick: &Nick) -> Result<usize, usize> {
    match nicks.binary_search_by_key(&member_order(nick), member_order) {
        Ok(at) => Err(at),
        Err(at) => Ok(at),
    }
}

/// The `members` answer for one page of a room's sorted member list: the nicks after `after`
/// (from the start without it), at most [`protocol::limits::MAX_MEMBERS_PAGE`], their roles,
/// and whether more follow.
pub fn members_page(
    room: RoomName,
    nicks: Vec<Nick>,
    mut roles: BTreeMap<Nick, protocol::Role>,
    after: Option<Nick>,
) -> ServerMsg {
    let start = after.as_ref().map_or(0, |after| {
        let after = member_order(after);
        nicks.partition_point(|n| member_order(n) <= after)
    });
    let end = nicks.len().min(start.saturating_add(protocol::limits::MAX_MEMBERS_PAGE));
    let more = end < nicks.len();
    let nicks: Vec<Nick> = nicks.into_iter().skip(start).take(end - start).collect();
    // Only the roles of the nicks shown: a quiet member's role, or another page's, is not
    // this page's to tell.
    roles.retain(|nick, _| nicks.binary_search_by_key(&member_order(nick), member_order).is_ok());
    // Away messages are the hub's to fill in (`Hub::mark_away`), for the nicks of this page.
    ServerMsg::Members { room, nicks, roles, after, more, away: BTreeMap::new() }
}

/// "the nick Tracy is already in use", or, when the holder's nick only looks like it,
/// "the nick Trаcy is too like Tracy, who is online".
pub fn nick_in_use(wanted: &Nick, holder: &str) -> RequestError {
    let message = if wanted.as_str().to_lowercase() == holder.to_lowercase() {
        format!("the nick {wanted} is already in use")
    } else {
        format!("the nick {wanted} is too like {holder}, who is online")
    };
    RequestError::new(ErrorCode::NickInUse, message)
}

/// The refusal for a nick that is, or looks like, another person's account: how to log in.
pub fn nick_registered(wanted: &Nick, account: &str) -> RequestError {
    if wanted.as_str().to_lowercase() == account.to_lowercase() {
        RequestError::new(
            ErrorCode::PasswordRequired,
            format!("{account} is a registered account: log in with its password"),
        )
    } else {
        RequestError::new(
            ErrorCode::NickRegistered,
            format!(
                "the nick {wanted} is too like {account}, a registered account; if it is yours, log in as {account} with its password, or pick another nick"
            ),
        )
    }
}

/// A private message from `from` to `to`.
fn private(from: &Nick, account: bool, to: &Nick, text: Text) -> SharedEvent {
    Event::new(ServerMsg::Private {
        id: Uuid::now_v7(),
        from: from.clone(),
        to: to.clone(),
        text,
        ts: now_millis(),
        account,
        offline: false,
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
            admins: arc_swap::ArcSwap::default(),
            changes: std::sync::atomic::AtomicU64::new(0),
            listing: Mutex::default(),
            roll: roll::Roll::default(),
            away_users: std::sync::atomic::AtomicUsize::new(0),
            applied: applied::Applied::default(),
        }
    }

    /// Puts a session that starts on the roll the shutdown is told to.
    pub fn enlist(&self, direct: &DirectReceiver) {
        self.roll.enlist(direct);
    }

    /// The server is shutting down: every session, and any that starts from now on, is told
    /// (each says goodbye and ends).
    pub fn shut_down(&self) {
        self.roll.close();
    }

    /// The server's admins (`--admin`): owners of every room, beyond every ban.
    #[must_use]
    pub fn with_admins(self, admins: &[Nick]) -> Self {
        self.set_admins(admins);
        self
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

    /// The resume token of `session`, hashed, if it holds `nick`.
    pub fn resume_token(&self, nick: &Nick, session: Uuid) -> Option<ResumeHash> {
        self.state().users.get(&nick.key()).filter(|u| u.session == session).map(|u| u.resume)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }
}
