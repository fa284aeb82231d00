//! The history writer of one node: it numbers messages, stores them (a batch in one
//! transaction: group commit), and only then has them sent to their rooms; then it carries
//! out the batch's deletions. What it stored is settled (indexed for search, its rooms pruned
//! by count) every [`SETTLE_AFTER`] messages, and whenever a search asks. Between batches it
//! prunes by age a step at a time, and empties the write-ahead log when a deletion left it
//! full.
//!
//! Its state ([`Writer`]) is behind a lock. The writer thread ([`Thread`]) holds it while it
//! handles whatever has queued up, and hands what it stored to the broadcaster task
//! ([`super::broadcaster`]). A message that comes while the writer is quiet and nothing is
//! ahead of it is stored and sent by its sender's thread instead ([`super::handoff`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::{RoomName, Stored, now_millis};
use tokio::sync::mpsc;
use tracing::{error, info, warn};
use uuid::Uuid;

use super::broadcaster::Delivery;
use super::checkpoint::Checkpointer;
use super::deletion::{self, Wipe};
use super::handoff::Handoff;
use super::store::{Location, Row, Store, StoreError};
use super::{Command, Inner, expiry, search};
use crate::broker::{Delete, HistoryConfig, Say, Ticket};
use crate::event::{Event, SharedEvent};
use crate::hub::RoomChannel;
use crate::limits::{
    MAX_COMMIT_BATCH, PRUNE_CHUNK, PRUNE_SLACK, ROOMS_REMEMBERED, SETTLE_AFTER, STORE_AT_ONCE_AFTER,
};
use crate::sync::lock;

/// The writer thread: it takes whatever has queued up and handles it with the writer's state.
pub(super) struct Thread {
    commands: mpsc::Receiver<Command>,
    writer: Arc<Mutex<Writer>>,
    handoff: Arc<Handoff>,
}

pub(super) struct Writer {
    /// `None` with history off, and once stopped.
    store: Option<Store>,
    /// Copies the log into a database file, off this thread; stopped after the store closes.
    checkpointer: Option<Checkpointer>,
    /// Each room's last sequence number.
    last_seq: HashMap<RoomName, u64>,
    /// Each room's first kept sequence number, once pruning has looked.
    kept_from: HashMap<RoomName, u64>,
    inner: std::sync::Weak<Inner>,
    keep: u64,
    /// Pruning by age, with `--history-max-age`.
    expiry: Option<expiry::Expiry>,
    /// Emptying the write-ahead log after deletions.
    wipe: Wipe,
    /// Where batches the thread stored go to be sent ([`super::broadcaster`]); `None` once
    /// stopped, which ends the broadcaster.
    deliveries: Option<mpsc::Sender<Delivery>>,
    /// The events of the batch at hand, in the order they are to be sent.
    out: Vec<(RoomChannel, SharedEvent)>,
    handoff: Arc<Handoff>,
    /// When messages were last stored (or failed to be).
    last_stored: Instant,
    /// Rooms of the messages stored since the last settling, and how many messages.
    unsettled: BTreeSet<RoomName>,
    unsettled_messages: usize,
    stopped: bool,
}

/// Whether a commit waits for another connection's write to the database to end.
#[derive(Clone, Copy)]
enum Wait {
    /// Up to the store's busy timeout: the writer thread, which nothing else waits on.
    ForOthers,
    /// Not at all: a runtime thread, which queues the message instead.
    Never,
}

/// Tells each sender its message was not stored (`e`) and so not sent.
fn refuse(says: &[Say], e: &StoreError) {
    error!(error = %e, messages = says.len(), "cannot store messages");
    for say in says {
        say.refuse(&e.to_string());
    }
}

impl Thread {
    pub(super) fn new(
        commands: mpsc::Receiver<Command>,
        writer: Arc<Mutex<Writer>>,
        handoff: Arc<Handoff>,
    ) -> Self {
        Self { commands, writer, handoff }
    }

    pub(super) fn run(&mut self) {
        let mut batch = Vec::with_capacity(MAX_COMMIT_BATCH);
        let mut stop = false;
        while !stop {
            // While a round of pruning by age is under way, or the log waits to be emptied,
            // a step of it between batches.
            let stepping = {
                let mut writer = lock(&self.writer);
                writer.expire_step() | writer.wipe_step()
            };
            let first = if stepping {
                match self.commands.try_recv() {
                    Ok(command) => command,
                    Err(mpsc::error::TryRecvError::Empty) => continue,
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            } else {
                let Some(first) = self.commands.blocking_recv() else { break };
                first
            };
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
                // What follows the stop is dropped unhandled, and counted as handled.
                let after = batch.drain(at..).filter(|c| c.is_queued()).count();
                self.handoff.count_handled(after);
                stop = true;
            }
            let queued = batch.iter().filter(|c| c.is_queued()).count();
            let mut writer = lock(&self.writer);
            writer.handle(&mut batch);
            // Only now, with the batch stored and handed to the broadcaster: until then a
            // message may not skip the queue ahead of it.
            self.handoff.count_handled(queued);
            if stop {
                // Under the same hold as the batch: nothing is stored at once after it.
                writer.stop();
            }
        }
        // Also when every sender went away without a stop.
        lock(&self.writer).stop();
        info!("history writer stopped");
    }
}

impl Writer {
    pub(super) fn new(
        store: Option<Store>,
        checkpointer: Option<Checkpointer>,
        deliveries: mpsc::Sender<Delivery>,
        inner: std::sync::Weak<Inner>,
        handoff: Arc<Handoff>,
        config: &HistoryConfig,
    ) -> Self {
        Self {
            store,
            checkpointer,
            last_seq: HashMap::new(),
            kept_from: HashMap::new(),
            inner,
            keep: config.keep,
            expiry: expiry::Expiry::new(config),
            wipe: Wipe::new(matches!(config.location, Some(Location::File(_)))),
            deliveries: Some(deliveries),
            out: Vec::new(),
            handoff,
            last_stored: Instant::now(),
            unsettled: BTreeSet::new(),
            unsettled_messages: 0,
            stopped: false,
        }
    }

    /// Whether a message may be stored at once: the writer has stored nothing for
    /// [`STORE_AT_ONCE_AFTER`], and is not stopped.
    pub(super) fn quiet(&self) -> bool {
        !self.stopped && self.last_stored.elapsed() >= STORE_AT_ONCE_AFTER
    }

    /// Stores `say` and sends it to its room, here and now; or, if it cannot be stored, tells
    /// its sender why. Returns whether settling is due (the thread does it on
    /// [`Command::Settle`]), or gives the message back if another connection holds the
    /// database: the caller is a runtime thread, which must not wait for it, and queues it.
    pub(super) fn say_at_once(&mut self, say: Say, ticket: Ticket) -> Result<bool, (Say, Ticket)> {
        let says = [say];
        let stored = match self.store_batch(&says, Wait::Never) {
            Ok(()) => true,
            Err(e) if e.is_busy() => {
                let [say] = says;
                return Err((say, ticket));
            }
            Err(e) => {
                refuse(&says, &e);
                false
            }
        };
        Delivery { events: std::mem::take(&mut self.out), tickets: vec![ticket] }.send();
        if stored {
            let [say] = says;
            self.stored_unsettled([say.room]);
        }
        Ok(self.settling_due())
    }

    /// Counts messages stored in `rooms` as waiting to be settled.
    fn stored_unsettled(&mut self, rooms: impl IntoIterator<Item = RoomName>) {
        if self.store.is_none() {
            return;
        }
        for room in rooms {
            self.unsettled.insert(room);
            self.unsettled_messages += 1;
        }
    }

    /// Whether [`SETTLE_AFTER`] messages wait to be settled.
    fn settling_due(&self) -> bool {
        self.unsettled_messages >= SETTLE_AFTER
    }

    /// Closes the store, then the checkpointer, and ends the broadcaster once it has sent
    /// what it holds. Messages that come later are refused.
    fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.settle();
        self.stopped = true;
        self.store = None;
        self.checkpointer = None;
        self.deliveries = None;
    }

    /// Stores the messages of a batch in one transaction, broadcasts them, carries out its
    /// deletions (after the messages: one may be among them), then answers reads.
    fn handle(&mut self, batch: &mut Vec<Command>) {
        let (mut says, mut said) = (Vec::new(), Vec::new());
        let (mut deletes, mut deleting): (Vec<Delete>, _) = (Vec::new(), Vec::new());
        let mut reads = Vec::new();
        let (mut look, mut settle) = (false, false);
        for command in batch.drain(..) {
            match command {
                Command::Say(say, ticket) => {
                    says.push(say);
                    said.push(ticket);
                }
                Command::Delete(delete, ticket) => {
                    deletes.push(delete);
                    deleting.push(ticket);
                }
                Command::Read(read) => reads.push(read),
                Command::Expire => look = true,
                Command::Settle => settle = true,
                Command::Stop => {}
            }
        }
        if look
            && let (Some(expiry), Some(store)) = (&mut self.expiry, &self.store)
            && let Err(e) = expiry.look(store.connection())
        {
            warn!(error = %e, "cannot look for messages past their age");
        }
        if !says.is_empty() {
            self.commit(says, said);
        }
        if settle {
            self.settle();
        }
        if !deletes.is_empty() {
            deletion::apply(self.store.as_mut(), &deletes, &mut self.wipe, &mut self.out);
            self.deliver(deleting);
        }
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

    /// Hands the events gathered so far, and the tickets of the messages they settle, to the
    /// broadcaster task. Only a runtime that is shutting down has no broadcaster left; nobody
    /// is listening then.
    fn deliver(&mut self, tickets: Vec<Ticket>) {
        let delivery = Delivery { events: std::mem::take(&mut self.out), tickets };
        let Some(deliveries) = &self.deliveries else { return };
        self.handoff.count_unsent();
        if deliveries.blocking_send(delivery).is_err() {
            self.handoff.count_sent();
        }
        // The members' sessions go first: on a core shared with the runtime, what the writer
        // does next (indexing, pruning) would otherwise hold back their writes.
        std::thread::yield_now();
    }

    /// Numbers and stores `says` and hands them to the broadcaster, then settles what was
    /// stored if that is due; or, if they cannot be stored, tells each sender why.
    fn commit(&mut self, says: Vec<Say>, tickets: Vec<Ticket>) {
        let stored = match self.store_batch(&says, Wait::ForOthers) {
            Ok(()) => true,
            Err(e) => {
                refuse(&says, &e);
                false
            }
        };
        self.deliver(tickets);
        if stored {
            self.stored_unsettled(says.into_iter().map(|say| say.room));
            if self.settling_due() {
                self.settle();
            }
        }
    }

    /// Numbers and stores `says` in one transaction and gathers their events in `out`. If
    /// they cannot be stored, their numbers go back.
    fn store_batch(&mut self, says: &[Say], wait: Wait) -> Result<(), StoreError> {
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
                text: Some(say.text.clone()),
                ts,
            })
            .collect();
        let result = match &mut self.store {
            Some(store) => {
                let rows: Vec<Row<'_>> = says
                    .iter()
                    .zip(&stored)
                    .map(|(say, stored)| Row { room: &say.room, stored })
                    .collect();
                crate::metrics::timed_commit(|| match wait {
                    Wait::ForOthers => store.append(&rows),
                    Wait::Never => store.append_without_waiting(&rows),
                })
            }
            None => Ok(()),
        };
        self.last_stored = Instant::now();
        if let Err(e) = result {
            for say in says {
                match before.get(&say.room) {
                    Some(seq) => self.last_seq.insert(say.room.clone(), *seq),
                    None => self.last_seq.remove(&say.room),
                };
            }
            return Err(e);
        }
        crate::metrics::messages_stored(says.len());
        if let (Some(inner), Some(_)) = (self.inner.upgrade(), &self.store) {
            let mut rooms = lock(&inner.rooms);
            for say in says {
                rooms.insert(&say.room);
            }
            // Counted for searches, which wait for it to be indexed.
            inner.broadcast.fetch_add(1, Ordering::AcqRel);
        }
        for (say, stored) in says.iter().zip(stored) {
            // Just numbered, never a tombstone.
            if let Some(message) = stored.into_message(say.room.clone()) {
                self.out.push((say.room_tx.clone(), Event::new(message)));
            }
        }
        Ok(())
    }

    /// Indexes for search the messages stored since the last time, in one transaction, then
    /// prunes their rooms. Done after their messages were sent, and for many messages at
    /// once: most of indexing's cost is per transaction, several times a message's commit.
    fn settle(&mut self) {
        // Whatever waited is taken now: a message stored at once from here on asks again.
        self.handoff.count_settled();
        let rooms = std::mem::take(&mut self.unsettled);
        self.unsettled_messages = 0;
        if rooms.is_empty() {
            return;
        }
        if let Some(store) = &self.store
            && let Err(e) = search::index(store.connection(), rooms.iter())
        {
            warn!(error = %e, "cannot index messages for search; tries again when it next settles");
            // Kept, so the next settling indexes them too, whichever rooms it is for.
            self.unsettled.extend(rooms.iter().cloned());
        }
        // Every batch numbered so far was numbered holding this state, and its rooms are
        // indexed now or were before.
        if let Some(inner) = self.inner.upgrade() {
            inner.indexed.send_replace(inner.broadcast.load(Ordering::Acquire));
        }
        self.prune(&rooms);
        self.forget_rooms_beyond(&rooms);
    }

    /// With a database, the per-room numbers are a cache of it: past [`ROOMS_REMEMBERED`]
    /// rooms, all but those just settled and those waiting to be are forgotten, and read back
    /// when next needed (one indexed query). Rooms made once and never used again leave memory.
    fn forget_rooms_beyond(&mut self, keep: &BTreeSet<RoomName>) {
        // Without a store (`--no-history`) the numbers are kept nowhere else.
        if self.store.is_none() {
            return;
        }
        // Rooms waiting to be settled are pruned by their numbers then: kept too.
        let unsettled = &self.unsettled;
        let kept = |room: &RoomName| keep.contains(room) || unsettled.contains(room);
        if self.last_seq.len() > ROOMS_REMEMBERED {
            self.last_seq.retain(|room, _| kept(room));
        }
        if self.kept_from.len() > ROOMS_REMEMBERED {
            self.kept_from.retain(|room, _| kept(room));
        }
        if let Some(inner) = self.inner.upgrade() {
            let remembered = self.last_seq.len().max(self.kept_from.len());
            inner.remembered.store(remembered, Ordering::Relaxed);
        }
    }

    /// Another try at emptying the write-ahead log, if one waits; whether it still waits.
    fn wipe_step(&mut self) -> bool {
        match &self.store {
            Some(store) if self.wipe.pending() => self.wipe.step(store.connection()),
            _ => false,
        }
    }

    /// One step of the round of pruning by age, if one is under way; whether the round
    /// goes on.
    fn expire_step(&mut self) -> bool {
        let (Some(expiry), Some(store)) = (&mut self.expiry, &mut self.store) else {
            return false;
        };
        if !expiry.pending() {
            return false;
        }
        let (stepped, pending) = (expiry.step(store), expiry.pending());
        match stepped {
            Ok(pruned) => {
                let inner = self.inner.upgrade();
                for expiry::Pruned { room, kept_from, empty } in pruned {
                    if let Some(to) = kept_from {
                        let first = self.kept_from.entry(room.clone()).or_insert(to);
                        *first = (*first).max(to);
                    }
                    if let (true, Some(inner)) = (empty, &inner) {
                        lock(&inner.rooms).remove(&room);
                    }
                }
                self.forget_rooms_beyond(&BTreeSet::new());
            }
            Err(e) => warn!(error = %e, "cannot prune messages past their age"),
        }
        pending
    }

    /// Keeps each room to its last `keep` messages, a chunk at a time, once a room is
    /// [`PRUNE_SLACK`] past it.
    fn prune(&mut self, rooms: &BTreeSet<RoomName>) {
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
