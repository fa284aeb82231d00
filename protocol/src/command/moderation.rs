//! The commands of a room's operators and of server admins: `/topic`, `/mode`, `/invite`,
//! `/kick`, `/ban`, `/unban`, `/bans`, `/mute`, `/unmute`, `/op`, `/deop`, `/voice`,
//! `/devoice`, `/claim`, `/disown`; `/kill`, `/gban`, `/ungban`, `/gbans`.

use super::{Command, CommandError, one_arg};
use crate::message::ClientMsg;
use crate::moderation::{Mask, ModeChange, Role, parse_duration, parse_mode_changes};
use crate::names::{Nick, RoomName};
use crate::text::Label;

/// A moderation request about a room, before the front end says which room (the one the
/// person is looking at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRequest {
    /// `None`: show the topic. An empty label clears it.
    Topic(Option<Label>),
    /// Empty: show the modes.
    Mode(Vec<ModeChange>),
    Kick {
        nick: Nick,
        reason: Option<Label>,
    },
    Ban {
        mask: Mask,
        duration: Option<u64>,
        reason: Option<Label>,
    },
    Unban(Mask),
    Bans,
    Mute {
        nick: Nick,
        duration: Option<u64>,
    },
    Unmute(Nick),
    Role {
        nick: Nick,
        role: Role,
    },
    /// To the named room, or the current one.
    Invite {
        nick: Nick,
        room: Option<RoomName>,
    },
    Claim,
    Disown,
}

impl RoomRequest {
    /// The request for `current`, the room the person is looking at.
    pub fn into_request(self, current: RoomName) -> ClientMsg {
        let room = current;
        match self {
            Self::Topic(text) => ClientMsg::Topic { room, text },
            Self::Mode(changes) => ClientMsg::Mode { room, changes },
            Self::Kick { nick, reason } => ClientMsg::Kick { room, nick, reason },
            Self::Ban { mask, duration, reason } => ClientMsg::Ban { room, mask, duration, reason },
            Self::Unban(mask) => ClientMsg::Unban { room, mask },
            Self::Bans => ClientMsg::Bans { room },
            Self::Mute { nick, duration } => ClientMsg::Mute { room, nick, duration },
            Self::Unmute(nick) => ClientMsg::Unmute { room, nick },
            Self::Role { nick, role } => ClientMsg::Role { room, nick, role },
            Self::Invite { nick, room: named } => {
                ClientMsg::Invite { room: named.unwrap_or(room), nick }
            }
            Self::Claim => ClientMsg::Claim { room },
            Self::Disown => ClientMsg::Disown { room },
        }
    }
}

/// The moderation command `name` with its arguments; `None` if `name` is not one.
pub(super) fn parse(name: &str, args: &str) -> Result<Option<Command>, CommandError> {
    let in_room = |request| Ok(Some(Command::InRoom(request)));
    let role = |usage, role| -> Result<Option<Command>, CommandError> {
        let nick = Nick::parse(one_arg(args, usage)?)?;
        Ok(Some(Command::InRoom(RoomRequest::Role { nick, role })))
    };
    match name {
        "topic" | "t" => in_room(RoomRequest::Topic(match args {
            "" => None,
            "-delete" => Some(Label::default()),
            text => Some(Label::parse(text)?),
        })),
        "mode" => {
            in_room(RoomRequest::Mode(parse_mode_changes(args).map_err(CommandError::Invalid)?))
        }
        "kick" | "k" => {
            let usage = "/kick NICK [REASON]";
            let (nick, rest) = first_word(args, usage)?;
            in_room(RoomRequest::Kick { nick: Nick::parse(nick)?, reason: reason(rest)? })
        }
        "ban" | "gban" => {
            let usage = if name == "ban" {
                "/ban MASK [TIME] [REASON]"
            } else {
                "/gban MASK [TIME] [REASON]"
            };
            let (word, rest) = first_word(args, usage)?;
            let mask = mask(word)?;
            let (duration, rest) = timed(rest);
            let reason = reason(rest)?;
            if name == "ban" {
                in_room(RoomRequest::Ban { mask, duration, reason })
            } else {
                Ok(Some(Command::Request(ClientMsg::Gban { mask, duration, reason })))
            }
        }
        "unban" => in_room(RoomRequest::Unban(mask(one_arg(args, "/unban MASK")?)?)),
        "ungban" => Ok(Some(Command::Request(ClientMsg::Ungban {
            mask: mask(one_arg(args, "/ungban MASK")?)?,
        }))),
        "bans" => in_room(RoomRequest::Bans),
        "gbans" => Ok(Some(Command::Request(ClientMsg::Gbans))),
        "mute" => {
            let usage = "/mute NICK [TIME]";
            let (nick, rest) = first_word(args, usage)?;
            let duration = match rest {
                "" => None,
                time => Some(parse_duration(time).map_err(CommandError::Invalid)?),
            };
            in_room(RoomRequest::Mute { nick: Nick::parse(nick)?, duration })
        }
        "unmute" => in_room(RoomRequest::Unmute(Nick::parse(one_arg(args, "/unmute NICK")?)?)),
        "op" => role("/op NICK", Role::Operator),
        "deop" => role("/deop NICK", Role::Member),
        "voice" => role("/voice NICK", Role::Voiced),
        "devoice" => role("/devoice NICK", Role::Member),
        "invite" => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [nick] => in_room(RoomRequest::Invite { nick: Nick::parse(nick)?, room: None }),
            [nick, room] => in_room(RoomRequest::Invite {
                nick: Nick::parse(nick)?,
                room: Some(RoomName::parse(room)?),
            }),
            _ => Err(CommandError::Usage("/invite NICK [ROOM]")),
        },
        "claim" => in_room(RoomRequest::Claim),
        "disown" => in_room(RoomRequest::Disown),
        "kill" => {
            let (nick, rest) = first_word(args, "/kill NICK [REASON]")?;
            Ok(Some(Command::Request(ClientMsg::Kill {
                nick: Nick::parse(nick)?,
                reason: reason(rest)?,
            })))
        }
        _ => Ok(None),
    }
}

/// The first word and the rest of the line, trimmed; the usage if there is no first word.
fn first_word<'a>(args: &'a str, usage: &'static str) -> Result<(&'a str, &'a str), CommandError> {
    match args.split_once(char::is_whitespace) {
        Some((first, rest)) => Ok((first, rest.trim())),
        None if !args.is_empty() => Ok((args, "")),
        None => Err(CommandError::Usage(usage)),
    }
}

/// A leading duration (`1h`), if the first word is one, and the rest.
fn timed(args: &str) -> (Option<u64>, &str) {
    let (word, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    match parse_duration(word) {
        Ok(secs) => (Some(secs), rest.trim()),
        Err(_) => (None, args),
    }
}

fn reason(rest: &str) -> Result<Option<Label>, CommandError> {
    Ok(if rest.is_empty() { None } else { Some(Label::parse(rest)?) })
}

fn mask(word: &str) -> Result<Mask, CommandError> {
    word.parse().map_err(CommandError::Invalid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::parse;
    use super::*;

    fn request(line: &str) -> ClientMsg {
        let rust = RoomName::parse("rust").unwrap();
        parse(line).unwrap().into_request(Some(&rust)).unwrap().unwrap()
    }

    #[test]
    fn moderation_commands_name_the_current_room() {
        let rust = RoomName::parse("rust").unwrap();
        let tracy = Nick::parse("Tracy").unwrap();
        let label = |s| Some(Label::parse(s).unwrap());
        assert_eq!(request("/topic"), ClientMsg::Topic { room: rust.clone(), text: None });
        assert_eq!(
            request("/topic Rust 1.92 is out"),
            ClientMsg::Topic { room: rust.clone(), text: label("Rust 1.92 is out") }
        );
        assert_eq!(
            request("/topic -delete"),
            ClientMsg::Topic { room: rust.clone(), text: label("") }
        );
        assert_eq!(
            request("/kick Tracy spamming links"),
            ClientMsg::Kick {
                room: rust.clone(),
                nick: tracy.clone(),
                reason: label("spamming links")
            }
        );
        assert_eq!(
            request("/ban Tracy 1h spamming"),
            ClientMsg::Ban {
                room: rust.clone(),
                mask: Mask::Nick(tracy.clone()),
                duration: Some(3600),
                reason: label("spamming"),
            }
        );
        assert_eq!(
            request("/ban addr:10.0.0.0/8 bots"),
            ClientMsg::Ban {
                room: rust.clone(),
                mask: "addr:10.0.0.0/8".parse().unwrap(),
                duration: None,
                reason: label("bots"),
            }
        );
        assert_eq!(
            request("/mute Tracy 10m"),
            ClientMsg::Mute { room: rust.clone(), nick: tracy.clone(), duration: Some(600) }
        );
        assert_eq!(
            request("/deop Tracy"),
            ClientMsg::Role { room: rust.clone(), nick: tracy.clone(), role: Role::Member }
        );
        assert_eq!(
            request("/invite Tracy secret"),
            ClientMsg::Invite { room: RoomName::parse("secret").unwrap(), nick: tracy.clone() }
        );
        assert_eq!(request("/mode"), ClientMsg::Mode { room: rust.clone(), changes: vec![] });
        assert_eq!(
            request("/gban account:Tracy 1d"),
            ClientMsg::Gban {
                mask: Mask::Account(tracy.clone()),
                duration: Some(86_400),
                reason: None
            }
        );
        assert_eq!(request("/kill Tracy"), ClientMsg::Kill { nick: tracy, reason: None });
    }

    #[test]
    fn bad_moderation_commands_explain_themselves() {
        assert_eq!(parse("/kick"), Err(CommandError::Usage("/kick NICK [REASON]")));
        assert!(matches!(parse("/mute Tracy soon"), Err(CommandError::Invalid(_))));
        assert!(matches!(parse("/mode +q"), Err(CommandError::Invalid(_))));
        assert!(matches!(parse("/ban host:x"), Err(CommandError::Invalid(_))));
        assert_eq!(parse("/op"), Err(CommandError::Usage("/op NICK")));
        let none = RoomName::parse("x").ok().filter(|_| false);
        assert_eq!(parse("/claim").unwrap().into_request(none.as_ref()), Err(CommandError::NoRoom));
    }
}
