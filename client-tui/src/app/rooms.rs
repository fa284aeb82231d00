//! What the app does with what the server says about a room's people and authority: who
//! comes and goes (presence, kicks included), member lists with roles, the topic, modes,
//! moderation events and bans; a big room's list comes a page at a time. Each updates the room's window ([`crate::room::RoomState`])
//! and leaves a line in it, in the words of [`protocol::describe`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protocol::{
    BanInfo, ClientMsg, ErrorCode, Moderation, Modes, Nick, PresenceEvent, Role, RoomName, Topic,
    describe, sanitize,
};

use super::{App, LogKind};
use crate::entry::{Entry, EntryKind, clean};
use crate::event::Effect;
use crate::replies::Question;
use crate::window::Target;

impl App {
    /// Somebody arrived in, left, was removed from or changed name in `room`.
    pub(super) fn on_presence(
        &mut self,
        room: RoomName,
        nick: Nick,
        event: PresenceEvent,
        ts: u64,
    ) {
        let mine = self.link.is_me(&nick)
            || matches!(&event, PresenceEvent::Renamed { to } if self.link.is_me(to));
        let target = Target::Room(room.clone());
        if mine && let PresenceEvent::Kicked { by, reason } = &event {
            // The window closes: the server has taken us out of the room, and a window kept
            // open would read as if we were still in it, and would be rejoined after a
            // reconnect (`rejoin` rejoins the rooms that have a window), which a kicked
            // client must not do by itself. The line goes where the person is looking.
            if let Some(index) = self.windows.find(&target) {
                self.windows.close(index);
            }
            if self.windows.pending_switch.as_ref() == Some(&room) {
                self.windows.pending_switch = None;
            }
            let because = match reason {
                Some(reason) if !reason.as_str().is_empty() => {
                    format!(": {}", sanitize(reason.as_str()))
                }
                _ => String::new(),
            };
            self.note(EntryKind::Error, &format!("you were kicked from #{room} by {by}{because}"));
            return;
        }
        if mine && matches!(event, PresenceEvent::Left { .. }) {
            if let Some(index) = self.windows.find(&target) {
                self.windows.close(index);
            }
            self.log(LogKind::Info, &format!("you left #{room}"));
            return;
        }
        if let PresenceEvent::Renamed { to } = &event {
            self.on_renamed(&room, &nick, to, mine, ts);
            return;
        }
        let index = self.windows.open(target);
        let text = match &event {
            PresenceEvent::Joined if mine => {
                self.windows.joined(&room, index);
                // The server sends the topic after the member list if the room has one: a
                // topic kept from before a reconnect may have been cleared meanwhile.
                self.windows[index].room.set_topic(None);
                format!("you joined #{room}")
            }
            event => describe::presence(&nick, event),
        };
        let w = &mut self.windows[index];
        match &event {
            PresenceEvent::Joined => {
                w.members.insert(nick);
            }
            PresenceEvent::Left { .. }
            | PresenceEvent::Dropped { .. }
            | PresenceEvent::Kicked { .. } => {
                w.members.remove(&nick);
                w.room.forget(&nick);
            }
            PresenceEvent::Renamed { .. } => {}
        }
        let entry = Entry::note(self.settings.time_of(ts), EntryKind::Info, clean(&text));
        self.push(index, entry);
        if mine && let Some(trouble) = self.link.nick_trouble.take() {
            // The start-up nick was taken: said where the person looks, not only in the log.
            self.push(index, Entry::note(self.time_now(), EntryKind::Error, clean(&trouble)));
        }
    }

    /// `nick` is now `to`. The server tells each member once, through one of the rooms it
    /// shares with them (`room`), as IRC's NICK is told once: the change is made, with a
    /// line, in every room window the nick is a member of, and in the private window with
    /// that person, which follows the new nick.
    fn on_renamed(&mut self, room: &RoomName, nick: &Nick, to: &Nick, mine: bool, ts: u64) {
        self.ignored.renamed(nick, to);
        let text = if mine {
            format!("you are now known as {to}")
        } else {
            describe::presence(nick, &PresenceEvent::Renamed { to: to.clone() })
        };
        let time = self.settings.time_of(ts);
        let event_room = self.windows.open(Target::Room(room.clone()));
        let mut told = Vec::new();
        for index in 0..self.windows.len() {
            let w = &mut self.windows[index];
            let in_room = matches!(&w.target, Target::Room(_))
                && (index == event_room || w.members.contains(nick) || mine);
            let with_them = !mine && w.target == Target::Private(nick.clone());
            if in_room {
                w.members.remove(nick);
                w.members.insert(to.clone());
                w.room.rename(nick, to.clone());
            } else if with_them {
                w.target = Target::Private(to.clone());
            } else {
                continue;
            }
            told.push(index);
        }
        for index in told {
            self.push(index, Entry::note(time.clone(), EntryKind::Info, clean(&text)));
        }
    }

    /// A room's member list, with the roles of those who have one: sent on joining and after
    /// `/who`, a page at a time; a `continued` page adds to the list the pages before began.
    pub(super) fn on_members(
        &mut self,
        room: &RoomName,
        nicks: Vec<Nick>,
        roles: BTreeMap<Nick, Role>,
        continued: bool,
    ) {
        let to = if continued {
            self.windows.replies.with_list(room)
        } else {
            self.windows.replies.first_page(room)
        };
        match self.windows.find(&Target::Room(room.clone())) {
            Some(index) => {
                let w = &mut self.windows[index];
                let text = if continued {
                    for (nick, role) in roles {
                        w.room.set_role(nick, role);
                    }
                    let page = w.room.marked_list(&nicks);
                    w.members.extend(nicks);
                    format!("more members of #{room}: {page}")
                } else {
                    w.members = nicks.into_iter().collect();
                    w.room.set_roles(roles);
                    format!("members of #{room}: {}", w.room.marked_list(&w.members))
                };
                self.answer_note(to, room, &text);
            }
            // Not a room we are in (the server answers `who` for members only): the list as
            // it came, marked.
            None => {
                let mut state = crate::room::RoomState::default();
                state.set_roles(roles);
                let list = state.marked_list(&nicks);
                self.answer_note(to, room, &format!("members of #{room}: {list}"));
            }
        }
    }

    /// A page of `room`'s member list came: the next page wanted, of this room or another,
    /// is asked for (one at a time: see [`crate::pages`]).
    pub(super) fn member_page_came(&mut self, room: &RoomName, next: Option<Nick>) -> Vec<Effect> {
        let ask = self.pages.came(room, next);
        self.ask_page(ask)
    }

    /// A `who` was refused: `true` if it was a page the client asked for itself, which is
    /// then asked for again when flood control allows (and the refusal not shown).
    pub(super) fn member_page_refused(
        &mut self,
        code: ErrorCode,
        retry_after_ms: Option<u64>,
    ) -> (bool, Vec<Effect>) {
        let flooding = code == ErrorCode::Flood;
        let wait = retry_after_ms.map(Duration::from_millis);
        let (ours, ask) = self.pages.refused(flooding, wait, self.now);
        (ours && flooding, self.ask_page(ask))
    }

    /// The refused page again, once flood control allows.
    pub(crate) fn pace_member_pages(&mut self, now: Instant) -> Vec<Effect> {
        let ask = self.pages.due(now);
        self.ask_page(ask)
    }

    /// Sends `ask`, a page request, unless its room's window is closed: then the next.
    fn ask_page(&mut self, mut ask: Option<ClientMsg>) -> Vec<Effect> {
        while let Some(ClientMsg::Who { room, .. }) = &ask {
            if self.windows.find(&Target::Room(room.clone())).is_some() {
                break;
            }
            let room = room.clone();
            ask = self.pages.forget(&room);
        }
        ask.map(Effect::Send).into_iter().collect()
    }

    /// A room's topic: on joining a room that has one (the header row shows it), and as the
    /// answer to `/topic`.
    pub(super) fn on_topic(&mut self, room: &RoomName, topic: Option<Topic>) {
        let replies = &mut self.windows.replies;
        let to = replies.answer(Question::Topic, room).or_else(|| replies.with_list(room));
        if let Some(index) = self.windows.find(&Target::Room(room.clone())) {
            self.windows[index].room.set_topic(topic.as_ref().map(|t| &t.text));
        }
        let text = match topic {
            Some(Topic { text, by, .. }) if !text.as_str().trim().is_empty() => {
                format!("topic of #{room}: {} (set by {by})", sanitize(text.as_str()))
            }
            _ => format!("#{room} has no topic"),
        };
        self.answer_note(to, room, &text);
    }

    /// A room's modes and owner: the answer to `/mode`.
    pub(super) fn on_modes(&mut self, room: &RoomName, modes: Modes, owner: Option<Nick>) {
        let owner = owner.map_or_else(|| "no owner".to_owned(), |o| format!("owned by {o}"));
        let text = format!(
            "modes of #{room}: {} ({}); {owner}",
            modes.letters(),
            describe::mode_words(&modes)
        );
        let to = self.windows.replies.answer(Question::Modes, room);
        self.answer_note(to, room, &text);
    }

    /// What a moderator did in `room`: the window's topic and roles follow, and the line says
    /// it in [`describe::moderation`]'s words.
    pub(super) fn on_moderation(&mut self, room: &RoomName, by: Nick, action: Moderation, ts: u64) {
        if let Some(index) = self.windows.find(&Target::Room(room.clone())) {
            let state = &mut self.windows[index].room;
            match &action {
                Moderation::Topic { text } => state.set_topic(text.as_ref()),
                Moderation::Role { nick, role } => state.set_role(nick.clone(), *role),
                Moderation::Claimed => state.set_role(by.clone(), Role::Owner),
                Moderation::Disowned => state.drop_owner(),
                _ => {}
            }
        }
        let text = describe::moderation(&by, &action, ts);
        let entry = Entry::note(self.settings.time_of(ts), EntryKind::Info, clean(&text));
        match self.windows.find(&Target::Room(room.clone())) {
            Some(index) => self.push(index, entry),
            None => self.note_from_server(EntryKind::Info, &format!("#{room}: {text}")),
        }
    }

    /// A room's bans (`room`) or the server's: the answer to `/bans` and `/gbans`, a ban a
    /// row.
    pub(super) fn on_bans(&mut self, room: Option<RoomName>, bans: &[BanInfo]) {
        let place = room.as_ref().map_or_else(|| "the server".to_owned(), |r| format!("#{r}"));
        let mut text = match bans.len() {
            0 => format!("no bans in {place}"),
            1 => format!("1 ban in {place}:"),
            n => format!("{n} bans in {place}:"),
        };
        for ban in bans {
            let until = ban.until.map_or_else(String::new, |until| {
                format!(" until {}", self.settings.time_of(until))
            });
            let reason = match &ban.reason {
                Some(r) if !r.as_str().is_empty() => format!(": {}", sanitize(r.as_str())),
                _ => String::new(),
            };
            text.push_str(&format!("\n  {} by {}{until}{reason}", ban.mask, ban.by));
        }
        match room {
            Some(room) => {
                let to = self.windows.replies.answer(Question::Bans, &room);
                self.answer_note(to, &room, &text);
            }
            None => self.note_from_server(EntryKind::Info, &text),
        }
    }

    /// The answer to a question about `room`: in the window it was typed in (`to`) while that
    /// is open, else in the room's.
    fn answer_note(&mut self, to: Option<Target>, room: &RoomName, text: &str) {
        match to.and_then(|to| self.windows.find(&to)) {
            Some(index) => {
                let entry = Entry::note(self.time_now(), EntryKind::Info, clean(text));
                self.push(index, entry);
            }
            None => self.room_note(room, text),
        }
    }

    /// A line about `room` in its window (or, without one, where server notes go).
    pub(super) fn room_note(&mut self, room: &RoomName, text: &str) {
        match self.windows.find(&Target::Room(room.clone())) {
            Some(index) => {
                let entry = Entry::note(self.time_now(), EntryKind::Info, clean(text));
                self.push(index, entry);
            }
            None => self.note_from_server(EntryKind::Info, text),
        }
    }
}
