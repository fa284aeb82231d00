//! History on Redis: a capped stream per room, read back a page at a time.

use protocol::{ErrorCode, RequestError, RoomName, Stored};
use redis::{AsyncCommands as _, RedisError};
use tracing::warn;

use super::Cluster;
use super::wire::{self, keys};
use crate::broker::Page;
use crate::sync::lock;

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

    /// A page of `room`'s history: the newest `limit` messages before `before`.
    pub async fn page(
        &self,
        room: &RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, RequestError> {
        let key = keys::log(room);
        let end = match before {
            Some(0 | 1) => return Ok(Page { messages: Vec::new(), beginning: true }),
            Some(before) => format!("{}-0", before - 1),
            None => "+".to_owned(),
        };
        let mut conn = self.conn.clone();
        let (newest, first): (redis::streams::StreamRangeReply, redis::streams::StreamRangeReply) =
            redis::pipe()
                .xrevrange_count(&key, end, "-", limit)
                .xrange_count(&key, "-", "+", 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.read_failed(room, &e))?;
        let mut messages = entries(room, newest);
        messages.reverse();
        let first = entries(room, first).first().map(|m| m.seq);
        let beginning = messages.first().map(|m| m.seq) == first || messages.is_empty();
        Ok(Page { messages, beginning })
    }

    /// The oldest `limit` messages of `room` after sequence number `after`.
    pub async fn after(
        &self,
        room: &RoomName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Stored>, RequestError> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply = conn
            .xrange_count(keys::log(room), format!("({after}-0"), "+", limit)
            .await
            .map_err(|e| self.read_failed(room, &e))?;
        Ok(entries(room, reply))
    }

    fn read_failed(&self, room: &RoomName, e: &RedisError) -> RequestError {
        self.outage(e);
        RequestError::new(
            ErrorCode::StorageFailed,
            format!("cannot read the history of #{room}: Redis is not answering"),
        )
    }
}

/// The messages of a stream reply; entries that do not parse are logged and skipped.
pub(super) fn entries(room: &RoomName, reply: redis::streams::StreamRangeReply) -> Vec<Stored> {
    reply
        .ids
        .into_iter()
        .filter_map(|entry| {
            let seq = entry.id.split('-').next().and_then(|s| s.parse::<u64>().ok());
            let record = entry
                .get::<String>("m")
                .and_then(|m| serde_json::from_str::<wire::Record>(&m).ok());
            match (seq, record) {
                (Some(seq), Some(record)) => Some(record.stored(seq)),
                _ => {
                    warn!(room = %room, id = ?entry.id, "unreadable entry in the room's stream");
                    None
                }
            }
        })
        .collect()
}
