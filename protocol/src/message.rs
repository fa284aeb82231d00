//! Every message that travels on the wire, as serde types.
//!
//! One JSON object per line, tagged by its `type` field (`{"type":"say",...}`). `docs/protocol.md`
//! shows an example line of each; the tests in `tests/wire.rs` hold those lines fixed, so a change
//! to the wire format is always a visible decision.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::collections::BTreeMap;

pub use crate::codes::{ByeCode, ErrorCode};
use crate::limits::MAX_HISTORY_PAGE;
use crate::moderation::{BanInfo, JoinKey, Mask, ModeChange, Moderation, Modes, Role, Topic};
use crate::names::{Nick, RoomName};
use crate::secret::{Password, ResumeToken};
pub use crate::stored::{MessageKind, Stored};
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

/// What the server sends to a client. Every event a person reads carries a uuid v7 `id` (time
/// ordered) and `ts`, milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to `hello`: the session is registered under `nick`.
    Welcome {
        session: Uuid,
        nick: Nick,
        /// Server program and version, e.g. `chat-server/0.1.0`.
        server: Label,
        protocol: u32,
        /// "Hello, Michael! Welcome to chat."
        greeting: String,
        /// Message of the day, possibly several lines; empty when the operator set none.
        motd: String,
        rooms: Vec<RoomInfo>,
        /// A secret for this session alone: sent in a later `hello`, it gets this nick back
        /// after a lost connection. Absent from servers that do not offer it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
        /// Logged in: `nick` is a registered account and this session is its owner's.
        #[serde(default, skip_serializing_if = "is_false")]
        account: bool,
    },
    /// The answer to `register`, `passwd` and `unregister`: what `nick`'s account now is.
    Account {
        nick: Nick,
        #[serde(flatten)]
        event: AccountEvent,
    },
    /// Somebody said something in a room. The sender gets it back too: that copy, with the
    /// server's `id`, is the acknowledgement.
    Message {
        id: Uuid,
        room: RoomName,
        /// The message's place in its room: 1, 2, 3, ... with no gaps, so a client can tell
        /// when it missed something.
        seq: u64,
        from: Nick,
        /// The sender was logged in to the account `from`: not a guest who took that nick.
        #[serde(default, skip_serializing_if = "is_false")]
        account: bool,
        kind: MessageKind,
        text: Text,
        ts: u64,
    },
    /// A message of a room was deleted by `by` (its sender, or an operator): its text is gone
    /// from the server. `id` and `seq` are the deleted message's; it always comes after the
    /// message itself.
    Deleted {
        room: RoomName,
        id: Uuid,
        seq: u64,
        by: Nick,
        ts: u64,
    },
    /// Earlier messages of a room, oldest first: the answer to `history`, and the recent
    /// conversation sent on joining. `beginning` is true when the first of them is the room's
    /// first message. A deleted message is there as a tombstone (kind `deleted`, no text), so
    /// the sequence numbers stay without gaps.
    History {
        room: RoomName,
        messages: Vec<Stored>,
        beginning: bool,
    },
    /// A private message; sent to its recipient and, as the acknowledgement, to its sender.
    Private {
        id: Uuid,
        from: Nick,
        to: Nick,
        text: Text,
        ts: u64,
        /// The sender was logged in to the account `from`.
        #[serde(default, skip_serializing_if = "is_false")]
        account: bool,
        /// Kept for a registered recipient who was not connected. To the sender, as the
        /// acknowledgement: it waits and is delivered when `to` logs in. To the recipient: it
        /// arrived while they were away (`ts` says when it was sent).
        #[serde(default, skip_serializing_if = "is_false")]
        offline: bool,
    },
    /// Somebody arrived in, left or changed name in a room.
    Presence {
        id: Uuid,
        ts: u64,
        room: RoomName,
        nick: Nick,
        #[serde(flatten)]
        event: PresenceEvent,
    },
    /// Your nick is now `nick` (the answer to a `nick` request).
    Nick {
        nick: Nick,
    },
    Rooms {
        rooms: Vec<RoomInfo>,
    },
    /// The members of a room, sorted, a page (at most [`crate::limits::MAX_MEMBERS_PAGE`]) at
    /// a time; sent after a `who` and after you join.
    Members {
        room: RoomName,
        nicks: Vec<Nick>,
        /// The members with a role (owner, operator, voiced); the rest are members.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        roles: BTreeMap<Nick, Role>,
        /// This page follows that nick (the `who` asked for it); absent: the first page, a
        /// whole new list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Nick>,
        /// More members follow: ask `who` with `after` = the last nick of this page.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
    },
    /// A room's topic: sent on joining a room that has one, after `members` in the answer to
    /// `who` when there is one, and as the answer to `topic`.
    Topic {
        room: RoomName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<Topic>,
    },
    /// A room's modes and owner: the answer to `mode`.
    Modes {
        room: RoomName,
        modes: Modes,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<Nick>,
    },
    /// What a moderator did in a room, told to all its members. (A kick is a `presence`
    /// event: it changes who is in the room.)
    Moderation {
        id: Uuid,
        ts: u64,
        room: RoomName,
        by: Nick,
        #[serde(flatten)]
        action: Moderation,
    },
    /// A room's bans (`room`), or the server's (no `room`): the answer to `bans` and `gbans`.
    Bans {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomName>,
        bans: Vec<BanInfo>,
    },
    /// Something the server tells this client, not a message from a person.
    Notice {
        id: Uuid,
        ts: u64,
        text: String,
    },
    /// A request could not be carried out, or a line could not be understood. The session
    /// goes on.
    Error {
        code: ErrorCode,
        message: String,
        /// The `type` of the request this answers, when the line was readable that far.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
        /// With `flood`: milliseconds until the request may be sent again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    Ping {
        token: u64,
    },
    Pong {
        token: u64,
    },
    /// The last line of a session: the server closes the connection after it.
    Bye {
        code: ByeCode,
        message: String,
        /// With `throttled`: milliseconds until the client may connect again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

fn default_page() -> u32 {
    MAX_HISTORY_PAGE
}

/// For `skip_serializing_if`: a flag that is off is left out of the line.
pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

/// What happened to an account, in `account`'s `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AccountEvent {
    /// The nick is now an account, and this session is logged in to it.
    Registered,
    PasswordChanged,
    /// The account is gone; the session goes on as a guest with the same nick.
    Unregistered,
}

/// A room and how many people are in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: RoomName,
    pub members: u32,
}

/// What happened in a presence event, in its `event` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PresenceEvent {
    Joined,
    /// Left the room or the server on purpose.
    Left {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    /// Now known as `to`.
    Renamed {
        to: Nick,
    },
    /// The connection was lost without a goodbye.
    Dropped {
        reason: Label,
    },
    /// Removed from the room by `by` (a kick, or a ban that matched). Its client does not
    /// rejoin by itself.
    Kicked {
        by: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
}

/// Milliseconds since the Unix epoch, the unit of every `ts`.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
