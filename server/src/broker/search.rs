//! Searching a room's stored messages, on both backends: the newest matches first, a page at a
//! time, deleted messages never among them.
//!
//! - one node: SQLite's full-text index (FTS5, schemas 7 and 8). A stored message is indexed
//!   just after its broadcast, and a search waits for the index to take every message
//!   broadcast before it was asked; triggers take deleted and pruned messages out in the same
//!   transaction (`local/search.rs`);
//! - several nodes: a scan of the room's stream, newest first, with a case-insensitive
//!   substring match, bounded by [`SEARCH_SCAN`](crate::limits::SEARCH_SCAN) entries read
//!   (`redis/search.rs`).

use protocol::{Label, RequestError, RoomName, Stored};

use super::Broker;

/// A page of matches: newest first; `more` when older ones follow.
#[derive(Debug, Default)]
pub struct Found {
    pub messages: Vec<Stored>,
    pub more: bool,
}

impl Broker {
    /// The newest `limit` messages of `room` before `before` (a `seq`) that hold `text`.
    pub async fn search(
        &self,
        room: RoomName,
        text: Label,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Found, RequestError> {
        match self {
            Self::Local(local) => local.search(room, text, before, limit).await,
            Self::Redis(cluster) => cluster.search(&room, &text, before, limit).await,
        }
    }
}
