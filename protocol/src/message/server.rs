//! What the server sends: [`ServerMsg`], answers and events, and the types its fields
//! carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::is_false;
use crate::codes::{ByeCode, ErrorCode};
use crate::moderation::{BanInfo, Moderation, Modes, Role, Topic};
use crate::names::{Nick, RoomName};
use crate::secret::ResumeToken;
use crate::stored::{MessageKind, Stored};
use crate::text::{Label, Text};

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
        /// How fast this server takes messages from a client, so that a client can pace
        /// itself. Absent from servers that do not say, and from those with no flood control.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flood: Option<FloodRate>,
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
        /// The members of this page who are away, with their away message.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        away: BTreeMap<Nick, Label>,
    },
    /// Someone's away state: yours, as the answer to `away`; or, after your private message
    /// to `nick` (once while they stay away), theirs. No `text`: back (yours only).
    Away {
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<Label>,
    },
    /// The answer to `whois`: what the server knows of `nick`.
    Whois {
        nick: Nick,
        /// Logged in to the account `nick`; absent: a guest.
        #[serde(default, skip_serializing_if = "is_false")]
        account: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        away: Option<Label>,
        /// The rooms of theirs you may know of: those you share, and those not secret.
        rooms: Vec<RoomName>,
        /// When the session began (ms since the epoch), and seconds since it last spoke.
        /// Absent for a session on another node, which this one knows only by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idle: Option<u64>,
        /// Connected to another node of the server: only the nick and its rooms are known.
        #[serde(default, skip_serializing_if = "is_false")]
        elsewhere: bool,
    },
    /// The answer to `search`: a room's stored messages that hold `text`, newest first; `more`
    /// when older matches follow (ask again with `before` = the last `seq`).
    Found {
        room: RoomName,
        text: Label,
        messages: Vec<Stored>,
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

/// How fast a server takes messages (`say`, `me`, `msg`) and nick changes from one client:
/// `burst` at once, then one more every `every_ms` milliseconds. Faster ones are refused with
/// `flood` and the time to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodRate {
    pub burst: u32,
    pub every_ms: u64,
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
