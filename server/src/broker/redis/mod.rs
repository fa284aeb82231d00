//! Several `chat-server` nodes acting as one chat, through Redis (`--redis`).
//!
//! Redis is the one place where things are decided; each node keeps what it needs to answer
//! at once:
//! - **Messages** go through one Lua script each ([`scripts::SAY`]): the room's next sequence
//!   number, an entry in the room's capped stream with that number as its id, and a publish
//!   on [`wire::keys::EVENTS`], in one step, so every node hears a room's messages in sequence
//!   order. The sender's echo comes back the same way: it is acknowledged only once Redis has
//!   the message.
//! - **Deletions** go the same way ([`scripts::DELETE`]): the message found by id in the
//!   room's index, the right to delete it checked, its stream entry removed and a tombstone
//!   without its text kept by `seq` (history shows it in its place), and the `deleted` event
//!   published after the message's own.
//! - **Once per node**: each node subscribes once ([`subscriber`]) and hands what it hears to
//!   the room's local `broadcast` channel; its sessions are fed from there as on one node.
//! - **Presence** goes through Redis too (a script changes the room's member hash and
//!   publishes), in the same order as the messages; each node keeps every room's members
//!   (`who`, room lists and member counts are answered locally, for the whole chat).
//! - **Nicks** are claimed with a script on `chat:nick:<key>`: of two nodes claiming one nick
//!   at once, one wins. Resume tokens and kept nicks work across nodes.
//! - **Room authority** ([`authority`]): a hash per room of its settings; each act is stored
//!   and published by one script ([`scripts::ACT`]), and every node applies it in that order.
//! - **Liveness** ([`liveness`]): each node refreshes a key that expires; when one's expires,
//!   another announces its members gone and frees its nicks.
//! - **Budgets** ([`budgets`]): a connection's flood buckets, kept for its account or address
//!   until they are full again, so reconnecting to another node does not refill them.
//! - **Age** ([`expiry`]): with `--history-max-age`, one node at a time trims the streams'
//!   old ends.
//! - **Faults**: every write goes through one ordered queue ([`publisher`]); when Redis
//!   cannot take it, the senders are told (`storage_failed`) and the outage is logged once.
//!   After Redis comes back, the subscriber writes this node's sessions and memberships back
//!   (a restarted Redis may have lost them), re-reads the others', and fills in messages it
//!   missed from the streams.
//! - **Secrets**: the URL may hold a password; it is a [`RedisUrl`] ([`address`]), shown
//!   everywhere with `***` in its place. `rediss://` connects with TLS (rustls, ring).

mod accounts;
pub mod address;
mod authority;
mod budgets;
mod echoes;
mod expiry;
mod history;
mod liveness;
mod nicks;
mod outbox;
mod publisher;
mod scripts;
mod search;
mod state;
mod subscriber;
pub mod wire;

pub use address::RedisUrl;
pub use outbox::Relay;
use outbox::{Outgoing, Queued};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{ErrorCode, Nick, RequestError, ServerMsg};
use redis::RedisError;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use uuid::Uuid;

use crate::broker::{Delete, HistoryConfig, Say, Ticket};
use crate::event::SharedEvent;
use crate::hub::{Change, Hub};
use crate::limits::{HISTORY_QUEUE, REDIS_TIMEOUT};
use crate::sync::lock;
use wire::{MemberEntry, Note};

/// How to reach Redis and who this node is.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://[:password@]host:port[/db]` or `rediss://...`.
    pub url: RedisUrl,
    /// For `rediss://`: the CA certificates (PEM) the server's certificate must chain to,
    /// instead of the system's (`--redis-tls-ca`).
    pub tls_ca: Option<Vec<u8>>,
    /// This node's name, unique among the nodes (letters, digits, `-_.`).
    pub node: String,
}

/// Why a node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the node id {0:?} is not usable: 1 to 64 letters, digits, '-', '_' or '.'")]
    NodeId(String),
    /// The redis crate's error is shown in the line, not chained after it (it would repeat).
    #[error("cannot use Redis at {url}: {}", connect_reason(.error))]
    Connect { url: RedisUrl, error: RedisError },
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
    /// Messages kept per room (about: streams are trimmed a node at a time) and for how long,
    /// and shown on joining.
    history: HistoryConfig,
    outbox: mpsc::UnboundedSender<Outgoing>,
    outbox_rx: Mutex<Option<mpsc::UnboundedReceiver<Outgoing>>>,
    /// Messages and deletions in the outbox, bounded by [`HISTORY_QUEUE`].
    says: AtomicUsize,
    /// Messages sent (or queued to be) whose echo has not reached this node's members yet,
    /// bounded by [`HISTORY_QUEUE`] too.
    echoes: echoes::Echoes,
    /// Everything else the hub queued, bounded by [`OUTBOX_LIMIT`].
    queued: Arc<Queued>,
    /// Rooms that have stored messages (kept up to date from what the node hears).
    rooms: Mutex<crate::broker::room_set::RoomSet>,
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
        let connect = |error| ClusterError::Connect { url: config.url.clone(), error };
        let client = client(&config).map_err(connect)?;
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
            echoes: echoes::Echoes::default(),
            queued: Arc::default(),
            rooms: Mutex::default(),
            up: AtomicBool::new(true),
            synced: AtomicBool::new(false),
            resync: tokio::sync::Notify::new(),
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        liveness::take_node_id(&cluster).await?;
        crate::metrics::redis_answering();
        info!(node = %cluster.node, url = %config.url, "joined the cluster");
        Ok(cluster)
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
        let mut tasks = vec![
            tokio::spawn(publisher::run(self.clone(), hub.clone(), outbox)),
            tokio::spawn(subscriber::run(self.clone(), hub.clone(), ready.clone())),
            tokio::spawn(liveness::run(self.clone())),
        ];
        if let Some(every) = self.history.expiry_check() {
            tasks.push(tokio::spawn(expiry::run(self.clone(), every)));
        }
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

    /// Queues a room message to be stored, numbered and published; its ticket waits for the
    /// message's echo ([`echoes`]). Fails at once when [`HISTORY_QUEUE`] messages wait
    /// already, to be sent or to come back.
    pub fn say(&self, say: Say) -> Result<(), RequestError> {
        if self.echoes.awaited() >= HISTORY_QUEUE {
            return Err(busy());
        }
        self.count_queued()?;
        let id = Uuid::now_v7();
        let (room, ticket) = (say.room.clone(), Ticket::new(&say));
        let send = || self.outbox.send(Outgoing::Say(say, id)).is_ok();
        if !self.echoes.expect(&room, id, ticket, send) {
            self.says.fetch_sub(1, Ordering::AcqRel);
            return Err(RequestError::new(ErrorCode::StorageFailed, "the server is stopping"));
        }
        Ok(())
    }

    /// Counts a message or deletion into the outbox, unless [`HISTORY_QUEUE`] are in it.
    fn count_queued(&self) -> Result<(), RequestError> {
        if self.says.fetch_add(1, Ordering::AcqRel) >= HISTORY_QUEUE {
            self.says.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        Ok(())
    }

    /// Queues a deletion, behind everything the node queued before it; counted and refused
    /// as messages are.
    pub fn delete(&self, delete: Delete) -> Result<(), RequestError> {
        self.count_queued()?;
        let ticket = Ticket::for_room(&delete.room_tx, &delete.in_flight);
        if self.outbox.send(Outgoing::Delete(delete, ticket)).is_err() {
            self.says.fetch_sub(1, Ordering::AcqRel);
            return Err(RequestError::new(ErrorCode::StorageFailed, "the server is stopping"));
        }
        Ok(())
    }

    /// Redis failed: logged once per outage. Messages are refused until the node has shared
    /// its state again.
    fn outage(&self, e: &RedisError) {
        self.synced.store(false, Ordering::Release);
        self.resync.notify_one();
        if self.up.swap(false, Ordering::AcqRel) {
            crate::metrics::redis_outage();
            error!(error = %e, "Redis is not answering: messages are refused until it is back");
        }
    }

    /// Redis answers again and the node has shared its state: the end of an outage.
    fn recovered(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            crate::metrics::redis_answering();
            info!("Redis is answering again");
        }
    }
}

/// The answer to a message or deletion past [`HISTORY_QUEUE`].
fn busy() -> RequestError {
    RequestError::new(ErrorCode::ServerBusy, "the server is busy storing messages; try again")
}

/// Why a connection failed, in words for the operator: the password refusals are said
/// plainly (the redis crate's own words repeat themselves).
fn connect_reason(e: &RedisError) -> String {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        "it refused the password (or the user name) in the URL".to_owned()
    } else if e.code() == Some("NOAUTH") {
        "it wants a password (NOAUTH), and the URL has none".to_owned()
    } else {
        e.to_string()
    }
}

/// The redis crate's client for `config`: TLS for `rediss://`, trusting `tls_ca` if given,
/// else the system's certificates.
fn client(config: &ClusterConfig) -> Result<redis::Client, RedisError> {
    // rustls needs a process-wide crypto provider: ring (aws-lc-rs would need cmake to
    // build). Whoever installs it first wins; the server's own TLS installs the same.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match &config.tls_ca {
        Some(pem) => {
            let certificates =
                redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) };
            redis::Client::build_with_tls(config.url.expose(), certificates)
        }
        None => redis::Client::open(config.url.expose()),
    }
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
