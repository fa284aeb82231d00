//! Human words for protocol values, shared by every front end (`chat-tui` and the plain-text
//! port say "Tracy left (lunch)" the same way). Untrusted parts are sanitised.

use crate::message::{AccountEvent, ByeCode, ErrorCode, PresenceEvent, RoomInfo};
use crate::moderation::{Moderation, Modes, Role, format_duration};
use crate::names::Nick;
use crate::sanitize::sanitize;

/// "Tracy joined", "Tracy left (lunch)", "Tracy is now known as Trace", "Tracy dropped (timeout)".
pub fn presence(nick: &Nick, event: &PresenceEvent) -> String {
    let because = |reason: &str| {
        if reason.is_empty() { String::new() } else { format!(" ({})", sanitize(reason)) }
    };
    match event {
        PresenceEvent::Joined => format!("{nick} joined"),
        PresenceEvent::Left { reason } => {
            format!("{nick} left{}", because(reason.as_ref().map_or("", |r| r.as_str())))
        }
        PresenceEvent::Renamed { to } => format!("{nick} is now known as {to}"),
        PresenceEvent::Dropped { reason } => format!("{nick} dropped{}", because(reason.as_str())),
        PresenceEvent::Kicked { by, reason } => match reason {
            Some(reason) if !reason.as_str().is_empty() => {
                format!("{nick} was kicked by {by}: {}", sanitize(reason.as_str()))
            }
            _ => format!("{nick} was kicked by {by}"),
        },
    }
}

/// "Michael deleted a message": the room's news of a deletion, which never repeats the text.
pub fn deleted(by: &Nick) -> String {
    format!("{by} deleted a message")
}

/// "Michael is now a registered account: only your password opens it."
pub fn account(nick: &Nick, event: AccountEvent) -> String {
    match event {
        AccountEvent::Registered => {
            format!("{nick} is now your account: from now on, only your password opens it")
        }
        AccountEvent::PasswordChanged => format!("the password of {nick} is changed"),
        AccountEvent::Unregistered => {
            format!("the account {nick} is deleted; the nick is yours until you leave")
        }
    }
}

/// "Tracy was kicked by Michael: spamming", "Michael set the topic: ...". `ts` is when it
/// happened, to say how long a timed ban or mute lasts.
pub fn moderation(by: &Nick, action: &Moderation, ts: u64) -> String {
    let because = |reason: Option<&crate::text::Label>| match reason {
        Some(r) if !r.as_str().is_empty() => format!(": {}", sanitize(r.as_str())),
        _ => String::new(),
    };
    let lasting = |until: Option<u64>| match until {
        Some(until) => format!(" for {}", format_duration(until.saturating_sub(ts).div_ceil(1000))),
        None => String::new(),
    };
    match action {
        Moderation::Topic { text: Some(text) } if !text.as_str().is_empty() => {
            format!("{by} set the topic: {}", sanitize(text.as_str()))
        }
        Moderation::Topic { .. } => format!("{by} cleared the topic"),
        Moderation::Modes { modes } => {
            format!("{by} set the modes to {} ({})", modes.letters(), mode_words(modes))
        }
        Moderation::Banned { mask, until, reason } => {
            format!("{mask} was banned by {by}{}{}", lasting(*until), because(reason.as_ref()))
        }
        Moderation::Unbanned { mask } => format!("{by} lifted the ban on {mask}"),
        Moderation::Muted { nick, until } => {
            format!("{nick} was muted by {by}{}", lasting(*until))
        }
        Moderation::Unmuted { nick } => format!("{nick} was unmuted by {by}"),
        Moderation::Role { nick, role } => match role {
            Role::Owner => format!("{by} made {nick} the owner"),
            Role::Operator => format!("{by} made {nick} an operator"),
            Role::Voiced => format!("{by} gave {nick} a voice"),
            Role::Member => format!("{by} made {nick} a member, with no role"),
        },
        Moderation::Claimed => format!("{by} now owns the room"),
        Moderation::Disowned => format!("{by} gave the room up: it has no owner"),
        Moderation::Invited { nick } => format!("{by} invited {nick}"),
    }
}

/// "invite-only, moderated", or "none": the modes in words.
pub fn mode_words(modes: &Modes) -> String {
    let words: Vec<&str> = [
        (modes.invite_only, "invite-only"),
        (modes.key, "a key to join"),
        (modes.moderated, "moderated: only operators and voiced members speak"),
        (modes.secret, "secret: not listed"),
    ]
    .into_iter()
    .filter_map(|(on, word)| on.then_some(word))
    .collect();
    if words.is_empty() { "open to all".to_owned() } else { words.join(", ") }
}

/// "#lobby (2), #rust (1)", or "no rooms".
pub fn room_list(rooms: &[RoomInfo]) -> String {
    if rooms.is_empty() {
        return "no rooms".to_owned();
    }
    rooms.iter().map(|r| format!("#{} ({})", r.name, r.members)).collect::<Vec<_>>().join(", ")
}

impl ErrorCode {
    /// The code as it is written on the wire (`nick_in_use`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::LineTooLong => "line_too_long",
            Self::UnknownType => "unknown_type",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::InvalidNick => "invalid_nick",
            Self::InvalidRoom => "invalid_room",
            Self::InvalidText => "invalid_text",
            Self::TextTooLong => "text_too_long",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::NotRegistered => "not_registered",
            Self::AlreadyRegistered => "already_registered",
            Self::NickInUse => "nick_in_use",
            Self::NoSuchNick => "no_such_nick",
            Self::NoSuchRoom => "no_such_room",
            Self::NotInRoom => "not_in_room",
            Self::AlreadyInRoom => "already_in_room",
            Self::TooManyRooms => "too_many_rooms",
            Self::RoomFull => "room_full",
            Self::Flood => "flood",
            Self::RecipientBusy => "recipient_busy",
            Self::Lagged => "lagged",
            Self::StorageFailed => "storage_failed",
            Self::ServerBusy => "server_busy",
            Self::BadCommand => "bad_command",
            Self::NickRegistered => "nick_registered",
            Self::PasswordRequired => "password_required",
            Self::WrongPassword => "wrong_password",
            Self::LoginThrottled => "login_throttled",
            Self::WeakPassword => "weak_password",
            Self::AccountExists => "account_exists",
            Self::NoAccount => "no_account",
            Self::MailboxFull => "mailbox_full",
            Self::NotOperator => "not_operator",
            Self::NotOwner => "not_owner",
            Self::NotAdmin => "not_admin",
            Self::Banned => "banned",
            Self::InviteOnly => "invite_only",
            Self::WrongKey => "wrong_key",
            Self::Muted => "muted",
            Self::Moderated => "moderated",
            Self::HasOwner => "has_owner",
            Self::TooManyOwned => "too_many_owned",
            Self::NoSuchBan => "no_such_ban",
            Self::NoSuchMessage => "no_such_message",
            Self::Other => "other",
        }
    }
}

impl ByeCode {
    /// The code as it is written on the wire (`server_full`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Shutdown => "shutdown",
            Self::TooManyErrors => "too_many_errors",
            Self::TooSlow => "too_slow",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::ServerFull => "server_full",
            Self::HelloTimeout => "hello_timeout",
            Self::Flooding => "flooding",
            Self::TooManyConnections => "too_many_connections",
            Self::PingTimeout => "ping_timeout",
            Self::Replaced => "replaced",
            Self::TlsRequired => "tls_required",
            Self::LoginFailed => "login_failed",
            Self::Killed => "killed",
            Self::Banned => "banned",
            Self::Throttled => "throttled",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Label;

    #[test]
    fn error_code_names_match_the_wire() {
        use ErrorCode::*;
        let all = [
            InvalidUtf8,
            InvalidJson,
            LineTooLong,
            UnknownType,
            MissingField,
            InvalidField,
            InvalidNick,
            InvalidRoom,
            InvalidText,
            TextTooLong,
            UnsupportedProtocol,
            NotRegistered,
            AlreadyRegistered,
            NickInUse,
            NoSuchNick,
            NoSuchRoom,
            NotInRoom,
            AlreadyInRoom,
            TooManyRooms,
            RoomFull,
            Flood,
            RecipientBusy,
            Lagged,
            StorageFailed,
            ServerBusy,
            BadCommand,
            NickRegistered,
            PasswordRequired,
            WrongPassword,
            LoginThrottled,
            WeakPassword,
            AccountExists,
            NoAccount,
            MailboxFull,
            NotOperator,
            NotOwner,
            NotAdmin,
            Banned,
            InviteOnly,
            WrongKey,
            Muted,
            Moderated,
            HasOwner,
            TooManyOwned,
            NoSuchBan,
            NoSuchMessage,
            Other,
        ];
        for code in all {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn bye_code_names_match_the_wire() {
        use ByeCode::*;
        let all = [
            Quit,
            Shutdown,
            TooManyErrors,
            TooSlow,
            UnsupportedProtocol,
            ServerFull,
            HelloTimeout,
            Flooding,
            TooManyConnections,
            PingTimeout,
            Replaced,
            TlsRequired,
            LoginFailed,
            Killed,
            Banned,
            Throttled,
            Other,
        ];
        for code in all {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn presence_words() {
        let n = Nick::parse("Tracy").unwrap();
        assert_eq!(presence(&n, &PresenceEvent::Joined), "Tracy joined");
        let lunch = PresenceEvent::Left { reason: Some(Label::truncate("lunch\u{1b}[2J")) };
        assert_eq!(presence(&n, &lunch), "Tracy left (lunch␛[2J)");
        assert_eq!(presence(&n, &PresenceEvent::Left { reason: None }), "Tracy left");
    }
}
