//! Searching a room's messages on Redis: its stream read newest first, [`SEARCH_CHUNK`]
//! entries a round trip, each message's text matched case-insensitively as a substring. Redis
//! has no index of the words, so the work is bounded by what is read: at most
//! [`SEARCH_SCAN`] entries a search, whatever it finds. Deleted messages are gone from the
//! stream (`XDEL`), so they are never found.

use protocol::{Label, RequestError, RoomName};

use super::Cluster;
use super::history::{Kept, entries};
use super::wire::keys;
use crate::broker::Found;
use crate::limits::SEARCH_SCAN;

/// Entries one `XREVRANGE` of a search reads: few round trips, small replies.
const SEARCH_CHUNK: usize = 500;

impl Cluster {
    /// The newest `limit` messages of `room` before `before` whose text holds `text`
    /// (ignoring case), among the newest [`SEARCH_SCAN`] stored before `before`. `more` when
    /// older matches may exist: the page is full, or the look stopped at [`SEARCH_SCAN`] with
    /// older messages left and a match to go on from.
    pub async fn search(
        &self,
        room: &RoomName,
        text: &Label,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Found, RequestError> {
        let needle = text.as_str().trim().to_lowercase();
        let mut found = Found::default();
        if needle.is_empty() {
            return Ok(found);
        }
        let mut end = match before {
            Some(0 | 1) => return Ok(found),
            Some(before) => format!("{}-0", before - 1),
            None => "+".to_owned(),
        };
        let mut conn = self.conn.clone();
        let mut read = 0;
        // Whether the stream was read to its start.
        let mut whole = false;
        while read < SEARCH_SCAN {
            let count = SEARCH_CHUNK.min(SEARCH_SCAN - read);
            let reply: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
                .arg(keys::log(room))
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.search_failed(room, &e))?;
            let got = reply.ids.len();
            read += got;
            let mut oldest = None;
            for kept in entries(room, reply) {
                oldest = Some(kept.seq());
                let Kept::Message(stored) = kept else { continue };
                if !stored.text().to_lowercase().contains(&needle) {
                    continue;
                }
                if found.messages.len() == limit as usize {
                    found.more = true;
                    return Ok(found);
                }
                found.messages.push(stored);
            }
            match oldest {
                Some(seq) if got == count && seq > 1 => end = format!("({seq}-0"),
                _ => {
                    whole = true;
                    break;
                }
            }
        }
        found.more = !whole && !found.messages.is_empty();
        Ok(found)
    }

    fn search_failed(&self, room: &RoomName, e: &redis::RedisError) -> RequestError {
        self.outage(e);
        RequestError::new(
            protocol::ErrorCode::StorageFailed,
            format!("cannot search the history of #{room}: Redis is not answering"),
        )
    }
}
