//! What a client sends: [`ClientMsg`], a request each.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::limits::{MAX_HISTORY_PAGE, MAX_SEARCH_PAGE};
use crate::moderation::{JoinKey, Mask, ModeChange, Role};
use crate::names::{Nick, RoomName};
use crate::secret::{Password, ResumeToken};
use crate::text::{Label, Text};

/// What a client sends to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// The first message of a session: who I am and which protocol I speak.
    Hello {
        nick: Nick,
        protocol: u32,
        /// Client program and version, e.g. `chat-tui/0.1.0`; only for the server's logs.
        #[serde(default)]
        client: Label,
        /// The `resume` token of an earlier session of this nick (from its `welcome`): the
        /// server lets this connection take the nick over from that session (which it ends) or
        /// from the short reservation it keeps for a session that dropped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
        /// The account's password, to log in as `nick` when it is registered. Ignored for a
        /// nick that is not; a registered nick without it is answered `password_required`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Password>,
    },
    /// Makes my nick, and every nick that looks like it, an account with this password.
    Register {
        password: Password,
    },
    /// Changes my account's password.
    Passwd {
        old: Password,
        new: Password,
    },
    /// Deletes my account; the nick stays mine for this session, as a guest's.
    Unregister {
        password: Password,
    },
    Join {
        room: RoomName,
        /// The room's key, for a room that has one (`+k`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<JoinKey>,
    },
    Leave {
        room: RoomName,
    },
    Say {
        room: RoomName,
        text: Text,
    },
    /// `/me waves`: said in the third person.
    Action {
        room: RoomName,
        text: Text,
    },
    /// A private message to one person.
    Msg {
        to: Nick,
        text: Text,
    },
    /// Change my nick.
    Nick {
        nick: Nick,
    },
    /// List the rooms that exist.
    Rooms,
    /// List the members of a room: the first page, or (`after`) the page after that nick.
    Who {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Nick>,
    },
    Ping {
        token: u64,
    },
    /// Answer to the server's `ping`.
    Pong {
        token: u64,
    },
    /// Deletes one of the room's messages, by its `id`: your own, or (operators, the owner,
    /// admins) anyone's. The room is told with a `deleted` event; history keeps a tombstone.
    Delete {
        room: RoomName,
        id: Uuid,
    },
    /// Asks for a room's earlier messages: the newest ones before `before` (a `seq`), or the
    /// newest ones of all; at most `limit`, at most [`MAX_HISTORY_PAGE`].
    History {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        #[serde(default = "default_page")]
        limit: u32,
    },
    /// Marks me away with `text` (told to whoever sends me a private message, shown in `who`
    /// and `whois`); without `text` (or with an empty one), back. At most
    /// [`MAX_AWAY_BYTES`](crate::limits::MAX_AWAY_BYTES), a label's bound.
    Away {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<Label>,
    },
    /// Asks what the server knows of the person called `nick`.
    Whois {
        nick: Nick,
    },
    /// Searches a room's stored messages for `text`: the newest matches before `before` (a
    /// `seq`), or the newest of all; at most `limit`, at most [`MAX_SEARCH_PAGE`].
    Search {
        room: RoomName,
        text: Label,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        #[serde(default = "default_search_page")]
        limit: u32,
    },
    /// Shows the room's topic, or (operators) sets it; an empty `text` clears it.
    Topic {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<Label>,
    },
    /// Shows the room's modes (no `changes`), or (operators) changes them.
    Mode {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        changes: Vec<ModeChange>,
    },
    /// Removes a member from the room (operators).
    Kick {
        room: RoomName,
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    /// Bans a mask from the room for `duration` seconds, or until unbanned (operators).
    /// Members it matches are removed.
    Ban {
        room: RoomName,
        mask: Mask,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    Unban {
        room: RoomName,
        mask: Mask,
    },
    /// Lists the room's bans (operators).
    Bans {
        room: RoomName,
    },
    /// Refuses a member's messages in the room for `duration` seconds, or until unmuted
    /// (operators).
    Mute {
        room: RoomName,
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
    },
    Unmute {
        room: RoomName,
        nick: Nick,
    },
    /// Gives a logged-in member a role: `operator` (the owner only), `voiced` or `member`
    /// (back to no role).
    Role {
        room: RoomName,
        nick: Nick,
        role: Role,
    },
    /// Lets `nick` into an invite-only room for an hour (operators).
    Invite {
        room: RoomName,
        nick: Nick,
    },
    /// Takes ownership of a room that has no owner (logged-in members).
    Claim {
        room: RoomName,
    },
    /// Gives up ownership of a room (its owner): it has no owner until someone claims it.
    Disown {
        room: RoomName,
    },
    /// Disconnects a session (server admins).
    Kill {
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    /// Bans a mask from the whole server (server admins): its sessions are disconnected and
    /// its `hello`s refused.
    Gban {
        mask: Mask,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    Ungban {
        mask: Mask,
    },
    /// Lists the server's bans (server admins).
    Gbans,
    /// Leave the server.
    Quit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
}

impl ClientMsg {
    /// Every `type` a client may send, so that an unknown one can be named as such.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "register",
        "passwd",
        "unregister",
        "join",
        "leave",
        "say",
        "action",
        "msg",
        "nick",
        "rooms",
        "who",
        "ping",
        "pong",
        "history",
        "delete",
        "away",
        "whois",
        "search",
        "topic",
        "mode",
        "kick",
        "ban",
        "unban",
        "bans",
        "mute",
        "unmute",
        "role",
        "invite",
        "claim",
        "disown",
        "kill",
        "gban",
        "ungban",
        "gbans",
        "quit",
    ];

    /// The value of this message's `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Register { .. } => "register",
            Self::Passwd { .. } => "passwd",
            Self::Unregister { .. } => "unregister",
            Self::Join { .. } => "join",
            Self::Leave { .. } => "leave",
            Self::Say { .. } => "say",
            Self::Action { .. } => "action",
            Self::Msg { .. } => "msg",
            Self::Nick { .. } => "nick",
            Self::Rooms => "rooms",
            Self::Who { .. } => "who",
            Self::Ping { .. } => "ping",
            Self::Pong { .. } => "pong",
            Self::History { .. } => "history",
            Self::Delete { .. } => "delete",
            Self::Away { .. } => "away",
            Self::Whois { .. } => "whois",
            Self::Search { .. } => "search",
            Self::Topic { .. } => "topic",
            Self::Mode { .. } => "mode",
            Self::Kick { .. } => "kick",
            Self::Ban { .. } => "ban",
            Self::Unban { .. } => "unban",
            Self::Bans { .. } => "bans",
            Self::Mute { .. } => "mute",
            Self::Unmute { .. } => "unmute",
            Self::Role { .. } => "role",
            Self::Invite { .. } => "invite",
            Self::Claim { .. } => "claim",
            Self::Disown { .. } => "disown",
            Self::Kill { .. } => "kill",
            Self::Gban { .. } => "gban",
            Self::Ungban { .. } => "ungban",
            Self::Gbans => "gbans",
            Self::Quit { .. } => "quit",
        }
    }
}

fn default_page() -> u32 {
    MAX_HISTORY_PAGE
}

fn default_search_page() -> u32 {
    MAX_SEARCH_PAGE
}
