//! Pruning by age on Redis (`--history-max-age`): each room's stream is trimmed from its
//! oldest end up to its first message younger than the age, with `XTRIM MINID`.
//!
//! Stream ids are sequence numbers (`<seq>-0`), not times, so the cut is found by reading
//! the times in the oldest entries: one entry first (a room with nothing old costs that
//! much), then up to [`PRUNE_CHUNK`] at a time. Cutting at the first young entry, rather
//! than dropping every old one, keeps a room's history one unbroken run of numbers. Entries
//! added meanwhile have higher ids, which `MINID` never removes. One node trims per look,
//! the one that takes [`keys::EXPIRY`] for the look's interval, so more nodes do not mean
//! more work for Redis.

use std::sync::Arc;
use std::time::Duration;

use protocol::RoomName;
use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;
use redis::{AsyncCommands as _, RedisResult};
use tracing::{debug, warn};

use super::Cluster;
use super::wire::{self, keys};
use crate::limits::PRUNE_CHUNK;

/// Looks for messages past their age now and every `every`, until the node stops.
pub(super) async fn run(cluster: Arc<Cluster>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cluster.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        // A Redis that is away is the liveness task's to notice and log.
        if let Err(e) = look(&cluster, every).await {
            warn!(error = %e, "cannot prune history by age");
        }
    }
}

/// One look over every room with history, by whichever node takes it.
async fn look(cluster: &Cluster, every: Duration) -> RedisResult<()> {
    let Some(before) = cluster.history.expired_before() else { return Ok(()) };
    let mut conn = cluster.conn.clone();
    let taken: Option<String> = redis::cmd("SET")
        .arg(keys::EXPIRY)
        .arg(cluster.node.as_ref())
        .arg("NX")
        .arg("PX")
        .arg(u64::try_from(every.as_millis()).unwrap_or(u64::MAX))
        .query_async(&mut conn)
        .await?;
    if taken.is_none() {
        return Ok(());
    }
    let rooms: Vec<String> = conn.smembers(keys::ROOMS).await?;
    for room in rooms.iter().filter_map(|r| RoomName::parse(r).ok()) {
        let trimmed = trim(&mut conn, &room, before).await?;
        if trimmed > 0 {
            debug!(room = %room, trimmed, "pruned messages past their age");
            if forget_if_empty(&mut conn, &room).await? {
                cluster.forget_room(&room);
            }
        }
    }
    Ok(())
}

/// A room whose every message aged out leaves Redis (its stream's key, its place in the set
/// of rooms with history): rooms used once and long ago do not stay forever.
async fn forget_if_empty(conn: &mut ConnectionManager, room: &RoomName) -> RedisResult<bool> {
    let forgotten: u32 = redis::cmd("EVAL")
        .arg(super::scripts::FORGET_EMPTY)
        .arg(2)
        .arg(keys::log(room))
        .arg(keys::ROOMS)
        .arg(room.as_str())
        .query_async(conn)
        .await?;
    Ok(forgotten == 1)
}

/// Trims `room`'s stream up to its first entry sent at or after `before` (ms); how many
/// entries went.
async fn trim(conn: &mut ConnectionManager, room: &RoomName, before: u64) -> RedisResult<u64> {
    let key = keys::log(room);
    let mut count = 1;
    let mut trimmed = 0;
    loop {
        let reply: StreamRangeReply = conn.xrange_count(&key, "-", "+", count).await?;
        let read = reply.ids.len();
        let (cut, young) = cut(&reply, before);
        if let Some(cut) = cut {
            // The index and the tombstones of what went go with it.
            let below = format!("({cut}");
            let (gone,): (u64,) = redis::pipe()
                .cmd("XTRIM")
                .arg(&key)
                .arg("MINID")
                .arg(format!("{cut}-0"))
                .zrembyscore(keys::ids(room), "-inf", &below)
                .ignore()
                .zrembyscore(keys::gone(room), "-inf", &below)
                .ignore()
                .query_async(conn)
                .await?;
            trimmed += gone;
        }
        // Done at a young entry, at the end of the stream, or (ids that do not read as
        // numbers) where nothing can be cut.
        if young || read < count || cut.is_none() {
            return Ok(trimmed);
        }
        count = PRUNE_CHUNK as usize;
    }
}

/// Where to cut a range of the oldest entries: the sequence number of the first one sent at
/// or after `before` (or the one after the last, if all are older), if any is older; and
/// whether a young one was reached. An entry whose time cannot be read counts as old: it
/// cannot be shown either.
fn cut(reply: &StreamRangeReply, before: u64) -> (Option<u64>, bool) {
    let mut cut = None;
    for entry in &reply.ids {
        let seq = entry.id.split('-').next().and_then(|s| s.parse::<u64>().ok());
        let ts = entry
            .get::<String>("m")
            .and_then(|m| serde_json::from_str::<wire::Record>(&m).ok())
            .map(|record| record.ts);
        match (seq, ts) {
            (Some(seq), Some(ts)) if ts >= before => {
                return (cut.map(|_| seq), true);
            }
            (Some(seq), _) => cut = Some(seq + 1),
            (None, _) => {}
        }
    }
    (cut, false)
}
