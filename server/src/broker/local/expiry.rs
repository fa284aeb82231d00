//! Pruning by age (`--history-max-age`) on one node, done by the writer thread between
//! batches of new messages.
//!
//! A look (every [`HistoryConfig::expiry_check`], and at start-up) starts a round over the
//! rooms with messages. Each step reads at most [`PRUNE_CHUNK`] messages from the oldest ends
//! of the rooms still to look at and deletes the old ones in one transaction; a room that may
//! have more goes back into the round. A room is cut at its first message younger than the
//! age, not filtered by time: its history stays one unbroken run of sequence numbers, which
//! pages and catch-up rely on, even if the clock was once set back.

use std::collections::VecDeque;

use protocol::RoomName;
use rusqlite::{Connection, params};

use super::store::{self, Store, StoreError};
use crate::broker::HistoryConfig;
use crate::limits::PRUNE_CHUNK;

/// The round of looks for messages past their age.
pub(super) struct Expiry {
    config: HistoryConfig,
    /// Rooms still to look at in this round.
    round: VecDeque<RoomName>,
    /// The time (ms since the epoch) before which messages are past their age, in this round.
    before: u64,
}

/// A room that one step pruned.
pub(super) struct Pruned {
    pub room: RoomName,
    /// Its first sequence number still kept (the next one it will give, if `empty`), if this
    /// step deleted anything.
    pub kept_from: Option<u64>,
    /// Every message it had is gone.
    pub empty: bool,
}

/// The oldest end of one room, as far as one step read it.
struct OldEnd {
    /// Messages read.
    read: u64,
    /// The first sequence number read, and the one after the last message past its age.
    range: Option<(u64, u64)>,
    /// A message young enough to keep was reached.
    young: bool,
}

impl Expiry {
    /// `None` unless `config` has an age.
    pub(super) fn new(config: &HistoryConfig) -> Option<Self> {
        config.max_age?;
        Some(Self { config: config.clone(), round: VecDeque::new(), before: 0 })
    }

    /// Starts a round over every room with messages, unless one is under way.
    pub(super) fn look(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if !self.round.is_empty() {
            return Ok(());
        }
        let Some(before) = self.config.expired_before() else { return Ok(()) };
        self.before = before;
        self.round = store::rooms(conn)?.into();
        Ok(())
    }

    /// Whether a round is under way.
    pub(super) fn pending(&self) -> bool {
        !self.round.is_empty()
    }

    /// Deletes, in one transaction, the messages past their age from the oldest ends of the
    /// rooms next in the round, reading at most [`PRUNE_CHUNK`] messages. A failure ends the
    /// round; the next look starts another.
    pub(super) fn step(&mut self, store: &mut Store) -> Result<Vec<Pruned>, StoreError> {
        let result = self.prune(store);
        if result.is_err() {
            self.round.clear();
        }
        result
    }

    fn prune(&mut self, store: &mut Store) -> Result<Vec<Pruned>, StoreError> {
        let tx = store.transaction()?;
        let mut budget = PRUNE_CHUNK;
        let mut pruned = Vec::new();
        while budget > 0 {
            let Some(room) = self.round.pop_front() else { break };
            let limit = budget;
            let end = old_end(&tx, &room, self.before, limit)?;
            // A room with nothing left still cost a look.
            budget = budget.saturating_sub(end.read.max(1));
            // Every message read was old, and there may be more.
            let more = !end.young && end.read == limit;
            if let Some((first, to)) = end.range {
                store::delete_range(&tx, &room, first, to)?;
            }
            if end.range.is_some() || end.read == 0 {
                let empty = !end.young && !more;
                let kept_from = end.range.map(|(_, to)| to);
                pruned.push(Pruned { room: room.clone(), kept_from, empty });
            }
            if more {
                self.round.push_back(room);
            }
        }
        tx.commit()?;
        Ok(pruned)
    }
}

/// Reads the oldest `limit` messages of `room` up to the first one sent at or after
/// `before` (ms).
fn old_end(
    conn: &Connection,
    room: &RoomName,
    before: u64,
    limit: u64,
) -> Result<OldEnd, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.ts FROM messages m
         WHERE m.room_id = (SELECT id FROM rooms WHERE name = ?1)
         ORDER BY m.seq LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![room.as_str(), limit])?;
    let mut end = OldEnd { read: 0, range: None, young: false };
    while let Some(row) = rows.next()? {
        end.read += 1;
        let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0);
        let ts = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
        if ts >= before {
            end.young = true;
            break;
        }
        let first = end.range.map_or(seq, |(first, _)| first);
        end.range = Some((first, seq + 1));
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use protocol::{MessageKind, Nick, Stored, Text};
    use uuid::Uuid;

    use super::*;
    use crate::broker::local::store::{Location, Row};

    fn message(seq: u64, ts: u64) -> Stored {
        Stored {
            id: Uuid::now_v7(),
            seq,
            from: Nick::parse("ann").unwrap(),
            account: false,
            kind: MessageKind::Say,
            text: Some(Text::parse("hi").unwrap()),
            ts,
        }
    }

    fn seqs(store: &Store, room: &RoomName) -> Vec<u64> {
        store::after(store.connection(), room, 0, u32::MAX).unwrap().iter().map(|m| m.seq).collect()
    }

    /// A round deletes each room's old messages up to its first young one, a bounded step at
    /// a time: a clock set back (an old time after a young one) leaves no hole, a room all
    /// old is emptied, and its numbering goes on after what was pruned.
    #[test]
    fn a_round_cuts_each_room_at_its_first_young_message() {
        let mut store = Store::open(&Location::Memory, None).unwrap();
        let age = Duration::from_secs(3600);
        let now = protocol::now_millis();
        let (old, young) = (now - 2 * 3_600_000, now);
        let (busy, quiet) = (RoomName::parse("busy").unwrap(), RoomName::parse("quiet").unwrap());
        let n = PRUNE_CHUNK + 10;
        let mut messages: Vec<(RoomName, Stored)> =
            (1..=n).map(|seq| (busy.clone(), message(seq, old))).collect();
        messages.push((busy.clone(), message(n + 1, young)));
        messages.push((busy.clone(), message(n + 2, old)));
        messages.extend((1..=3).map(|seq| (quiet.clone(), message(seq, old))));
        let rows: Vec<Row<'_>> =
            messages.iter().map(|(room, stored)| Row { room, stored }).collect();
        store.append(&rows).unwrap();

        let config = HistoryConfig { max_age: Some(age), ..HistoryConfig::default() };
        let mut expiry = Expiry::new(&config).unwrap();
        expiry.look(store.connection()).unwrap();
        let mut steps = 0;
        let mut emptied = Vec::new();
        while expiry.pending() {
            for pruned in expiry.step(&mut store).unwrap() {
                if pruned.empty {
                    emptied.push((pruned.room, pruned.kept_from));
                }
            }
            steps += 1;
            assert!(steps < 10, "the round never ends");
        }
        assert!(steps >= 2, "one step read more than PRUNE_CHUNK messages");
        assert_eq!(seqs(&store, &busy), [n + 1, n + 2]);
        assert_eq!(seqs(&store, &quiet), Vec::<u64>::new());
        assert_eq!(emptied, [(quiet.clone(), Some(4))]);
        assert_eq!(store.last_seq(&quiet).unwrap(), 3, "numbering goes on after the pruned");
        assert_eq!(store.last_seq(&busy).unwrap(), n + 2);
    }
}
