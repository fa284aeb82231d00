//! The broker: everything durable or shared by the nodes, behind one contract with two
//! backends. It numbers, stores and fans out room messages (the echo means stored), reads
//! pages and catch-up, and decides nick claims and renames; with several nodes it also carries
//! presence and private messages between them (the hub hands those to it through
//! [`Elsewhere`]).
//!
//! An enum rather than a trait object: its async calls need no boxing, and a session's
//! future, which holds one, stays small.
//!
//! - [`local`]: one node. A writer thread numbers, stores (SQLite, in a file or in memory, or
//!   nothing) and then broadcasts; nicks are decided by the hub.
//! - [`redis`]: one node of several sharing a Redis, which numbers, stores and publishes;
//!   each node hears every room's events and fans them out to its own members.
//! - [`say`]: a room message on its way, and the counts that follow it.
//! - [`delete`]: a deletion on its way, and who may delete what.
//! - [`accounts`]: accounts on both backends, and logging in.
//! - [`authority`]: rooms' settings, roles and bans on both backends, applied on every node.
//! - [`room_set`]: the rooms with stored messages, by name and by look-alike key.

mod accounts;
mod authority;
mod delete;
pub mod local;
pub mod redis;
mod room_set;
mod say;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use protocol::{Nick, RequestError, RoomName, Stored};
use uuid::Uuid;

use crate::flood::{Holder, Shared};
use crate::hub::{Alone, Elsewhere, Hub};
use crate::limits::EXPIRY_CHECK;
pub use accounts::{Hello, Welcome};
pub use delete::Delete;
pub use local::{Local, Location, StoreError};
pub use redis::{Cluster, ClusterConfig, ClusterError};
pub(crate) use say::Ticket;
pub use say::{InFlight, Say};

/// What the server keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// `None`: no history at all.
    pub location: Option<Location>,
    /// Messages kept per room; older ones are pruned.
    pub keep: u64,
    /// Messages sent on joining a room.
    pub on_join: u32,
    /// Largest size of the database file, if capped.
    pub max_bytes: Option<u64>,
    /// Messages older than this are pruned (`--history-max-age`); `None`: kept whatever
    /// their age.
    pub max_age: Option<Duration>,
}

impl HistoryConfig {
    /// How often messages past [`HistoryConfig::max_age`] are looked for: every
    /// [`EXPIRY_CHECK`], or twice per age if that is shorter. `None` without an age.
    pub fn expiry_check(&self) -> Option<Duration> {
        self.max_age.map(|age| (age / 2).clamp(MIN_EXPIRY_CHECK, EXPIRY_CHECK))
    }

    /// The time (ms since the epoch) before which messages are past their age, now.
    pub fn expired_before(&self) -> Option<u64> {
        let age = self.max_age?;
        let age = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
        Some(protocol::now_millis().saturating_sub(age))
    }
}

/// The shortest time between two looks for expired messages, whatever the age: an age of a
/// second (tests) still leaves the writer time for messages between two looks.
const MIN_EXPIRY_CHECK: Duration = Duration::from_millis(100);

impl Default for HistoryConfig {
    /// In memory: what tests and throwaway servers want.
    fn default() -> Self {
        Self {
            location: Some(Location::Memory),
            keep: crate::limits::HISTORY_KEEP,
            on_join: crate::limits::HISTORY_ON_JOIN,
            max_bytes: None,
            max_age: None,
        }
    }
}

/// A page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub messages: Vec<Stored>,
    /// The page starts at the room's first kept message.
    pub beginning: bool,
}

/// The broker's answer to a nick claim or a rename: at once (one node decides alone), or
/// later (the nodes decide together). Either way, once it is `Ok` the hub has the change.
pub enum Answer<T> {
    Now(Result<T, RequestError>),
    Later(BoxFuture<'static, Result<T, RequestError>>),
}

/// Cheap to clone: every session holds one.
#[derive(Clone)]
pub enum Broker {
    Local(Local),
    Redis(Arc<Cluster>),
}

impl Broker {
    /// One node: opens the store (creating and migrating it) and starts its writer. Fails,
    /// touching nothing, if the database cannot be used.
    pub fn local(config: HistoryConfig) -> Result<Self, StoreError> {
        Local::open(config).map(Self::Local)
    }

    /// One node of several: connects to Redis, fails if it cannot be reached or another live
    /// node has this node's id. `history` says how many messages are kept and shown on joining
    /// (its location is not used: history lives in Redis).
    pub async fn redis(nodes: ClusterConfig, history: HistoryConfig) -> Result<Self, ClusterError> {
        Cluster::connect(nodes, history).await.map(Self::Redis)
    }

    /// Where the hub's changes go beyond this node.
    pub fn elsewhere(&self) -> Box<dyn Elsewhere> {
        match self {
            Self::Local(_) => Box::new(Alone),
            Self::Redis(cluster) => Box::new(cluster.relay()),
        }
    }

    /// Starts what the backend runs beside the sessions, for `hub`; returns once clients can
    /// be taken (with several nodes: this node has shared its state and read the others').
    pub async fn start(&self, hub: &Arc<Hub>) {
        match self {
            // A single node's hub decides who may use a nick: it learns the accounts.
            Self::Local(local) => {
                match local.accounts().nicks() {
                    Ok(nicks) => hub.load_accounts(nicks),
                    Err(e) => tracing::error!(error = %e, "cannot read the accounts"),
                }
                match local.authority().all() {
                    Ok(rows) => hub.load_authority(rows),
                    Err(e) => tracing::error!(error = %e, "cannot read the rooms' settings"),
                }
                local.start();
            }
            Self::Redis(cluster) => cluster.start(hub).await,
        }
    }

    /// Stores what is queued and stops. Called once every session has ended.
    pub async fn close(&self) {
        match self {
            Self::Local(local) => local.close().await,
            Self::Redis(cluster) => cluster.close().await,
        }
    }

    pub fn config(&self) -> &HistoryConfig {
        match self {
            Self::Local(local) => local.config(),
            Self::Redis(cluster) => cluster.config(),
        }
    }

    /// On one node, the rooms whose numbers the history writer holds in memory (bounded by
    /// [`crate::limits::ROOMS_REMEMBERED`] beyond one batch's rooms).
    pub fn remembered_rooms(&self) -> Option<usize> {
        match self {
            Self::Local(local) => Some(local.remembered_rooms()),
            Self::Redis(_) => None,
        }
    }

    /// Whether messages are kept at all.
    pub fn keeps_history(&self) -> bool {
        match self {
            Self::Local(local) => local.enabled(),
            Self::Redis(_) => true,
        }
    }

    /// The first `n` rooms by name with stored messages that `skip` does not rule out, for
    /// room lists.
    pub fn quiet_rooms(&self, n: usize, skip: impl Fn(&RoomName) -> bool) -> Vec<RoomName> {
        match self {
            Self::Local(local) => local.room_set(|rooms| rooms.first(n, skip)),
            Self::Redis(cluster) => cluster.room_set(|rooms| rooms.first(n, skip)),
        }
    }

    /// The room with stored messages that `room` reads like (itself, if it has some).
    pub fn room_like(&self, room: &RoomName) -> Option<RoomName> {
        match self {
            Self::Local(local) => local.room_set(|rooms| rooms.like(room)),
            Self::Redis(cluster) => cluster.room_set(|rooms| rooms.like(room)),
        }
    }

    /// The room with stored messages whose look-alike key is `key`.
    pub fn room_by_key(&self, key: &str) -> Option<RoomName> {
        match self {
            Self::Local(local) => local.room_set(|rooms| rooms.by_key(key)),
            Self::Redis(cluster) => cluster.room_set(|rooms| rooms.by_key(key)),
        }
    }

    /// Queues a room message to be numbered, stored and then sent to the room (its echo is
    /// the sender's acknowledgement). Fails at once when the backend is too far behind.
    pub fn say(&self, say: Say) -> Result<(), RequestError> {
        match self {
            Self::Local(local) => local.say(say),
            Self::Redis(cluster) => cluster.say(say),
        }
    }

    /// Queues the deletion of a message, decided and stored in order with the room's
    /// messages; the room then gets a `deleted` event (the requester's answer), or the
    /// requester a refusal. Fails at once when the backend is too far behind.
    pub fn delete(&self, delete: Delete) -> Result<(), RequestError> {
        match self {
            Self::Local(local) => local.delete(delete),
            Self::Redis(cluster) => cluster.delete(delete),
        }
    }

    /// A page of `room`'s history: the newest `limit` messages before `before`; deleted
    /// ones are tombstones in their places.
    pub async fn page(
        &self,
        room: RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, RequestError> {
        match self {
            Self::Local(local) => local.page(room, before, limit).await,
            Self::Redis(cluster) => cluster.page(&room, before, limit).await,
        }
    }

    /// The oldest `limit` messages of `room` after sequence number `after`: what a member
    /// that fell behind missed.
    pub async fn after(
        &self,
        room: RoomName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Stored>, RequestError> {
        match self {
            Self::Local(local) => local.after(room, after, limit).await,
            Self::Redis(cluster) => cluster.after(&room, after, limit).await,
        }
    }

    /// Shares the buckets of a connection that ended with the other nodes (each node keeps
    /// its own as well, in `flood::Kept`): one node has nobody to share them with.
    pub fn keep_budget(&self, holder: &Holder, shared: impl FnOnce() -> Shared) {
        if let Self::Redis(cluster) = self {
            cluster.keep_budget(holder, shared());
        }
    }

    /// What the other nodes kept of `holder`'s budget: `None` on one node, which has it all
    /// in `flood::Kept` already.
    pub fn kept_budget(
        &self,
        holder: &Holder,
    ) -> Option<impl Future<Output = Option<Shared>> + Send + 'static> {
        match self {
            Self::Local(_) => None,
            Self::Redis(cluster) => Some(cluster.kept_budget(holder)),
        }
    }

    /// Renames `session` from `old` to `new` if `new` is free, in the broker and in `hub`.
    pub fn rename(&self, hub: &Arc<Hub>, old: &Nick, new: &Nick, session: Uuid) -> Answer<()> {
        match self {
            Self::Local(_) => Answer::Now(hub.rename(old, session, new)),
            Self::Redis(cluster) => {
                let resume = hub.resume_token(old, session).unwrap_or_default();
                let (hub, old, new) = (hub.clone(), old.clone(), new.clone());
                let renamed = cluster.rename_for(old.clone(), new.clone(), session, resume);
                Answer::Later(
                    async move {
                        renamed.await?;
                        hub.rename_granted(&old, session, &new)
                    }
                    .boxed(),
                )
            }
        }
    }
}
