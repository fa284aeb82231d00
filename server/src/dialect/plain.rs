//! The plain-text dialect, for people without `chat-tui`: `nc`, `telnet`, a ten-line script.
//!
//! The server speaks first ("Welcome! What's your name?"), the first line is the nick, every
//! further line is said in the current room or is a slash command, and every event arrives as
//! one readable line (`[lobby] Tracy: hi`). Lines become the same requests a JSON client sends,
//! so there is one chat logic, not two.
//!
//! Text is UTF-8, unless a client's line is not UTF-8 but is valid GBK (the classic Chinese
//! socket examples encode with `gbk`): from then on that session is read and written in GBK.

use std::borrow::Cow;
use std::time::Duration;

use bytes::BytesMut;
use encoding_rs::GBK;
use protocol::command::search::{self, OlderMatches};
use protocol::command::{self, Command, CommandError, HELP};
use protocol::private_action::as_action;
use protocol::{
    ByeCode, ClientMsg, ErrorCode, Label, Line, MessageKind, NameError, Nick, PROTOCOL_VERSION,
    Password, PresenceEvent, RequestError, RoomName, ServerMsg, Text, TextError, describe,
    sanitize,
};

use super::{Dialect, View};
use crate::limits::{MAX_PLAIN_LINES_PER_MESSAGE, PLAIN_LINE_PAUSE};
use own::OwnMessages;

mod history;
mod own;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Gbk,
}

/// The plain-text dialect's per-session state.
#[derive(Debug)]
pub struct Plain {
    charset: Charset,
    /// Where lines without a command are said.
    current: Option<RoomName>,
    /// The nick of the last `hello` sent, and whether the server asked for its password: the
    /// next line is then that password.
    hello: Option<Nick>,
    asking: bool,
    /// The ids of this session's last messages in each room, for `/delete`.
    own: OwnMessages,
    /// The `/history` requests not yet answered.
    asked: history::Asked,
    /// What `/search` alone asks for: the older matches of the last search.
    older: OlderMatches,
}

impl Default for Plain {
    fn default() -> Self {
        Self::new()
    }
}

impl Plain {
    pub fn new() -> Self {
        Self {
            charset: Charset::Utf8,
            current: None,
            hello: None,
            asking: false,
            own: OwnMessages::default(),
            asked: history::Asked::default(),
            older: OlderMatches::default(),
        }
    }

    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// Decodes a line: UTF-8 when it is valid UTF-8, otherwise GBK, and from the first GBK line
    /// on the session is answered in GBK. (Valid UTF-8 with non-ASCII characters is almost never
    /// intended as GBK, so a GBK session can still send UTF-8 lines.)
    fn decode<'a>(&mut self, bytes: &'a [u8]) -> Result<Cow<'a, str>, RequestError> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Ok(Cow::Borrowed(text));
        }
        let text =
            GBK.decode_without_bom_handling_and_without_replacement(bytes).ok_or_else(|| {
                RequestError::new(ErrorCode::InvalidUtf8, "that line is not UTF-8 (or GBK) text")
            })?;
        if self.charset != Charset::Gbk {
            self.charset = Charset::Gbk;
            tracing::info!("plain client writes GBK; answering in GBK");
        }
        Ok(text)
    }

    /// Appends one line of text in the session's charset, with a CR LF for telnet.
    fn put(&self, out: &mut BytesMut, line: &str) {
        match self.charset {
            Charset::Utf8 => out.extend_from_slice(line.as_bytes()),
            Charset::Gbk => put_gbk(out, line),
        }
        out.extend_from_slice(b"\r\n");
    }

    fn command(
        &mut self,
        text: &str,
        view: View<'_>,
        out: &mut BytesMut,
    ) -> Option<Result<ClientMsg, RequestError>> {
        if text.trim().eq_ignore_ascii_case("exit") {
            return Some(Ok(ClientMsg::Quit { reason: None }));
        }
        // Until the first join is shown (its backlog may still be loading), the current room
        // is the last one joined.
        let current = self.current.as_ref().or(view.rooms.last());
        if let Some(request) = self.asked.read(text, current) {
            return Some(request);
        }
        let command = match command::parse(text) {
            Ok(c) => c,
            Err(e) => return Some(Err(command_error(e))),
        };
        match command {
            Command::Help => {
                self.put(out, "Type a line to say it in the current room. Commands:");
                let width = HELP.iter().map(|(usage, _)| usage.len()).max().unwrap_or(0);
                for (usage, what) in HELP {
                    self.put(out, &format!("  {usage:<width$} {what}"));
                }
                let (usage, what) = history::USAGE;
                self.put(out, &format!("  {usage:<width$} {what}"));
                self.put(out, &format!("  {:<width$} leave the chat", "exit"));
                None
            }
            // Joining a room you are in makes it the current one.
            Command::Join { room, .. } if view.rooms.contains(&room) => {
                self.put(out, &format!("* You are now talking in [{room}]."));
                self.current = Some(room);
                None
            }
            command => {
                if command == Command::Delete {
                    let Some(room) = current else {
                        return Some(Err(command_error(CommandError::NoRoom)));
                    };
                    return Some(self.own.delete_last(room));
                }
                if command == Command::SearchOlder {
                    return Some(self.older.next().ok_or_else(|| {
                        RequestError::new(ErrorCode::BadCommand, search::NO_OLDER_MATCHES)
                    }));
                }
                if let (Command::Goto(_), Some(room)) = (&command, current) {
                    self.asked.expect(room);
                }
                command.into_request(current).map_err(command_error).transpose()
            }
        }
    }

    fn render(&mut self, msg: &ServerMsg, view: View<'_>) -> Vec<String> {
        let me = view.nick;
        self.own.hear(msg, me);
        match msg {
            ServerMsg::Welcome { greeting, motd, rooms, account, nick, .. } => {
                self.asking = false;
                // The operator's words (--name, --motd) are held to the same rules as a
                // stranger's: a line break makes lines, nothing else gets through raw.
                let mut lines: Vec<String> = greeting
                    .lines()
                    .chain(motd.lines())
                    .map(|l| sanitize(l).into_owned())
                    .collect();
                if *account {
                    lines.push(format!("You are logged in to your account {nick}."));
                }
                lines.push(format!("Rooms: {}", describe::room_list(rooms)));
                lines.push("Type a line to chat, /help for commands, exit to leave.".to_owned());
                lines
            }
            ServerMsg::Message { room, from, account, kind: MessageKind::Say, text, .. } => {
                message_lines(&format!("[{room}] {}: ", author(from, *account)), text.as_str())
            }
            ServerMsg::Message { room, from, account, kind: MessageKind::Action, text, .. } => {
                message_lines(&format!("[{room}] * {} ", author(from, *account)), text.as_str())
            }
            // Never sent: a live message has text.
            ServerMsg::Message { kind: MessageKind::Deleted, .. } => Vec::new(),
            // The text is not repeated: it is what was deleted.
            ServerMsg::Deleted { room, by, .. } => {
                vec![format!("[{room}] * {}", describe::deleted(by))]
            }
            ServerMsg::History { room, messages, beginning } => {
                self.asked.render(room, messages, *beginning)
            }
            ServerMsg::Private { from, to, text, account, offline, .. } if Some(from) == me => {
                let mut lines = private_lines(&format!("[private to {to}]"), from, *account, text);
                if *offline {
                    lines.push(format!(
                        "* {to} is away: it is kept and delivered when they log in."
                    ));
                }
                lines
            }
            ServerMsg::Private { from, text, account, offline, ts, .. } => {
                let away = if *offline {
                    format!(" (while you were away, {})", when(*ts))
                } else {
                    String::new()
                };
                private_lines(&format!("[private{away}]"), from, *account, text)
            }
            // "You are now known as ..." already said it, once rather than once per room.
            ServerMsg::Presence { event: PresenceEvent::Renamed { to }, .. } if Some(to) == me => {
                Vec::new()
            }
            // One change, told once whatever the rooms shared: not a line of one room.
            ServerMsg::Presence { nick, event: event @ PresenceEvent::Renamed { .. }, .. } => {
                vec![describe::presence(nick, event)]
            }
            ServerMsg::Presence { room, nick, event, .. } => {
                let mine = Some(nick) == me;
                match event {
                    PresenceEvent::Joined if mine => self.current = Some(room.clone()),
                    PresenceEvent::Left { .. } | PresenceEvent::Kicked { .. }
                        if mine && self.current.as_ref() == Some(room) =>
                    {
                        self.current = view.rooms.last().filter(|r| *r != room).cloned();
                    }
                    _ => {}
                }
                let arrow = match event {
                    PresenceEvent::Joined => "--> ",
                    PresenceEvent::Left { .. }
                    | PresenceEvent::Dropped { .. }
                    | PresenceEvent::Kicked { .. } => "<-- ",
                    PresenceEvent::Renamed { .. } => "",
                };
                let mut lines =
                    vec![format!("[{room}] {arrow}{}", describe::presence(nick, event))];
                if mine
                    && matches!(event, PresenceEvent::Left { .. } | PresenceEvent::Kicked { .. })
                {
                    match &self.current {
                        Some(room) => lines.push(format!("* You are now talking in [{room}].")),
                        None => lines.push("* You are in no room now; /join one.".to_owned()),
                    }
                }
                lines
            }
            ServerMsg::Nick { nick } => vec![format!("* You are now known as {nick}.")],
            ServerMsg::Account { nick, event } => {
                vec![format!("* {}", describe::account(nick, *event))]
            }
            ServerMsg::Rooms { rooms } => vec![format!("Rooms: {}", describe::room_list(rooms))],
            ServerMsg::Away { nick, text } => {
                vec![format!("* {}.", describe::away(nick, text.as_ref(), Some(nick) == me))]
            }
            ServerMsg::Whois { .. } => {
                describe::whois(msg, when).into_iter().map(|l| format!("* {l}")).collect()
            }
            ServerMsg::Found { room, text, messages, more } => {
                self.older.heard(room, text, messages, *more);
                history::found(room, text.as_str(), messages, *more)
            }
            ServerMsg::Members { .. }
            | ServerMsg::Topic { .. }
            | ServerMsg::Modes { .. }
            | ServerMsg::Moderation { .. }
            | ServerMsg::Bans { .. } => super::plain_rooms::render(msg).unwrap_or_default(),
            ServerMsg::Notice { text, .. } => {
                text.lines().map(|l| format!("* {}", sanitize(l))).collect()
            }
            ServerMsg::Error { code, message, .. } if me.is_none() => {
                let asks = matches!(
                    code,
                    ErrorCode::PasswordRequired
                        | ErrorCode::WrongPassword
                        | ErrorCode::LoginThrottled
                );
                match &self.hello {
                    Some(nick) if asks => {
                        self.asking = true;
                        let mut lines = Vec::new();
                        match code {
                            ErrorCode::WrongPassword => lines.push("Wrong password.".to_owned()),
                            ErrorCode::LoginThrottled => {
                                lines.push(format!("{}.", sanitize(message)))
                            }
                            _ => {}
                        }
                        lines.push(format!("Password for {nick}:"));
                        lines
                    }
                    _ => vec![format!("Sorry, {}. What's your name?", sanitize(message))],
                }
            }
            ServerMsg::Error { message, request, .. } => {
                if request.as_deref() == Some("history") {
                    self.asked.refused();
                }
                vec![format!("! {}", sentence(&sanitize(message)))]
            }
            // Plain clients cannot answer pings; their liveness is the TCP connection.
            ServerMsg::Ping { .. } => Vec::new(),
            ServerMsg::Pong { token } => vec![format!("pong {token}")],
            ServerMsg::Bye { code: ByeCode::Quit, .. } => {
                vec![format!("Bye, {}!", me.map_or("friend", Nick::as_str))]
            }
            ServerMsg::Bye { message, .. } => vec![format!("Bye: {}.", sanitize(message))],
        }
    }
}

/// An error's message as a person reads it: "you are not in #rust" becomes "You are not in
/// #rust.". The code beside it (`not_in_room`) is for programs, which read the JSON port.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let Some(first) = chars.next() else { return "Something went wrong.".to_owned() };
    let mut line: String = first.to_uppercase().chain(chars).collect();
    if !line.ends_with(['.', '!', '?']) {
        line.push('.');
    }
    line
}

/// Writes `line` in GBK. Characters GBK cannot hold become HTML numeric references, which
/// stay readable. So do characters whose GBK bytes fall in 0x80-0x9F: a session can be
/// switched to GBK by a line that was really Latin-1, and on a terminal that takes 8-bit
/// controls such a byte is one (0x9B starts an escape sequence), so another user could pick
/// characters that write escape sequences to it. The common characters (GB2312) avoid
/// that range entirely.
fn put_gbk(out: &mut BytesMut, line: &str) {
    let mut utf8 = [0u8; 4];
    for ch in line.chars() {
        if ch.is_ascii() {
            out.extend_from_slice(&[ch as u8]);
            continue;
        }
        let (bytes, _, _) = GBK.encode(ch.encode_utf8(&mut utf8));
        if bytes.iter().any(|b| (0x80..=0x9F).contains(b)) {
            out.extend_from_slice(format!("&#{};", u32::from(ch)).as_bytes());
        } else {
            out.extend_from_slice(&bytes);
        }
    }
}

/// The lines of a message, each after `prefix`. A message of many lines is cut at
/// [`MAX_PLAIN_LINES_PER_MESSAGE`]: each line repeats the prefix, so without a cap a short
/// message of newlines would swell into a large write to every plain reader.
fn message_lines(prefix: &str, text: &str) -> Vec<String> {
    let total = text.lines().count();
    let mut lines: Vec<String> = text
        .lines()
        .take(MAX_PLAIN_LINES_PER_MESSAGE)
        .map(|line| format!("{prefix}{}", sanitize(line)))
        .collect();
    if total > MAX_PLAIN_LINES_PER_MESSAGE {
        lines.push(format!("{prefix}[... {} more lines]", total - MAX_PLAIN_LINES_PER_MESSAGE));
    }
    lines
}

/// The lines of a private message after `label`: `[private] Tracy: hi`, or, for an action
/// (`/me` in a private chat), `[private] * Tracy waves`.
fn private_lines(label: &str, from: &Nick, account: bool, text: &Text) -> Vec<String> {
    let from = author(from, account);
    match as_action(text.as_str()) {
        Some(action) => message_lines(&format!("{label} * {from} "), action),
        None => message_lines(&format!("{label} {from}: "), text.as_str()),
    }
}

/// A message's author: a logged-in account's nick is marked, so it is never confused with a
/// guest who took a nick like it.
fn author(nick: &Nick, account: bool) -> String {
    // After a space, which no nick holds: a guest cannot name itself to look marked.
    if account { format!("{nick} \u{2713}") } else { nick.to_string() }
}

/// "2026-12-02 14:05 UTC", for when a message that waited was sent.
pub(super) fn when(ts: u64) -> String {
    let secs = i64::try_from(ts / 1000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn command_error(e: CommandError) -> RequestError {
    let code = match &e {
        CommandError::Unknown(_) | CommandError::Usage(_) => ErrorCode::BadCommand,
        CommandError::Name(
            NameError::Empty { what }
            | NameError::TooLong { what, .. }
            | NameError::BadChar { what, .. },
        ) => {
            if *what == "nick" {
                ErrorCode::InvalidNick
            } else {
                ErrorCode::InvalidRoom
            }
        }
        CommandError::Text(TextError::Empty) => ErrorCode::InvalidText,
        CommandError::Text(TextError::TooLong { .. }) => ErrorCode::TextTooLong,
        CommandError::NoRoom => ErrorCode::NotInRoom,
        CommandError::Invalid(_) => ErrorCode::BadCommand,
        CommandError::Password(_) => ErrorCode::WeakPassword,
    };
    RequestError::new(code, e.to_string())
}

impl Dialect for Plain {
    fn greet(&mut self, out: &mut BytesMut) {
        self.put(out, "Welcome! What's your name?");
    }

    fn pings(&self) -> bool {
        false
    }

    /// A person at `nc` has nowhere to keep a token.
    fn resumes(&self) -> bool {
        false
    }

    fn line_pause(&self) -> Option<Duration> {
        Some(PLAIN_LINE_PAUSE)
    }

    fn read(
        &mut self,
        line: Line,
        view: View<'_>,
        out: &mut BytesMut,
    ) -> Option<Result<ClientMsg, RequestError>> {
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            Line::TooLong { max } => return Some(Err(RequestError::line_too_long(max))),
        };
        let text = match self.decode(&bytes) {
            Ok(t) => t,
            Err(e) => return Some(Err(e)),
        };
        if text.trim().is_empty() {
            return None;
        }
        if view.nick.is_some() {
            return self.command(&text, view, out);
        }
        if self.asking
            && let Some(nick) = self.hello.clone()
        {
            self.asking = false;
            if matches!(text.trim(), "exit" | "/exit") {
                return Some(Ok(ClientMsg::Quit { reason: None }));
            }
            let line = text.trim_end_matches(['\r', '\n']);
            return Some(match Password::parse(line) {
                Ok(password) => Ok(ClientMsg::Hello {
                    resume: None,
                    password: Some(password),
                    nick,
                    protocol: PROTOCOL_VERSION,
                    client: Label::truncate("plain"),
                }),
                Err(e) => Err(RequestError::new(ErrorCode::InvalidField, e.to_string())),
            });
        }
        let name = text.trim();
        if name.eq_ignore_ascii_case("exit") || name.eq_ignore_ascii_case("/exit") {
            return Some(Ok(ClientMsg::Quit { reason: None }));
        }
        Some(match Nick::parse(name) {
            Ok(nick) => Ok(ClientMsg::Hello {
                // Remembered: if the server asks for its password, the next line is that.
                nick: {
                    self.hello = Some(nick.clone());
                    nick
                },
                resume: None,
                password: None,
                protocol: PROTOCOL_VERSION,
                client: Label::truncate("plain"),
            }),
            Err(e) => Err(RequestError::new(ErrorCode::InvalidNick, e.to_string())),
        })
    }

    fn write(&mut self, msg: &ServerMsg, view: View<'_>, out: &mut BytesMut) {
        for line in self.render(msg, view) {
            self.put(out, &line);
        }
    }
}

#[cfg(test)]
mod tests;
