//! A room message as history keeps it ([`Stored`]), and its kind: what pages of history
//! carry, and what a live `message` is made from. A deleted message stays in history as a
//! tombstone, so that a room's numbering has no gaps.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::message::ServerMsg;
use crate::names::{Nick, RoomName};
use crate::text::Text;

/// A room message as history keeps it: a `message` without its room. A deleted message is a
/// tombstone: kind [`MessageKind::Deleted`] and no text (`""` on the wire); it keeps its
/// place, so a room's sequence numbers have no gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub id: Uuid,
    pub seq: u64,
    pub from: Nick,
    /// The sender was logged in to the account `from`.
    #[serde(default, skip_serializing_if = "crate::message::is_false")]
    pub account: bool,
    pub kind: MessageKind,
    /// `None` for a tombstone.
    #[serde(with = "empty_is_none")]
    pub text: Option<Text>,
    pub ts: u64,
}

impl Stored {
    /// The tombstone of this message: everything but its text.
    pub fn tombstone(self) -> Self {
        Self { kind: MessageKind::Deleted, text: None, ..self }
    }

    /// Its text; empty for a tombstone.
    pub fn text(&self) -> &str {
        self.text.as_ref().map_or("", Text::as_str)
    }

    /// Whether this is a deleted message's tombstone.
    pub fn is_deleted(&self) -> bool {
        self.kind == MessageKind::Deleted || self.text.is_none()
    }

    /// The live `message` event for this stored message of `room`; `None` for a tombstone,
    /// which is no message to show.
    pub fn into_message(self, room: RoomName) -> Option<ServerMsg> {
        if self.kind == MessageKind::Deleted {
            return None;
        }
        Some(ServerMsg::Message {
            id: self.id,
            room,
            seq: self.seq,
            from: self.from,
            account: self.account,
            kind: self.kind,
            text: self.text?,
            ts: self.ts,
        })
    }
}

/// A tombstone's text: absent in Rust, `""` on the wire, so every stored message has a
/// `text` string for clients that read it without looking at `kind`.
mod empty_is_none {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::text::Text;

    pub fn serialize<S: Serializer>(text: &Option<Text>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text.as_ref().map_or("", Text::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Text>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        Text::parse(&s).map(Some).map_err(serde::de::Error::custom)
    }
}

/// Say or action (`/me`); in history, also a deleted message's tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Say,
    Action,
    /// A tombstone in history: the message was deleted. Never the kind of a live `message`.
    Deleted,
}
