//! The single-node broker: every room message is stored in SQLite before anyone sees it.
//!
//! One writer thread owns the writing connection. Sessions hand it messages ([`Say`]); it
//! gives each its room's next sequence number, id and time, commits whatever has queued up in
//! one transaction (group commit), and only then broadcasts the messages on their rooms'
//! channels. So the sender's echo, its acknowledgement, means "stored", and every member sees
//! a room's messages in sequence order. Reading (the backlog on join, paging) uses separate
//! connections that never wait for the writer.
//!
//! - [`schema`]: the tables and their migrations.
//! - [`store`]: the SQLite calls.
//! - [`accounts`]: accounts and the private messages waiting for them.
//! - [`authority`]: rooms' owners, roles, modes and bans (`room_settings`).
//!
//! With history off, the same thread still numbers and broadcasts messages, so the order and
//! the acknowledgement mean the same; it just stores nothing.

pub mod accounts;
pub mod authority;
pub mod schema;
pub mod store;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use protocol::{ErrorCode, RequestError, RoomName, Stored, now_millis};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};
use uuid::Uuid;

pub use super::room_set::RoomSet;
use super::{HistoryConfig, Page, Say, Ticket};
use crate::event::Event;
use crate::hub::BatchRooms;
use crate::limits::{HISTORY_QUEUE, MAX_COMMIT_BATCH, PRUNE_CHUNK, PRUNE_SLACK};
use crate::sync::lock;
pub use store::{Location, StoreError};
use store::{Row, Store};

enum Command {
    /// A message to store and broadcast; its ticket is dropped once that is done.
    Say(Say, Ticket),
    /// A read, for databases that have no separate readers (in memory): runs on the writer's
    /// connection between commits.
    Read(Box<dyn FnOnce(&Connection) + Send>),
    /// Store what came before, then stop.
    Stop,
}

/// The writer thread and the readers of one node's history; cheap to clone.
#[derive(Clone)]
pub struct Local {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<Command>,
    accounts: accounts::LocalAccounts,
    authority: authority::LocalAuthority,
    reads: Reads,
    config: HistoryConfig,
    /// Rooms that have stored messages.
    rooms: Mutex<RoomSet>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        let store = match &config.location {
            Some(location) => Some(Store::open(location, config.max_bytes)?),
            None => None,
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
        let inner = Arc::new(Inner {
            writer,
            accounts,
            authority,
            reads,
            config: config.clone(),
            rooms: Mutex::new(rooms),
            thread: Mutex::new(None),
        });
        let mut worker = Writer {
            store,
            commands,
            last_seq: HashMap::new(),
            kept_from: HashMap::new(),
            inner: Arc::downgrade(&inner),
            keep: config.keep,
        };
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || worker.run())
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

    /// A look at the rooms with stored messages.
    pub fn room_set<T>(&self, look: impl FnOnce(&RoomSet) -> T) -> T {
        look(&lock(&self.inner.rooms))
    }

    /// Queues a message for storing and broadcasting. Fails at once if the writer is behind by
    /// [`HISTORY_QUEUE`] messages: the sender is told to try again rather than the queue growing.
    pub fn say(&self, say: Say) -> Result<(), RequestError> {
        let ticket = Ticket::new(&say);
        // On failure the command, ticket and all, is dropped here.
        self.inner.writer.try_send(Command::Say(say, ticket)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => RequestError::new(
                ErrorCode::ServerBusy,
                "the server is busy storing messages; try again",
            ),
            mpsc::error::TrySendError::Closed(_) => RequestError::new(
                ErrorCode::StorageFailed,
                "history is not available; message not sent",
            ),
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
        let thread = lock(&self.inner.thread).take();
        if self.inner.writer.send(Command::Stop).await.is_err() {
            warn!("the history writer had already stopped");
        }
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
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

struct Writer {
    store: Option<Store>,
    commands: mpsc::Receiver<Command>,
    /// Each room's last sequence number.
    last_seq: HashMap<RoomName, u64>,
    /// Each room's first kept sequence number, once pruning has looked.
    kept_from: HashMap<RoomName, u64>,
    inner: std::sync::Weak<Inner>,
    keep: u64,
}

impl Writer {
    fn run(&mut self) {
        let mut batch = Vec::with_capacity(MAX_COMMIT_BATCH);
        let mut stop = false;
        while !stop {
            let Some(first) = self.commands.blocking_recv() else { break };
            batch.push(first);
            // Group commit: let the sessions that were woken along with us queue their
            // messages too, so a busy room commits hundreds at once instead of one or two.
            // When nothing else is runnable this returns at once.
            std::thread::yield_now();
            while batch.len() < MAX_COMMIT_BATCH {
                match self.commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            if let Some(at) = batch.iter().position(|c| matches!(c, Command::Stop)) {
                batch.truncate(at);
                stop = true;
            }
            self.handle(&mut batch);
        }
        info!("history writer stopped");
    }

    /// Stores the messages of a batch in one transaction, broadcasts them, then answers reads.
    fn handle(&mut self, batch: &mut Vec<Command>) {
        let mut says = Vec::new();
        let mut tickets = Vec::new();
        let mut reads = Vec::new();
        for command in batch.drain(..) {
            match command {
                Command::Say(say, ticket) => {
                    says.push(say);
                    tickets.push(ticket);
                }
                Command::Read(read) => reads.push(read),
                Command::Stop => {}
            }
        }
        if !says.is_empty() {
            self.commit(says);
        }
        // Stored and broadcast, or refused: no longer on their way.
        let mut rooms = BatchRooms::default();
        for ticket in &tickets {
            rooms.add(ticket.room());
        }
        drop(tickets);
        rooms.wake_senders();
        for read in reads {
            match &self.store {
                Some(store) => read(store.connection()),
                // Reads only come through here for a database in memory; dropping the
                // request tells the reader the writer is gone.
                None => drop(read),
            }
        }
    }

    fn next_seq(&mut self, room: &RoomName) -> u64 {
        if !self.last_seq.contains_key(room) {
            let last = match &self.store {
                Some(store) => store.last_seq(room).unwrap_or_else(|e| {
                    error!(room = %room, error = %e, "cannot read the last sequence number");
                    0
                }),
                None => 0,
            };
            self.last_seq.insert(room.clone(), last);
        }
        let seq = self.last_seq.entry(room.clone()).or_default();
        *seq += 1;
        *seq
    }

    fn commit(&mut self, says: Vec<Say>) {
        let before: HashMap<RoomName, u64> = says
            .iter()
            .filter_map(|s| self.last_seq.get(&s.room).map(|seq| (s.room.clone(), *seq)))
            .collect();
        let ts = now_millis();
        let stored: Vec<Stored> = says
            .iter()
            .map(|say| Stored {
                id: Uuid::now_v7(),
                seq: self.next_seq(&say.room),
                from: say.from.clone(),
                account: say.account,
                kind: say.kind,
                text: say.text.clone(),
                ts,
            })
            .collect();
        if let Some(store) = &mut self.store {
            let rows: Vec<Row<'_>> = says
                .iter()
                .zip(&stored)
                .map(|(say, stored)| Row { room: &say.room, stored })
                .collect();
            if let Err(e) = crate::metrics::timed_commit(|| store.append(&rows)) {
                error!(error = %e, messages = says.len(), "cannot store messages");
                // Nothing was stored: the numbers go back, and each sender hears why.
                for say in &says {
                    match before.get(&say.room) {
                        Some(seq) => self.last_seq.insert(say.room.clone(), *seq),
                        None => self.last_seq.remove(&say.room),
                    };
                }
                for say in &says {
                    say.refuse(&e.to_string());
                }
                return;
            }
            if let Some(inner) = self.inner.upgrade() {
                let mut rooms = lock(&inner.rooms);
                for say in &says {
                    rooms.insert(&say.room);
                }
            }
        }
        crate::metrics::messages_stored(says.len());
        for (say, stored) in says.iter().zip(stored) {
            let event = Event::new(stored.into_message(say.room.clone()));
            say.room_tx.send(event);
        }
        self.prune(says.iter().map(|s| &s.room).collect());
    }

    /// Keeps each room to its last `keep` messages, a chunk at a time, once a room is
    /// [`PRUNE_SLACK`] past it.
    fn prune(&mut self, rooms: BTreeSet<&RoomName>) {
        let Some(store) = &mut self.store else { return };
        for room in rooms {
            let last = self.last_seq.get(room).copied().unwrap_or(0);
            let Some(keep_from) = last.checked_sub(self.keep).map(|n| n + 1) else { continue };
            let first = match self.kept_from.get(room) {
                Some(first) => *first,
                None => match store.first_seq(room) {
                    Ok(first) => first.unwrap_or(keep_from),
                    Err(e) => {
                        warn!(room = %room, error = %e, "cannot read where history starts");
                        continue;
                    }
                },
            };
            if keep_from < first + PRUNE_SLACK {
                self.kept_from.insert(room.clone(), first);
                continue;
            }
            let to = keep_from.min(first + PRUNE_CHUNK);
            match store.delete_range(room, first, to) {
                Ok(_) => {
                    self.kept_from.insert(room.clone(), to);
                }
                Err(e) => warn!(room = %room, error = %e, "cannot prune history"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use protocol::{MessageKind, Nick, Text};

    use super::*;
    use crate::broker::InFlight;
    use crate::hub::RoomChannel;
    use crate::limits::ROOM_BACKLOG_LOW;

    /// The writer wakes a room's waiting senders once it has dealt with a batch: messages it
    /// refused (a failed commit) lower the backlog with no member reading to say so.
    #[tokio::test]
    async fn the_writer_wakes_waiting_senders_after_a_batch() {
        let history =
            Local::open(HistoryConfig { location: None, ..HistoryConfig::default() }).unwrap();
        let room = RoomChannel::new();
        // Messages on their way, as if other senders' were at the writer.
        for _ in 0..ROOM_BACKLOG_LOW + 10 {
            room.queue();
        }
        let waiter = room.clone();
        let mut sender = tokio::spawn(async move { waiter.caught_up().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished());
        // They leave without anyone reading: nobody is woken yet...
        for _ in 0..20 {
            room.dequeue();
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut sender).await.is_err(),
            "woken by a lone dequeue"
        );
        // ...until the writer finishes a batch for the room.
        let (direct, _direct_rx) = mpsc::channel(1);
        history
            .say(Say {
                room: RoomName::lobby(),
                from: Nick::parse("Tracy").unwrap(),
                account: false,
                kind: MessageKind::Say,
                text: Text::parse("hi").unwrap(),
                room_tx: room.clone(),
                sender: direct,
                in_flight: Arc::new(InFlight::default()),
            })
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
        history.close().await;
    }
}
