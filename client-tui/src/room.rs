//! What a room's window knows of the room's authority: its topic (the header row above the
//! conversation), the roles of its members (the marks in the member list) and the key it was
//! joined with (for rejoining after a reconnect). Kept up to date from `members`, `topic`,
//! `moderation` and `presence` events; `app/rooms.rs` feeds it, `ui` reads it.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use protocol::{JoinKey, Label, Nick, Role, sanitize};

#[derive(Debug, Clone, Default)]
pub struct RoomState {
    /// The topic as it is drawn: sanitised, on one line (a line break shows as a visible
    /// symbol, never as a second row). `None`: the room has no topic, and no header row.
    topic: Option<String>,
    /// The members with a role, by nick as the server spells it; the rest are members.
    roles: BTreeMap<Nick, Role>,
    /// The key the room was joined with (`/join ROOM KEY`): the rejoin after a reconnect gives
    /// it again. A shared secret: never drawn nor logged, and `JoinKey`'s `Debug` hides it.
    pub key: Option<JoinKey>,
}

impl RoomState {
    /// The topic, safe to draw on one row; `None` when there is none.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// The topic is now `text`; absent or blank clears it.
    pub fn set_topic(&mut self, text: Option<&Label>) {
        self.topic = text
            .map(|t| t.as_str().trim())
            .filter(|t| !t.is_empty())
            .map(|t| sanitize(t).into_owned());
    }

    /// `nick`'s role in the room: a member when it has none.
    pub fn role(&self, nick: &Nick) -> Role {
        self.roles.get(nick).copied().unwrap_or(Role::Member)
    }

    /// The roles of a fresh member list (`members`), replacing what was known.
    pub fn set_roles(&mut self, roles: BTreeMap<Nick, Role>) {
        self.roles = roles;
        self.roles.retain(|_, role| *role != Role::Member);
    }

    /// `nick`'s role is now `role` (a `role` moderation event, or `claimed`: the owner).
    pub fn set_role(&mut self, nick: Nick, role: Role) {
        if role == Role::Member {
            self.roles.remove(&nick);
        } else {
            self.roles.insert(nick, role);
        }
    }

    /// The room has no owner any more (`disowned`): whoever was marked its owner is a member.
    /// The server's admins, marked as owners too, get their mark back with the next list.
    pub fn drop_owner(&mut self) {
        self.roles.retain(|_, role| *role != Role::Owner);
    }

    /// `nick` left the room (or was removed): its mark goes with it.
    pub fn forget(&mut self, nick: &Nick) {
        self.roles.remove(nick);
    }

    /// `from` is now known as `to`, and keeps its mark.
    pub fn rename(&mut self, from: &Nick, to: Nick) {
        if let Some(role) = self.roles.remove(from) {
            self.roles.insert(to, role);
        }
    }

    /// `nicks` as member lists show them: the owner, operators, voiced, then members, each
    /// group alphabetically (in any case), as irssi and WeeChat order them.
    pub fn ranked<'a>(&self, nicks: impl IntoIterator<Item = &'a Nick>) -> Vec<(Role, &'a Nick)> {
        let mut ranked: Vec<(Role, &Nick)> =
            nicks.into_iter().map(|nick| (self.role(nick), nick)).collect();
        ranked.sort_by_cached_key(|(role, nick)| (Reverse(*role), nick.as_str().to_lowercase()));
        ranked
    }

    /// `nicks` ranked and marked, for a line of text: `~Michael, @Tracy, +Sam, Bob`. Nicks
    /// are valid names, and still sanitised as every name drawn is.
    pub fn marked_list<'a>(&self, nicks: impl IntoIterator<Item = &'a Nick>) -> String {
        self.ranked(nicks)
            .into_iter()
            .map(|(role, nick)| format!("{}{}", role.mark(), sanitize(nick.as_str())))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nick(s: &str) -> Nick {
        Nick::parse(s).unwrap()
    }

    #[test]
    fn members_rank_by_role_then_name_and_marks_follow_renames() {
        let mut state = RoomState::default();
        state.set_roles(BTreeMap::from([
            (nick("Tracy"), Role::Operator),
            (nick("Michael"), Role::Owner),
            (nick("sam"), Role::Voiced),
            (nick("Ann"), Role::Member),
        ]));
        let nicks = [nick("bob"), nick("Tracy"), nick("Ann"), nick("sam"), nick("Michael")];
        assert_eq!(state.marked_list(&nicks), "~Michael, @Tracy, +sam, Ann, bob");
        state.rename(&nick("Tracy"), nick("Trace"));
        assert_eq!(state.role(&nick("Trace")), Role::Operator);
        assert_eq!(state.role(&nick("Tracy")), Role::Member);
        state.forget(&nick("sam"));
        state.set_role(nick("Michael"), Role::Member);
        assert_eq!(
            state.marked_list(&[nick("Michael"), nick("Trace"), nick("sam")]),
            "@Trace, Michael, sam"
        );
    }

    #[test]
    fn topics_are_one_sanitised_line_and_blank_clears() {
        let mut state = RoomState::default();
        state.set_topic(Some(&Label::parse("two\nlines \u{1b}[2J").unwrap()));
        let topic = state.topic().unwrap();
        assert!(!topic.contains('\n') && !topic.contains('\u{1b}'), "{topic:?}");
        state.set_topic(Some(&Label::parse("  ").unwrap()));
        assert_eq!(state.topic(), None);
        state.set_topic(Some(&Label::parse("back").unwrap()));
        state.set_topic(None);
        assert_eq!(state.topic(), None);
    }

    #[test]
    fn the_key_is_hidden_from_debug() {
        let state = RoomState { key: JoinKey::parse("sesame").ok(), ..RoomState::default() };
        assert!(!format!("{state:?}").contains("sesame"));
    }
}
