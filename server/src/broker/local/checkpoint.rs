//! The checkpointer thread of a database file: it copies the write-ahead log into the database
//! file on a connection of its own, so the writer's commits never wait for a checkpoint.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the log past its threshold,
//! on the committing connection: on whichever thread commits (the writer thread, or a session
//! storing a message at once), between storing and broadcasting, with two fsyncs. So the writer's connection has none. A write-ahead-log
//! hook on it tells this thread when the log holds [`CHECKPOINT_PAGES`], and this thread
//! checkpoints then, and every [`CHECKPOINT_EVERY`] besides. Its checkpoints are `PASSIVE`:
//! they copy what no reader still needs, never wait for the writer or a reader, and never
//! make them wait. The writer's own `TRUNCATE` after a deletion ([`super::deletion`]) may find
//! this thread checkpointing; it then tries again, as it does when a reader holds the log.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use tracing::warn;

use super::store::StoreError;
use crate::limits::{CHECKPOINT_EVERY, CHECKPOINT_PAGES};

/// The checkpointer thread; dropping it stops the thread and waits for it.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    poke: SyncSender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`, and hooks `writer` (the writing
    /// connection to the same file) so that it tells the thread when the log is long. The
    /// hook replaces the writer's automatic checkpoint.
    pub(super) fn start(writer: &mut Connection, path: &Path) -> Result<Self, StoreError> {
        Self::start_after(writer, path, None)
    }

    /// [`Checkpointer::start`], the thread doing nothing until `gate` says go (or is dropped).
    fn start_after(
        writer: &mut Connection,
        path: &Path,
        gate: Option<Receiver<()>>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        // One poke waiting is enough: the checkpoint it asks for copies the whole log.
        let (poke, pokes) = sync_channel(1);
        let stop = Arc::new(AtomicBool::new(false));
        // The writer committed since the last checkpoint.
        let dirty = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("history-checkpoint".into())
            .spawn({
                let (stop, dirty) = (stop.clone(), dirty.clone());
                move || {
                    if let Some(gate) = gate {
                        let _ = gate.recv();
                    }
                    run(&conn, &pokes, &stop, &dirty);
                }
            })
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot start the checkpointer thread: {e}"),
            })?;
        let long = poke.clone();
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            dirty.store(true, Ordering::Release);
            if pages >= CHECKPOINT_PAGES {
                let _ = long.try_send(());
            }
            Ok(())
        }))?;
        Ok(Self { stop, poke, thread: Some(thread) })
    }
}

/// Checkpoints when poked, and every [`CHECKPOINT_EVERY`] if the writer committed since the
/// last checkpoint, until `stop`.
fn run(conn: &Connection, pokes: &Receiver<()>, stop: &AtomicBool, dirty: &AtomicBool) {
    loop {
        let poked = match pokes.recv_timeout(CHECKPOINT_EVERY) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        if !dirty.swap(false, Ordering::AcqRel) && !poked {
            continue;
        }
        let copied = crate::metrics::timed_checkpoint(|| {
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))
        });
        match copied {
            Ok(_) => {}
            // The writer is emptying the log after a deletion: that copies it too.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) => {}
            Err(e) => warn!(error = %e, "cannot copy the write-ahead log into the database file"),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.poke.try_send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use super::*;

    /// A writing connection to a new WAL database file, as the store opens one.
    fn writer(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        conn
    }

    /// Commits `pages` pages' worth of rows, one commit at a time.
    fn fill(conn: &Connection, pages: i32) {
        for _ in 0..pages {
            conn.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        }
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    /// Commits that take the log past [`CHECKPOINT_PAGES`] leave it uncopied (the writer does
    /// no checkpoint of its own); the checkpointer thread, once let go, copies it into the
    /// database file.
    #[test]
    fn a_long_log_is_copied_by_the_checkpointer_not_by_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let mut conn = writer(&path);
        // Declared first, dropped last: a failing assertion lets the thread go before its
        // drop waits for it.
        let checkpointer;
        let (go, gate) = sync_channel(1);
        checkpointer = Checkpointer::start_after(&mut conn, &path, Some(gate)).unwrap();
        let before = file_len(&path);
        fill(&conn, CHECKPOINT_PAGES + 100);
        assert_eq!(file_len(&path), before, "a commit copied the log into the database file");

        go.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while file_len(&path) < before + 4000 * u64::try_from(CHECKPOINT_PAGES).unwrap() {
            assert!(Instant::now() < deadline, "the log was not copied into the database file");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(checkpointer);
    }

    /// A short log is copied too, within [`CHECKPOINT_EVERY`] of its last commit.
    #[test]
    fn a_short_log_is_copied_within_checkpoint_every() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let mut conn = writer(&path);
        let checkpointer = Checkpointer::start(&mut conn, &path).unwrap();
        let before = file_len(&path);
        fill(&conn, 10);
        let deadline = Instant::now() + CHECKPOINT_EVERY * 10;
        while file_len(&path) < before + 10 * 4000 {
            assert!(Instant::now() < deadline, "the log was not copied into the database file");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(checkpointer);
    }
}
