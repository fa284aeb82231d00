//! What the app does with each message from the server.

use protocol::{ErrorCode, Nick, PresenceEvent, RoomName, ServerMsg, Stored, describe, sanitize};

use super::login::explain;
use super::{App, LogKind};
use crate::entry::{Entry, EntryKind, clean};
use crate::event::Effect;
use crate::link::Connection;
use crate::window::Target;

/// Above the private messages the server kept for us while we were away.
pub const KEPT_WHILE_AWAY: &str = "received while you were away, each sent at the time shown";

impl App {
    pub(crate) fn on_server(&mut self, msg: ServerMsg) -> Vec<Effect> {
        match msg {
            ServerMsg::Welcome { nick, greeting, motd, rooms, server, resume, account, .. } => {
                self.link.welcomed(nick, resume, self.now);
                self.link.account = account;
                self.windows.know_rooms(&rooms);
                self.log(LogKind::Good, &greeting);
                for line in motd.lines() {
                    self.log(LogKind::Info, line);
                }
                self.log(
                    LogKind::Info,
                    &format!("{server}; rooms: {}", describe::room_list(&rooms)),
                );
                if self.coming_back() {
                    return self.rejoin();
                }
                let rooms: Vec<RoomName> = self
                    .settings
                    .rooms
                    .iter()
                    .filter(|r| **r != RoomName::lobby())
                    .cloned()
                    .collect();
                self.windows.pending_switch = rooms.last().cloned();
                return rooms
                    .into_iter()
                    .map(|room| Effect::Send(protocol::ClientMsg::Join { room, key: None }))
                    .collect();
            }
            ServerMsg::Message { id, room, seq, from, account, kind, text, ts } => {
                let index = self.windows.open(Target::Room(room.clone()));
                // A message the window already holds (from a history page) is not shown twice.
                if self.windows[index].newest_seq.is_some_and(|newest| seq <= newest) {
                    return Vec::new();
                }
                let mine = self.link.is_me(&from);
                let stored = Stored { id, seq, from, account, kind, text, ts };
                if let Some(stored) = self.hold_for_refill(index, stored) {
                    let entry = self.message_entry(&stored, false);
                    self.push(index, entry);
                }
                if mine {
                    return self.paste_echoed(Some(&room), None);
                }
            }
            ServerMsg::History { room, messages, beginning } => {
                return self.on_history(room, messages, beginning);
            }
            ServerMsg::Private { from, to, text, ts, account, offline, .. } => {
                let mine = self.link.is_me(&from);
                let other = if mine { to.clone() } else { from.clone() };
                let index = self.windows.open(Target::Private(other));
                // Kept by the server while we were away: marked so, once per run of them.
                let kept = offline && !mine;
                if kept && !self.windows[index].entries().back().is_some_and(|e| e.offline) {
                    let marker = Entry {
                        day: self.settings.day_of(ts),
                        ..Entry::marker(KEPT_WHILE_AWAY.to_owned())
                    };
                    self.push(index, marker);
                }
                let entry = Entry {
                    offline: kept,
                    ..self.spoken(from, account, EntryKind::Say, text.as_str(), ts)
                };
                self.push(index, entry);
                if mine {
                    if offline {
                        let text = format!("{to} is away: kept, delivered when they log in");
                        let note = Entry::note(self.time_now(), EntryKind::Info, clean(&text));
                        self.push(index, note);
                        // Typed elsewhere (/msg from a room): said where the person looks too.
                        if index != self.windows.current {
                            self.note(EntryKind::Info, &text);
                        }
                    }
                    return self.paste_echoed(None, Some(&to));
                }
            }
            ServerMsg::Presence { room, nick, event, ts, .. } => {
                self.on_presence(room, nick, event, ts)
            }
            ServerMsg::Nick { nick } => {
                self.log(LogKind::Info, &format!("you are now known as {nick}"));
                // Away from the account's nick (not to a look-alike of it): a guest now.
                if nick.key() != self.link.nick.key() {
                    self.link.account = false;
                }
                self.link.nick = nick;
            }
            ServerMsg::Rooms { rooms } => {
                self.windows.know_rooms(&rooms);
                self.note_from_server(
                    EntryKind::Info,
                    &format!("Rooms: {}", describe::room_list(&rooms)),
                )
            }
            ServerMsg::Members { room, nicks, .. } => {
                let list: Vec<&str> = nicks.iter().map(Nick::as_str).collect();
                let text = format!("members of #{room}: {}", list.join(", "));
                match self.windows.find(&Target::Room(room.clone())) {
                    Some(index) => {
                        self.windows[index].members = nicks.into_iter().collect();
                        let entry = Entry::note(self.time_now(), EntryKind::Info, clean(&text));
                        self.push(index, entry);
                    }
                    None => self.note_from_server(EntryKind::Info, &text),
                }
            }
            ServerMsg::Topic { room, topic } => {
                let text = match topic {
                    Some(topic) => {
                        format!("topic of #{room}: {} (set by {})", topic.text, topic.by)
                    }
                    None => format!("#{room} has no topic"),
                };
                self.room_note(&room, &text);
            }
            ServerMsg::Modes { room, modes, owner } => {
                let owner = owner.map_or_else(|| "no owner".to_owned(), |o| format!("owner {o}"));
                let text = format!(
                    "modes of #{room}: {} ({}); {owner}",
                    modes.letters(),
                    describe::mode_words(&modes)
                );
                self.room_note(&room, &text);
            }
            ServerMsg::Moderation { room, by, action, ts, .. } => {
                self.room_note(&room, &describe::moderation(&by, &action, ts));
            }
            ServerMsg::Bans { room, bans } => {
                let place = room.map_or_else(|| "the server".to_owned(), |r| format!("#{r}"));
                let list: Vec<String> =
                    bans.iter().map(|b| format!("{} (by {})", b.mask, b.by)).collect();
                let text = if list.is_empty() {
                    format!("no bans in {place}")
                } else {
                    format!("bans in {place}: {}", list.join(", "))
                };
                self.note_from_server(EntryKind::Info, &text);
            }
            ServerMsg::Notice { text, .. } => self.log(LogKind::Info, &text),
            ServerMsg::Account { nick, event } => self.on_account(nick, event),
            ServerMsg::Error { code, message, request, retry_after_ms } => {
                self.paste_refused(code, retry_after_ms);
                self.account_refused(request.as_deref());
                if let Some(effects) = self.login_refused(code, &message, retry_after_ms) {
                    return effects;
                }
                if self.link.state != Connection::Registered
                    && code == ErrorCode::NickInUse
                    && self.coming_back()
                {
                    // Coming back, our nick is most likely still held by our old connection,
                    // which the server has not yet seen die: try again later rather than
                    // take another nick.
                    self.log(LogKind::Error, &message);
                    self.log(LogKind::Info, "the old connection may still hold it");
                    return self.drop_connection();
                }
                if self.link.state != Connection::Registered {
                    let hint = match code {
                        ErrorCode::NickInUse | ErrorCode::InvalidNick => {
                            "; pick another with /nick NAME"
                        }
                        ErrorCode::NickRegistered => " (/nick NAME picks another)",
                        _ => "",
                    };
                    self.log(LogKind::Error, &format!("{message}{hint}"));
                } else {
                    self.note_from_server(EntryKind::Error, &explain(code, &message));
                }
            }
            ServerMsg::Ping { token } => {
                return vec![Effect::Send(protocol::ClientMsg::Pong { token })];
            }
            ServerMsg::Pong { .. } => {}
            // Sanitised on its own, not only as part of the line: marks at its start sit on
            // a dotted circle instead of the space before them.
            ServerMsg::Bye { code, message } => {
                let message = sanitize(&message).into_owned();
                self.log(LogKind::Error, &format!("server says goodbye: {message}"));
                self.link.bye(code, &message);
            }
        }
        Vec::new()
    }

    /// A line about `room` in its window (or, without one, where server notes go).
    fn room_note(&mut self, room: &RoomName, text: &str) {
        match self.windows.find(&Target::Room(room.clone())) {
            Some(index) => {
                let entry = Entry::note(self.time_now(), EntryKind::Info, clean(text));
                self.push(index, entry);
            }
            None => self.note_from_server(EntryKind::Info, text),
        }
    }

    fn on_presence(&mut self, room: RoomName, nick: Nick, event: PresenceEvent, ts: u64) {
        let mine = self.link.is_me(&nick)
            || matches!(&event, PresenceEvent::Renamed { to } if self.link.is_me(to));
        let target = Target::Room(room.clone());
        if mine && matches!(event, PresenceEvent::Left { .. } | PresenceEvent::Kicked { .. }) {
            if let Some(index) = self.windows.find(&target) {
                self.windows.close(index);
            }
            let text = match &event {
                PresenceEvent::Kicked { .. } => {
                    format!("you were removed from #{room}: {}", describe::presence(&nick, &event))
                }
                _ => format!("you left #{room}"),
            };
            self.log(LogKind::Info, &text);
            return;
        }
        let index = self.windows.open(target);
        let text = match &event {
            PresenceEvent::Joined if mine => {
                self.windows.joined(&room, index);
                format!("you joined #{room}")
            }
            PresenceEvent::Renamed { to } if mine => format!("you are now known as {to}"),
            event => describe::presence(&nick, event),
        };
        let members = &mut self.windows[index].members;
        match &event {
            PresenceEvent::Joined => {
                members.insert(nick);
            }
            PresenceEvent::Left { .. }
            | PresenceEvent::Dropped { .. }
            | PresenceEvent::Kicked { .. } => {
                members.remove(&nick);
            }
            PresenceEvent::Renamed { to } => {
                members.remove(&nick);
                members.insert(to.clone());
            }
        }
        let entry = Entry::note(self.settings.time_of(ts), EntryKind::Info, clean(&text));
        self.push(index, entry);
    }
}
