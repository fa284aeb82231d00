//! The database schema and its migrations.
//!
//! The schema version lives in `PRAGMA user_version`. At start-up every migration past the
//! database's version runs, each in its own transaction; a database of a newer version than
//! this program knows is refused untouched.

use rusqlite::Connection;

/// Each entry takes the database from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: one row per message, keyed by room name and the room's sequence number.
    "CREATE TABLE messages (
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id BLOB NOT NULL,
        sender TEXT NOT NULL,
        kind INTEGER NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;",
    // 2: room names stored once, in their own table; a message refers to its room by number.
    // Saves the name's bytes on every message and keeps the primary key small.
    "CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    INSERT INTO rooms (name) SELECT DISTINCT room FROM messages ORDER BY room;
    CREATE TABLE messages_v2 (
        room_id INTEGER NOT NULL REFERENCES rooms (id),
        seq INTEGER NOT NULL,
        id BLOB NOT NULL,
        sender TEXT NOT NULL,
        kind INTEGER NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO messages_v2 (room_id, seq, id, sender, kind, text, ts)
        SELECT rooms.id, seq, messages.id, sender, kind, text, ts
        FROM messages JOIN rooms ON rooms.name = messages.room;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;",
    // 3: accounts. A message records whether its sender was logged in (older ones were all
    // guests'). An account is keyed by its nick's look-alike key, so one account owns every
    // nick that looks like it; its password only as an Argon2id PHC string; its failed logins
    // as `Failures::encode` writes them. Private messages kept for an account that was away,
    // in the order they were sent (uuid v7 ids).
    "ALTER TABLE messages ADD COLUMN account INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        nick TEXT NOT NULL,
        hash TEXT NOT NULL,
        created INTEGER NOT NULL,
        failures TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE TABLE offline (
        recipient TEXT NOT NULL,
        id BLOB NOT NULL,
        sender TEXT NOT NULL,
        account INTEGER NOT NULL,
        text TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (recipient, id)
    ) WITHOUT ROWID;",
    // 4: room authority (owner, roles, topic, modes, bans, mutes, invitations), one row per
    // field as `authority::fields` writes them, by the room's scope (`#` and its look-alike
    // key; `*`: the server's own bans).
    "CREATE TABLE room_settings (
        room TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (room, field)
    ) WITHOUT ROWID;",
    // 5: the last sequence number pruned from each room, so a room whose every message was
    // pruned (by age, `--history-max-age`) goes on numbering after it, across restarts too:
    // members and clients know a room's messages by their numbers.
    "ALTER TABLE rooms ADD COLUMN pruned_through INTEGER NOT NULL DEFAULT 0;",
    // 6: messages found by id, for `delete` (a message's row is found by its uuid, which is
    // what clients know it by). A deleted message keeps its row, with kind 2 and no text.
    "CREATE INDEX messages_by_id ON messages (id);",
    // 7: full-text search (`search`). A contentless FTS5 index (the text stays in `messages`
    // alone) whose rowid is `room_id << 40 | seq` (`search::ROWID_SHIFT`), so a room's
    // matches are one rowid range, newest first. Triggers keep it in step in the same
    // transaction: a stored message is indexed, a deleted (kind 2) or pruned one leaves it;
    // `secure-delete` removes a message's words from the index at once, not at a later merge.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
    INSERT INTO messages_fts (rowid, text)
        SELECT (room_id << 40) | seq, text FROM messages WHERE kind != 2;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.kind != 2 BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES ((new.room_id << 40) | new.seq, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.kind != 2 BEGIN
        DELETE FROM messages_fts WHERE rowid = (old.room_id << 40) | old.seq;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF kind, text ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = (old.room_id << 40) | old.seq AND old.kind != 2;
        INSERT INTO messages_fts (rowid, text)
            SELECT (new.room_id << 40) | new.seq, new.text WHERE new.kind != 2;
    END;",
    // 8: stored messages are indexed after they are broadcast, in a transaction of their own
    // (`search::index`), not by a trigger inside the commit the broadcast waits for. Each room
    // records the last `seq` the index has seen; every message up to here is in it.
    "DROP TRIGGER messages_fts_insert;
    ALTER TABLE rooms ADD COLUMN indexed_through INTEGER NOT NULL DEFAULT 0;
    UPDATE rooms SET indexed_through =
        MAX(pruned_through, IFNULL((SELECT MAX(seq) FROM messages WHERE room_id = rooms.id), 0));",
];

/// The schema version this program writes.
pub const VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database is at schema version {found}, newer than this chat-server ({VERSION}); use a newer chat-server or another --db"
    )]
    TooNew { found: u32 },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The database's schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the database up to [`VERSION`]. Returns the version it started from.
pub fn migrate(conn: &mut Connection) -> Result<u32, SchemaError> {
    let found = version(conn)?;
    if found > VERSION {
        return Err(SchemaError::TooNew { found });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as u32 + 1)?;
        tx.commit()?;
    }
    Ok(found)
}
