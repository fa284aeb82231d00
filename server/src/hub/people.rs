//! What the hub tells of a person rather than a room: away messages (set with `away`, told
//! once to each sender of a private message while they last, marked in member lists) and the
//! answer to `whois`.
//!
//! Away state belongs to the session, on its node; the node shares it with the others
//! ([`super::Elsewhere::away`]), which keep it with what they know of that session
//! (`RemoteUser`) and answer their own senders with it. `whois` of another node's session
//! has its nick, rooms and away message, not its times.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;

use protocol::{Label, Nick, NickKey, RoomName, ServerMsg, now_millis};
use uuid::Uuid;

use super::{Hub, State};
use crate::limits::MAX_AWAY_TOLD;

/// A session's away message and whom it was told to since it was set (on this node: another
/// node's away session is told once per sender by each node the senders are on).
pub(super) struct Away {
    text: Label,
    /// Senders already answered with `text`: IRC clients expect one answer per away period,
    /// not one per line. At most [`MAX_AWAY_TOLD`]; past it the set starts again.
    told: HashSet<NickKey>,
}

impl Away {
    /// A new away period with `text`: nobody told yet.
    pub(super) fn new(text: Label) -> Box<Self> {
        Box::new(Self { text, told: HashSet::new() })
    }

    pub(super) fn text(&self) -> &Label {
        &self.text
    }

    /// The away answer for `from`, the first time in this away period.
    fn reply(&mut self, from: &Nick, nick: &Nick) -> Option<ServerMsg> {
        if self.told.len() >= MAX_AWAY_TOLD {
            self.told.clear();
        }
        self.told
            .insert(from.key())
            .then(|| ServerMsg::Away { nick: nick.clone(), text: Some(self.text.clone()) })
    }
}

/// An away message as the hub keeps it: one line (line breaks and other controls become
/// spaces), trimmed; empty means back.
pub fn away_text(text: Option<&Label>) -> Option<Label> {
    let text = text?.as_str();
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.trim();
    (!line.is_empty()).then(|| Label::truncate(line))
}

impl Hub {
    /// Marks `nick`'s session away with `text`, or back (`None`); a new message starts a new
    /// away period, in which every sender is told once again.
    pub fn set_away(&self, nick: &Nick, session: Uuid, text: Option<Label>) {
        let mut state = self.state();
        let key = nick.key();
        if !state.holds(&key, session) {
            return;
        }
        if let Some(user) = state.users.get_mut(&key) {
            let was = user.away.is_some();
            // Shared under the lock, as the hub's other changes are: the other nodes hear
            // them in the order they were made. Back when not away changes nothing to share.
            if was || text.is_some() {
                self.elsewhere.away(session, &user.nick, text.as_ref());
            }
            user.away = text.map(Away::new);
            self.away_changed(was, user.away.is_some());
        }
    }

    /// Counts a user (this node's or another's) going away or coming back, for
    /// [`Hub::mark_away`]'s look without the lock. Called under the state's lock.
    pub(super) fn away_changed(&self, was: bool, is: bool) {
        match (was, is) {
            (false, true) => self.away_users.fetch_add(1, Ordering::Relaxed),
            (true, false) => self.away_users.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// A user leaves this node's users (it ended, or was taken over or replaced): if it was
    /// away, one away user fewer, and its away message leaves what the nodes share. Called
    /// under the state's lock, as `set_away` is.
    pub(super) fn user_gone(&self, user: &super::User) {
        if user.away.is_some() {
            self.elsewhere.away_gone(user.session);
        }
        self.away_changed(user.away.is_some(), false);
    }

    /// Another node's session leaves what this node knows: if it was away, one away user
    /// fewer. Called under the state's lock.
    pub(super) fn remote_gone(&self, user: &super::RemoteUser) {
        self.away_changed(user.away.is_some(), false);
    }

    /// The `away` answer for `from`, who just sent a private message to `to`: `to`'s away
    /// message, if `to` is away (on this node or another) and has not told `from` since going
    /// away.
    pub fn away_reply(&self, from: &Nick, to: &Nick) -> Option<ServerMsg> {
        let mut state = self.state();
        let key = to.key();
        if let Some(user) = state.users.get_mut(&key) {
            return user.away.as_mut()?.reply(from, &user.nick);
        }
        let user = state.remote.get_mut(&key)?;
        user.away.as_mut()?.reply(from, &user.nick)
    }

    /// Fills in a `members` page's away messages: those of its nicks who are away, on this
    /// node or another.
    pub fn mark_away(&self, page: &mut ServerMsg) {
        let ServerMsg::Members { nicks, away, .. } = page else { return };
        if self.away_users.load(Ordering::Relaxed) == 0 {
            away.clear();
            return;
        }
        // The page's keys are made before the hub's lock is taken: a page has up to
        // `MAX_MEMBERS_PAGE` nicks, and every session waits on that lock.
        let keys: Vec<NickKey> = nicks.iter().map(Nick::key).collect();
        let state = self.state();
        *away = nicks
            .iter()
            .zip(&keys)
            .filter_map(|(nick, key)| {
                let away = match state.users.get(key) {
                    Some(user) => user.away.as_ref(),
                    None => state.remote.get(key)?.away.as_ref(),
                };
                Some((nick.clone(), away?.text.clone()))
            })
            .collect::<BTreeMap<_, _>>();
    }

    /// The `whois` answer about `nick` for the session `viewer` (holding `viewer_nick`), or
    /// `None` when nobody by that nick is online on any node.
    pub fn whois(&self, nick: &Nick, viewer_nick: &Nick, viewer: Uuid) -> Option<ServerMsg> {
        let state = self.state();
        let key = nick.key();
        let mine: &[RoomName] = state
            .users
            .get(&viewer_nick.key())
            .filter(|u| u.session == viewer)
            .map_or(&[], |u| &u.rooms);
        if let Some(user) = state.users.get(&key) {
            let now = now_millis();
            let elapsed = u64::try_from(user.since.elapsed().as_millis()).unwrap_or(u64::MAX);
            let since = now.saturating_sub(elapsed);
            let last = user.direct.spoke().unwrap_or(since);
            return Some(ServerMsg::Whois {
                nick: user.nick.clone(),
                account: user.direct.logged_in(),
                away: user.away.as_ref().map(|a| a.text.clone()),
                rooms: state.visible_rooms(&user.rooms, &key, user.session, mine, viewer),
                since: Some(since),
                idle: Some(now.saturating_sub(last) / 1000),
                elsewhere: false,
            });
        }
        let remote = state.remote.get(&key)?;
        // Another node's session: its rooms are in the members this node keeps of each room.
        let mut theirs: Vec<RoomName> = state
            .rooms
            .iter()
            .filter(|(_, room)| room.members.get(&key).is_some_and(|m| m.session == remote.session))
            .map(|(name, _)| name.clone())
            .collect();
        theirs.sort();
        Some(ServerMsg::Whois {
            nick: remote.nick.clone(),
            account: false,
            away: remote.away.as_ref().map(|a| a.text.clone()),
            rooms: state.visible_rooms(&theirs, &key, remote.session, mine, viewer),
            since: None,
            idle: None,
            elsewhere: true,
        })
    }
}

impl State {
    /// Of `rooms`, where `session` (holding `key`) is a member, those a viewer in `mine` may be told of: the
    /// rooms they share, and the others unless secret; never one the member joined quietly
    /// (nobody is told of that membership), unless the viewer is the member.
    fn visible_rooms(
        &self,
        rooms: &[RoomName],
        key: &NickKey,
        session: Uuid,
        mine: &[RoomName],
        viewer: Uuid,
    ) -> Vec<RoomName> {
        rooms
            .iter()
            .filter(|room| {
                if session == viewer {
                    return true;
                }
                let quiet =
                    self.rooms.get(*room).and_then(|r| r.members.get(key)).is_some_and(|m| m.quiet);
                !quiet
                    && (mine.contains(room)
                        || !self.authority_of(&crate::authority::scope(room)).secret)
            })
            .cloned()
            .collect()
    }
}
