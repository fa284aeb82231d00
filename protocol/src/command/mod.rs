//! Slash commands, as typed by a person: `/join rust`, `/msg Tracy hi`, `/me waves`.
//!
//! One parser for every front end: `chat-tui` and the server's plain-text port both call
//! [`parse`], so the same line does the same thing everywhere.
//!
//! - this file: the parser and the everyday commands.
//! - `moderation`: what operators and admins type (`/kick`, `/ban`, `/mode`, ...).
//! - [`search`]: what `/search` alone asks for, the older matches of the last search.

mod moderation;
pub mod search;

use crate::message::ClientMsg;
use crate::moderation::JoinKey;
use crate::names::{NameError, Nick, RoomName};
use crate::secret::{Password, PasswordError};
use crate::text::{Label, Text, TextError};
pub use moderation::RoomRequest;

/// A parsed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Plain text (or `//text`, which says `/text`): said in the current room.
    Say(Text),
    Me(Text),
    /// Join a room, with its key if it has one.
    Join {
        room: RoomName,
        key: Option<JoinKey>,
    },
    /// Leave the named room, or the current one.
    Leave(Option<RoomName>),
    Rooms,
    /// Members of the named room, or of the current one.
    /// `/who [ROOM [AFTER]]`: the members, or those after the nick `AFTER` in the list.
    Who(Option<RoomName>, Option<Nick>),
    Nick(Nick),
    Msg {
        to: Nick,
        text: Text,
    },
    /// `/query NAME`: open (or show) the private window with `NAME`, sending nothing. A front
    /// end without windows has no use for it.
    Query(Nick),
    /// `/close`: close the current window; a room's is left (irssi closes and parts).
    Close,
    /// `/clear`: empty the current window's view; a front end without one has nothing to do.
    Clear,
    /// Make my nick an account with this password (the rest of the line, spaces and all).
    Register(Password),
    /// Change my account's password: two words.
    Passwd {
        old: Password,
        new: Password,
    },
    /// Delete my account (the rest of the line is its password).
    Unregister(Password),
    /// Delete my last message in the current room: the front end knows which one (the ids of
    /// its own echoes), so it makes the request.
    Delete,
    /// `/away [MESSAGE]`: away with this message; without one, back.
    Away(Option<Label>),
    /// `/whois NICK`: what the server knows of someone.
    Whois(Nick),
    /// `/search TEXT`: the current room's stored messages that hold the text.
    Search(Label),
    /// `/search` alone: the older matches of the last search; the front end knows which
    /// ([`search::OlderMatches`]), so it makes the request.
    SearchOlder,
    /// `/goto SEQ`: the current room's earlier messages around this one (a search's match).
    Goto(u64),
    Help,
    Exit(Option<Label>),
    /// A moderation request about the current room.
    InRoom(RoomRequest),
    /// A request that needs nothing from the front end (a server admin's).
    Request(ClientMsg),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command /{0}; type /help for the list")]
    Unknown(String),
    #[error("usage: {0}")]
    Usage(&'static str),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("you are not in a room; /join one first")]
    NoRoom,
    /// An argument that is not what the command takes; the text says why.
    #[error("{0}")]
    Invalid(String),
}

/// Every command with its usage and what it does, for `/help` screens.
pub const HELP: &[(&str, &str)] = &[
    ("/join ROOM", "join a room (created if new) and switch to it"),
    ("/leave [ROOM]", "leave a room (default: the current one)"),
    ("/rooms", "list the rooms on the server"),
    ("/who [ROOM]", "list the members of a room you are in"),
    ("/nick NAME", "change your nick"),
    ("/msg NAME TEXT", "send a private message"),
    ("/me TEXT", "say something in the third person"),
    ("/delete", "delete your last message in this room"),
    ("/away [MESSAGE]", "mark yourself away (no message: back)"),
    ("/whois NICK", "who someone is: account, away, rooms, idle"),
    ("/search [TEXT]", "find messages holding TEXT; alone: older matches"),
    ("/goto SEQ", "show message SEQ (from /search) in its place"),
    ("/register PASSWORD", "make your nick an account (also /passwd, /unregister)"),
    ("/topic [TEXT]", "show the room's topic, or set it (operators; -delete clears it)"),
    ("/mode [+i|+k KEY|+m|+s]", "show or change the modes: invite-only, key, moderated, secret"),
    ("/invite NICK [ROOM]", "let someone into an invite-only room for an hour"),
    ("/kick NICK [REASON]", "remove someone from the room (operators)"),
    ("/ban MASK [TIME] [REASON]", "ban NICK, account:NAME or addr:CIDR; /unban, /bans"),
    ("/mute NICK [TIME]", "keep someone from speaking in the room (also /unmute)"),
    ("/op NICK", "make an account an operator (owner; /deop, /voice, /devoice)"),
    ("/claim", "own the room if nobody does; /disown gives it up"),
    ("/kill NICK [REASON]", "disconnect someone (admins; /gban, /ungban, /gbans)"),
    ("/help", "show this help"),
    ("/exit [REASON]", "leave the chat (also /quit)"),
];

/// Messages after the one `/goto` names that its page shows too: the conversation went on.
pub const GOTO_AFTER: u64 = 10;

/// Parses one input line. Text without a leading `/` is a [`Command::Say`].
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Command::Say(Text::parse(line)?));
    };
    if rest.starts_with('/') {
        return Ok(Command::Say(Text::parse(rest)?));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    let name = name.to_lowercase();
    let command = match name.as_str() {
        "join" | "j" => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [room] => Command::Join { room: RoomName::parse(room)?, key: None },
            [room, key] => Command::Join {
                room: RoomName::parse(room)?,
                key: Some(JoinKey::parse(key).map_err(CommandError::Invalid)?),
            },
            _ => return Err(CommandError::Usage("/join ROOM [KEY]")),
        },
        "leave" | "part" => Command::Leave(optional_room(args, "/leave [ROOM]")?),
        "rooms" | "list" => Command::Rooms,
        "who" | "names" => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [] => Command::Who(None, None),
            [room] => Command::Who(Some(RoomName::parse(room)?), None),
            [room, after] => Command::Who(Some(RoomName::parse(room)?), Some(Nick::parse(after)?)),
            _ => return Err(CommandError::Usage("/who [ROOM]")),
        },
        "nick" => Command::Nick(Nick::parse(one_arg(args, "/nick NAME")?)?),
        "query" if args.split_whitespace().count() == 1 => Command::Query(Nick::parse(args)?),
        "msg" | "query" | "m" => {
            let usage = "/msg NAME TEXT";
            let (to, text) =
                args.split_once(char::is_whitespace).ok_or(CommandError::Usage(usage))?;
            Command::Msg { to: Nick::parse(to)?, text: Text::parse(text.trim_start())? }
        }
        "me" => Command::Me(Text::parse(args).map_err(|_| CommandError::Usage("/me TEXT"))?),
        "register" => Command::Register(password(args, "/register PASSWORD")?),
        "passwd" => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [old, new] => {
                Command::Passwd { old: Password::parse(old)?, new: Password::parse(new)? }
            }
            _ => return Err(CommandError::Usage("/passwd OLD NEW")),
        },
        "unregister" => Command::Unregister(password(args, "/unregister PASSWORD")?),
        "close" if args.is_empty() => Command::Close,
        "close" => return Err(CommandError::Usage("/close")),
        "clear" if args.is_empty() => Command::Clear,
        "clear" => return Err(CommandError::Usage("/clear")),
        "delete" if args.is_empty() => Command::Delete,
        "delete" => return Err(CommandError::Usage("/delete")),
        "away" => Command::Away(away_message(args)?),
        "whois" => Command::Whois(Nick::parse(one_arg(args, "/whois NICK")?)?),
        "search" if args.is_empty() => Command::SearchOlder,
        "search" => Command::Search(Label::parse(args)?),
        "goto" => Command::Goto(
            one_arg(args, "/goto SEQ")?.parse().map_err(|_| CommandError::Usage("/goto SEQ"))?,
        ),
        "help" | "h" | "?" => Command::Help,
        "exit" | "quit" | "q" => Command::Exit((!args.is_empty()).then(|| Label::truncate(args))),
        _ => match moderation::parse(&name, args)? {
            Some(command) => command,
            None => {
                return Err(CommandError::Unknown(crate::sanitize::sanitize(&name).into_owned()));
            }
        },
    };
    Ok(command)
}

fn one_arg<'a>(args: &'a str, usage: &'static str) -> Result<&'a str, CommandError> {
    match args.split_whitespace().collect::<Vec<_>>()[..] {
        [one] => Ok(one),
        _ => Err(CommandError::Usage(usage)),
    }
}

/// The rest of the line as a password; the error names the usage, never the value.
fn password(args: &str, usage: &'static str) -> Result<Password, CommandError> {
    if args.is_empty() {
        return Err(CommandError::Usage(usage));
    }
    Ok(Password::parse(args)?)
}

/// An away message: the rest of the line, bounded like a label; none is "back".
fn away_message(args: &str) -> Result<Option<Label>, CommandError> {
    if args.is_empty() {
        return Ok(None);
    }
    Ok(Some(Label::parse(args)?))
}

fn optional_room(args: &str, usage: &'static str) -> Result<Option<RoomName>, CommandError> {
    if args.is_empty() {
        return Ok(None);
    }
    Ok(Some(RoomName::parse(one_arg(args, usage)?)?))
}

impl Command {
    /// The request this command sends, given the room the person is looking at. `None` for
    /// commands that the front end handles itself (`/help`, `/delete`).
    pub fn into_request(
        self,
        current: Option<&RoomName>,
    ) -> Result<Option<ClientMsg>, CommandError> {
        let room = |named: Option<RoomName>| {
            named.or_else(|| current.cloned()).ok_or(CommandError::NoRoom)
        };
        Ok(Some(match self {
            Command::Say(text) => ClientMsg::Say { room: room(None)?, text },
            Command::Me(text) => ClientMsg::Action { room: room(None)?, text },
            Command::Join { room, key } => ClientMsg::Join { room, key },
            Command::Leave(named) => ClientMsg::Leave { room: room(named)? },
            Command::Rooms => ClientMsg::Rooms,
            Command::Who(named, after) => ClientMsg::Who { room: room(named)?, after },
            Command::Nick(nick) => ClientMsg::Nick { nick },
            Command::Msg { to, text } => ClientMsg::Msg { to, text },
            Command::Exit(reason) => ClientMsg::Quit { reason },
            Command::Register(password) => ClientMsg::Register { password },
            Command::Passwd { old, new } => ClientMsg::Passwd { old, new },
            Command::Unregister(password) => ClientMsg::Unregister { password },
            Command::InRoom(request) => request.into_request(room(None)?),
            Command::Request(request) => request,
            Command::Close => ClientMsg::Leave { room: room(None)? },
            Command::Query(_) => return Err(CommandError::Usage("/msg NAME TEXT")),
            Command::Away(text) => ClientMsg::Away { text },
            Command::Whois(nick) => ClientMsg::Whois { nick },
            Command::Search(text) => ClientMsg::Search {
                room: room(None)?,
                text,
                before: None,
                limit: crate::limits::MAX_SEARCH_PAGE,
            },
            Command::Goto(seq) => ClientMsg::History {
                room: room(None)?,
                before: Some(seq.saturating_add(GOTO_AFTER).saturating_add(1)),
                limit: crate::limits::MAX_HISTORY_PAGE,
            },
            Command::Help | Command::Delete | Command::Clear | Command::SearchOlder => {
                return Ok(None);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(s: &str) -> RoomName {
        RoomName::parse(s).unwrap()
    }

    #[test]
    fn commands_parse() {
        let nick = |s| Nick::parse(s).unwrap();
        let text = |s| Text::parse(s).unwrap();
        let pw = |s| Password::parse(s).unwrap();
        let cases = [
            ("hello there", Command::Say(text("hello there"))),
            ("//etc/passwd is a path", Command::Say(text("/etc/passwd is a path"))),
            ("/join #Rust", Command::Join { room: room("rust"), key: None }),
            ("/JOIN rust", Command::Join { room: room("rust"), key: None }),
            (
                "/join rust sesame",
                Command::Join { room: room("rust"), key: Some(JoinKey::parse("sesame").unwrap()) },
            ),
            ("/leave", Command::Leave(None)),
            ("/part rust", Command::Leave(Some(room("rust")))),
            ("/rooms", Command::Rooms),
            ("/who", Command::Who(None, None)),
            ("/nick Mike", Command::Nick(nick("Mike"))),
            (
                "/msg Tracy  see you at 5",
                Command::Msg { to: nick("Tracy"), text: text("see you at 5") },
            ),
            ("/me waves", Command::Me(text("waves"))),
            ("/help", Command::Help),
            ("/delete", Command::Delete),
            ("/query Tracy", Command::Query(nick("Tracy"))),
            ("/query Tracy hi", Command::Msg { to: nick("Tracy"), text: text("hi") }),
            ("/close", Command::Close),
            ("/CLEAR", Command::Clear),
            ("/DELETE", Command::Delete),
            ("/quit", Command::Exit(None)),
            ("/exit gone fishing", Command::Exit(Some(Label::parse("gone fishing").unwrap()))),
            ("/register correct horse", Command::Register(pw("correct horse"))),
            ("/passwd old-one new-one", Command::Passwd { old: pw("old-one"), new: pw("new-one") }),
            ("/unregister  s3cret!!", Command::Unregister(pw("s3cret!!"))),
            ("/away", Command::Away(None)),
            ("/away  gone to lunch", Command::Away(Some(Label::parse("gone to lunch").unwrap()))),
            ("/whois Tracy", Command::Whois(nick("Tracy"))),
            ("/search release  date", Command::Search(Label::parse("release  date").unwrap())),
            ("/goto 42", Command::Goto(42)),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line), Ok(want), "{line}");
        }
    }

    #[test]
    fn bad_commands_explain_themselves() {
        assert_eq!(parse("/dance"), Err(CommandError::Unknown("dance".into())));
        assert_eq!(parse("/join"), Err(CommandError::Usage("/join ROOM [KEY]")));
        assert_eq!(parse("/join a b c"), Err(CommandError::Usage("/join ROOM [KEY]")));
        assert_eq!(parse("/msg Tracy"), Err(CommandError::Usage("/msg NAME TEXT")));
        assert_eq!(parse("/me"), Err(CommandError::Usage("/me TEXT")));
        assert_eq!(parse("/delete 3"), Err(CommandError::Usage("/delete")));
        assert_eq!(parse("/whois"), Err(CommandError::Usage("/whois NICK")));
        assert_eq!(parse("/search"), Ok(Command::SearchOlder));
        assert_eq!(parse("/search  "), Ok(Command::SearchOlder));
        assert_eq!(parse("/goto x"), Err(CommandError::Usage("/goto SEQ")));
        assert!(matches!(parse(&format!("/away {}", "x".repeat(300))), Err(CommandError::Text(_))));
        assert!(matches!(parse("/nick a b"), Err(CommandError::Usage(_))));
        assert_eq!(parse("/register"), Err(CommandError::Usage("/register PASSWORD")));
        assert_eq!(parse("/passwd only-one"), Err(CommandError::Usage("/passwd OLD NEW")));
        assert!(matches!(parse("/nick a\u{202e}b"), Err(CommandError::Name(_))));
        let unknown = parse("/\u{1b}[2J").unwrap_err().to_string();
        assert!(!unknown.contains('\u{1b}'), "{unknown:?}");
    }

    #[test]
    fn requests_use_the_current_room() {
        let lobby = room("lobby");
        let req = parse("hi").unwrap().into_request(Some(&lobby)).unwrap();
        assert_eq!(
            req,
            Some(ClientMsg::Say { room: lobby.clone(), text: Text::parse("hi").unwrap() })
        );
        assert_eq!(parse("hi").unwrap().into_request(None), Err(CommandError::NoRoom));
        assert_eq!(parse("/help").unwrap().into_request(Some(&lobby)), Ok(None));
        let req = parse("/who rust").unwrap().into_request(Some(&lobby)).unwrap();
        assert_eq!(req, Some(ClientMsg::Who { room: room("rust"), after: None }));
    }
}
