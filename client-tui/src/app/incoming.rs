//! What the app does with each message from the server.

use protocol::{ErrorCode, RoomName, ServerMsg, Stored, describe, sanitize};

use super::login::explain;
use super::{App, LogKind, as_action};
use crate::entry::{Entry, EntryKind, clean};
use crate::event::Effect;
use crate::link::Connection;
use crate::window::Target;

/// Above the private messages the server kept for us while we were away.
pub const KEPT_WHILE_AWAY: &str = "received while you were away, each sent at the time shown";

impl App {
    pub(crate) fn on_server(&mut self, msg: ServerMsg) -> Vec<Effect> {
        match msg {
            ServerMsg::Welcome {
                nick,
                greeting,
                motd,
                rooms,
                server,
                resume,
                account,
                flood,
                ..
            } => {
                self.link.welcomed(nick, resume, self.now);
                self.link.account = account;
                self.composer.pacer.set_rate(crate::pace::Rate::advertised(flood));
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
                    let mut effects = self.rejoin();
                    // Away is the session's: a new one is told again.
                    if let Some(text) = self.away.clone() {
                        effects.push(Effect::Send(protocol::ClientMsg::Away { text: Some(text) }));
                    }
                    effects.extend(self.send_queued());
                    return effects;
                }
                let rooms: Vec<RoomName> = self
                    .settings
                    .rooms
                    .iter()
                    .filter(|r| **r != RoomName::lobby())
                    .cloned()
                    .collect();
                self.windows.pending_switch = rooms.last().cloned();
                let mut effects: Vec<Effect> = rooms
                    .into_iter()
                    .map(|room| Effect::Send(protocol::ClientMsg::Join { room, key: None }))
                    .collect();
                effects.extend(self.send_queued());
                return effects;
            }
            ServerMsg::Message { id, room, seq, from, account, kind, text, ts } => {
                let index = self.windows.open(Target::Room(room.clone()));
                // A message the window already holds (from a history page) is not shown twice.
                if self.windows[index].newest_seq.is_some_and(|newest| seq <= newest) {
                    return Vec::new();
                }
                let mine = self.link.is_me(&from);
                let stored = Stored { id, seq, from, account, kind, text: Some(text), ts };
                if let Some(stored) = self.hold_for_refill(index, stored) {
                    let entry = self.message_entry(&stored, false);
                    self.push(index, entry);
                }
                if mine {
                    return self.paste_echoed(Some(&room), None);
                }
            }
            // Shown deleted wherever the window has it; the text is not repeated anywhere.
            ServerMsg::Deleted { room, id, .. } => {
                if let Some(index) = self.windows.find(&Target::Room(room)) {
                    self.windows[index].delete(id);
                }
            }
            ServerMsg::History { room, messages, beginning } => {
                return self.on_history(room, messages, beginning);
            }
            ServerMsg::Private { from, to, text, ts, account, offline, .. } => {
                let mine = self.link.is_me(&from);
                if self.ignores(&from) {
                    return Vec::new();
                }
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
                let (kind, said) = match as_action(text.as_str()) {
                    Some(action) => (EntryKind::Action, action),
                    None => (EntryKind::Say, text.as_str()),
                };
                let entry = Entry { offline: kept, ..self.spoken(from, account, kind, said, ts) };
                self.push(index, entry);
                if mine {
                    self.private_echoed(&to, text.as_str());
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
            ServerMsg::Members { room, nicks, roles, after, more, away } => {
                let next = more.then(|| nicks.last().cloned()).flatten();
                self.on_members(&room, nicks, roles, after.is_some());
                self.on_members_away(&room, &away);
                return self.member_page_came(&room, next);
            }
            ServerMsg::Topic { room, topic } => self.on_topic(&room, topic),
            ServerMsg::Modes { room, modes, owner } => self.on_modes(&room, modes, owner),
            ServerMsg::Moderation { room, by, action, ts, .. } => {
                self.on_moderation(&room, by, action, ts);
            }
            ServerMsg::Bans { room, bans } => self.on_bans(room, &bans),
            ServerMsg::Notice { text, .. } => self.log(LogKind::Notice, &text),
            ServerMsg::Away { nick, text } => self.on_away(nick, text),
            msg @ ServerMsg::Whois { .. } => self.on_whois(&msg),
            ServerMsg::Found { room, text, messages, more } => {
                self.on_found(room, &text, &messages, more);
            }
            ServerMsg::Account { nick, event } => self.on_account(nick, event),
            ServerMsg::Error { code, message, request, retry_after_ms } => {
                if request.as_deref() == Some("msg") && self.composer.sending.is_none() {
                    // A typed /msg refused: no echo will come for where it was typed.
                    self.composer.unsent.msg_answered(None);
                }
                self.paste_refused(request.as_deref(), code, retry_after_ms);
                self.account_refused(request.as_deref());
                if request.as_deref() == Some("who") {
                    let (retrying, effects) = self.member_page_refused(code, retry_after_ms);
                    if retrying {
                        return effects;
                    }
                    if !effects.is_empty() {
                        self.note_from_server(EntryKind::Error, &explain(code, &message));
                        return effects;
                    }
                }
                // Not a page the client asked for itself: the answer to a question typed.
                self.windows.replies.refused(request.as_deref());
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
                if self.link.state != Connection::Registered && code == ErrorCode::NickInUse {
                    return self.nick_taken_at_start(&message);
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
            ServerMsg::Bye { code, message, retry_after_ms } => {
                let message = sanitize(&message).into_owned();
                self.log(LogKind::Error, &format!("server says goodbye: {message}"));
                self.link.bye(code, &message);
                // Connecting again sooner would only be turned away again.
                if let Some(ms) = retry_after_ms {
                    self.link.hold_until(self.now + std::time::Duration::from_millis(ms));
                }
            }
        }
        Vec::new()
    }
}
