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

/// Every room with members, and its member entries: (field, entry). Unreadable entries are
/// logged and left out.
pub(super) async fn every_room(
    conn: &mut ConnectionManager,
) -> RedisResult<Vec<(RoomName, Vec<(String, MemberEntry)>)>> {
    let active: Vec<String> = conn.smembers(keys::ACTIVE).await?;
    let mut rooms = Vec::with_capacity(active.len());
    for name in active {
        let Ok(room) = RoomName::parse(&name) else { continue };
        let entries: HashMap<String, String> = conn.hgetall(keys::members(&room)).await?;
        let mut members = Vec::with_capacity(entries.len());
        for (field, value) in entries {
            match serde_json::from_str::<MemberEntry>(&value) {
                Ok(entry) => members.push((field, entry)),
                Err(_) => warn!(room = %room, field = ?field, "unreadable member entry"),
            }
        }
        rooms.push((room, members));
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
