//! The other nodes, when this one is one of several: what the hub tells them
//! ([`Elsewhere`], which the broker implements), and what it applies from them (their
//! sessions and their members of each room, as the broker hears of them).

use std::sync::Arc;
use std::time::Duration;

use protocol::{
    ErrorCode, Label, Nick, NickKey, PresenceEvent, RequestError, RoomName, ServerMsg, now_millis,
};
use uuid::Uuid;

use super::people::Away;
use super::{Hub, Member, NotQueued, ResumeHash, State, recipient_busy, sort_members};
use crate::event::{Event, SharedEvent};

/// Where the hub's changes go beyond this node. Handed to the hub at start-up by the broker;
/// a single node has [`Alone`].
pub trait Elsewhere: Send + Sync {
    /// Shares a room's presence event. `true`: it comes back to this node's members through
    /// the broker, in order with the room's messages; `false`: the hub delivers it here.
    fn presence(&self, session: Uuid, event: &SharedEvent, change: Change) -> bool;
    /// A session registered here.
    fn online(&self, session: Uuid, nick: &Nick);
    /// A session here changed its nick.
    fn renamed(&self, session: Uuid, nick: &Nick, to: &Nick);
    /// A session here went away with `text`, or came back (`None`).
    fn away(&self, session: Uuid, nick: &Nick, text: Option<&Label>);
    /// A session here that was away is gone: its away message leaves what the nodes share
    /// (they forget it with the session, so nobody is told).
    fn away_gone(&self, session: Uuid);
    /// This node's away messages, whole, in place of what the nodes share of them (which may
    /// have been lost).
    fn away_all(&self, away: Vec<(Uuid, Label)>);
    /// Frees `nick`, or keeps it for `resume` for `keep`, if it is still `session`'s.
    /// `true`: decided there, for every node; `false`: the hub keeps its reservations itself.
    fn release(&self, nick: &Nick, session: Uuid, resume: ResumeHash, keep: Duration) -> bool;
    /// Sends a private message to a session of `node`; `false` if it could not be sent.
    fn private(&self, node: &str, from_session: Uuid, event: &SharedEvent) -> bool;
}

/// A single node: nobody else to tell.
pub struct Alone;

impl Elsewhere for Alone {
    fn presence(&self, _: Uuid, _: &SharedEvent, _: Change) -> bool {
        false
    }
    fn online(&self, _: Uuid, _: &Nick) {}
    fn renamed(&self, _: Uuid, _: &Nick, _: &Nick) {}
    fn away(&self, _: Uuid, _: &Nick, _: Option<&Label>) {}
    fn away_gone(&self, _: Uuid) {}
    fn away_all(&self, _: Vec<(Uuid, Label)>) {}
    fn release(&self, _: &Nick, _: Uuid, _: ResumeHash, _: Duration) -> bool {
        false
    }
    fn private(&self, _: &str, _: Uuid, _: &SharedEvent) -> bool {
        false
    }
}

/// How a presence event changes its room's members.
#[derive(Debug, Clone)]
pub enum Change {
    Add { key: NickKey, nick: Nick },
    Remove { key: NickKey },
    Move { from: NickKey, key: NickKey, nick: Nick },
}

/// This node's sessions and memberships ([`Hub::local_view`]).
pub struct LocalView {
    /// Nick, session, resume token (hashed).
    pub users: Vec<(Nick, Uuid, ResumeHash)>,
    /// Room, nick, session.
    pub members: Vec<(RoomName, Nick, Uuid)>,
}

/// A session on another node.
pub(super) struct RemoteUser {
    pub(super) nick: Nick,
    pub(super) session: Uuid,
    pub(super) node: Arc<str>,
    /// Its away message, as its node shares it; this node tells it to its own senders.
    pub(super) away: Option<Box<Away>>,
}

/// Another node's session (nick, session, node) and its away message, if it is away.
pub type RemoteSession = (Nick, Uuid, String, Option<Label>);

/// What the other nodes did, as the broker hears it.
impl Hub {
    /// A room's presence event: a change another node made to the members is applied (this
    /// node's own, `from_here`, were applied when made), then this node's members of the room
    /// are shown it.
    pub fn on_presence(&self, from_here: bool, session: Uuid, event: SharedEvent) {
        let ServerMsg::Presence { room, nick, event: what, .. } = &event.msg else { return };
        self.rooms_changed();
        let mut state = self.state();
        if !from_here {
            let key = nick.key();
            match what {
                PresenceEvent::Joined => {
                    let entry = state.room_entry(room);
                    entry.members.insert(key, Member::new(nick.clone(), session));
                }
                PresenceEvent::Left { .. }
                | PresenceEvent::Dropped { .. }
                | PresenceEvent::Kicked { .. } => {
                    if let Some(entry) = state.rooms.get_mut(room) {
                        if entry.members.get(&key).is_some_and(|m| m.session == session) {
                            entry.members.remove(&key);
                        }
                        if entry.members.is_empty() {
                            state.remove_room(room);
                        }
                    }
                }
                PresenceEvent::Renamed { to } => {
                    if let Some(entry) = state.rooms.get_mut(room)
                        && entry.members.get(&key).is_some_and(|m| m.session == session)
                    {
                        entry.members.remove(&key);
                        entry.members.insert(to.key(), Member::new(to.clone(), session));
                    }
                }
            }
        }
        if let Some(entry) = state.rooms.get(room) {
            entry.tx.send(event.clone());
        }
    }

    /// A room message the broker stored: to this node's members of the room. Returns whether
    /// anyone here is in it.
    pub fn deliver(&self, room: &RoomName, event: SharedEvent) -> bool {
        let state = self.state();
        match state.rooms.get(room) {
            Some(entry) if entry.tx.has_receivers() => {
                entry.tx.send(event);
                true
            }
            _ => false,
        }
    }

    /// A session came online on another node.
    pub fn on_online(&self, node: &str, session: Uuid, nick: &Nick) {
        let remote = RemoteUser { nick: nick.clone(), session, node: node.into(), away: None };
        let mut state = self.state();
        if let Some(replaced) = state.remote.insert(nick.key(), remote) {
            self.remote_gone(&replaced);
        }
    }

    /// A session of another node went offline.
    pub fn on_offline(&self, session: Uuid, nick: &Nick) {
        let mut state = self.state();
        let key = nick.key();
        if state.remote.get(&key).is_some_and(|r| r.session == session)
            && let Some(gone) = state.remote.remove(&key)
        {
            self.remote_gone(&gone);
        }
    }

    /// A session of another node went away with `text`, or came back (`None`). The text is
    /// held to the rules a local one is ([`super::away_text`]): it came through Redis.
    pub fn on_away(&self, session: Uuid, nick: &Nick, text: Option<Label>) {
        let text = super::away_text(text.as_ref());
        let mut state = self.state();
        if let Some(user) = state.remote.get_mut(&nick.key()).filter(|r| r.session == session) {
            let was = user.away.is_some();
            user.away = text.map(Away::new);
            self.away_changed(was, user.away.is_some());
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
            if let Some(replaced) = state.remote.insert(to.key(), user) {
                self.remote_gone(&replaced);
            }
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

    /// Tells `session` (`nick`) that its private message to `to`, sent as `to` was leaving
    /// another node, is kept for when `to` logs in again.
    pub fn kept_for_later(&self, session: Uuid, nick: &Nick, to: &Nick) {
        let state = self.state();
        if let Some(user) = state.users.get(&nick.key()).filter(|u| u.session == session) {
            let text = format!(
                "{to} went offline as your message was sent; it is kept and delivered when they log in"
            );
            let notice = ServerMsg::Notice { id: Uuid::now_v7(), ts: now_millis(), text };
            let _ = user.direct.try_send(Event::new(notice));
        }
    }

    /// This node's sessions (nick, session, resume token) and memberships (room, nick,
    /// session): what the broker writes back for the other nodes after it lost track.
    pub fn local_view(&self) -> LocalView {
        let state = self.state();
        let users = state.users.values().map(|u| (u.nick.clone(), u.session, u.resume)).collect();
        let mut members = Vec::new();
        for user in state.users.values() {
            for room in &user.rooms {
                // A quiet member is nobody else's business until it speaks.
                let quiet = state
                    .rooms
                    .get(room)
                    .and_then(|r| r.members.get(&user.nick.key()))
                    .is_some_and(|m| m.quiet);
                if !quiet {
                    members.push((room.clone(), user.nick.clone(), user.session));
                }
            }
        }
        LocalView { users, members }
    }

    /// Shares this node's away messages again, whole (what the nodes share may have been
    /// lost): under the lock, so a change made after this look is shared after it.
    pub fn share_away(&self) {
        let state = self.state();
        let away =
            state.users.values().filter_map(|u| Some((u.session, u.away.as_ref()?.text().clone())));
        self.elsewhere.away_all(away.collect());
    }

    /// Replaces what this hub knows of the other nodes: their sessions (nick, session, node,
    /// away message) and their rooms' members (nick, session).
    pub fn load_remote(
        &self,
        users: Vec<RemoteSession>,
        rooms: Vec<(RoomName, Vec<(Nick, Uuid)>)>,
    ) {
        self.rooms_changed();
        let mut state = self.state();
        let state = &mut *state;
        for gone in state.remote.values() {
            self.remote_gone(gone);
        }
        let mut before = std::mem::take(&mut state.remote);
        state.remote = users
            .into_iter()
            .filter(|(nick, ..)| !state.users.contains_key(&nick.key()))
            .map(|(nick, session, node, away)| {
                let key = nick.key();
                let away = super::away_text(away.as_ref());
                // The same away period as before the reload keeps whom it was told to.
                let kept =
                    before.remove(&key).filter(|r| r.session == session).and_then(|r| r.away);
                let away = match (away, kept) {
                    (Some(text), Some(kept)) if *kept.text() == text => Some(kept),
                    (away, _) => away.map(Away::new),
                };
                (key, RemoteUser { nick, session, node: node.into(), away })
            })
            .collect();
        for user in state.remote.values() {
            self.away_changed(false, user.away.is_some());
        }
        let users = &state.users;
        for room in state.rooms.values_mut() {
            room.members.retain(|key, m| users.get(key).is_some_and(|u| u.session == m.session));
        }
        for (name, members) in rooms {
            for (nick, session) in members {
                let key = nick.key();
                if state.users.contains_key(&key) {
                    continue;
                }
                let entry = state.room_entry(&name);
                entry.members.insert(key, Member::new(nick, session));
            }
        }
        state.rooms.retain(|_, room| !room.members.is_empty());
        let State { rooms, room_keys, .. } = &mut *state;
        room_keys.retain(|_, name| rooms.contains_key(name));
        crate::metrics::rooms(rooms.len());
        // Presence missed meanwhile cannot be replayed: this node's members get the room's
        // member list afresh instead.
        for (name, room) in &state.rooms {
            if room.tx.has_receivers() {
                let nicks = sort_members(room.nicks(None));
                let roles =
                    self.roles_in(room, &state.authority_of(&crate::authority::scope(name)));
                room.tx.send(Event::new(super::members_page(name.clone(), nicks, roles, None)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::DirectReceiver;
    use crate::hub::tests::guest;
    use protocol::Text;

    fn nick(s: &str) -> Nick {
        Nick::parse(s).unwrap()
    }

    fn sid(n: &Nick) -> Uuid {
        Uuid::from_u128(u128::from(n.as_str().len() as u64))
    }

    fn register(hub: &Hub, name: &str) -> (Nick, DirectReceiver) {
        let rx = DirectReceiver::default();
        let n = nick(name);
        hub.claim_nick(&n, sid(&n), ResumeHash::of(Uuid::new_v4()), rx.sender(), None, false)
            .unwrap();
        (n, rx)
    }

    fn presence(room: &RoomName, nick: &Nick, event: PresenceEvent) -> SharedEvent {
        super::super::presence(room, nick, event)
    }

    /// Presence shared with other nodes in a test: counted, and never delivered here.
    #[derive(Default)]
    struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Elsewhere for Counted {
        fn presence(&self, _: Uuid, _: &SharedEvent, _: Change) -> bool {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        }
        fn online(&self, _: Uuid, _: &Nick) {}
        fn renamed(&self, _: Uuid, _: &Nick, _: &Nick) {}
        fn away(&self, _: Uuid, _: &Nick, _: Option<&Label>) {}
        fn away_gone(&self, _: Uuid) {}
        fn away_all(&self, _: Vec<(Uuid, Label)>) {}
        fn release(&self, _: &Nick, _: Uuid, _: ResumeHash, _: Duration) -> bool {
            true
        }
        fn private(&self, _: &str, _: Uuid, _: &SharedEvent) -> bool {
            true
        }
    }

    /// With several nodes, presence goes out to them (not straight to the local channel) and
    /// comes back through `on_presence`; another node's late departure of an older session of
    /// a nick does not remove the newer one.
    #[test]
    fn another_nodes_presence_is_applied_by_session() {
        let shared = Counted::default();
        let published = shared.0.clone();
        let hub = Hub::new(100, 100).with_elsewhere(Box::new(shared));
        let (m, _) = register(&hub, "Michael");
        let lobby = RoomName::lobby();
        let mut membership = hub.join(&guest(&m), sid(&m), &lobby, None, false).unwrap();
        assert!(membership.rx.try_recv().is_err(), "not sent locally: it comes back");
        assert_eq!(published.load(std::sync::atomic::Ordering::Relaxed), 1);

        let tracy = nick("Tracy");
        let (old, new) = (Uuid::now_v7(), Uuid::now_v7());
        let joined = |session| {
            hub.on_presence(false, session, presence(&lobby, &tracy, PresenceEvent::Joined));
        };
        joined(old);
        hub.on_online("b", old, &tracy);
        assert_eq!(
            hub.members(&lobby, Uuid::nil()).unwrap().0,
            vec![nick("Michael"), tracy.clone()]
        );
        // Tracy came back on node c (a new session) before node b's departure arrived.
        hub.on_presence(false, new, presence(&lobby, &tracy, PresenceEvent::Joined));
        let gone = PresenceEvent::Dropped { reason: protocol::Label::truncate("server lost") };
        hub.on_presence(false, old, presence(&lobby, &tracy, gone));
        hub.on_offline(old, &tracy);
        assert_eq!(
            hub.members(&lobby, Uuid::nil()).unwrap().0,
            vec![nick("Michael"), tracy.clone()]
        );
        let events: Vec<_> = std::iter::from_fn(|| membership.rx.try_recv().ok()).collect();
        assert_eq!(events.len(), 3, "each heard event reaches the local members");

        // A reload keeps this node's own members and replaces the others'.
        hub.load_remote(vec![], vec![(lobby.clone(), vec![(nick("Anna"), Uuid::now_v7())])]);
        assert_eq!(
            hub.members(&lobby, Uuid::nil()).unwrap().0,
            vec![nick("Anna"), nick("Michael")]
        );
        let err = hub.send_private(&m, false, &tracy, Text::parse("hi").unwrap()).unwrap_err();
        assert_eq!(err.code, ErrorCode::NoSuchNick);
    }
}
