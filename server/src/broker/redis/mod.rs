//! Several `chat-server` nodes acting as one chat, through Redis (`--redis`).
//!
//! Redis is the one place where things are decided; each node keeps what it needs to answer
//! at once:
//! - **Messages** go through one Lua script each ([`scripts::SAY`]): the room's next sequence
//!   number, an entry in the room's capped stream with that number as its id, and a publish
//!   on [`keys::EVENTS`], in one step, so every node hears a room's messages in sequence
//!   order. The sender's echo comes back the same way: it is acknowledged only once Redis has
//!   the message.
//! - **Once per node**: each node subscribes once ([`subscriber`]) and hands what it hears to
//!   the room's local `broadcast` channel; its sessions are fed from there as on one node.
//! - **Presence** goes through Redis too (a script changes the room's member hash and
//!   publishes), in the same order as the messages; each node keeps every room's members
//!   (`who`, room lists and member counts are answered locally, for the whole chat).
//! - **Nicks** are claimed with a script on `chat:nick:<key>`: of two nodes claiming one nick
//!   at once, one wins. Resume tokens and kept nicks work across nodes.
//! - **Liveness** ([`liveness`]): each node refreshes a key that expires; when one's expires,
//!   another announces its members gone and frees its nicks.
//! - **Faults**: every write goes through one ordered queue ([`publisher`]); when Redis
//!   cannot take it, the senders are told (`storage_failed`) and the outage is logged once.
//!   After Redis comes back, the subscriber writes this node's sessions and memberships back
//!   (a restarted Redis may have lost them), re-reads the others', and fills in messages it
//!   missed from the streams.

mod liveness;
mod publisher;
mod scripts;
mod subscriber;
pub mod wire;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{ErrorCode, Nick, NickKey, RequestError, RoomName, ServerMsg, Stored};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, RedisError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use uuid::Uuid;

use crate::broker::{HistoryConfig, Page, Say, Ticket};
use crate::event::SharedEvent;
use crate::hub::{Change, Elsewhere, Hub, Registered};
use crate::limits::{HISTORY_QUEUE, OUTBOX_LIMIT, REDIS_TIMEOUT};
use crate::sync::lock;
use wire::{MemberEntry, Note, Owner, keys};

/// How to reach Redis and who this node is.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// This node's name, unique among the nodes (letters, digits, `-_.`).
    pub node: String,
}

/// Why a node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the node id {0:?} is not usable: 1 to 64 letters, digits, '-', '_' or '.'")]
    NodeId(String),
    #[error("cannot reach Redis at {url}: {source}")]
    Connect { url: String, source: RedisError },
    #[error("another node runs as {0:?} (its heartbeat is fresh); give this one another --node-id")]
    NodeInUse(String),
    #[error("Redis failed while this node was starting: {0}")]
    Redis(#[from] RedisError),
}

/// This node's link to Redis; shared by the history, the hub's relay and the tasks.
pub struct Cluster {
    node: Arc<str>,
    /// This run of the node, in its heartbeat: a second process with the same node id is
    /// noticed.
    instance: Uuid,
    client: redis::Client,
    conn: ConnectionManager,
    /// Messages kept per room (about: streams are trimmed a node at a time), and shown on
    /// joining.
    history: HistoryConfig,
    outbox: mpsc::UnboundedSender<Outgoing>,
    outbox_rx: Mutex<Option<mpsc::UnboundedReceiver<Outgoing>>>,
    /// Messages in the outbox, bounded by [`HISTORY_QUEUE`].
    says: AtomicUsize,
    /// Everything else the hub queued, bounded by [`OUTBOX_LIMIT`].
    queued: Arc<Queued>,
    /// Rooms that have stored messages (kept up to date from what the node hears).
    rooms: Mutex<BTreeSet<RoomName>>,
    /// Whether Redis answered last time: an outage is logged once, and its end.
    up: AtomicBool,
    /// Whether this node's state is in Redis as it knows it: cleared by any failure, set once
    /// the subscriber has shared the state again. Messages wait for it: one numbered by a
    /// Redis that lost its data, before the node has raised the room's count again, would
    /// reuse numbers the members already have.
    synced: AtomicBool,
    /// Asks the subscriber to share this node's state again (a write to Redis was lost, or
    /// the heartbeat had lapsed).
    resync: tokio::sync::Notify,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What the node writes to Redis, in this order.
pub(crate) enum Outgoing {
    Say(Say, Ticket),
    Presence { room: RoomName, payload: String, change: Change, session: Uuid },
    Publish { channel: String, payload: String },
    Private { channel: String, payload: String, from: (Uuid, Nick), to: Nick },
    Release { key: NickKey, owner: String, keep: Duration, kept: String },
    Stop,
}

/// The hub's side of the cluster: where it sends presence, private messages and nick
/// releases. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    node: Arc<str>,
    outbox: mpsc::UnboundedSender<Outgoing>,
    queued: Arc<Queued>,
}

/// What the hub has queued for Redis and not yet written: bounded by [`OUTBOX_LIMIT`].
#[derive(Default)]
pub(crate) struct Queued {
    count: AtomicUsize,
    /// Something was dropped at the limit: the node shares its state again afterwards.
    overflowed: AtomicBool,
}

impl Relay {
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Queues `outgoing` unless [`OUTBOX_LIMIT`] writes wait already (Redis is that slow):
    /// then it is dropped, and the node shares its whole state again once the queue drains.
    pub(super) fn send(&self, outgoing: Outgoing) -> bool {
        if self.queued.count.fetch_add(1, Ordering::AcqRel) >= OUTBOX_LIMIT {
            self.queued.count.fetch_sub(1, Ordering::AcqRel);
            if !self.queued.overflowed.swap(true, Ordering::AcqRel) {
                warn!("too many writes waiting for Redis; dropping presence until it catches up");
            }
            return false;
        }
        // Closed only once the server has stopped.
        self.outbox.send(outgoing).is_ok()
    }
}

/// What the hub tells the other nodes goes through Redis, in this node's one ordered queue.
impl Elsewhere for Relay {
    fn presence(&self, session: Uuid, event: &SharedEvent, change: Change) -> bool {
        let ServerMsg::Presence { id, ts, room, nick, event } = &event.msg else { return false };
        let note = Note::Presence {
            node: self.node.to_string(),
            session,
            id: *id,
            ts: *ts,
            room: room.clone(),
            nick: nick.clone(),
            event: event.clone(),
        };
        self.send(Outgoing::Presence {
            room: room.clone(),
            payload: note.encode(),
            change,
            session,
        });
        // Lost with the queue if it could not be queued: this node's members get the room's
        // member list again once it has shared its state.
        true
    }

    fn online(&self, session: Uuid, nick: &Nick) {
        let note = Note::Online { node: self.node.to_string(), session, nick: nick.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
    }

    fn renamed(&self, session: Uuid, nick: &Nick, to: &Nick) {
        let note = Note::Renamed { session, nick: nick.clone(), to: to.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
    }

    /// Frees `nick` (or keeps it for `resume` for `keep`) if it is still `session`'s.
    fn release(&self, nick: &Nick, session: Uuid, resume: Uuid, keep: Duration) -> bool {
        let owner = Owner::Live {
            node: self.node.to_string(),
            session,
            token: resume,
            nick: nick.to_string(),
        };
        let kept = Owner::Kept { token: resume, nick: nick.to_string() };
        self.send(Outgoing::Release {
            key: nick.key(),
            owner: owner.encode(),
            keep,
            kept: kept.encode(),
        });
        let note = Note::Offline { session, nick: nick.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
        true
    }

    /// Sends a private message to a session of `node`; `false` if it could not be queued.
    fn private(&self, node: &str, from_session: Uuid, event: &SharedEvent) -> bool {
        let ServerMsg::Private { id, from, to, text, ts } = &event.msg else { return false };
        let note = Note::Private {
            from_node: self.node.to_string(),
            from_session,
            id: *id,
            from: from.clone(),
            to: to.clone(),
            text: text.clone(),
            ts: *ts,
        };
        self.send(Outgoing::Private {
            channel: keys::to_node(node),
            payload: note.encode(),
            from: (from_session, from.clone()),
            to: to.clone(),
        })
    }
}

impl Cluster {
    /// Connects to Redis. Fails with the reason if Redis cannot be reached or another running
    /// node has this node's id; a node of this id that died is cleaned up after.
    pub async fn connect(
        config: ClusterConfig,
        history: HistoryConfig,
    ) -> Result<Arc<Self>, ClusterError> {
        if !wire::valid_node_id(&config.node) {
            return Err(ClusterError::NodeId(config.node));
        }
        let connect = |source| ClusterError::Connect { url: config.url.clone(), source };
        let client = redis::Client::open(config.url.as_str()).map_err(connect)?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = client.get_connection_manager_with_config(manager).await.map_err(connect)?;
        let _: () = redis::cmd("PING").query_async(&mut conn).await.map_err(connect)?;
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let cluster = Arc::new(Self {
            node: config.node.as_str().into(),
            instance: Uuid::new_v4(),
            client,
            conn,
            history: HistoryConfig {
                location: None,
                keep: history.keep.max(1),
                max_bytes: None,
                ..history
            },
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            says: AtomicUsize::new(0),
            queued: Arc::default(),
            rooms: Mutex::new(BTreeSet::new()),
            up: AtomicBool::new(true),
            synced: AtomicBool::new(false),
            resync: tokio::sync::Notify::new(),
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        liveness::take_node_id(&cluster).await?;
        info!(node = %cluster.node, url = %config.url, "joined the cluster");
        Ok(cluster)
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn relay(&self) -> Relay {
        Relay { node: self.node.clone(), outbox: self.outbox.clone(), queued: self.queued.clone() }
    }

    pub fn config(&self) -> &HistoryConfig {
        &self.history
    }

    /// Starts the node's tasks for `hub` (the publisher, the subscriber, the heartbeat), and
    /// returns once the node has written its state and read the others'.
    pub async fn start(self: &Arc<Self>, hub: &Arc<Hub>) {
        let Some(outbox) = lock(&self.outbox_rx).take() else { return };
        let ready = Arc::new(tokio::sync::Notify::new());
        let tasks = vec![
            tokio::spawn(publisher::run(self.clone(), hub.clone(), outbox)),
            tokio::spawn(subscriber::run(self.clone(), hub.clone(), ready.clone())),
            tokio::spawn(liveness::run(self.clone())),
        ];
        lock(&self.tasks).extend(tasks);
        ready.notified().await;
    }

    /// Stops the node: what is queued is written first, then the node takes its heartbeat
    /// away (so the others need not wait for it to expire).
    pub async fn close(&self) {
        let _ = self.outbox.send(Outgoing::Stop);
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        let mut tasks = tasks.into_iter();
        // The publisher first: it ends after the queue's last write.
        if let Some(publisher) = tasks.next() {
            let _ = tokio::time::timeout(REDIS_TIMEOUT * 2, publisher).await;
        }
        self.stop.cancel();
        for task in tasks {
            let _ = task.await;
        }
        liveness::leave(self).await;
    }

    /// Queues a room message to be stored, numbered and published. Fails at once when
    /// [`HISTORY_QUEUE`] messages wait already.
    pub fn say(&self, say: Say) -> Result<(), RequestError> {
        if self.says.fetch_add(1, Ordering::AcqRel) >= HISTORY_QUEUE {
            self.says.fetch_sub(1, Ordering::AcqRel);
            return Err(RequestError::new(
                ErrorCode::ServerBusy,
                "the server is busy storing messages; try again",
            ));
        }
        let ticket = Ticket::new(&say);
        if self.outbox.send(Outgoing::Say(say, ticket)).is_err() {
            self.says.fetch_sub(1, Ordering::AcqRel);
            return Err(RequestError::new(ErrorCode::StorageFailed, "the server is stopping"));
        }
        Ok(())
    }

    /// Rooms with stored messages, as far as this node has heard.
    pub fn rooms(&self) -> Vec<RoomName> {
        lock(&self.rooms).iter().cloned().collect()
    }

    fn note_room(&self, room: &RoomName) {
        let mut rooms = lock(&self.rooms);
        if !rooms.contains(room) {
            rooms.insert(room.clone());
        }
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

    /// Claims `nick` for a new session across the chat. With `claim`, a resume token: the
    /// nick is taken over from the session that holds it (on any node) or reclaimed from a
    /// dropped one's reservation.
    pub async fn claim(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: Uuid,
        claim: Option<Uuid>,
    ) -> Result<Registered, RequestError> {
        let key = nick.key();
        let owner = Owner::Live {
            node: self.node.to_string(),
            session,
            token: resume,
            nick: nick.to_string(),
        };
        let mut conn = self.conn.clone();
        let (answer, previous): (String, String) = redis::cmd("EVAL")
            .arg(scripts::CLAIM)
            .arg(2)
            .arg(keys::nick(&key))
            .arg(keys::node_nicks(&self.node))
            .arg(owner.encode())
            .arg(claim.map(|c| c.to_string()).unwrap_or_default())
            .arg(key.as_str())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("hello", &e))?;
        let previous = Owner::parse(&previous);
        match (answer.as_str(), previous) {
            ("new", _) => Ok(Registered::New),
            ("was", Some(Owner::Kept { .. })) => Ok(Registered::Reclaimed),
            ("was", Some(Owner::Live { node, session: old, nick: held, .. })) => {
                if *node != *self.node {
                    // The holder's node ends it; this node only learns it was taken over.
                    let note = Note::Replace {
                        session: old,
                        nick: Nick::parse(&held).unwrap_or_else(|_| nick.clone()),
                    };
                    self.relay().send(Outgoing::Publish {
                        channel: keys::to_node(&node),
                        payload: note.encode(),
                    });
                }
                Ok(Registered::TookOver)
            }
            (_, previous) => Err(in_use(nick, previous.as_ref())),
        }
    }

    /// [`Cluster::claim`] in a task of its own, for a session: it completes even if the
    /// session ends meanwhile, and a nick claimed for a session that is gone is let go again.
    pub fn claim_for(
        self: &Arc<Self>,
        nick: Nick,
        session: Uuid,
        resume: Uuid,
        claim: Option<Uuid>,
    ) -> impl Future<Output = Result<Registered, RequestError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let cluster = self.clone();
        tokio::spawn(async move {
            let how = cluster.claim(&nick, session, resume, claim).await;
            if let Err(Ok(_)) = answer.send(how) {
                cluster.relay().release(&nick, session, resume, Duration::ZERO);
            }
        });
        async move { answered.await.unwrap_or_else(|_| Err(stopping())) }
    }

    /// [`Cluster::rename`] in a task of its own, as [`Cluster::claim_for`].
    pub fn rename_for(
        self: &Arc<Self>,
        old: Nick,
        new: Nick,
        session: Uuid,
        resume: Uuid,
    ) -> impl Future<Output = Result<(), RequestError>> + Send + 'static {
        let (answer, answered) = oneshot::channel();
        let cluster = self.clone();
        tokio::spawn(async move {
            let result = cluster.rename(&old, &new, session, resume).await;
            if let Err(Ok(())) = answer.send(result) {
                // The session ended under its old nick, which let go of nothing in Redis.
                cluster.relay().release(&new, session, resume, Duration::ZERO);
            }
        });
        async move { answered.await.unwrap_or_else(|_| Err(stopping())) }
    }

    /// Moves a session's nick from `old` to `new` across the chat, if `new` is free.
    pub async fn rename(
        &self,
        old: &Nick,
        new: &Nick,
        session: Uuid,
        resume: Uuid,
    ) -> Result<(), RequestError> {
        let owner = |nick: &Nick| {
            Owner::Live {
                node: self.node.to_string(),
                session,
                token: resume,
                nick: nick.to_string(),
            }
            .encode()
        };
        let (old_key, new_key) = (old.key(), new.key());
        let mut conn = self.conn.clone();
        let (answer, holder): (String, String) = redis::cmd("EVAL")
            .arg(scripts::RENAME)
            .arg(3)
            .arg(keys::nick(&old_key))
            .arg(keys::nick(&new_key))
            .arg(keys::node_nicks(&self.node))
            .arg(owner(old))
            .arg(owner(new))
            .arg(old_key.as_str())
            .arg(new_key.as_str())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.request_failed("nick", &e))?;
        match answer.as_str() {
            "ok" => Ok(()),
            "lost" => Err(RequestError::new(
                ErrorCode::NotRegistered,
                "a new connection took this session's nick over",
            )),
            _ => Err(in_use(new, Owner::parse(&holder).as_ref())),
        }
    }

    fn request_failed(&self, request: &str, e: &RedisError) -> RequestError {
        self.outage(e);
        RequestError::new(
            ErrorCode::StorageFailed,
            format!("the chat's shared store is not answering; {request} again in a moment"),
        )
    }

    /// Redis failed: logged once per outage. Messages are refused until the node has shared
    /// its state again.
    fn outage(&self, e: &RedisError) {
        self.synced.store(false, Ordering::Release);
        self.resync.notify_one();
        if self.up.swap(false, Ordering::AcqRel) {
            error!(error = %e, "Redis is not answering: messages are refused until it is back");
        }
    }

    /// Redis answers again and the node has shared its state: the end of an outage.
    fn recovered(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            info!("Redis is answering again");
        }
    }
}

fn stopping() -> RequestError {
    RequestError::new(ErrorCode::StorageFailed, "the server is stopping")
}

/// "the nick Tracy is already in use", from what Redis says holds it.
fn in_use(nick: &Nick, holder: Option<&Owner>) -> RequestError {
    let message = match holder {
        Some(Owner::Kept { .. }) => format!(
            "the nick {nick} is kept for a while for the one who held it, who lost the connection"
        ),
        Some(owner) if owner.nick().to_lowercase() != nick.as_str().to_lowercase() => {
            format!("the nick {nick} is too like {}, who is online", owner.nick())
        }
        _ => format!("the nick {nick} is already in use"),
    };
    RequestError::new(ErrorCode::NickInUse, message)
}

/// The messages of a stream reply; entries that do not parse are logged and skipped.
fn entries(room: &RoomName, reply: redis::streams::StreamRangeReply) -> Vec<Stored> {
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

/// The member entry a node writes for one of its sessions in a room's member hash.
fn member_entry(node: &str, nick: &Nick, session: Uuid) -> String {
    let entry = MemberEntry { nick: nick.clone(), session, node: node.to_owned() };
    serde_json::to_string(&entry).unwrap_or_default()
}

/// A presence event made from its note, for the hub.
fn presence_event(note: &Note) -> Option<SharedEvent> {
    let Note::Presence { id, ts, room, nick, event, .. } = note else { return None };
    Some(crate::event::Event::new(ServerMsg::Presence {
        id: *id,
        ts: *ts,
        room: room.clone(),
        nick: nick.clone(),
        event: event.clone(),
    }))
}
