//! The hub's rooms: joining (subscribed before the join is announced), leaving, and the lists
//! of rooms and members.

use std::collections::BTreeMap;

use protocol::{
    ErrorCode, JoinKey, Nick, NickKey, PresenceEvent, RequestError, Role, RoomName, now_millis,
};
use uuid::Uuid;

use super::{
    Change, Hub, Member, Membership, RoomChannel, State, presence, sort_members, taken_over,
};
use crate::authority::Who;
use crate::event::SharedEvent;

impl Hub {
    /// Puts `who` in `room`, creating the room if new, and announces it to the room (unless
    /// `quiet`: see `Member::quiet`). The receiver is subscribed before the announcement is
    /// sent, so the joiner sees its own join. The room's bans, invitations and key are
    /// checked first (with `key`, the one shown).
    pub fn join(
        &self,
        who: &Who<'_>,
        session: Uuid,
        room: &RoomName,
        key: Option<&JoinKey>,
        quiet: bool,
    ) -> Result<Membership, RequestError> {
        let nick = who.nick;
        let mut state = self.state();
        if !state.holds(&nick.key(), session) {
            return Err(taken_over());
        }
        // A name that reads like an existing room's is that room (which the session, knowing
        // the name it asked for only, cannot have checked it is not in).
        let asked = room;
        let room = &state.existing_room(asked).unwrap_or_else(|| asked.clone());
        if room != asked
            && state.users.get(&nick.key()).is_some_and(|u| u.rooms.binary_search(room).is_ok())
        {
            return Err(RequestError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already in #{room}"),
            ));
        }
        let scope = crate::authority::scope(room);
        state.authority_of(&scope).may_join(room, who, key, now_millis())?;
        let created = !state.rooms.contains_key(room);
        if created && state.rooms.len() >= self.max_rooms {
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
        // Made only for a join that succeeds: a refused one leaves nothing behind.
        let authority = state.authority_cell(&scope);
        let entry = state.room_entry(&room);
        entry.members.insert(key.clone(), Member { quiet, ..Member::new(nick.clone(), session) });
        let rx = entry.tx.subscribe();
        let announcement = presence(&room, nick, PresenceEvent::Joined);
        if quiet {
            self.rooms_changed();
        } else {
            let change = Change::Add { key, nick: nick.clone() };
            self.announce(&entry.tx, session, &announcement, change);
        }
        let (tx, members) = (entry.tx.clone(), entry.nicks(Some(session)));
        let roles = self.roles_in(entry, &authority.load());
        drop(state);
        let members = sort_members(members);
        Ok(Membership { room, tx, rx, announcement, members, roles, authority, created, quiet })
    }

    /// A quiet member of `room` speaks there: its join is announced now (under `id`, the id
    /// of the join its own client was shown), before what it says (which goes to the room
    /// after this). Nothing happens for a member announced already.
    pub fn unquiet(&self, nick: &Nick, session: Uuid, room: &RoomName, id: Uuid) {
        let mut state = self.state();
        let key = nick.key();
        let Some(entry) = state.rooms.get_mut(room) else { return };
        let Some(member) = entry.members.get_mut(&key).filter(|m| m.session == session) else {
            return;
        };
        if !std::mem::replace(&mut member.quiet, false) {
            return;
        }
        let announcement = super::presence_as(id, room, nick, PresenceEvent::Joined);
        let change = Change::Add { key, nick: nick.clone() };
        self.announce(&entry.tx, session, &announcement, change);
    }

    /// Sends a presence event to the room: through the other nodes when there are any (it
    /// comes back to this node's members in order with the room's messages), else on the
    /// room's channel at once.
    pub(super) fn announce(
        &self,
        tx: &RoomChannel,
        session: Uuid,
        event: &SharedEvent,
        change: Change,
    ) {
        self.rooms_changed();
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

    pub(super) fn remove_member(
        &self,
        state: &mut State,
        key: &NickKey,
        session: Uuid,
        room: &RoomName,
        announcement: &SharedEvent,
    ) {
        let Some(entry) = state.rooms.get_mut(room) else { return };
        let mut quiet = false;
        if entry.members.get(key).is_some_and(|m| m.session == session) {
            quiet = entry.members.remove(key).is_some_and(|m| m.quiet);
        }
        let tx = entry.tx.clone();
        if entry.members.is_empty() {
            // A room exists while it has members.
            state.remove_room(room);
        }
        if quiet {
            // Nobody was told it came: nobody is told it went.
            self.rooms_changed();
            return;
        }
        // Even a room emptied here is told: the other nodes keep its members too (alone, its
        // channel has nobody left to hear).
        self.announce(&tx, session, announcement, Change::Remove { key: key.clone() });
    }

    /// The members of `room` others know of, and their roles, as `viewer` sees them (its own
    /// quiet self included), or `None` if there is no such room.
    pub fn members(
        &self,
        room: &RoomName,
        viewer: Uuid,
    ) -> Option<(Vec<Nick>, BTreeMap<Nick, Role>)> {
        let (members, roles) = {
            let state = self.state();
            let entry = state.rooms.get(room)?;
            let authority = state.authority_of(&crate::authority::scope(room));
            (entry.nicks(Some(viewer)), self.roles_in(entry, &authority))
        };
        Some((sort_members(members), roles))
    }
}
