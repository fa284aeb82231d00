//! The hub's copy of every room's authority, and the server's: read by joins (under the
//! hub's lock) and by sessions before they speak (through the room's [`AuthorityCell`],
//! without the lock); changed only by acts the broker has stored, applied here in the order
//! it stored them, on every node.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use protocol::{ByeCode, Nick, NickKey, PresenceEvent, Role, RoomName};

use super::{Hub, Order, Room, State, User, presence};
use crate::authority::{Act, Authority, Removal, SERVER, Who};
use crate::event::Event;

/// One room's authority as sessions read it: swapped whole when an act changes it.
pub type AuthorityCell = Arc<ArcSwap<Authority>>;

impl State {
    /// The cell of `scope` (a room's key, or [`SERVER`]), made if the room has none yet.
    pub(super) fn authority_cell(&mut self, scope: &str) -> AuthorityCell {
        self.authority.entry(scope.to_owned()).or_default().clone()
    }

    pub(super) fn authority_of(&self, scope: &str) -> Arc<Authority> {
        self.authority.get(scope).map(|cell| cell.load_full()).unwrap_or_default()
    }

    /// Forgets the cell of a room that is gone, if nothing was ever set in it.
    pub(super) fn forget_authority(&mut self, room: &RoomName) {
        let scope = crate::authority::scope(room);
        if self.authority.get(&scope).is_some_and(|cell| cell.load().is_empty()) {
            self.authority.remove(&scope);
        }
    }
}

impl Hub {
    /// Every room's stored fields, at start-up and after a resubscription: `(scope, field,
    /// value)`. Rooms that have none any more are reset.
    pub fn load_authority(&self, rows: impl IntoIterator<Item = (String, String, String)>) {
        self.rooms_changed();
        let mut by_scope: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (scope, field, value) in rows {
            by_scope.entry(scope).or_default().push((field, value));
        }
        let mut state = self.state();
        for (scope, cell) in &state.authority {
            if !by_scope.contains_key(scope) {
                cell.store(Arc::default());
            }
        }
        for (scope, fields) in by_scope {
            let authority =
                Authority::from_fields(fields.iter().map(|(f, v)| (f.as_str(), v.as_str())));
            state.authority_cell(&scope).store(Arc::new(authority));
        }
        let mut owned: HashMap<NickKey, usize> = HashMap::new();
        for cell in state.authority.values() {
            if let Some(owner) = &cell.load().owner {
                *owned.entry(owner.key()).or_default() += 1;
            }
        }
        state.owned = owned;
    }

    /// `room`'s authority now (its look-alikes share it).
    pub fn authority(&self, room: &RoomName) -> Arc<Authority> {
        self.state().authority_of(&crate::authority::scope(room))
    }

    /// The server's own bans.
    pub fn server_authority(&self) -> Arc<Authority> {
        self.state().authority_of(SERVER)
    }

    /// Whether `nick`, logged in, is a server admin (`--admin`).
    pub fn is_admin(&self, nick: &Nick) -> bool {
        let admins = self.admins.load();
        !admins.is_empty() && admins.contains(&nick.key())
    }

    /// The server's admins from now on (SIGHUP): rights are checked here, so a removed admin
    /// loses them at once, in open sessions too.
    pub fn set_admins(&self, admins: &[Nick]) {
        self.admins.store(Arc::new(admins.iter().map(Nick::key).collect()));
    }

    /// The members of `room` with a role, as `members` lists them: the role holders looked up
    /// among the members by key (no member's key is computed).
    pub(super) fn roles_in(&self, room: &Room, authority: &Authority) -> BTreeMap<Nick, Role> {
        let mut roles = BTreeMap::new();
        let mut mark = |key: &NickKey, role: Role| {
            if let Some(member) = room.members.get(key) {
                roles.entry(member.nick.clone()).or_insert(role);
            }
        };
        for key in self.admins.load().iter() {
            mark(key, Role::Owner);
        }
        if let Some(owner) = &authority.owner {
            mark(&owner.key(), Role::Owner);
        }
        for (key, granted) in &authority.roles {
            mark(key, granted.role);
        }
        roles
    }

    /// The scopes where the account of `key` owns the room or holds a role.
    pub fn held_by(&self, key: &NickKey) -> Vec<(String, bool)> {
        let state = self.state();
        state
            .authority
            .iter()
            .filter_map(|(scope, cell)| {
                let a = cell.load();
                let owns = a.owner.as_ref().is_some_and(|o| o.key() == *key);
                (owns || a.roles.contains_key(key)).then(|| (scope.clone(), owns))
            })
            .collect()
    }

    /// How many rooms the account of `key` owns.
    pub fn owned_by(&self, key: &NickKey) -> usize {
        self.state().owned.get(key).copied().unwrap_or(0)
    }

    /// The scopes of the rooms that are secret (`+s`): few, and none in most chats.
    pub fn secret_scopes(&self) -> Vec<String> {
        let state = self.state();
        state.authority.iter().filter(|(_, c)| c.load().secret).map(|(s, _)| s.clone()).collect()
    }

    /// Completes once the act `id` has been applied here (at once if it was lately).
    pub async fn act_applied(&self, id: uuid::Uuid) {
        self.applied.wait_for(id).await;
    }

    /// Applies an act the broker has stored: its fields, its announcement to the room's
    /// members here, and the removal of the sessions here that it matches.
    pub fn apply(&self, act: &Act) {
        self.rooms_changed();
        let mut state = self.state();
        let scope = act.scope();
        let cell = state.authority_cell(&scope);
        let mut authority = Authority::clone(&cell.load());
        let owner_before = authority.owner.as_ref().map(Nick::key);
        for setting in &act.settings {
            authority.apply(&setting.field, setting.value.as_deref());
        }
        let owner_after = authority.owner.as_ref().map(Nick::key);
        if owner_before != owner_after {
            if let Some(key) = owner_before
                && let Some(count) = state.owned.get_mut(&key)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    state.owned.remove(&key);
                }
            }
            if let Some(key) = owner_after {
                *state.owned.entry(key).or_default() += 1;
            }
        }
        let empty = authority.is_empty();
        cell.store(Arc::new(authority));
        if let Some(room) = &act.room {
            if empty && !state.rooms.contains_key(room) {
                state.authority.remove(&scope);
            }
            if let (Some(event), Some(entry)) = (act.event(), state.rooms.get(room)) {
                entry.tx.send(Event::new(event));
            }
        }
        if let Some(removal) = &act.remove {
            match &act.room {
                Some(room) => self.remove_from_room(&mut state, room, removal),
                None if scope == SERVER => self.remove_from_server(&state, removal),
                None => {}
            }
        }
        drop(state);
        self.applied.record(act.id);
    }

    /// Takes the sessions here that `removal` matches out of `room`, with a `kicked` presence.
    /// The room's operators (and its owner, and admins) stay: bans and kicks are for members.
    fn remove_from_room(&self, state: &mut State, room: &RoomName, removal: &Removal) {
        let Some(entry) = state.rooms.get(room) else { return };
        let authority = state.authority_of(&crate::authority::scope(room));
        let matched: Vec<_> = entry
            .members
            .iter()
            .filter_map(|(key, member)| {
                let user = state.users.get(key).filter(|u| u.session == member.session)?;
                let who = self.who(user);
                (authority.role_of(&who) < Role::Operator && who.matches(&removal.mask))
                    .then(|| (key.clone(), member.session))
            })
            .collect();
        for (key, session) in matched {
            let Some(user) = state.users.get_mut(&key) else { continue };
            user.remove_room(room);
            let event = presence(
                room,
                &user.nick,
                PresenceEvent::Kicked { by: removal.by.clone(), reason: removal.reason.clone() },
            );
            user.direct.order(Order::Leave { room: room.clone(), event: event.clone() });
            self.remove_member(state, &key, session, room, &event);
        }
    }

    /// A session here as a ban sees it. An admin is never matched: no ban removes one.
    fn who<'a>(&self, user: &'a User) -> Who<'a> {
        let account = user.direct.logged_in();
        Who {
            nick: &user.nick,
            account,
            addr: user.direct.peer(),
            admin: account && self.is_admin(&user.nick),
        }
    }

    /// Tells the sessions here that `removal` matches to end.
    fn remove_from_server(&self, state: &State, removal: &Removal) {
        let reason = removal.reason.as_ref().map_or(String::new(), |r| format!(": {}", r.as_str()));
        for user in state.users.values() {
            let who = self.who(user);
            if who.admin || !who.matches(&removal.mask) {
                continue;
            }
            let (code, message) = if removal.banned {
                (ByeCode::Banned, format!("banned from this server by {}{reason}", removal.by))
            } else {
                (ByeCode::Killed, format!("disconnected by {}{reason}", removal.by))
            };
            user.direct.order(Order::End { code, message });
        }
    }
}
