//! The writer's transaction for a batch of messages: begun and committed with statements the
//! connection keeps prepared, as every other statement of the hot path is.
//!
//! rusqlite's `Transaction` runs `BEGIN IMMEDIATE` and `COMMIT` as new SQL each time, parsed
//! and planned anew: a few thousand instructions a message when each message commits alone.

use std::ops::Deref;

use rusqlite::Connection;

/// An open write transaction on `conn`, rolled back if dropped before [`Write::commit`]
/// succeeds (a statement failed, or the commit itself did).
pub(super) struct Write<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Write<'c> {
    /// Takes the write lock (`BEGIN IMMEDIATE`), waiting for it as the connection's busy
    /// timeout says.
    pub(super) fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    pub(super) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Write<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        // Nothing to do if SQLite already rolled back (some errors do): `ROLLBACK` then only
        // fails, which leaves the connection as it should be.
        if self.open && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
