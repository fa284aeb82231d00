//! Human words for protocol values, shared by every front end (`chat-tui` and the plain-text
//! port say "Tracy left (lunch)" the same way). Untrusted parts are sanitised.

use crate::message::{AccountEvent, ErrorCode, PresenceEvent, RoomInfo};
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
    }
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
