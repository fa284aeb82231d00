//! The stable, machine-readable codes of the wire: why a request failed (`error`'s `code`)
//! and why a session ended (`bye`'s `code`). Their words are in [`crate::describe`].

use serde::{Deserialize, Serialize};

/// Stable, machine-readable reasons for an `error`. New codes may appear; clients treat a code
/// they do not know as `other` and show the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The line is not a JSON object.
    InvalidJson,
    /// The line is longer than the limit; it was discarded.
    LineTooLong,
    /// The `type` names no message.
    UnknownType,
    /// A required field is missing.
    MissingField,
    /// A field has the wrong type or value.
    InvalidField,
    InvalidNick,
    InvalidRoom,
    /// Empty text.
    InvalidText,
    TextTooLong,
    /// A protocol version this server does not speak.
    UnsupportedProtocol,
    /// Only `hello`, `ping` and `quit` are allowed before `hello` succeeds.
    NotRegistered,
    AlreadyRegistered,
    NickInUse,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
    AlreadyInRoom,
    TooManyRooms,
    /// The room has as many members as the server allows.
    RoomFull,
    /// Sent faster than the server's flood limit; refused, and `retry_after_ms` says when
    /// it may be sent again.
    Flood,
    /// The recipient is not reading fast enough to take another message now.
    RecipientBusy,
    /// Events were skipped because this client fell behind; the message says how many.
    Lagged,
    /// The message could not be stored (disk full, database error); it was not sent.
    StorageFailed,
    /// The server has more work queued than it takes; try again shortly.
    ServerBusy,
    /// An unknown command on the plain-text port, or a malformed one.
    BadCommand,
    /// The nick, or one that looks like it, is another person's account.
    NickRegistered,
    /// The nick is an account: `hello` needs its password.
    PasswordRequired,
    /// The password does not match the account's.
    WrongPassword,
    /// Too many failed logins for this account or from this address; `retry_after_ms` says
    /// when to try again.
    LoginThrottled,
    /// A new account's password is too short.
    WeakPassword,
    /// `register` for a nick that is an account already.
    AccountExists,
    /// `passwd` or `unregister` from a session that is not logged in to an account.
    NoAccount,
    /// The recipient is away and has as many messages waiting as the server keeps.
    MailboxFull,
    /// Only the room's operators (or its owner, or a server admin) may do that.
    NotOperator,
    /// Only the room's owner may do that.
    NotOwner,
    /// Only a server admin (`--admin`) may do that.
    NotAdmin,
    /// A ban keeps you out of the room (or the server).
    Banned,
    /// The room is invite-only (`+i`) and you have no invitation.
    InviteOnly,
    /// The room has a key (`+k`) and the join gave none, or another.
    WrongKey,
    /// You are muted in the room.
    Muted,
    /// The room is moderated (`+m`): only operators and voiced members speak.
    Moderated,
    /// `claim` of a room that has an owner.
    HasOwner,
    /// `claim` by an account that owns as many rooms as the server allows.
    TooManyOwned,
    /// `unban` of a mask that is not banned.
    NoSuchBan,
    /// `delete` of a message the room does not have (an unknown id, or one deleted already).
    NoSuchMessage,
    #[serde(other)]
    Other,
}

/// Why the server ends a session, in `bye`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByeCode {
    /// The client asked to quit.
    Quit,
    /// The server is shutting down.
    Shutdown,
    /// The client sent too many bad lines in a row.
    TooManyErrors,
    /// The client did not read its messages fast enough.
    TooSlow,
    /// The client's protocol version is not supported.
    UnsupportedProtocol,
    /// The server has as many connections as it takes.
    ServerFull,
    /// The client did not say hello in time, or sent too much without one.
    HelloTimeout,
    /// The client kept sending faster than the flood limit after being told to wait.
    Flooding,
    /// The client's address has as many connections as the server allows one address.
    TooManyConnections,
    /// The client answered neither the server's ping nor anything else in time.
    PingTimeout,
    /// A new connection took this session's nick over with its resume token.
    Replaced,
    /// The port speaks TLS only, and the client spoke plain text to it.
    TlsRequired,
    /// Too many wrong passwords on this connection.
    LoginFailed,
    /// A server admin disconnected this session.
    Killed,
    /// A server-wide ban matches this client.
    Banned,
    /// The client's address connected too often; `retry_after_ms` says when it may again.
    Throttled,
    #[serde(other)]
    Other,
}
