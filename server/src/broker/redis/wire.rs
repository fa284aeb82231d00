//! What nodes tell each other through Redis: the payloads of the pub/sub channels and of the
//! room streams. Internal to the server (never sent to clients), and validated on the way in
//! like anything read from the network: a payload that does not parse is logged and dropped.

use protocol::{Label, MessageKind, Nick, NickKey, PresenceEvent, RoomName, Stored, Text};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::hub::ResumeHash;

/// A stored room message, as kept in its room's stream (field `m`) and published: everything
/// but the sequence number, which Redis gives it (the stream id `<seq>-0`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: Uuid,
    pub from: Nick,
    /// The sender was logged in to the account `from`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub account: bool,
    pub kind: MessageKind,
    pub text: Text,
    pub ts: u64,
    /// The look-alike key of `from`: the delete script decides in Redis whether a message
    /// is the requester's own, and Redis cannot work keys out. Records from before deletion
    /// have none: only operators delete those.
    #[serde(default, rename = "k", skip_serializing_if = "String::is_empty")]
    pub key: String,
}

impl Record {
    pub fn stored(self, seq: u64) -> Stored {
        Stored {
            id: self.id,
            seq,
            from: self.from,
            account: self.account,
            kind: self.kind,
            text: Some(self.text),
            ts: self.ts,
        }
    }
}

/// A deleted message as the delete script keeps it in the room's tombstones (a sorted set
/// by `seq`, beside the stream, whose entry is gone): its record without the text, and who
/// deleted it when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tombstone {
    pub id: Uuid,
    pub from: Nick,
    #[serde(default)]
    pub account: bool,
    pub ts: u64,
    pub by: Nick,
    pub at: u64,
}

impl Tombstone {
    pub fn stored(&self, seq: u64) -> Stored {
        Stored {
            id: self.id,
            seq,
            from: self.from.clone(),
            account: self.account,
            kind: MessageKind::Deleted,
            text: None,
            ts: self.ts,
        }
    }
}

/// What the delete script publishes after `d<seq> <room> `: the rest of the `deleted` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deletion {
    pub id: Uuid,
    pub by: Nick,
    pub ts: u64,
}

/// A deletion as the delete script publishes it: `d<seq> <room> <deletion json>`.
pub fn parse_deletion(payload: &str) -> Option<(RoomName, u64, Deletion)> {
    let rest = payload.strip_prefix('d')?;
    let (seq, rest) = rest.split_once(' ')?;
    let (room, json) = rest.split_once(' ')?;
    Some((RoomName::parse(room).ok()?, seq.parse().ok()?, serde_json::from_str(json).ok()?))
}

/// Everything published other than room messages (which the say script publishes in its own
/// compact form, see [`parse_message`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Note {
    /// A room's presence event, by the node of the session it is about.
    Presence {
        node: String,
        session: Uuid,
        id: Uuid,
        ts: u64,
        room: RoomName,
        nick: Nick,
        #[serde(flatten)]
        event: PresenceEvent,
    },
    /// A session registered (came online) on `node`.
    Online {
        node: String,
        session: Uuid,
        nick: Nick,
    },
    /// A session's nick is free again (or now `renamed` to another).
    Offline {
        session: Uuid,
        nick: Nick,
    },
    Renamed {
        session: Uuid,
        nick: Nick,
        to: Nick,
    },
    /// A session went away with `text`, or came back (none).
    Away {
        session: Uuid,
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<Label>,
    },
    /// A private message for a session of the node this is published to.
    Private {
        from_node: String,
        from_session: Uuid,
        id: Uuid,
        from: Nick,
        to: Nick,
        text: Text,
        ts: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        account: bool,
    },
    /// A private message could not be delivered: for its sender, on the sender's node.
    Bounce {
        session: Uuid,
        nick: Nick,
        to: Nick,
        busy: bool,
    },
    /// A private message reached its recipient's node just after it left, and was kept for
    /// the account: for its sender, on the sender's node.
    Kept {
        session: Uuid,
        nick: Nick,
        to: Nick,
    },
    /// Another node's session took over `nick` with the resume token of `session` on the node
    /// this is published to: that session is to end.
    Replace {
        session: Uuid,
        nick: Nick,
    },
    /// `node` wrote its sessions and memberships back into Redis: the others read them.
    Resync {
        node: String,
    },
    /// A moderation act, stored: every node applies it.
    Act {
        act: crate::authority::Act,
    },
}

impl Note {
    pub fn encode(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a member entry in a room's member hash holds (field: the nick's key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberEntry {
    pub nick: Nick,
    pub session: Uuid,
    pub node: String,
}

/// A message as the say script publishes it: `m<seq> <room> <record json>`. The room name has
/// no spaces (its characters are letters, digits and `_-.`).
pub fn parse_message(payload: &str) -> Option<(RoomName, u64, Record)> {
    let rest = payload.strip_prefix('m')?;
    let (seq, rest) = rest.split_once(' ')?;
    let (room, json) = rest.split_once(' ')?;
    let seq = seq.parse().ok()?;
    let room = RoomName::parse(room).ok()?;
    let record = serde_json::from_str(json).ok()?;
    Some((room, seq, record))
}

/// What a nick key holds: who has the nick, or that it is kept for a resume token. Fields are
/// separated by `|`, the nick last (it may itself contain `|`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Live { node: String, session: Uuid, token: ResumeHash, nick: String },
    Kept { token: ResumeHash, nick: String },
}

impl Owner {
    pub fn encode(&self) -> String {
        match self {
            Owner::Live { node, session, token, nick } => {
                format!("live|{node}|{session}|{}|{nick}", token.hex())
            }
            Owner::Kept { token, nick } => format!("kept|||{}|{nick}", token.hex()),
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let mut fields = value.splitn(5, '|');
        let (kind, node, session, token, nick) =
            (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let token = ResumeHash::from_hex(token)?;
        match kind {
            "live" => Some(Owner::Live {
                node: node.to_owned(),
                session: session.parse().ok()?,
                token,
                nick: nick.to_owned(),
            }),
            "kept" => Some(Owner::Kept { token, nick: nick.to_owned() }),
            _ => None,
        }
    }

    pub fn nick(&self) -> &str {
        match self {
            Owner::Live { nick, .. } | Owner::Kept { nick, .. } => nick,
        }
    }
}

/// The Redis keys, in one place. Keys of one room share the hash tag `{room}`, so on a Redis
/// Cluster a room's sequence, stream and members would live on one shard. The scripts also
/// touch chat-wide sets (`chat:rooms`, `chat:active`, a node's nick set) and `REAP_NICKS`
/// builds key names: today's layout is for one Redis (ARCHITECTURE.md says what Redis
/// Cluster would change).
pub mod keys {
    use super::{NickKey, RoomName};

    /// The pub/sub channel of room events (messages, presence) and user notes, heard by every
    /// node.
    pub const EVENTS: &str = "chat:events";
    /// Rooms that have stored messages.
    pub const ROOMS: &str = "chat:rooms";
    /// Rooms that have members.
    pub const ACTIVE: &str = "chat:active";
    /// Node ids that have run (and may need reaping).
    pub const NODES: &str = "chat:nodes";
    /// Held (for one interval) by the node that prunes history by age.
    pub const EXPIRY: &str = "chat:expiry";

    pub fn seq(room: &RoomName) -> String {
        format!("chat:{{{room}}}:seq")
    }
    pub fn log(room: &RoomName) -> String {
        format!("chat:{{{room}}}:log")
    }
    pub fn members(room: &RoomName) -> String {
        format!("chat:{{{room}}}:members")
    }
    /// A room's messages by id (the uuid's 16 bytes), scored by `seq`: how `delete` finds
    /// one. Trimmed with the stream.
    pub fn ids(room: &RoomName) -> String {
        format!("chat:{{{room}}}:ids")
    }
    /// A room's deleted messages ([`super::Tombstone`]), scored by `seq`: history shows
    /// them in their places.
    pub fn gone(room: &RoomName) -> String {
        format!("chat:{{{room}}}:gone")
    }
    pub fn nick(key: &NickKey) -> String {
        nick_of(key.as_str())
    }
    /// [`nick`] for a key as a node's nick set holds it.
    pub fn nick_of(key: &str) -> String {
        format!("chat:nick:{key}")
    }
    /// An account: a hash of its nick, password hash and failed logins.
    pub fn account(key: &NickKey) -> String {
        format!("chat:account:{}", key.as_str())
    }
    /// The private messages waiting for an account that is away: a list, oldest first.
    pub fn offline(key: &NickKey) -> String {
        format!("chat:offline:{}", key.as_str())
    }
    /// The away messages of a node's sessions: a hash, field the session's id.
    pub fn node_away(node: &str) -> String {
        format!("chat:node:{node}:away")
    }
    /// The nick keys a node's sessions hold.
    pub fn node_nicks(node: &str) -> String {
        format!("chat:node:{node}:nicks")
    }
    /// A node's heartbeat: exists while the node is alive.
    pub fn alive(node: &str) -> String {
        format!("chat:node:{node}:alive")
    }
    /// Held by the node reaping a dead one.
    pub fn reap(node: &str) -> String {
        format!("chat:node:{node}:reap")
    }
    /// The channel of notes for one node (private messages, take-overs).
    pub fn to_node(node: &str) -> String {
        format!("chat:to:{node}")
    }
    /// The flood budget kept for an account or an address block ([`crate::flood::Shared`]),
    /// until it is full again.
    pub fn budget(holder: &crate::flood::Holder) -> String {
        match holder {
            crate::flood::Holder::Account(key) => format!("chat:budget:account:{}", key.as_str()),
            crate::flood::Holder::Block(block) => format!("chat:budget:addr:{}", block.ip()),
        }
    }
    /// The scopes (`#` and a room's look-alike key, `*` for the server) that have settings.
    pub const SETTINGS: &str = "chat:settings";
    /// A room's settings (or the server's): a hash of `authority::fields`.
    pub fn settings(scope: &str) -> String {
        format!("chat:settings:{scope}")
    }
}

/// Whether `id` is usable as a node id: it appears in keys, channel names and nick owners.
pub fn valid_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_even_with_a_bar_in_the_nick() {
        let live = Owner::Live {
            node: "a".into(),
            session: Uuid::now_v7(),
            token: ResumeHash::of(Uuid::new_v4()),
            nick: "x|y".into(),
        };
        assert_eq!(Owner::parse(&live.encode()), Some(live));
        let kept = Owner::Kept { token: ResumeHash::of(Uuid::new_v4()), nick: "Michael".into() };
        assert_eq!(Owner::parse(&kept.encode()), Some(kept));
        assert_eq!(Owner::parse("live|a|b"), None);
    }

    #[test]
    fn published_messages_parse_and_bad_ones_do_not() {
        let record = Record {
            id: Uuid::now_v7(),
            from: Nick::parse("Tracy").unwrap(),
            account: true,
            kind: MessageKind::Say,
            text: Text::parse("hi there").unwrap(),
            ts: 1,
            key: String::new(),
        };
        let payload = format!("m42 lobby {}", serde_json::to_string(&record).unwrap());
        let (room, seq, back) = parse_message(&payload).unwrap();
        assert_eq!((room.as_str(), seq, back.text.as_str()), ("lobby", 42, "hi there"));
        assert!(parse_message("m42 lobby {\"id\":1}").is_none());
        assert!(parse_message("mx lobby {}").is_none());
        let bad_nick = payload.replace("Tracy", "Tr\u{202e}acy");
        assert!(parse_message(&bad_nick).is_none(), "names are validated on the way in");
    }

    #[test]
    fn node_ids() {
        assert!(valid_node_id("node-1.eu_west"));
        assert!(!valid_node_id("a|b") && !valid_node_id("") && !valid_node_id("a b"));
    }
}

#[cfg(test)]
mod act_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_act_note_round_trips() {
        let act = crate::authority::Act::new(None, vec![]).remove(crate::authority::Removal {
            mask: "nick:Mallory".parse().unwrap(),
            by: Nick::parse("Admin").unwrap(),
            reason: None,
            banned: true,
        });
        let json = Note::Act { act }.encode();
        let back: Result<Note, _> = serde_json::from_str(&json);
        assert!(back.is_ok(), "{json}: {back:?}");
    }
}
