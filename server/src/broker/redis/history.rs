//! History on Redis: a capped stream per room, read back a page at a time, with the room's
//! deleted messages ([`wire::Tombstone`], kept beside the stream by `seq`) in their places.

use std::collections::BTreeMap;

use protocol::{ErrorCode, RequestError, RoomName, Stored};
use redis::aio::ConnectionManager;
use redis::{RedisError, RedisResult};
use tracing::warn;

use super::Cluster;
use super::wire::{self, keys};
use crate::broker::Page;
use crate::sync::lock;

/// A room's tombstones as the sorted set replies: members (JSON) with their scores (`seq`).
type Scored = Vec<(String, u64)>;

/// What a room's history holds at one `seq`: a message in its stream, or a deleted one.
pub(super) enum Kept {
    Message(Stored),
    Gone { seq: u64, tombstone: wire::Tombstone },
}

impl Kept {
    pub(super) fn seq(&self) -> u64 {
        match self {
            Kept::Message(stored) => stored.seq,
            Kept::Gone { seq, .. } => *seq,
        }
    }

    /// The message's id (a deleted one's too).
    pub(super) fn id(&self) -> uuid::Uuid {
        match self {
            Kept::Message(stored) => stored.id,
            Kept::Gone { tombstone, .. } => tombstone.id,
        }
    }

    /// As history shows it: a tombstone without its text for a deleted message.
    pub(super) fn into_stored(self) -> Stored {
        match self {
            Kept::Message(stored) => stored,
            Kept::Gone { seq, tombstone } => tombstone.stored(seq),
        }
    }
}

impl Cluster {
    /// A look at the rooms with stored messages, as far as this node has heard.
    pub fn room_set<T>(&self, look: impl FnOnce(&crate::broker::room_set::RoomSet) -> T) -> T {
        look(&lock(&self.rooms))
    }

    pub(super) fn note_room(&self, room: &RoomName) {
        lock(&self.rooms).insert(room);
    }

    /// `room` has no stored messages any more.
    pub(super) fn forget_room(&self, room: &RoomName) {
        lock(&self.rooms).remove(room);
    }

    /// A page of `room`'s history: the newest `limit` messages before `before`, deleted ones
    /// as tombstones. The newest `limit` of the stream's and of the tombstones', merged, are
    /// the newest `limit` of the two.
    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, RequestError> {
        let key = keys::log(room);
        let gone = keys::gone(room);
        let (end, below) = match before {
            Some(0 | 1) => return Ok(Page { messages: Vec::new(), beginning: true }),
            Some(before) => (format!("{}-0", before - 1), format!("({before}")),
            None => ("+".to_owned(), "+inf".to_owned()),
        };
        let mut conn = self.conn.clone();
        #[allow(clippy::type_complexity)]
        let (newest, first, tombs, first_tomb): (
            redis::streams::StreamRangeReply,
            redis::streams::StreamRangeReply,
            Scored,
            Scored,
        ) = redis::pipe()
            .xrevrange_count(&key, end, "-", limit)
            .xrange_count(&key, "-", "+", 1)
            .cmd("ZREVRANGEBYSCORE")
            .arg(&gone)
            .arg(below)
            .arg("-inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .cmd("ZRANGE")
            .arg(&gone)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.read_failed(room, &e))?;
        let merged = merge(entries(room, newest), tombstones(room, tombs));
        let skip = merged.len().saturating_sub(limit as usize);
        let messages: Vec<Stored> =
            merged.into_values().skip(skip).map(Kept::into_stored).collect();
        let first =
            [entries(room, first).first().map(Kept::seq), first_tomb.first().map(|(_, seq)| *seq)]
                .into_iter()
                .flatten()
                .min();
        let beginning = messages.first().map(|m| m.seq) == first || messages.is_empty();
        Ok(Page { messages, beginning })
    }

    /// The oldest `limit` messages of `room` after sequence number `after`, deleted ones as
    /// tombstones.
    pub async fn after(
        &self,
        room: &RoomName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Stored>, RequestError> {
        let mut conn = self.conn.clone();
        let kept = read_after(&mut conn, room, after, None, limit)
            .await
            .map_err(|e| self.read_failed(room, &e))?;
        Ok(kept.into_iter().map(Kept::into_stored).collect())
    }

    fn read_failed(&self, room: &RoomName, e: &RedisError) -> RequestError {
        self.outage(e);
        RequestError::new(
            ErrorCode::StorageFailed,
            format!("cannot read the history of #{room}: Redis is not answering"),
        )
    }
}

/// The oldest `limit` of what `room` holds after `after` (and before `until`): messages and
/// tombstones, in `seq` order.
pub(super) async fn read_after(
    conn: &mut ConnectionManager,
    room: &RoomName,
    after: u64,
    until: Option<u64>,
    limit: u32,
) -> RedisResult<Vec<Kept>> {
    let (end, top) = match until {
        Some(until) => (format!("({until}-0"), format!("({until}")),
        None => ("+".to_owned(), "+inf".to_owned()),
    };
    let (reply, tombs): (redis::streams::StreamRangeReply, Scored) = redis::pipe()
        .xrange_count(keys::log(room), format!("({after}-0"), end, limit)
        .cmd("ZRANGEBYSCORE")
        .arg(keys::gone(room))
        .arg(format!("({after}"))
        .arg(top)
        .arg("WITHSCORES")
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(conn)
        .await?;
    let merged = merge(entries(room, reply), tombstones(room, tombs));
    Ok(merged.into_values().take(limit as usize).collect())
}

/// Messages and tombstones by `seq`; a message wins a number both have (none should).
fn merge(messages: Vec<Kept>, tombstones: Vec<Kept>) -> BTreeMap<u64, Kept> {
    let mut merged: BTreeMap<u64, Kept> = tombstones.into_iter().map(|k| (k.seq(), k)).collect();
    merged.extend(messages.into_iter().map(|k| (k.seq(), k)));
    merged
}

/// The messages of a stream reply; entries that do not parse are logged and skipped.
pub(super) fn entries(room: &RoomName, reply: redis::streams::StreamRangeReply) -> Vec<Kept> {
    reply
        .ids
        .into_iter()
        .filter_map(|entry| {
            let seq = entry.id.split('-').next().and_then(|s| s.parse::<u64>().ok());
            let record = entry
                .get::<String>("m")
                .and_then(|m| serde_json::from_str::<wire::Record>(&m).ok());
            match (seq, record) {
                (Some(seq), Some(record)) => Some(Kept::Message(record.stored(seq))),
                _ => {
                    warn!(room = %room, id = ?entry.id, "unreadable entry in the room's stream");
                    None
                }
            }
        })
        .collect()
}

/// The tombstones of a sorted-set reply; members that do not parse are logged and skipped.
fn tombstones(room: &RoomName, reply: Scored) -> Vec<Kept> {
    reply
        .into_iter()
        .filter_map(|(json, seq)| match serde_json::from_str::<wire::Tombstone>(&json) {
            Ok(tombstone) => Some(Kept::Gone { seq, tombstone }),
            Err(e) => {
                warn!(room = %room, seq, error = %e, "unreadable tombstone");
                None
            }
        })
        .collect()
}
