//! One moderation act, as the broker stores it and every node's hub applies it, in the order
//! the broker stored them: the fields it changes, what the room's members are told, and whom
//! it removes.

use protocol::{Label, Mask, Moderation, Nick, RoomName, ServerMsg};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{SERVER, Setting};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Act {
    /// Made where it was asked for, so that node can tell when it has applied it. (Absent,
    /// nil, from a node of a version before it.)
    #[serde(default)]
    pub id: Uuid,
    /// Whose fields it changes: a room's ([`super::scope`]) or the server's ([`SERVER`]).
    pub scope: String,
    /// The room, for its announcement and removals; `None` for the server's own bans and
    /// removals, and for changes made without a room at hand (an account's roles dropped).
    pub room: Option<RoomName>,
    pub settings: Vec<Setting>,
    /// The `moderation` event for the room's members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce: Option<Announcement>,
    /// Whom it takes out of the room (or, for the server, off it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<Removal>,
}

/// A `moderation` event, made once by the node where it was asked for, so every node shows
/// the same `id` and `ts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Announcement {
    pub id: Uuid,
    pub ts: u64,
    pub by: Nick,
    pub action: Moderation,
}

/// The sessions an act removes: those `mask` matches. From a room they leave with a `kicked`
/// presence; from the server they are disconnected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removal {
    pub mask: Mask,
    pub by: Nick,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Label>,
    /// For the server: the session's goodbye is `banned` rather than `killed`.
    #[serde(default)]
    pub banned: bool,
}

impl Act {
    pub fn new(room: Option<RoomName>, settings: Vec<Setting>) -> Self {
        let scope = room.as_ref().map_or_else(|| SERVER.to_owned(), super::scope);
        Self { id: Uuid::now_v7(), scope, room, settings, announce: None, remove: None }
    }

    /// Changes to the fields of `scope` alone: nothing announced, nobody removed.
    pub fn at(scope: String, settings: Vec<Setting>) -> Self {
        Self { id: Uuid::now_v7(), scope, room: None, settings, announce: None, remove: None }
    }

    #[must_use]
    pub fn announce(self, by: &Nick, action: Moderation) -> Self {
        let announce =
            Announcement { id: Uuid::now_v7(), ts: protocol::now_millis(), by: by.clone(), action };
        Self { announce: Some(announce), ..self }
    }

    #[must_use]
    pub fn remove(self, removal: Removal) -> Self {
        Self { remove: Some(removal), ..self }
    }

    /// The scope its fields are kept under.
    pub fn scope(&self) -> String {
        self.scope.clone()
    }

    /// The room's `moderation` event, if it has one.
    pub fn event(&self) -> Option<ServerMsg> {
        let (room, a) = (self.room.as_ref()?, self.announce.as_ref()?);
        Some(ServerMsg::Moderation {
            id: a.id,
            ts: a.ts,
            room: room.clone(),
            by: a.by.clone(),
            action: a.action.clone(),
        })
    }
}
