//! The node's one subscription: every room event and note, handed to the hub. After each
//! (re)subscription the node first writes its own state back into Redis and reads the
//! others' ([`reconcile`]), then fills in the messages it missed from the room streams.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use protocol::{Label, Nick, PresenceEvent, RoomName, ServerMsg};
use redis::{AsyncCommands as _, RedisResult};
use tokio::sync::Notify;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::history::{Kept, read_after};
use super::state;
use super::wire::{self, MemberEntry, Note, Owner, keys};
use super::{Cluster, Outgoing, member_entry, presence_event, scripts};
use crate::accounts::Waiting;
use crate::event::Event;
use crate::hub::Hub;
use crate::limits::{REFILL_PAGE, RESUBSCRIBE_DELAY};

pub(super) async fn run(cluster: Arc<Cluster>, hub: Arc<Hub>, ready: Arc<Notify>) {
    // Each room's last message handed to this node's members, for rooms that have some.
    let mut last: HashMap<RoomName, u64> = HashMap::new();
    loop {
        match listen(&cluster, &hub, &mut last, &ready).await {
            Ok(()) => return,
            Err(e) => {
                cluster.outage(&e);
                cluster.echoes.lost();
            }
        }
        tokio::select! {
            () = cluster.stop.cancelled() => return,
            () = tokio::time::sleep(RESUBSCRIBE_DELAY) => {}
        }
    }
}

/// Subscribes and hands on what it hears until the connection ends (an error) or the node
/// stops (`Ok`).
async fn listen(
    cluster: &Cluster,
    hub: &Hub,
    last: &mut HashMap<RoomName, u64>,
    ready: &Notify,
) -> RedisResult<()> {
    let mut pubsub = cluster.client.get_async_pubsub().await?;
    // Subscribed first: what is published while the state is read waits in the subscription.
    pubsub.subscribe(keys::EVENTS).await?;
    pubsub.subscribe(keys::to_node(&cluster.node)).await?;
    share_state(cluster, hub, last).await?;
    ready.notify_one();
    debug!("subscribed");
    let mut messages = pubsub.into_on_message();
    loop {
        let message = tokio::select! {
            () = cluster.stop.cancelled() => return Ok(()),
            () = cluster.resync.notified() => {
                share_state(cluster, hub, last).await?;
                continue;
            }
            message = messages.next() => message,
        };
        let Some(message) = message else {
            cluster.synced.store(false, std::sync::atomic::Ordering::Release);
            return Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the subscription ended",
            )));
        };
        let payload: String = match message.get_payload() {
            Ok(payload) => payload,
            Err(e) => {
                warn!(error = %e, "unreadable payload");
                continue;
            }
        };
        on_payload(cluster, hub, last, &payload).await?;
    }
}

async fn on_payload(
    cluster: &Cluster,
    hub: &Hub,
    last: &mut HashMap<RoomName, u64>,
    payload: &str,
) -> RedisResult<()> {
    if payload.starts_with('m') {
        let Some((room, seq, record)) = wire::parse_message(payload) else {
            warn!(payload = ?payload.chars().take(200).collect::<String>(), "unreadable message");
            return Ok(());
        };
        cluster.note_room(&room);
        let id = record.id;
        match last.get(&room).copied() {
            Some(delivered) if seq <= delivered => {}
            Some(delivered) if seq > delivered + 1 => {
                fill(cluster, hub, last, &room, delivered, Some(seq)).await?;
                deliver(hub, last, &room, seq, record);
            }
            _ => deliver(hub, last, &room, seq, record),
        }
        // After the message is in the room's channel: its backlog counts it throughout.
        cluster.echoes.heard(&room, id);
        return Ok(());
    }
    if payload.starts_with('d') {
        let Some((room, seq, deletion)) = wire::parse_deletion(payload) else {
            warn!(payload = ?payload.chars().take(200).collect::<String>(), "unreadable deletion");
            return Ok(());
        };
        // After the message's own publish, so after the message wherever it is shown; the
        // numbering of messages (`last`) does not change.
        let event = ServerMsg::Deleted {
            room: room.clone(),
            id: deletion.id,
            seq,
            by: deletion.by,
            ts: deletion.ts,
        };
        hub.deliver(&room, Event::new(event));
        return Ok(());
    }
    let note: Note = match serde_json::from_str(payload) {
        Ok(note) => note,
        Err(e) => {
            warn!(error = %e, "unreadable note");
            return Ok(());
        }
    };
    match note {
        Note::Presence { ref node, session, .. } => {
            if let Some(event) = presence_event(&note) {
                hub.on_presence(*node == *cluster.node, session, event);
            }
        }
        Note::Online { node, session, nick } => {
            if *node != *cluster.node {
                hub.on_online(&node, session, &nick);
            }
        }
        Note::Offline { session, nick } => hub.on_offline(session, &nick),
        Note::Renamed { session, nick, to } => hub.on_renamed(session, &nick, &to),
        Note::Away { session, nick, text } => hub.on_away(session, &nick, text),
        Note::Private { from_node, from_session, id, from, to, text, ts, account } => {
            let event = Event::new(ServerMsg::Private {
                id,
                from: from.clone(),
                to: to.clone(),
                text: text.clone(),
                ts,
                account,
                offline: false,
            });
            if let Err(busy) = hub.deliver_private(event) {
                // Gone just now: an account's message waits for it, as if it had been away
                // when sent (one round trip, and only for this rare case).
                let kept = !busy
                    && cluster
                        .keep_offline(Waiting {
                            id,
                            from: from.clone(),
                            account,
                            to: to.clone(),
                            text,
                            ts,
                        })
                        .await
                        .unwrap_or(false);
                let note = if kept {
                    Note::Kept { session: from_session, nick: from, to }
                } else {
                    Note::Bounce { session: from_session, nick: from, to, busy }
                };
                cluster.relay().send(Outgoing::Publish {
                    channel: keys::to_node(&from_node),
                    payload: note.encode(),
                });
            }
        }
        Note::Bounce { session, nick, to, busy } => hub.bounce(session, &nick, &to, busy),
        Note::Kept { session, nick, to } => hub.kept_for_later(session, &nick, &to),
        Note::Replace { session, nick } => hub.replaced(&nick, session),
        Note::Act { act } => {
            debug!(room = ?act.room, removes = act.remove.is_some(), "an act");
            hub.apply(&act);
        }
        Note::Resync { node } => {
            // Another node wrote its state back: read it.
            if *node != *cluster.node {
                let rooms = read_rooms(cluster).await?;
                read_others(cluster, hub, rooms).await?;
            }
        }
    }
    Ok(())
}

fn deliver(
    hub: &Hub,
    last: &mut HashMap<RoomName, u64>,
    room: &RoomName,
    seq: u64,
    record: wire::Record,
) {
    let Some(message) = record.stored(seq).into_message(room.clone()) else { return };
    if hub.deliver(room, Event::new(message)) {
        last.insert(room.clone(), seq);
    } else {
        // Nobody here is in the room: a member who joins later reads its backlog.
        last.remove(room);
    }
}

/// Hands on the messages of `room` after `after` (and before `until`) from its stream: what
/// this node missed while its subscription was down.
async fn fill(
    cluster: &Cluster,
    hub: &Hub,
    last: &mut HashMap<RoomName, u64>,
    room: &RoomName,
    mut after: u64,
    until: Option<u64>,
) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    loop {
        let kept = read_after(&mut conn, room, after, until, REFILL_PAGE).await?;
        let full = kept.len() >= REFILL_PAGE as usize;
        if !kept.is_empty() {
            debug!(room = %room, after, count = kept.len(), "filling in missed messages");
        }
        for kept in kept {
            after = kept.seq();
            let id = kept.id();
            // A message deleted meanwhile is told as its deletion: the members here go on
            // from its number without a gap, and show nothing of it.
            let event = match kept {
                Kept::Message(stored) => stored.into_message(room.clone()),
                Kept::Gone { seq, tombstone } => Some(ServerMsg::Deleted {
                    room: room.clone(),
                    id: tombstone.id,
                    seq,
                    by: tombstone.by,
                    ts: tombstone.at,
                }),
            };
            let Some(event) = event.map(Event::new) else { continue };
            let delivered = hub.deliver(room, event);
            cluster.echoes.heard(room, id);
            if delivered {
                last.insert(room.clone(), after);
            } else {
                last.remove(room);
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// After (re)subscribing, or when asked: writes this node's state back, tells the other
/// nodes to read it, keeps each room's numbering from going backwards, and fills in the
/// messages missed.
async fn share_state(
    cluster: &Cluster,
    hub: &Hub,
    last: &mut HashMap<RoomName, u64>,
) -> RedisResult<()> {
    reconcile(cluster, hub).await?;
    super::authority::load(cluster, hub).await?;
    let mut conn = cluster.conn.clone();
    // A Redis that lost its data would number a room's messages from 1 again: the members
    // here have seen higher numbers and would drop them. The count goes on from the highest
    // this node has handed on.
    let mut pipe = redis::pipe();
    for (room, seq) in last.iter() {
        pipe.cmd("EVAL").arg(scripts::SEQ_AT_LEAST).arg(1).arg(keys::seq(room)).arg(*seq).ignore();
    }
    if !pipe.is_empty() {
        let _: () = pipe.query_async(&mut conn).await?;
    }
    // Through the outbox, after what reconcile queued there (the node's away messages): the
    // others read this node's state once it is all written.
    let resync = Note::Resync { node: cluster.node.to_string() }.encode();
    cluster.relay().send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: resync });
    let rooms: Vec<(RoomName, u64)> = last.iter().map(|(r, s)| (r.clone(), *s)).collect();
    for (room, after) in rooms {
        fill(cluster, hub, last, &room, after, None).await?;
    }
    cluster.synced.store(true, std::sync::atomic::Ordering::Release);
    cluster.recovered();
    Ok(())
}

/// Writes this node's sessions and memberships back into Redis (a restarted Redis may have
/// lost them, departures made while it was away were not written, another node may have
/// reaped this one while it stalled), removes what Redis still has of this node's that is
/// gone, and reads the other nodes' sessions and members. What it found is checked against
/// the hub again just before acting: sessions come and go while it runs.
pub(super) async fn reconcile(cluster: &Cluster, hub: &Hub) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    let me = cluster.node.to_string();
    let crate::hub::LocalView { users, members } = hub.local_view();

    // This node among the nodes (the others read the node list to find its sessions).
    let _: () = conn.sadd(keys::NODES, &me).await?;
    // Nicks: ours back in; one that another session took meanwhile ends ours.
    for (nick, session, resume) in &users {
        let owner = Owner::Live {
            node: me.clone(),
            session: *session,
            token: *resume,
            nick: nick.to_string(),
        };
        let key = keys::nick(&nick.key());
        let (set, current): (Option<String>, Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(owner.encode())
            .arg("NX")
            .get(&key)
            .query_async(&mut conn)
            .await?;
        let _: () = conn.sadd(keys::node_nicks(&me), nick.key().as_str()).await?;
        if set.is_none() && current.as_deref() != Some(owner.encode().as_str()) {
            warn!(nick = ?nick.as_str(), "another session took this session's nick meanwhile");
            hub.replaced(nick, *session);
        }
    }
    // Memberships, each checked again just before it is written.
    for (room, nick, session) in &members {
        if !hub.is_local_member(room, *session) {
            continue;
        }
        let _: () = redis::pipe()
            .hset(keys::members(room), nick.key().as_str(), member_entry(&me, nick, *session))
            .ignore()
            .sadd(keys::ACTIVE, room.as_str())
            .ignore()
            .query_async(&mut conn)
            .await?;
    }

    // Away messages: this node's hash is made again, through the outbox, in order with the
    // changes its sessions make meanwhile.
    hub.share_away();

    // What Redis says this node holds that it does not.
    let held: Vec<String> = conn.smembers(keys::node_nicks(&me)).await?;
    for key in held {
        let value: Option<String> = conn.get(keys::nick_of(&key)).await?;
        let stale = match value.as_deref().and_then(Owner::parse) {
            Some(Owner::Live { node, session, .. }) => node == me && !hub.is_local(session),
            _ => true,
        };
        if stale && let Some(value) = value {
            let _: i64 = redis::cmd("EVAL")
                .arg(scripts::RELEASE)
                .arg(2)
                .arg(keys::nick_of(&key))
                .arg(keys::node_nicks(&me))
                .arg(value)
                .arg(0)
                .arg("")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
        } else if stale {
            let _: () = conn.srem(keys::node_nicks(&me), &key).await?;
        }
    }

    // Every room's members: this node's ghosts are announced gone, the others' are kept.
    let mut rooms = Vec::new();
    for (room, entries) in state::every_room(&mut conn).await? {
        let mut others = Vec::new();
        for (field, entry) in entries {
            if entry.node == me {
                if !hub.is_local_member(&room, entry.session) {
                    let reason = Label::truncate("connection lost");
                    announce_gone(cluster, &room, &entry, &field, reason).await?;
                }
            } else {
                others.push((entry.nick, entry.session));
            }
        }
        rooms.push((room, others));
    }

    read_others(cluster, hub, rooms).await?;
    info!(sessions = users.len(), "state shared with the cluster");
    Ok(())
}

/// Reads the other nodes' sessions, and `rooms`, every room's members but this node's, into
/// the hub.
pub(super) async fn read_others(
    cluster: &Cluster,
    hub: &Hub,
    rooms: Vec<(RoomName, Vec<(Nick, Uuid)>)>,
) -> RedisResult<()> {
    let mut conn = cluster.conn.clone();
    let me = cluster.node.to_string();
    // The other nodes' sessions.
    let nodes: Vec<String> = conn.smembers(keys::NODES).await?;
    let mut remote = Vec::new();
    for node in nodes.into_iter().filter(|n| *n != me) {
        let mut away = state::away_of(&mut conn, &node).await?;
        for (nick, session) in state::sessions_of(&mut conn, &node).await? {
            remote.push((nick, session, node.clone(), away.remove(&session)));
        }
    }
    debug!(remote = remote.len(), rooms = rooms.len(), "read the other nodes' state");
    hub.load_remote(remote, rooms);

    let stored: Vec<String> = conn.smembers(keys::ROOMS).await?;
    for room in stored.iter().filter_map(|r| RoomName::parse(r).ok()) {
        cluster.note_room(&room);
    }
    Ok(())
}

/// Every room's members, as Redis has them, but this node's.
async fn read_rooms(cluster: &Cluster) -> RedisResult<Vec<(RoomName, Vec<(Nick, Uuid)>)>> {
    let mut conn = cluster.conn.clone();
    let rooms = state::every_room(&mut conn).await?;
    Ok(rooms
        .into_iter()
        .map(|(room, entries)| {
            let others = entries
                .into_iter()
                .filter(|(_, entry)| *entry.node != *cluster.node)
                .map(|(_, entry)| (entry.nick, entry.session))
                .collect();
            (room, others)
        })
        .collect())
}

/// Announces a member of a room gone (one of a dead node's, or a ghost of this node's) and
/// removes it from the room's member hash, in one step.
pub(super) async fn announce_gone(
    cluster: &Cluster,
    room: &RoomName,
    entry: &MemberEntry,
    field: &str,
    reason: Label,
) -> RedisResult<()> {
    let note = Note::Presence {
        node: entry.node.clone(),
        session: entry.session,
        id: Uuid::now_v7(),
        ts: protocol::now_millis(),
        room: room.clone(),
        nick: entry.nick.clone(),
        event: PresenceEvent::Dropped { reason },
    };
    let mut conn = cluster.conn.clone();
    let _: i64 = redis::cmd("EVAL")
        .arg(scripts::PRESENCE)
        .arg(2)
        .arg(keys::members(room))
        .arg(keys::ACTIVE)
        .arg(keys::EVENTS)
        .arg(note.encode())
        .arg(room.as_str())
        .arg(field)
        .arg(entry.session.to_string())
        .arg("")
        .arg("")
        .arg("if-removed")
        .query_async(&mut conn)
        .await?;
    Ok(())
}
