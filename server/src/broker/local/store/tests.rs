//! The store's own tests: batches stored whole, in order, all or nothing.

#![allow(clippy::unwrap_used)]

use super::*;

/// A message of ann's (a say when `seq` is even, an action when odd), shared with the other
/// tests of the local store.
pub(in crate::broker::local) fn stored(seq: u64, text: &str) -> Stored {
    Stored {
        account: false,
        id: Uuid::now_v7(),
        seq,
        from: Nick::parse("ann").unwrap(),
        kind: if seq.is_multiple_of(2) { MessageKind::Say } else { MessageKind::Action },
        text: Some(Text::parse(text).unwrap()),
        ts: 1_700_000_000_000 + seq,
    }
}

/// A batch longer than one multi-row statement, over two rooms, with a remainder that
/// goes row by row: every row lands in its room, in order, exactly once.
#[test]
fn a_batch_over_several_statements_and_rooms_is_stored_whole() {
    let mut store = Store::open(&Location::Memory, None).unwrap();
    let (a, b) = (RoomName::parse("a").unwrap(), RoomName::parse("b").unwrap());
    let n = ROWS_PER_INSERT as u64 * 2 + 5;
    let messages: Vec<(RoomName, Stored)> = (1..=n)
        .map(|i| {
            let room = if i % 3 == 0 { b.clone() } else { a.clone() };
            (room, stored(i, &format!("message {i}")))
        })
        .collect();
    let rows: Vec<Row<'_>> = messages.iter().map(|(room, stored)| Row { room, stored }).collect();
    store.append(&rows).unwrap();
    for room in [&a, &b] {
        let page = page(store.connection(), room, None, 1000).unwrap();
        let expected: Vec<&Stored> =
            messages.iter().filter(|(r, _)| r == room).map(|(_, s)| s).collect();
        assert_eq!(page.messages.iter().collect::<Vec<_>>(), expected);
        assert!(page.beginning);
    }
}

/// One bad row (a sequence number used twice) rolls back the whole batch.
#[test]
fn a_batch_is_stored_all_or_nothing() {
    let mut store = Store::open(&Location::Memory, None).unwrap();
    let room = RoomName::parse("a").unwrap();
    let mut messages: Vec<Stored> =
        (1..=ROWS_PER_INSERT as u64 + 3).map(|i| stored(i, "x")).collect();
    messages.push(stored(2, "again"));
    let rows: Vec<Row<'_>> = messages.iter().map(|stored| Row { room: &room, stored }).collect();
    assert!(store.append(&rows).is_err());
    assert!(page(store.connection(), &room, None, 1000).unwrap().messages.is_empty());
    assert_eq!(store.last_seq(&room).unwrap(), 0);
}

/// Reading history (pages: a join's backlog, each history request; what follows a seq: a
/// member filled in, a client catching up) runs each statement as prepared once, not compiled
/// again each time, and still reads by the primary key.
#[test]
fn reading_history_does_not_compile_the_statements_again() {
    let mut store = Store::open(&Location::Memory, None).unwrap();
    let room = RoomName::parse("rust").unwrap();
    let messages: Vec<Stored> = (1..=30).map(|i| stored(i, "a message")).collect();
    let rows: Vec<Row<'_>> = messages.iter().map(|stored| Row { room: &room, stored }).collect();
    store.append(&rows).unwrap();
    for at in [25, 12, 3, 20] {
        page(store.connection(), &room, Some(at), 5).unwrap();
        after(store.connection(), &room, at, 5).unwrap();
    }
    for (sql, range) in [(PAGE, "seq<?"), (AFTER, "seq>?")] {
        let statement = store.connection().prepare_cached(sql).unwrap();
        assert_eq!(statement.get_status(rusqlite::StatementStatus::Run), 4, "{sql}");
        assert_eq!(statement.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
        let plan: Vec<String> = store
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params!["rust", 10, 5], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = format!("PRIMARY KEY (room_id=? AND {range})");
        assert!(plan.iter().any(|step| step.contains(&key)), "{sql}: {plan:?}");
    }
}
