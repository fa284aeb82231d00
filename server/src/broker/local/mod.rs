//! The single-node broker: every room message is stored in SQLite before anyone sees it.
//!
//! One writer owns the writing connection. It gives each message ([`Say`]) its room's next
//! sequence number, id and time, stores it, and only then sends it on its room's channel. So
//! the sender's echo, its acknowledgement, means "stored", and every member sees a room's
//! messages in sequence order. A message that comes while the writer is quiet and nothing is
//! ahead of it is stored and sent at once, on its sender's thread ([`handoff`]); otherwise it
//! queues for the writer thread, which commits whatever has queued up in one transaction
//! (group commit) and hands it to the broadcaster task, batch after batch in the order stored.
//! Reading (the backlog on join, paging) uses separate connections that never wait for the
//! writer.
//!
//! - [`writer`]: the writer's state and thread: numbers, stores, hands over, indexes, prunes.
//! - [`handoff`]: whether a message is stored at once or queues for the writer thread.
//! - [`schema`]: the tables and their migrations.
//! - [`store`]: the SQLite calls.
//! - [`expiry`]: pruning by age (`--history-max-age`), a bounded step at a time.
//! - [`broadcaster`]: the task that sends what the writer thread stored to the rooms, from
//!   the runtime.
//! - [`checkpoint`]: the checkpointer thread: the log copied into the file off the writer.
//! - [`deletion`]: deleting messages: found by id, checked, emptied; the log wiped.
//! - [`file_lock`]: one chat-server per database file.
//! - [`accounts`]: accounts and the private messages waiting for them.
//! - [`authority`]: rooms' owners, roles, modes and bans (`room_settings`).
//!
//! With history off, the writer still numbers and broadcasts messages, so the order and the
//! acknowledgement mean the same; it just stores nothing.

pub mod accounts;
pub mod authority;
mod broadcaster;
mod checkpoint;
mod deletion;
mod expiry;
mod file_lock;
mod handoff;
pub mod schema;
mod search;
pub mod store;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use protocol::{ErrorCode, RequestError, RoomName, Stored};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

pub use super::room_set::RoomSet;
use super::{Delete, HistoryConfig, Page, Say, Ticket};
use crate::limits::{BROADCAST_QUEUE, HISTORY_QUEUE, SEARCH_INDEX_WAIT};
use crate::sync::lock;
use handoff::Handoff;
use store::Store;
pub use store::{Location, StoreError};
use writer::{Thread, Writer};

enum Command {
    /// A message to store and broadcast; its ticket is dropped once that is done.
    Say(Say, Ticket),
    /// A message to delete once the messages before it are stored.
    Delete(Delete, Ticket),
    /// A read, for databases that have no separate readers (in memory): runs on the writer's
    /// connection between commits.
    Read(Box<dyn FnOnce(&Connection) + Send>),
    /// Look for messages past `--history-max-age` (sent every
    /// [`HistoryConfig::expiry_check`]).
    Expire,
    /// Index and prune what was stored (see [`writer`]): sent when `SETTLE_AFTER` messages
    /// stored at once wait ([`handoff`]), and by a search that would miss some.
    Settle,
    /// Store what came before, then stop.
    Stop,
}

impl Command {
    /// Whether it counts as queued ([`handoff::Handoff`]): a message or a deletion, which a
    /// message stored at once must not overtake.
    fn is_queued(&self) -> bool {
        matches!(self, Command::Say(..) | Command::Delete(..))
    }
}

/// The writer thread and the readers of one node's history; cheap to clone.
#[derive(Clone)]
pub struct Local {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<Command>,
    /// The writer's state: held by the writer thread while it handles a batch, and by a
    /// session storing a message at once.
    state: Arc<Mutex<Writer>>,
    /// Whether a message may be stored at once.
    handoff: Arc<Handoff>,
    accounts: accounts::LocalAccounts,
    authority: authority::LocalAuthority,
    reads: Reads,
    config: HistoryConfig,
    /// Rooms that have stored messages.
    rooms: Mutex<RoomSet>,
    /// Rooms whose numbers the writer holds in memory, as of its last batch.
    remembered: std::sync::atomic::AtomicUsize,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The broadcaster task: it ends after the writer, once it has sent the last batch.
    broadcaster: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Stored batches of messages (a message stored at once is a batch of one), counted before
    /// they are sent; not counted with history off, where there is nothing to search.
    broadcast: std::sync::atomic::AtomicU64,
    /// Batches whose messages are in the full-text index (or failed to go in): a search waits
    /// until every batch broadcast before it was asked is here.
    indexed: tokio::sync::watch::Sender<u64>,
    /// The task that asks the writer to look for expired messages, once started.
    expiry: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// How pages are read.
enum Reads {
    /// History is off: every page is empty.
    Off,
    /// In-memory databases have one connection: reads go through the writer.
    ViaWriter,
    /// Reader connections of a file database, kept for reuse.
    Pool { path: PathBuf, idle: Mutex<Vec<Connection>> },
}

impl Local {
    /// Opens the store (creating and migrating it) and starts the writer. Fails, touching
    /// nothing, if the database cannot be used.
    pub fn open(config: HistoryConfig) -> Result<Self, StoreError> {
        let mut store = match &config.location {
            Some(location) => Some(Store::open(location, config.max_bytes)?),
            None => None,
        };
        let checkpointer = match (&mut store, &config.location) {
            (Some(store), Some(Location::File(path))) => Some(store.checkpoint_elsewhere(path)?),
            _ => None,
        };
        let rooms = match &store {
            Some(store) => store::rooms(store.connection())?.into_iter().collect(),
            None => RoomSet::default(),
        };
        let reads = match &config.location {
            None => Reads::Off,
            Some(Location::Memory) => Reads::ViaWriter,
            Some(Location::File(path)) => {
                Reads::Pool { path: path.clone(), idle: Mutex::new(Vec::new()) }
            }
        };
        let accounts = accounts::LocalAccounts::open(config.location.as_ref())?;
        let authority = authority::LocalAuthority::new(accounts.connection());
        let (writer, commands) = mpsc::channel(HISTORY_QUEUE);
        let (deliveries, to_send) = mpsc::channel(BROADCAST_QUEUE);
        let handoff = Arc::new(Handoff::default());
        let inner = Arc::new_cyclic(|inner| Inner {
            writer,
            state: Arc::new(Mutex::new(Writer::new(
                store,
                checkpointer,
                deliveries,
                inner.clone(),
                handoff.clone(),
                &config,
            ))),
            handoff: handoff.clone(),
            accounts,
            authority,
            reads,
            config: config.clone(),
            rooms: Mutex::new(rooms),
            remembered: std::sync::atomic::AtomicUsize::new(0),
            thread: Mutex::new(None),
            broadcaster: Mutex::new(None),
            broadcast: std::sync::atomic::AtomicU64::new(0),
            indexed: tokio::sync::watch::Sender::new(0),
            expiry: Mutex::new(None),
        });
        *lock(&inner.broadcaster) = Some(broadcaster::spawn(to_send, handoff.clone()));
        let mut thread = Thread::new(commands, inner.state.clone(), handoff);
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || thread.run())
            .map_err(|e| StoreError::Open {
                path: PathBuf::from("history writer"),
                reason: e.to_string(),
            })?;
        *lock(&inner.thread) = Some(thread);
        Ok(Self { inner })
    }

    pub fn config(&self) -> &HistoryConfig {
        &self.inner.config
    }

    /// Starts asking the writer to prune by age, now and every
    /// [`HistoryConfig::expiry_check`], if history has an age and is stored.
    pub fn start(&self) {
        let Some(every) = self.inner.config.expiry_check() else { return };
        if self.inner.config.location.is_none() {
            return;
        }
        let writer = self.inner.writer.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if writer.send(Command::Expire).await.is_err() {
                    return;
                }
            }
        });
        *lock(&self.inner.expiry) = Some(task);
    }

    /// The accounts and the private messages waiting for them.
    pub fn accounts(&self) -> &accounts::LocalAccounts {
        &self.inner.accounts
    }

    /// The rooms' settings.
    pub fn authority(&self) -> &authority::LocalAuthority {
        &self.inner.authority
    }

    /// Whether messages are kept at all.
    pub fn enabled(&self) -> bool {
        self.inner.config.location.is_some()
    }

    /// Rooms whose numbers the history writer holds in memory, as of its last batch.
    pub fn remembered_rooms(&self) -> usize {
        self.inner.remembered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A look at the rooms with stored messages.
    pub fn room_set<T>(&self, look: impl FnOnce(&RoomSet) -> T) -> T {
        look(&lock(&self.inner.rooms))
    }

    /// Stores and broadcasts a message: at once, on this thread, if the writer is quiet and
    /// nothing is ahead of it ([`handoff`]), otherwise through the writer's queue. Fails at once
    /// if the writer is behind by [`HISTORY_QUEUE`] messages: the sender is told to try again
    /// rather than the queue growing.
    pub fn say(&self, say: Say) -> Result<(), RequestError> {
        let ticket = Ticket::new(&say);
        match self.inner.handoff.say_at_once(&self.inner, say, ticket) {
            None => Ok(()),
            Some((say, ticket)) => self.queue(Command::Say(say, ticket)),
        }
    }

    /// Queues a deletion behind the messages queued before it; refused as
    /// [`Local::say`] is.
    pub fn delete(&self, delete: Delete) -> Result<(), RequestError> {
        let ticket = Ticket::for_room(&delete.room_tx, &delete.in_flight);
        self.queue(Command::Delete(delete, ticket))
    }

    /// Queues a message or a deletion for the writer; refused as [`Local::say`] is. On
    /// failure the command, ticket and all, is dropped here.
    fn queue(&self, command: Command) -> Result<(), RequestError> {
        self.inner.handoff.count_queued();
        self.inner.writer.try_send(command).map_err(|e| {
            self.inner.handoff.count_handled(1);
            refused(e)
        })
    }

    /// A page of `room`'s history: the newest `limit` messages before `before`.
    pub async fn page(
        &self,
        room: RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, RequestError> {
        let off = Page { messages: Vec::new(), beginning: true };
        let what = room.clone();
        self.read(room, off, move |conn| store::page(conn, &what, before, limit)).await
    }

    /// The newest `limit` messages of `room` before `before` that hold `text` (the
    /// full-text index's words, each also as a prefix).
    pub async fn search(
        &self,
        room: RoomName,
        text: protocol::Label,
        before: Option<u64>,
        limit: u32,
    ) -> Result<crate::broker::Found, RequestError> {
        // What the asker has seen is found: the writer indexes what waits when asked.
        let seen = self.inner.broadcast.load(std::sync::atomic::Ordering::Acquire);
        let mut indexed = self.inner.indexed.subscribe();
        let caught_up = async {
            if *indexed.borrow_and_update() < seen && self.inner.handoff.settle_asked() {
                let _ = self.inner.writer.send(Command::Settle).await;
            }
            let _ = indexed.wait_for(|indexed| *indexed >= seen).await;
        };
        let _ = tokio::time::timeout(SEARCH_INDEX_WAIT, caught_up).await;
        let what = room.clone();
        self.read(room, crate::broker::Found::default(), move |conn| {
            search::search(conn, &what, text.as_str(), before, limit)
        })
        .await
    }

    /// The oldest `limit` messages of `room` after sequence number `after`: what a member
    /// that fell behind missed.
    pub async fn after(
        &self,
        room: RoomName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Stored>, RequestError> {
        let what = room.clone();
        self.read(room, Vec::new(), move |conn| store::after(conn, &what, after, limit)).await
    }

    /// Runs `query` on a reading connection (or, in memory, on the writer's); with history
    /// off the answer is `off`.
    async fn read<T: Send + 'static>(
        &self,
        room: RoomName,
        off: T,
        query: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, RequestError> {
        let failed = |reason: String| {
            warn!(room = %room, %reason, "cannot read history");
            RequestError::new(
                ErrorCode::StorageFailed,
                format!("cannot read the history of #{room}: {reason}"),
            )
        };
        match &self.inner.reads {
            Reads::Off => Ok(off),
            Reads::ViaWriter => {
                let (reply, answer) = oneshot::channel();
                let command = Command::Read(Box::new(move |conn| {
                    let _ = reply.send(query(conn).map_err(|e| e.to_string()));
                }));
                if self.inner.writer.send(command).await.is_err() {
                    return Err(failed("the writer has stopped".into()));
                }
                answer.await.map_err(|_| failed("the writer has stopped".into()))?.map_err(failed)
            }
            Reads::Pool { .. } => {
                let inner = self.inner.clone();
                let result = tokio::task::spawn_blocking(move || inner.on_reader(query)).await;
                match result {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(e)) => Err(failed(e.to_string())),
                    Err(e) => Err(failed(e.to_string())),
                }
            }
        }
    }

    /// Stops the writer after it has stored everything queued before, and waits for it. Called
    /// once every session has ended.
    pub async fn close(&self) {
        // Readers close first, so the writer's connection is the last one: only it can fold
        // the WAL back into the database file and remove it (read-only connections cannot).
        if let Reads::Pool { idle, .. } = &self.inner.reads {
            lock(idle).clear();
        }
        if let Some(task) = lock(&self.inner.expiry).take() {
            task.abort();
        }
        let thread = lock(&self.inner.thread).take();
        if self.inner.writer.send(Command::Stop).await.is_err() {
            warn!("the history writer had already stopped");
        }
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        let broadcaster = lock(&self.inner.broadcaster).take();
        if let Some(task) = broadcaster {
            let _ = task.await;
        }
    }
}

/// Why the writer did not take a request: it is [`HISTORY_QUEUE`] behind, or gone.
fn refused(e: mpsc::error::TrySendError<Command>) -> RequestError {
    match e {
        mpsc::error::TrySendError::Full(_) => RequestError::new(
            ErrorCode::ServerBusy,
            "the server is busy storing messages; try again",
        ),
        mpsc::error::TrySendError::Closed(_) => RequestError::new(
            ErrorCode::StorageFailed,
            "history is not available; nothing was done",
        ),
    }
}

impl Inner {
    /// Runs `query` on a pooled reading connection.
    fn on_reader<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Reads::Pool { path, idle } = &self.reads else {
            return Err(StoreError::Open {
                path: PathBuf::from(":memory:"),
                reason: "no reading connections".to_owned(),
            });
        };
        let conn = match lock(idle).pop() {
            Some(conn) => conn,
            None => Store::reader(path)?,
        };
        let answer = query(&conn);
        // A connection that failed is not kept: it may be what failed.
        if answer.is_ok() {
            lock(idle).push(conn);
        }
        answer
    }
}

#[cfg(test)]
mod tests;
