//! Reading the nodes' shared state back from Redis: every room's members, the live sessions a
//! node holds nicks for, and their away messages. Used when a node (re)joins, reconciles after an outage,
//! and reaps a dead one.

use std::collections::HashMap;

use protocol::{Label, Nick, RoomName};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, RedisResult};
use tracing::warn;
use uuid::Uuid;

use super::wire::{MemberEntry, Owner, keys};
use crate::limits::STATE_READ_BATCH;

/// Every room with members, and its member entries: (field, entry). Unreadable entries are
/// logged and left out. Read [`STATE_READ_BATCH`] rooms a round trip: the subscriber reads
/// this while it hands on nothing else (another node's resync, its own reconcile), so with
/// thousands of rooms one round trip each would hold every room's messages for a second.
pub(super) async fn every_room(
    conn: &mut ConnectionManager,
) -> RedisResult<Vec<(RoomName, Vec<(String, MemberEntry)>)>> {
    let active: Vec<String> = conn.smembers(keys::ACTIVE).await?;
    let names: Vec<RoomName> = active.iter().filter_map(|n| RoomName::parse(n).ok()).collect();
    let mut rooms = Vec::with_capacity(names.len());
    for batch in names.chunks(STATE_READ_BATCH) {
        let mut pipe = redis::pipe();
        for room in batch {
            pipe.hgetall(keys::members(room));
        }
        let read: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
        for (room, entries) in batch.iter().zip(read) {
            let mut members = Vec::with_capacity(entries.len());
            for (field, value) in entries {
                match serde_json::from_str::<MemberEntry>(&value) {
                    Ok(entry) => members.push((field, entry)),
                    Err(_) => warn!(room = %room, field = ?field, "unreadable member entry"),
                }
            }
            rooms.push((room.clone(), members));
        }
    }
    Ok(rooms)
}

/// The sessions of `node` that hold a nick, as (nick, session).
pub(super) async fn sessions_of(
    conn: &mut ConnectionManager,
    node: &str,
) -> RedisResult<Vec<(Nick, Uuid)>> {
    let nicks: Vec<String> = conn.smembers(keys::node_nicks(node)).await?;
    if nicks.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = nicks.iter().map(|key| keys::nick_of(key)).collect();
    let values: Vec<Option<String>> = conn.mget(&keys).await?;
    Ok(values
        .into_iter()
        .flatten()
        .filter_map(|value| match Owner::parse(&value) {
            Some(Owner::Live { node: holder, session, nick, .. }) if holder == node => {
                Nick::parse(&nick).ok().map(|nick| (nick, session))
            }
            _ => None,
        })
        .collect())
}

/// The away messages of `node`'s sessions, by session. Unreadable entries are left out: a
/// session whose entry is lost is shown as not away.
pub(super) async fn away_of(
    conn: &mut ConnectionManager,
    node: &str,
) -> RedisResult<HashMap<Uuid, Label>> {
    let entries: HashMap<String, String> = conn.hgetall(keys::node_away(node)).await?;
    Ok(entries
        .into_iter()
        .filter_map(|(session, text)| {
            let text = crate::hub::away_text(Some(&Label::parse(&text).ok()?))?;
            Some((Uuid::parse_str(&session).ok()?, text))
        })
        .collect())
}
