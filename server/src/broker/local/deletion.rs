//! Deleting messages on one node, done by the writer thread after it has stored the batch's
//! messages: each message is found by its id in its room, the requester's right to delete it
//! checked, and its row emptied (kind [`MessageKind::Deleted`], no text) in one transaction
//! for the batch. The row keeps its place, so history stays one unbroken run of `seq`.
//!
//! The text then leaves the files too: `secure_delete` (set on the writing connection)
//! overwrites the freed bytes, and the write-ahead log, which still holds the page as it was,
//! is checkpointed into the database and truncated ([`Wipe`]) before the room hears
//! `deleted`.

use std::time::Duration;

use protocol::{MessageKind, Nick, RequestError, now_millis};
use rusqlite::{Connection, ErrorCode as SqliteCode, OptionalExtension, params};
use tracing::{error, warn};

use super::store::{BUSY_TIMEOUT, Store, StoreError, from_sql, kind_to_sql, to_sql};
use crate::broker::Delete;
use crate::event::SharedEvent;
use crate::hub::RoomChannel;
use crate::limits::{WIPE_RETRY, WIPE_TRIES};

/// Decides and stores `deletes`, empties the write-ahead log, then adds each room's `deleted`
/// events to `out` and tells each refused requester why. Without a store (history off) there
/// is no message to delete.
pub(super) fn apply(
    store: Option<&mut Store>,
    deletes: &[Delete],
    wipe: &mut Wipe,
    out: &mut Vec<(RoomChannel, SharedEvent)>,
) {
    let Some(store) = store else {
        for delete in deletes {
            delete.refuse(RequestError::new(
                protocol::ErrorCode::NoSuchMessage,
                "this server keeps no messages, so there is none to delete",
            ));
        }
        return;
    };
    let verdicts = match decide(store, deletes) {
        Ok(verdicts) => verdicts,
        Err(e) => {
            error!(error = %e, deletions = deletes.len(), "cannot delete messages");
            for delete in deletes {
                delete.refuse(delete.failed(&e.to_string()));
            }
            return;
        }
    };
    if verdicts.iter().any(Result::is_ok) {
        wipe.now(store.connection());
    }
    let ts = now_millis();
    for (delete, verdict) in deletes.iter().zip(verdicts) {
        match verdict {
            Ok(seq) => out.push((delete.room_tx.clone(), delete.event(seq, ts))),
            Err(refusal) => delete.refuse(refusal),
        }
    }
}

/// Each deletion's outcome, stored in one transaction: the deleted message's `seq`, or why
/// not.
fn decide(
    store: &mut Store,
    deletes: &[Delete],
) -> Result<Vec<Result<u64, RequestError>>, StoreError> {
    let tx = store.transaction()?;
    let mut verdicts = Vec::with_capacity(deletes.len());
    {
        let mut find = tx.prepare_cached(
            "SELECT m.seq, m.sender, m.account, m.kind FROM messages m
             WHERE m.id = ?1 AND m.room_id = (SELECT id FROM rooms WHERE name = ?2)",
        )?;
        let mut empty = tx.prepare_cached(
            "UPDATE messages SET text = '', kind = ?3
             WHERE room_id = (SELECT id FROM rooms WHERE name = ?1) AND seq = ?2",
        )?;
        for delete in deletes {
            let found = find
                .query_row(params![delete.id.as_bytes().as_slice(), delete.room.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            let verdict = match found {
                None => Err(delete.no_such_message()),
                Some((_, _, _, kind)) if kind == kind_to_sql(MessageKind::Deleted) => {
                    Err(delete.no_such_message())
                }
                Some((seq, sender, account, _)) => {
                    // A sender this version cannot read (written by hand): operators only.
                    let own =
                        Nick::parse(&sender).is_ok_and(|from| delete.may_delete(&from, account));
                    if own || delete.any {
                        let seq = from_sql(seq);
                        empty.execute(params![
                            delete.room.as_str(),
                            to_sql(seq),
                            kind_to_sql(MessageKind::Deleted)
                        ])?;
                        Ok(seq)
                    } else {
                        Err(delete.not_operator())
                    }
                }
            };
            verdicts.push(verdict);
        }
    }
    tx.commit()?;
    Ok(verdicts)
}

/// Empties the write-ahead log after a deletion: a checkpoint that copies every page into the
/// database file and truncates the log (`wal_checkpoint(TRUNCATE)`), so the page as it was
/// before (the text) is in neither file. A reader in the middle of a read keeps the log from
/// being emptied; the writer then tries again between batches, [`WIPE_RETRY`] apart, up to
/// [`WIPE_TRIES`] times.
pub(super) struct Wipe {
    /// The database is a file (in memory there is no log).
    file: bool,
    /// Tries left; 0: nothing to wipe.
    tries: u32,
}

impl Wipe {
    pub(super) fn new(file: bool) -> Self {
        Self { file, tries: 0 }
    }

    /// Empties the log now, or leaves it for [`Wipe::step`].
    fn now(&mut self, conn: &Connection) {
        if !self.file {
            return;
        }
        self.tries = if self.attempt(conn) { 0 } else { WIPE_TRIES };
    }

    /// Whether a wipe waits for another try.
    pub(super) fn pending(&self) -> bool {
        self.tries > 0
    }

    /// One more try, after a pause; whether another is still to come.
    pub(super) fn step(&mut self, conn: &Connection) -> bool {
        if self.tries == 0 {
            return false;
        }
        std::thread::sleep(WIPE_RETRY);
        self.tries -= 1;
        if self.attempt(conn) {
            self.tries = 0;
        } else if self.tries == 0 {
            warn!(
                "the write-ahead log could not be emptied after a deletion: a reader holds it; \
                 the next deletion tries again"
            );
        }
        self.pending()
    }

    /// One checkpoint, without waiting for readers; whether the log is empty now.
    fn attempt(&self, conn: &Connection) -> bool {
        match truncate(conn) {
            Ok(done) => done,
            Err(e) => {
                warn!(error = %e, "cannot empty the write-ahead log");
                false
            }
        }
    }
}

fn truncate(conn: &Connection) -> Result<bool, StoreError> {
    conn.busy_timeout(Duration::ZERO)?;
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(BUSY_TIMEOUT)?;
    match result {
        Ok(busy) => Ok(busy == 0),
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
