//! Which nodes are alive. Each node refreshes `chat:node:<id>:alive` every [`HEARTBEAT`]; the
//! key expires after [`NODE_TTL`]. A node whose key is gone is dead: the first node to take
//! its reap lock announces its members gone (`dropped`, "server lost") in every room and
//! frees its nicks, so they are announced within `NODE_TTL` + `HEARTBEAT`.

use std::sync::Arc;

use protocol::Label;
use redis::{AsyncCommands as _, RedisResult};
use tracing::{info, warn};

use super::state;
use super::subscriber::announce_gone;
use super::wire::{Note, keys};
use super::{Cluster, ClusterError, scripts};
use crate::limits::{HEARTBEAT, NODE_TTL, REAP_LOCK};

fn ttl_ms() -> u64 {
    u64::try_from(NODE_TTL.as_millis()).unwrap_or(u64::MAX)
}

/// Makes sure no running node has this node's id (waiting out the heartbeat of one that just
/// stopped), then clears what an earlier run of this id left behind.
pub(super) async fn take_node_id(cluster: &Cluster) -> Result<(), ClusterError> {
    let failed = ClusterError::Redis;
    let mut conn = cluster.conn.clone();
    let deadline = tokio::time::Instant::now() + NODE_TTL + HEARTBEAT;
    loop {
        // Taken with NX: of two processes starting with one id, one gets it.
        let taken: Option<String> = redis::cmd("SET")
            .arg(keys::alive(&cluster.node))
            .arg(cluster.instance.to_string())
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms())
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        if taken.is_some() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClusterError::NodeInUse(cluster.node.to_string()));
        }
        tokio::time::sleep(HEARTBEAT / 4).await;
    }
    let _: () = conn.sadd(keys::NODES, cluster.node.as_ref()).await.map_err(failed)?;
    reap(cluster, &cluster.node.clone()).await.map_err(failed)?;
    Ok(())
}

pub(super) async fn run(cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Since when this node's heartbeat has been continuous: a node that was away (stalled,
    // or cut off from Redis) reaps nobody until the others have had time to beat again.
    let mut back_since = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = cluster.stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        cluster.echoes.sweep(tokio::time::Instant::now());
        match beat(&cluster).await {
            Ok(Some(instance)) if instance == cluster.instance.to_string() => {}
            Ok(previous) => {
                // Our key had expired (or another process wrote it): the others may have
                // announced our sessions gone and freed their nicks. Say who we are again.
                warn!(?previous, "this node's heartbeat had lapsed; sharing its state again");
                back_since = tokio::time::Instant::now();
                cluster.resync.notify_one();
            }
            Err(e) => {
                cluster.outage(&e);
                continue;
            }
        }
        if back_since.elapsed() < NODE_TTL {
            continue;
        }
        if let Err(e) = reap_dead(&cluster).await {
            warn!(error = %e, "cannot look for dead nodes");
        }
    }
}

/// Refreshes the heartbeat; returns what the key held before (`None`: it had expired).
async fn beat(cluster: &Cluster) -> RedisResult<Option<String>> {
    let mut conn = cluster.conn.clone();
    let (previous,): (Option<String>,) = redis::pipe()
        .cmd("SET")
        .arg(keys::alive(&cluster.node))
        .arg(cluster.instance.to_string())
        .arg("PX")
        .arg(ttl_ms())
        .arg("GET")
        .sadd(keys::NODES, cluster.node.as_ref())
        .ignore()
        .query_async(&mut conn)
        .await?;
    Ok(previous)
}

async fn reap_dead(cluster: &Cluster) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    let nodes: Vec<String> = conn.smembers(keys::NODES).await?;
    for node in nodes.into_iter().filter(|n| **n != *cluster.node) {
        let alive: bool = conn.exists(keys::alive(&node)).await?;
        if alive {
            continue;
        }
        let lock: Option<String> = redis::cmd("SET")
            .arg(keys::reap(&node))
            .arg(cluster.node.as_ref())
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(REAP_LOCK.as_millis()).unwrap_or(u64::MAX))
            .query_async(&mut conn)
            .await?;
        if lock.is_some() {
            reap(cluster, &node).await?;
        }
    }
    Ok(())
}

/// Announces the sessions of `node` (dead, or an earlier run of this one) gone and frees
/// their nicks.
async fn reap(cluster: &Cluster, node: &str) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    let reason = if node == &*cluster.node { "server restarted" } else { "server lost" };
    let mut members = 0;
    for (room, entries) in state::every_room(&mut conn).await? {
        for (field, entry) in entries.into_iter().filter(|(_, entry)| entry.node == node) {
            announce_gone(cluster, &room, &entry, &field, Label::truncate(reason)).await?;
            members += 1;
        }
    }
    let mut pipe = redis::pipe();
    let sessions = state::sessions_of(&mut conn, node).await?;
    for (nick, session) in &sessions {
        let note = Note::Offline { session: *session, nick: nick.clone() };
        pipe.publish(keys::EVENTS, note.encode()).ignore();
    }
    pipe.cmd("EVAL").arg(scripts::REAP_NICKS).arg(1).arg(keys::node_nicks(node)).arg(node).ignore();
    pipe.del(keys::node_away(node)).ignore();
    if node != &*cluster.node {
        pipe.srem(keys::NODES, node).ignore();
    }
    let _: () = pipe.query_async(&mut conn).await?;
    if members > 0 || !sessions.is_empty() {
        info!(node, members, sessions = sessions.len(), "announced a stopped node's sessions gone");
    }
    Ok(())
}

/// A node that stops cleanly takes its heartbeat away: nobody waits for it to expire, and a
/// restart with the same id need not wait either.
pub(super) async fn leave(cluster: &Cluster) {
    // Whatever the sessions' departures could not write (Redis was away) is cleared now.
    if let Err(e) = reap(cluster, &cluster.node).await {
        warn!(error = %e, "cannot clear this node's sessions from Redis");
    }
    let mut conn = cluster.conn.clone();
    let result: RedisResult<()> = redis::pipe()
        .del(keys::alive(&cluster.node))
        .ignore()
        .srem(keys::NODES, cluster.node.as_ref())
        .ignore()
        .query_async(&mut conn)
        .await;
    if let Err(e) = result {
        warn!(error = %e, "cannot take this node's heartbeat away");
    }
}
