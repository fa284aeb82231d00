//! Full-text search of a room's messages on one node: SQLite's FTS5 index of schema 7, whose
//! rowid is `room_id << ROWID_SHIFT | seq`, so a room's matches before a `seq` are one rowid
//! range read newest first. Deleted and pruned messages are not in it.
//!
//! Stored messages are indexed after their broadcast, many in a transaction of their own
//! ([`index`]), when the writer settles them (every `SETTLE_AFTER` messages, and when a search
//! asks): the commit the members wait for stores the messages alone. Each room records the
//! last `seq` the index has seen (`rooms.indexed_through`), so what a crash left unindexed is
//! indexed at the next start ([`index_all`]). Triggers take deleted and pruned messages out.

use protocol::RoomName;
use rusqlite::{Connection, OptionalExtension, params};

use super::store::{StoreError, readable, row, to_sql};
use crate::broker::Found;

/// Bits of an index rowid that hold the message's `seq`; the room's id is above them. A room
/// would need a trillion messages, and a server eight million room names, to overflow it.
pub const ROWID_SHIFT: u32 = 40;

/// Indexes a room's (`?1`) messages stored since it was last indexed. (The `40` is
/// [`ROWID_SHIFT`].)
///
/// `(SELECT ?1)`, not `?1`: SQLite (built with STAT4) compiles a statement again at each run
/// when its parameter is compared with an indexed column, as this one would be through the
/// join, and that cost more than the indexing itself. The plan is the same.
const INDEX_ROOM: &str = "INSERT INTO messages_fts (rowid, text)
    SELECT (m.room_id << 40) | m.seq, m.text
    FROM rooms r JOIN messages m ON m.room_id = r.id AND m.seq > r.indexed_through
    WHERE r.name = (SELECT ?1) AND m.kind != 2";

/// Indexes the messages of `rooms` stored since each was last indexed, in one transaction.
pub fn index<'a>(
    conn: &Connection,
    rooms: impl IntoIterator<Item = &'a RoomName>,
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare_cached(INDEX_ROOM)?;
        let mut through = tx.prepare_cached(
            "UPDATE rooms SET indexed_through = MAX(indexed_through,
                IFNULL((SELECT MAX(seq) FROM messages WHERE room_id = rooms.id), 0))
             WHERE name = ?1",
        )?;
        for room in rooms {
            insert.execute([room.as_str()])?;
            through.execute([room.as_str()])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Indexes every room's messages stored since it was last indexed (at start-up: what a crash
/// between a commit and its indexing left out).
pub fn index_all(conn: &Connection) -> Result<(), StoreError> {
    index(conn, &super::store::rooms(conn)?)
}

/// The FTS5 query for what a person typed: every word must appear, each as written or as the
/// start of a longer word (`rel` finds "release"). Each word is quoted, so no character of
/// the text is FTS5 syntax (`"`, `*`, `NEAR`, `-`, column filters). `None`: no word at all.
pub fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        // A word of punctuation alone holds nothing the index keeps.
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The newest `limit` messages of `room` before `before` whose text matches `text`, newest
/// first, and whether older matches follow.
pub fn search(
    conn: &Connection,
    room: &RoomName,
    text: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<Found, StoreError> {
    let Some(query) = fts_query(text) else { return Ok(Found::default()) };
    let room_id: Option<i64> = conn
        .prepare_cached("SELECT id FROM rooms WHERE name = ?1")?
        .query_row([room.as_str()], |r| r.get(0))
        .optional()?;
    let Some(room_id) = room_id else { return Ok(Found::default()) };
    let low = room_id << ROWID_SHIFT;
    let seq_mask = (1i64 << ROWID_SHIFT) - 1;
    let high = low | before.map_or(seq_mask, |b| to_sql(b).clamp(0, seq_mask));
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.id, m.sender, m.kind, m.text, m.ts, m.account
         FROM messages_fts f JOIN messages m
           ON m.room_id = ?2 AND m.seq = (f.rowid & ?5)
         WHERE messages_fts MATCH ?1 AND f.rowid >= ?3 AND f.rowid < ?4
         ORDER BY f.rowid DESC LIMIT ?6",
    )?;
    // One more than asked: whether it exists says whether more follow.
    let rows =
        stmt.query_map(params![query, room_id, low, high, seq_mask, i64::from(limit) + 1], row)?;
    let mut found = Found::default();
    for r in rows {
        let r = r?;
        if found.messages.len() == limit as usize {
            found.more = true;
            break;
        }
        if let Some(stored) = readable(room, r).filter(|m| !m.is_deleted()) {
            found.messages.push(stored);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use protocol::Text;

    use super::*;
    use crate::broker::local::store::tests::stored;
    use crate::broker::local::store::{Location, Row, Store};

    fn texts(found: &Found) -> Vec<&str> {
        found.messages.iter().filter_map(|m| m.text.as_ref().map(Text::as_str)).collect()
    }

    /// Messages stored but not yet indexed when the server stopped (a crash between the
    /// commit and the indexing) are indexed when the database is opened again; a message
    /// deleted in between never is.
    #[test]
    fn what_a_crash_left_unindexed_is_indexed_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::File(dir.path().join("history.db"));
        let room = RoomName::parse("rust").unwrap();
        {
            let mut store = Store::open(&location, None).unwrap();
            let first = [stored(1, "indexed at once")];
            let rows: Vec<Row<'_>> =
                first.iter().map(|stored| Row { room: &room, stored }).collect();
            store.append(&rows).unwrap();
            index(store.connection(), [&room]).unwrap();
            let later =
                [stored(2, "stored before the crash"), stored(3, "deleted before the crash")];
            let rows: Vec<Row<'_>> =
                later.iter().map(|stored| Row { room: &room, stored }).collect();
            store.append(&rows).unwrap();
            store
                .connection()
                .execute("UPDATE messages SET text = '', kind = 2 WHERE seq = 3", [])
                .unwrap();
            assert_eq!(
                texts(&search(store.connection(), &room, "crash", None, 10).unwrap()),
                Vec::<&str>::new()
            );
        }
        let store = Store::open(&location, None).unwrap();
        let found = search(store.connection(), &room, "crash", None, 10).unwrap();
        assert_eq!(texts(&found), ["stored before the crash"]);
        let found = search(store.connection(), &room, "once", None, 10).unwrap();
        assert_eq!(texts(&found), ["indexed at once"], "indexed twice, or not at all");
    }

    /// Indexing a batch runs its statements as prepared once, not compiled again each time.
    #[test]
    fn indexing_does_not_compile_its_statements_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&Location::File(dir.path().join("history.db")), None).unwrap();
        let rooms = [RoomName::parse("rust").unwrap(), RoomName::parse("tea").unwrap()];
        for seq in 1..=10 {
            let room = &rooms[usize::from(seq % 2 == 0)];
            let one = [stored(seq, "a message")];
            let rows: Vec<Row<'_>> = one.iter().map(|stored| Row { room, stored }).collect();
            store.append(&rows).unwrap();
            index(store.connection(), [room]).unwrap();
        }
        // The cached statement the indexing ran.
        let statement = store.connection().prepare_cached(INDEX_ROOM).unwrap();
        let runs = statement.get_status(rusqlite::StatementStatus::Run);
        let compiled_again = statement.get_status(rusqlite::StatementStatus::RePrepare);
        assert_eq!(runs, 10, "the index statement ran {runs} times");
        assert_eq!(compiled_again, 0, "compiled again {compiled_again} times in {runs} runs");
    }

    /// What a person types never reaches FTS5 as syntax: each word is one quoted prefix.
    #[test]
    fn typed_text_is_quoted_words() {
        assert_eq!(fts_query("release date").as_deref(), Some("\"release\"* \"date\"*"));
        assert_eq!(
            fts_query("say \"hi\" OR -x").as_deref(),
            Some("\"say\"* \"\"\"hi\"\"\"* \"OR\"* \"-x\"*")
        );
        assert_eq!(fts_query("  ... !!"), None);
    }
}
