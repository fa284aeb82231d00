//! The chat's wire format, shared by `chat-server` and `chat-tui`: the single source of truth
//! for what travels between them.
//!
//! One JSON object per line, tagged by `type`; see `docs/protocol.md` for every message with an
//! example line. Names and sizes are checked where a value enters, by types that cannot hold an
//! invalid value.
//!
//! # Layout
//! - [`limits`]: the size limits and the protocol version, as named constants.
//! - [`names`]: [`Nick`] and [`RoomName`], validated names; [`NickKey`] for uniqueness.
//! - [`cidr`]: networks ([`Cidr`]) for trusted proxies and address bans.
//! - [`moderation`]: roles, modes, topics, ban masks and the moderation events.
//! - [`secret`]: [`Password`] and [`ResumeToken`], secrets that no log or `Debug` shows.
//! - [`text`]: [`Text`] (what people say) and [`Label`] (short server-facing strings).
//! - [`message`]: [`ClientMsg`] and [`ServerMsg`], the two enums of the wire; [`codes`]: the
//!   error and bye codes they carry; [`stored`]: a room message as history keeps it, or its
//!   tombstone.
//! - [`decode`]: one line to one message, or a [`RequestError`] with a precise code.
//! - [`codec`]: the tokio-util line and JSON-lines codecs with a maximum line length.
//! - [`describe`]: human words for presence, room lists and error codes, for every front end.
//! - [`command`]: slash commands as people type them, parsed once for every front end.
//! - [`private_action`]: how a private message says it is an action (`/me` in a private
//!   chat).
//! - [`sanitize`]: untrusted text made safe to show on a terminal.
//! - [`fingerprint`]: certificate fingerprints as server and client show and compare them.

pub mod cidr;
pub mod codec;
pub mod codes;
pub mod command;
pub mod decode;
pub mod describe;
pub mod fingerprint;
pub mod limits;
pub mod message;
pub mod moderation;
pub mod names;
pub mod private_action;
pub mod sanitize;
pub mod secret;
pub mod stored;
pub mod text;

pub use cidr::Cidr;
pub use codec::{JsonLinesCodec, Line, LineCodec, encode_line, write_line};
pub use decode::{Decode, RequestError};
pub use limits::PROTOCOL_VERSION;
pub use message::{
    AccountEvent, ByeCode, ClientMsg, ErrorCode, FloodRate, MessageKind, PresenceEvent, RoomInfo,
    ServerMsg, Stored, now_millis,
};
pub use moderation::{
    BanInfo, JoinKey, Mask, ModeChange, Moderation, Modes, Role, Topic, format_duration,
    parse_duration, parse_mode_changes,
};
pub use names::{NameError, Nick, NickKey, RoomKey, RoomName};
pub use sanitize::sanitize;
pub use secret::{Password, PasswordError, ResumeToken};
pub use text::{Label, Text, TextError};

/// The codec a server uses: reads client messages, writes server messages.
pub type ServerCodec = JsonLinesCodec<ClientMsg, ServerMsg>;
/// The codec a client uses: reads server messages, writes client messages.
pub type ClientCodec = JsonLinesCodec<ServerMsg, ClientMsg>;
