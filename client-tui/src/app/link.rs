//! The connection's life as the app sees it: connecting, losing the connection, trying again
//! when [`crate::link`] says so, and on coming back rejoining the rooms and filling in what was
//! said meanwhile, each message once.
//!
//! Filling in: a window that held messages before the loss is in refill ([`crate::refill`])
//! until it has the messages after the newest one it held. The join backlog comes first; if it
//! does not reach back that far, older pages are asked for until it does (or the refill stops
//! short). Live messages that arrive meanwhile wait with the pages.

use std::time::Instant;

use protocol::{ClientMsg, Nick, RoomName, Stored, sanitize};

use super::backlog::page_before;
use super::{App, LogKind};
use crate::entry::{Entry, EntryKind};
use crate::event::{Effect, NetEvent, Security};
use crate::link::{Connection, Retry};
use crate::refill::Refill;
use crate::tls::Trusted;
use crate::window::Target;

/// Most fallback nicks tried at start-up when ours is taken (`Mike_`, `Mike__`, `Mike___`), as
/// irssi does; then the person picks one with `/nick`.
pub const MAX_NICK_FALLBACKS: usize = 3;

/// The `n`th fallback for `wanted` (from 1): `n` underscores after it, the nick cut short
/// where it would be too long.
pub fn fallback_nick(wanted: &Nick, n: usize) -> Option<Nick> {
    let tail = "_".repeat(n);
    let chars: Vec<char> = wanted.as_str().chars().collect();
    (0..=chars.len()).rev().find_map(|keep| {
        let head: String = chars[..keep].iter().collect();
        Nick::parse(&format!("{head}{tail}")).ok().filter(|nick| nick.key() != wanted.key())
    })
}

/// Why a certificate is trusted, in words.
fn describe_trust(trusted: Trusted) -> &'static str {
    match trusted {
        Trusted::Authority => "certificate vouched for by a certificate authority",
        Trusted::Pinned => "the certificate pinned with --tls-fingerprint",
        Trusted::Known => "the certificate you trusted before",
    }
}

/// "1 message", "3 messages".
fn count_messages(n: u64) -> String {
    if n == 1 { "1 message".to_owned() } else { format!("{n} messages") }
}

impl App {
    /// Reports from the network task.
    pub(crate) fn on_net(&mut self, event: NetEvent) -> Vec<Effect> {
        match event {
            NetEvent::Connecting { server } => {
                self.link.state = Connection::Connecting;
                self.log(LogKind::Info, &format!("connecting to {server}..."));
            }
            NetEvent::Connected { server, security } => {
                self.link.state = Connection::Connected;
                self.link.security = Some(security);
                let how = match security {
                    Security::Tls(trusted) => format!(" over TLS ({})", describe_trust(trusted)),
                    Security::Plain { loopback: false } => " (not encrypted)".to_owned(),
                    Security::Plain { loopback: true } => String::new(),
                };
                self.log(LogKind::Good, &format!("connected to {server}{how}"));
            }
            NetEvent::Certificate(refusal) => self.on_certificate(refusal),
            NetEvent::Failed { reason } => {
                self.log(LogKind::Error, &reason);
                self.connection_ended();
            }
            NetEvent::Closed { reason } => {
                self.log(LogKind::Error, &format!("disconnected: {reason}"));
                self.connection_ended();
            }
            NetEvent::Unreadable { reason } => self.log(LogKind::Error, &reason),
            NetEvent::Message(msg) => return self.on_server(msg),
        }
        Vec::new()
    }

    /// The connection is gone: unless the person is leaving (or the server said not to come
    /// back, or a certificate question is open), schedules the next attempt and says when.
    pub(crate) fn connection_ended(&mut self) {
        let retry = self.link.lost(self.now);
        self.windows.replies.clear();
        self.stop_paste(super::paste::Stopped::ConnectionLost);
        self.pages.clear();
        match retry {
            Retry::Asking if self.link.login.is_some() => self.log(
                LogKind::Info,
                "not reconnecting until the password is typed (Enter connects; Esc: do not log in)",
            ),
            Retry::Leaving | Retry::Asking => {}
            Retry::Never(why) => self.log(LogKind::Error, &format!("not reconnecting: {why}")),
            Retry::After { delay, attempt } => self.log(
                LogKind::Info,
                &format!("reconnecting in {:.1} s (attempt {attempt})", delay.as_secs_f64()),
            ),
        }
    }

    /// Gives up this connection (the event loop closes it) and tries again after the backoff.
    pub(crate) fn drop_connection(&mut self) -> Vec<Effect> {
        self.connection_ended();
        vec![Effect::Disconnect]
    }

    /// Timers due at `now`.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        self.now = now;
        let mut effects = Vec::new();
        if self.link.due(now) {
            effects.push(Effect::Connect);
        }
        effects.extend(self.pace_paste(now));
        effects.extend(self.pace_member_pages(now));
        effects
    }

    /// When the app next needs a [`crate::event::Event::Tick`], if it is waiting for a time.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.link.retry_at(), self.paste_deadline(), self.pages.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// `/connect`: try now instead of waiting out the backoff.
    pub(crate) fn connect_now(&mut self) -> Vec<Effect> {
        if !self.link.connect_now() {
            self.note(EntryKind::Error, "already connected");
            return Vec::new();
        }
        vec![Effect::Connect]
    }

    /// Our nick is taken at start-up (the server said `message`): the next fallback nick is
    /// tried, while there is one, and the reason is shown where the person looks.
    pub(crate) fn nick_taken_at_start(&mut self, message: &str) -> Vec<Effect> {
        let message = sanitize(message);
        let (wanted, tried) =
            self.link.fallbacks.clone().unwrap_or_else(|| (self.link.nick.clone(), 0));
        let next =
            (tried < MAX_NICK_FALLBACKS).then(|| fallback_nick(&wanted, tried + 1)).flatten();
        let Some(next) = next else {
            let why = format!("{message}; pick another with /nick NAME");
            self.log(LogKind::Error, &why);
            self.link.nick_trouble = Some(why);
            return Vec::new();
        };
        self.link.fallbacks = Some((wanted, tried + 1));
        let why = format!("{message}; trying {next} instead (/nick NAME picks another)");
        self.log(LogKind::Error, &why);
        self.link.nick_trouble = Some(why);
        self.link.nick = next;
        vec![Effect::Send(self.link.hello())]
    }

    /// Whether a welcome now is a comeback: the windows of an earlier session are still shown.
    pub(crate) fn coming_back(&self) -> bool {
        self.windows.has_conversations()
    }

    /// Welcomed back after a lost connection: rejoins every room that had a window (with the
    /// key it was joined with), and puts the windows that held messages into refill. A room
    /// we were kicked from has no window any more (`app/rooms.rs` closes it), so it is not
    /// among them: a kicked client does not rejoin by itself.
    pub(crate) fn rejoin(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut rooms = Vec::new();
        let mut in_lobby = false;
        for w in self.windows.iter_mut() {
            let Target::Room(room) = &w.target else { continue };
            w.refill = w.newest_seq.map(Refill::new);
            w.loading = false;
            if *room == RoomName::lobby() {
                // Every session starts in lobby: nothing to ask.
                in_lobby = true;
            } else {
                let key = w.room.key.clone();
                effects.push(Effect::Send(ClientMsg::Join { room: room.clone(), key }));
            }
            rooms.push(format!("#{room}"));
        }
        if !in_lobby {
            effects.push(Effect::Send(ClientMsg::Leave { room: RoomName::lobby() }));
        }
        if !rooms.is_empty() {
            self.log(LogKind::Good, &format!("back; rejoining {}", rooms.join(", ")));
        }
        effects
    }

    /// A message for a window in refill: held until the gap before it is filled. Returns the
    /// message back if the window is not in refill.
    pub(crate) fn hold_for_refill(&mut self, index: usize, m: Stored) -> Option<Stored> {
        let w = self.windows.get_mut(index)?;
        let Some(refill) = w.refill.as_mut() else { return Some(m) };
        refill.hold(m);
        self.finish_refill_if_done(index, false);
        None
    }

    /// A page of history for a window in refill; returns the request for the next older page
    /// if the gap is not filled yet.
    pub(crate) fn refill_page(
        &mut self,
        index: usize,
        messages: Vec<Stored>,
        beginning: bool,
    ) -> Vec<Effect> {
        let Some(refill) = self.windows.get_mut(index).and_then(|w| w.refill.as_mut()) else {
            return Vec::new();
        };
        for m in messages {
            refill.hold(m);
        }
        if self.finish_refill_if_done(index, beginning) {
            return Vec::new();
        }
        let w = &mut self.windows[index];
        let (Target::Room(room), Some(refill)) = (&w.target, w.refill.as_ref()) else {
            return Vec::new();
        };
        vec![page_before(room, refill.oldest())]
    }

    /// Ends the refill of window `index` if it is done ([`Refill::done`]); returns whether it
    /// ended.
    fn finish_refill_if_done(&mut self, index: usize, beginning: bool) -> bool {
        let Some(w) = self.windows.get_mut(index) else { return false };
        if !w.refill.as_ref().is_none_or(|refill| refill.done(beginning)) {
            return false;
        }
        let Some(refill) = w.refill.take() else { return true };
        let missed = refill.got.len();
        let room = w.target.title();
        let mut entries = Vec::with_capacity(missed + 2);
        if let Some(left_out) = refill.left_out() {
            entries.push(Entry::marker(format!(
                "{} missed earlier, not shown",
                count_messages(left_out)
            )));
        }
        if missed > 0 {
            entries.push(Entry::marker(format!(
                "{} while you were away",
                count_messages(missed as u64)
            )));
        }
        let messages: Vec<Entry> =
            refill.got.values().map(|m| self.message_entry(m, false)).collect();
        entries.extend(messages);
        for entry in entries {
            self.push(index, entry);
        }
        if missed > 0 {
            self.log(
                LogKind::Info,
                &format!("{room}: {} you missed", count_messages(missed as u64)),
            );
        }
        true
    }
}
