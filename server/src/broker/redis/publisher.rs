//! The node's one ordered queue of writes to Redis: messages, deletions, presence, notes,
//! nick releases.
//! One queue, so what a session does reaches the other nodes in the order it did it (its join
//! before its first message). Whatever has queued up goes in one pipeline.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::{ErrorCode, Label, RequestError};
use redis::{RedisResult, Value};
use tokio::sync::mpsc;
use tracing::debug;

use super::wire::{Deletion, Note, Record, keys};
use super::{Change, Cluster, Outgoing, member_entry, scripts};
use crate::broker::Delete;
use crate::hub::{BatchRooms, Hub};
use crate::limits::MAX_COMMIT_BATCH;

pub(super) async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut batch = Vec::with_capacity(MAX_COMMIT_BATCH);
    loop {
        if outbox.recv_many(&mut batch, MAX_COMMIT_BATCH).await == 0 {
            break;
        }
        let stop = batch.iter().position(|o| matches!(o, Outgoing::Stop));
        if let Some(at) = stop {
            batch.truncate(at);
        }
        // What went through the relay (everything but messages, counted apart) leaves it.
        let relayed = batch
            .iter()
            .filter(|o| !matches!(o, Outgoing::Say(..) | Outgoing::Delete(..) | Outgoing::Stop))
            .count();
        if !batch.is_empty() {
            write(&cluster, &hub, &mut batch).await;
        }
        cluster.queued.count.fetch_sub(relayed, Ordering::AcqRel);
        if cluster.queued.overflowed.swap(false, Ordering::AcqRel) {
            cluster.synced.store(false, Ordering::Release);
            cluster.resync.notify_one();
        }
        if stop.is_some() {
            break;
        }
    }
    // What was queued after the stop is never sent: no echo comes for it.
    cluster.echoes.lost();
}

async fn write(cluster: &Cluster, hub: &Hub, batch: &mut Vec<Outgoing>) {
    // Until the node has shared its state again after a failure, messages (and deletions)
    // are refused without being sent (see `Cluster::synced`).
    let synced = cluster.synced.load(Ordering::Acquire);
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let mut sent = Vec::with_capacity(batch.len());
    for outgoing in batch.iter() {
        let send = synced || !matches!(outgoing, Outgoing::Say(..) | Outgoing::Delete(..));
        if send {
            pipe.add_command(command(cluster, outgoing));
        }
        sent.push(send);
    }
    let mut conn = cluster.conn.clone();
    let results: RedisResult<Vec<RedisResult<Value>>> = if pipe.is_empty() {
        Ok(Vec::new())
    } else {
        crate::metrics::timed_commit_async(pipe.query_async(&mut conn)).await
    };
    let results: Vec<Result<Value, String>> = match results {
        Ok(results) => results.into_iter().map(|r| r.map_err(|e| e.to_string())).collect(),
        Err(e) => {
            cluster.outage(&e);
            Vec::new()
        }
    };
    let mut results = results.into_iter();
    let mut rooms = BatchRooms::default();
    let mut stored = 0;
    for (outgoing, sent) in batch.drain(..).zip(sent) {
        let result = if sent {
            results.next().unwrap_or_else(|| Err("Redis is not answering".to_owned()))
        } else {
            Err("the node is catching up with Redis".to_owned())
        };
        match outgoing {
            Outgoing::Say(say, id) => {
                cluster.says.fetch_sub(1, Ordering::AcqRel);
                match result {
                    // Its ticket goes when its echo is in the room's channel.
                    Ok(_) => {
                        cluster.note_room(&say.room);
                        stored += 1;
                    }
                    Err(reason) => {
                        debug!(room = %say.room, %reason, "message refused");
                        say.refuse("the chat's shared store is not answering");
                        cluster.echoes.refused(&say.room, id);
                    }
                }
            }
            Outgoing::Delete(delete, ticket) => {
                cluster.says.fetch_sub(1, Ordering::AcqRel);
                deleted(&delete, result);
                rooms.add(&delete.room_tx);
                drop(ticket);
            }
            Outgoing::Private { from, to, .. } => {
                match result {
                    Ok(Value::Int(1..)) => {}
                    // Nobody heard it: the recipient's node is gone.
                    Ok(_) => hub.bounce(from.0, &from.1, &to, false),
                    Err(_) => hub.bounce_error(
                        from.0,
                        &from.1,
                        RequestError::new(
                            ErrorCode::StorageFailed,
                            format!("your message to {to} could not be sent (the chat's shared store is not answering)"),
                        ),
                    ),
                }
            }
            Outgoing::Presence { payload, session, .. } => {
                if let Err(reason) = result {
                    debug!(%reason, "presence not written to Redis");
                    // This node's members of the room still see it; the others get the
                    // member list once this node has shared its state again.
                    let note = serde_json::from_str::<Note>(&payload).ok();
                    if let Some(event) = note.as_ref().and_then(super::presence_event) {
                        hub.on_presence(true, session, event);
                    }
                    cluster.resync.notify_one();
                }
            }
            Outgoing::Publish { .. }
            | Outgoing::Release { .. }
            | Outgoing::Away { .. }
            | Outgoing::AwayAll(_)
            | Outgoing::Stop => {
                if let Err(reason) = result {
                    debug!(%reason, "not written to Redis");
                    cluster.resync.notify_one();
                }
            }
        }
    }
    rooms.wake_senders();
    crate::metrics::messages_stored(stored);
}

/// Tells the requester of a deletion the script refused, or that could not be run, why;
/// a deletion carried out is told to the whole room by the subscription.
fn deleted(delete: &Delete, result: Result<Value, String>) {
    let refusal = match result {
        Ok(Value::Array(answer)) => match answer.first() {
            Some(Value::BulkString(status)) if status.as_slice() == b"ok" => return,
            Some(Value::BulkString(status)) if status.as_slice() == b"denied" => {
                delete.not_operator()
            }
            _ => delete.no_such_message(),
        },
        Ok(other) => {
            debug!(answer = ?other, "an unexpected answer to a deletion");
            delete.failed("the chat's shared store answered oddly")
        }
        Err(reason) => {
            debug!(room = %delete.room, %reason, "deletion refused");
            delete.failed("the chat's shared store is not answering")
        }
    };
    delete.refuse(refusal);
}

fn command(cluster: &Cluster, outgoing: &Outgoing) -> redis::Cmd {
    match outgoing {
        Outgoing::Say(say, id) => {
            let record = Record {
                id: *id,
                from: say.from.clone(),
                account: say.account,
                kind: say.kind,
                text: say.text.clone(),
                ts: protocol::now_millis(),
                key: say.from.key().as_str().to_owned(),
            };
            let record = serde_json::to_string(&record).unwrap_or_default();
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::SAY)
                .arg(5)
                .arg(keys::seq(&say.room))
                .arg(keys::log(&say.room))
                .arg(keys::ROOMS)
                .arg(keys::ids(&say.room))
                .arg(keys::gone(&say.room))
                .arg(keys::EVENTS)
                .arg(say.room.as_str())
                .arg(record)
                .arg(cluster.history.keep)
                .arg(id.as_bytes().as_slice());
            cmd
        }
        Outgoing::Delete(delete, _) => {
            let at = protocol::now_millis();
            let by = serde_json::to_string(&delete.by).unwrap_or_default();
            let deletion = Deletion { id: delete.id, by: delete.by.clone(), ts: at };
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::DELETE)
                .arg(3)
                .arg(keys::ids(&delete.room))
                .arg(keys::log(&delete.room))
                .arg(keys::gone(&delete.room))
                .arg(keys::EVENTS)
                .arg(delete.room.as_str())
                .arg(delete.id.as_bytes().as_slice())
                .arg(delete.by.key().as_str())
                .arg(if delete.account { "1" } else { "0" })
                .arg(if delete.any { "1" } else { "0" })
                .arg(by)
                .arg(at)
                .arg(serde_json::to_string(&deletion).unwrap_or_default());
            cmd
        }
        Outgoing::Presence { room, payload, change, session } => {
            let (remove, add, entry) = match change {
                Change::Add { key, nick } => {
                    ("", key.as_str(), member_entry(&cluster.node, nick, *session))
                }
                Change::Remove { key } => (key.as_str(), "", String::new()),
                Change::Move { from, key, nick } => {
                    (from.as_str(), key.as_str(), member_entry(&cluster.node, nick, *session))
                }
            };
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::PRESENCE)
                .arg(2)
                .arg(keys::members(room))
                .arg(keys::ACTIVE)
                .arg(keys::EVENTS)
                .arg(payload)
                .arg(room.as_str())
                .arg(remove)
                .arg(session.to_string())
                .arg(add)
                .arg(entry);
            cmd
        }
        Outgoing::Publish { channel, payload } | Outgoing::Private { channel, payload, .. } => {
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(channel).arg(payload);
            cmd
        }
        Outgoing::Release { key, owner, keep, kept } => {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::RELEASE)
                .arg(2)
                .arg(keys::nick(key))
                .arg(keys::node_nicks(&cluster.node))
                .arg(owner)
                .arg(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX))
                .arg(kept)
                .arg(key.as_str());
            cmd
        }
        Outgoing::Away { session, text, payload } => {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::AWAY)
                .arg(1)
                .arg(keys::node_away(&cluster.node))
                .arg(session.to_string())
                .arg(text.as_ref().map_or("", Label::as_str))
                .arg(keys::EVENTS)
                .arg(payload.as_deref().unwrap_or(""));
            cmd
        }
        Outgoing::AwayAll(away) => {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(scripts::AWAY_ALL).arg(1).arg(keys::node_away(&cluster.node));
            for (session, text) in away {
                cmd.arg(session.to_string()).arg(text.as_str());
            }
            cmd
        }
        Outgoing::Stop => redis::cmd("PING"),
    }
}
