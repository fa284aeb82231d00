//! The SQLite store: one file (or memory), WAL mode, one writing connection and any number of
//! reading ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{MessageKind, Nick, RoomName, Stored, Text};
use rusqlite::{Connection, ErrorCode as SqliteCode, OpenFlags, OptionalExtension, params};
use uuid::Uuid;

use super::file_lock::FileLock;
use super::schema::{self, SchemaError};
use crate::broker::Page;
use crate::limits::ROOMS_REMEMBERED;
use write::Write;

mod write;

/// How long a connection waits for a lock held by another before it reports the database busy.
/// At start-up, a database locked by another program is refused after this long.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

impl StoreError {
    /// Whether another connection held the database (an account or a room's settings being
    /// written): worth trying again, unlike a full disk or a broken file.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(e)
            if matches!(e.sqlite_error_code(), Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked)))
    }
}

/// Where history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A throwaway database in memory, gone when the server stops.
    Memory,
    File(PathBuf),
}

/// A storage problem, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Schema { path: PathBuf, source: SchemaError },
    #[error("{}", explain(.0))]
    Sqlite(#[from] rusqlite::Error),
}

/// Plain words for the SQLite failures people actually meet.
fn explain(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(SqliteCode::NotADatabase) => "the file is not a SQLite database".to_owned(),
        Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => {
            "the database is locked by another program".to_owned()
        }
        Some(SqliteCode::ReadOnly) => "the database is read-only".to_owned(),
        Some(SqliteCode::CannotOpen) => {
            "the file cannot be opened or created (does its directory exist, and may we write there?)"
                .to_owned()
        }
        Some(SqliteCode::DiskFull) => "the disk or the database is full".to_owned(),
        Some(SqliteCode::SystemIoFailure) => format!("input/output error ({e})"),
        _ => e.to_string(),
    }
}

/// A message to store.
pub struct Row<'a> {
    pub room: &'a RoomName,
    pub stored: &'a Stored,
}

/// Rows stored by one `INSERT` statement when a batch has that many.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT` of `n` rows (1 or [`ROWS_PER_INSERT`]).
fn insert_sql(n: usize) -> &'static str {
    static MANY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    const ONE: &str = "INSERT INTO messages (room_id, seq, id, sender, kind, text, ts, account) VALUES (?,?,?,?,?,?,?,?)";
    if n == 1 {
        return ONE;
    }
    MANY.get_or_init(|| {
        let mut sql = ONE.to_owned();
        for _ in 1..ROWS_PER_INSERT {
            sql.push_str(",(?,?,?,?,?,?,?,?)");
        }
        sql
    })
}

/// The writing connection.
pub struct Store {
    conn: Connection,
    room_ids: HashMap<RoomName, i64>,
    /// Held while the store is open: a second chat-server on the same file would number the
    /// same rooms' messages too, and their numbers would collide.
    _lock: Option<FileLock>,
}

fn path_of(location: &Location) -> PathBuf {
    match location {
        Location::Memory => PathBuf::from(":memory:"),
        Location::File(path) => path.clone(),
    }
}

/// Creates a new database file that only its owner may open (it holds password hashes and
/// private messages); SQLite gives its `-wal` and `-shm` files the same mode. An existing
/// database (and any `-wal` and `-shm` a crash left) is left as it is, with a warning if
/// others may open it.
fn create_private(file: &Path) -> Result<(), StoreError> {
    match crate::files::options().write(true).create_new(true).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let beside = |suffix: &str| {
                let mut path = file.as_os_str().to_owned();
                path.push(suffix);
                PathBuf::from(path)
            };
            let files = [file.to_owned(), beside("-wal"), beside("-shm")];
            let open = crate::files::open_to_others(&files);
            let what = "it holds password hashes, private messages and the rooms' history";
            if let Some(warning) = crate::files::warning(&open, what) {
                tracing::warn!("{warning}");
            }
            Ok(())
        }
        // SQLite explains a missing directory or a read-only one better.
        Err(_) => Ok(()),
    }
}

impl Store {
    /// Opens (creating if new) the database, checks that it can be written, and migrates it.
    /// A database that cannot be used is refused with the reason, untouched.
    pub fn open(location: &Location, max_bytes: Option<u64>) -> Result<Self, StoreError> {
        let lock = match location {
            Location::File(file) => Some(FileLock::take(file)?),
            Location::Memory => None,
        };
        let path = path_of(location);
        if let Location::File(file) = location {
            create_private(file)?;
        }
        let open_err =
            |e: rusqlite::Error| StoreError::Open { path: path.clone(), reason: explain(&e) };
        let mut conn = match location {
            Location::Memory => Connection::open_in_memory(),
            Location::File(file) => Connection::open_with_flags(
                file,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
        }
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        writes_wait(&mut conn);
        // Read before writing anything: a file that is not a database, or one from a newer
        // version, is refused without a byte changed.
        let found = schema::version(&conn).map_err(open_err)?;
        if found > schema::VERSION {
            return Err(StoreError::Schema { path, source: SchemaError::TooNew { found } });
        }
        // A file we may not write opens read-only without complaint: refuse it now, and take
        // the write lock once, so a locked database is found at start-up too, not at the first
        // message.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
            return Err(StoreError::Open { path, reason: "the database is read-only".to_owned() });
        }
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").map_err(open_err)?;
        if matches!(location, Location::File(_)) {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Open {
                    path,
                    reason: format!("cannot use WAL mode (got {mode})"),
                });
            }
            // In WAL mode, NORMAL loses no committed transaction when the process dies; only a
            // power cut can take the last few.
            conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        }
        // What is pruned (by count or by age) is overwritten, not only unlinked: a deleted
        // message is gone from the file, not left in its free pages.
        conn.pragma_update(None, "secure_delete", "ON").map_err(open_err)?;
        if let Some(bytes) = max_bytes {
            let page_size: i64 =
                conn.pragma_query_value(None, "page_size", |r| r.get(0)).map_err(open_err)?;
            let pages = (to_sql(bytes) / page_size.max(1)).max(1);
            conn.pragma_update(None, "max_page_count", pages).map_err(open_err)?;
        }
        schema::migrate(&mut conn)
            .map_err(|source| StoreError::Schema { path: path.clone(), source })?;
        super::search::index_all(&conn)?;
        let lock = lock.map(FileLock::keep);
        Ok(Self { conn, room_ids: HashMap::new(), _lock: lock })
    }

    /// A connection for reading alongside the writer (file databases only): WAL readers never
    /// block the writer, nor it them.
    pub fn reader(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Starts the checkpointer thread for this database file, and hands it the log's
    /// checkpoints in place of the writing connection's automatic ones.
    pub(super) fn checkpoint_elsewhere(
        &mut self,
        path: &Path,
    ) -> Result<super::checkpoint::Checkpointer, StoreError> {
        super::checkpoint::Checkpointer::start(&mut self.conn, path)
    }

    /// Stores `rows` as [`Store::append`] does, but fails at once (busy, [`StoreError::is_busy`])
    /// instead of waiting up to [`BUSY_TIMEOUT`] for another connection's write to end: for a
    /// commit on a runtime thread, which queues its message for the writer thread instead.
    pub fn append_without_waiting(&mut self, rows: &[Row<'_>]) -> Result<(), StoreError> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let appended = self.append(rows);
        // The rows' fate is decided; a connection left impatient only fails sooner.
        if let Err(e) = self.conn.busy_timeout(BUSY_TIMEOUT) {
            tracing::warn!(error = %e, "cannot set how long the history writer waits for the database");
        }
        appended
    }

    /// Stores `rows` in one transaction: all or none.
    pub fn append(&mut self, rows: &[Row<'_>]) -> Result<(), StoreError> {
        let tx = Write::begin(&self.conn)?;
        let mut new_ids = Vec::new();
        let mut ids = Vec::with_capacity(rows.len());
        {
            let mut insert_room =
                tx.prepare_cached("INSERT OR IGNORE INTO rooms (name) VALUES (?1)")?;
            let mut room_id = tx.prepare_cached("SELECT id FROM rooms WHERE name = ?1")?;
            for row in rows {
                let id = match self.room_ids.get(row.room) {
                    Some(id) => *id,
                    None => match new_ids.iter().find(|(name, _)| name == row.room) {
                        Some((_, id)) => *id,
                        None => {
                            insert_room.execute([row.room.as_str()])?;
                            let id: i64 = room_id.query_row([row.room.as_str()], |r| r.get(0))?;
                            new_ids.push((row.room.clone(), id));
                            id
                        }
                    },
                };
                ids.push(id);
            }
        }
        // Many rows per statement: one statement's fixed cost is shared by them all.
        let mut start = 0;
        while start < rows.len() {
            let n = if rows.len() - start >= ROWS_PER_INSERT { ROWS_PER_INSERT } else { 1 };
            let mut insert = tx.prepare_cached(insert_sql(n))?;
            let mut index = 1;
            for (row, id) in rows[start..start + n].iter().zip(&ids[start..start + n]) {
                let m = row.stored;
                insert.raw_bind_parameter(index, id)?;
                insert.raw_bind_parameter(index + 1, to_sql(m.seq))?;
                insert.raw_bind_parameter(index + 2, m.id.as_bytes().as_slice())?;
                insert.raw_bind_parameter(index + 3, m.from.as_str())?;
                insert.raw_bind_parameter(index + 4, kind_to_sql(m.kind))?;
                insert.raw_bind_parameter(index + 5, m.text.as_ref().map_or("", Text::as_str))?;
                insert.raw_bind_parameter(index + 6, to_sql(m.ts))?;
                insert.raw_bind_parameter(index + 7, m.account)?;
                index += 8;
            }
            insert.raw_execute()?;
            start += n;
        }
        tx.commit()?;
        // A cache of the rooms table, bounded like the writer's numbers: rooms used once
        // leave memory and are looked up again if they come back.
        if self.room_ids.len() > ROOMS_REMEMBERED {
            self.room_ids.clear();
        }
        // Only now: ids of a transaction that rolled back would not exist.
        self.room_ids.extend(new_ids);
        Ok(())
    }

    /// The room's last sequence number (stored or pruned), 0 for a room with no history.
    pub fn last_seq(&self, room: &RoomName) -> Result<u64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT MAX(IFNULL((SELECT MAX(seq) FROM messages WHERE room_id = rooms.id), 0), pruned_through)
                 FROM rooms WHERE name = ?1",
                [room.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(seq.map_or(0, from_sql))
    }

    /// The room's first kept sequence number, if it has any.
    pub fn first_seq(&self, room: &RoomName) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT MIN(seq) FROM messages JOIN rooms ON rooms.id = messages.room_id WHERE rooms.name = ?1",
                [room.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(seq.map(from_sql))
    }

    /// Deletes the room's messages with `from <= seq < to`, and remembers `to - 1` as pruned.
    /// The caller keeps each call small, so the writer is never away from new messages for
    /// long.
    pub fn delete_range(
        &mut self,
        room: &RoomName,
        from: u64,
        to: u64,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let deleted = delete_range(&tx, room, from, to)?;
        tx.commit()?;
        Ok(deleted)
    }

    /// A transaction on the writing connection, for pruning several rooms in one commit.
    pub fn transaction(&mut self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        Ok(self.conn.transaction()?)
    }
}

/// [`Store::delete_range`] inside the caller's transaction.
pub fn delete_range(
    conn: &Connection,
    room: &RoomName,
    from: u64,
    to: u64,
) -> Result<usize, StoreError> {
    let deleted = conn.execute(
        "DELETE FROM messages WHERE room_id = (SELECT id FROM rooms WHERE name = ?1) AND seq >= ?2 AND seq < ?3",
        params![room.as_str(), to_sql(from), to_sql(to)],
    )?;
    conn.execute(
        "UPDATE rooms SET pruned_through = MAX(pruned_through, ?2) WHERE name = ?1",
        params![room.as_str(), to_sql(to.saturating_sub(1))],
    )?;
    Ok(deleted)
}

/// Rooms with stored messages.
pub fn rooms(conn: &Connection) -> Result<Vec<RoomName>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name FROM rooms WHERE EXISTS (SELECT 1 FROM messages WHERE room_id = rooms.id)",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut rooms = Vec::new();
    for name in names {
        // A name this version would not accept (edited by hand, say) is left out, not fatal.
        if let Ok(room) = RoomName::parse(&name?) {
            rooms.push(room);
        }
    }
    Ok(rooms)
}

/// The newest `limit` messages of `room` before sequence number `before` (or the newest of
/// all), oldest first.
/// The newest messages of a room (`?1`) before a `seq` (`?2`), at most `?3`. Each parameter
/// is a scalar subquery: SQLite (built with STAT4) compiles a statement again at each run
/// when a bare parameter is compared with an indexed column or is a `LIMIT`, which cost more
/// than reading the page. The plan is the same.
const PAGE: &str = "SELECT m.seq, m.id, m.sender, m.kind, m.text, m.ts, m.account
    FROM messages m JOIN rooms r ON r.id = m.room_id
    WHERE r.name = (SELECT ?1) AND m.seq < (SELECT ?2)
    ORDER BY m.seq DESC LIMIT (SELECT ?3)";

pub fn page(
    conn: &Connection,
    room: &RoomName,
    before: Option<u64>,
    limit: u32,
) -> Result<Page, StoreError> {
    let mut stmt = conn.prepare_cached(PAGE)?;
    let before = before.map_or(i64::MAX, to_sql);
    // One more than asked: whether it exists says whether this page is the beginning.
    let rows = stmt.query_map(params![room.as_str(), before, i64::from(limit) + 1], row)?;
    let mut messages = Vec::new();
    let mut beginning = true;
    for r in rows {
        let r = r?;
        if messages.len() == limit as usize {
            beginning = false;
            break;
        }
        if let Some(stored) = readable(room, r) {
            messages.push(stored);
        }
    }
    messages.reverse();
    Ok(Page { messages, beginning })
}

/// The oldest messages of a room (`?1`) after a `seq` (`?2`), at most `?3`; its parameters are
/// scalar subqueries for the reason [`PAGE`]'s are.
const AFTER: &str = "SELECT m.seq, m.id, m.sender, m.kind, m.text, m.ts, m.account
    FROM messages m JOIN rooms r ON r.id = m.room_id
    WHERE r.name = (SELECT ?1) AND m.seq > (SELECT ?2)
    ORDER BY m.seq LIMIT (SELECT ?3)";

/// The oldest `limit` messages of `room` after sequence number `after`, oldest first.
pub fn after(
    conn: &Connection,
    room: &RoomName,
    after: u64,
    limit: u32,
) -> Result<Vec<Stored>, StoreError> {
    let mut stmt = conn.prepare_cached(AFTER)?;
    let rows = stmt.query_map(params![room.as_str(), to_sql(after), i64::from(limit)], row)?;
    let mut messages = Vec::new();
    for r in rows {
        if let Some(stored) = readable(room, r?) {
            messages.push(stored);
        }
    }
    Ok(messages)
}

pub(super) type RawRow = (i64, Vec<u8>, String, i64, String, i64, bool);

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

/// A stored row as a message; rows this version cannot read (written by hand, say) are
/// skipped with a warning, not fatal.
pub(super) fn readable(
    room: &RoomName,
    (seq, id, sender, kind, text, ts, account): RawRow,
) -> Option<Stored> {
    let stored = (|| {
        let kind = kind_from_sql(kind)?;
        // A deleted message's row keeps its place, with no text.
        let text = match kind {
            MessageKind::Deleted => None,
            MessageKind::Say | MessageKind::Action => Some(Text::parse(&text).ok()?),
        };
        Some(Stored {
            id: Uuid::from_slice(&id).ok()?,
            seq: from_sql(seq),
            from: Nick::parse(&sender).ok()?,
            account,
            kind,
            text,
            ts: from_sql(ts),
        })
    })();
    if stored.is_none() {
        tracing::warn!(room = %room, seq, "skipping an unreadable stored message");
    }
    stored
}

pub(super) fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) fn kind_to_sql(kind: MessageKind) -> i64 {
    match kind {
        MessageKind::Say => 0,
        MessageKind::Action => 1,
        MessageKind::Deleted => 2,
    }
}

fn kind_from_sql(kind: i64) -> Option<MessageKind> {
    match kind {
        0 => Some(MessageKind::Say),
        1 => Some(MessageKind::Action),
        2 => Some(MessageKind::Deleted),
        _ => None,
    }
}

#[cfg(test)]
pub(super) mod tests;

/// Makes `conn`'s transactions take the write lock when they begin (`BEGIN IMMEDIATE`), where
/// the busy timeout waits for another connection's write to end. A deferred transaction that
/// reads first and then writes would instead fail at once with `SQLITE_BUSY` whenever the
/// other writing connection (history's, or the accounts') held the lock at that moment: SQLite
/// does not wait there, since waiting could deadlock.
pub(super) fn writes_wait(conn: &mut Connection) {
    conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
}
