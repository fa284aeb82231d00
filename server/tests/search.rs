//! `search` against a real server: SQLite's full-text index in a real file (matches newest
//! first, paged; deleted and pruned messages never found; members only; paid for), and a
//! real `redis-server` behind two nodes (the bounded scan of the room's stream).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use chat_server::HistoryConfig;
use chat_server::broker::Location;
use chat_server::limits::SEARCH_SCAN;
use common::redis::{Node, RedisServer, member};
use common::{JsonClient, PlainClient, start_server_with_history};
use protocol::{ClientMsg, ErrorCode, Label, RoomName, ServerMsg, Stored, Text};

fn search(room: &str, text: &str, before: Option<u64>, limit: u32) -> ClientMsg {
    ClientMsg::Search {
        room: RoomName::parse(room).unwrap(),
        text: Label::parse(text).unwrap(),
        before,
        limit,
    }
}

/// Says each text in lobby and waits for its echo; returns their ids and seqs.
async fn say_all(c: &mut JsonClient, texts: &[&str]) -> Vec<(uuid::Uuid, u64)> {
    let mut said = Vec::new();
    for text in texts {
        let t = Text::parse(text).unwrap();
        c.send(ClientMsg::Say { room: RoomName::lobby(), text: t }).await;
        let (m, _) = c
            .recv_until(|m| matches!(m, ServerMsg::Message { text: x, .. } if x.as_str() == *text))
            .await;
        let ServerMsg::Message { id, seq, .. } = m else { unreachable!() };
        said.push((id, seq));
    }
    said
}

/// The answer to a search: its messages' texts and whether more follow.
async fn found(c: &mut JsonClient) -> (Vec<Stored>, bool) {
    let (answer, _) = c.recv_until(|m| matches!(m, ServerMsg::Found { .. })).await;
    let ServerMsg::Found { messages, more, .. } = answer else { unreachable!() };
    (messages, more)
}

fn texts(messages: &[Stored]) -> Vec<&str> {
    messages.iter().map(Stored::text).collect()
}

/// How many messages of the database file at `db` the full-text index finds for `word`: what
/// is left of them in the index, whatever the search's own query joins it with.
fn indexed(db: &std::path::Path, word: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1", [word], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Matches come newest first with their seq, words match case-insensitively and as
/// prefixes, a page is bounded and `before` pages on; a deleted message is not found, and its
/// words leave the index.
#[tokio::test]
async fn sqlite_search_finds_words_newest_first_and_never_deleted_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let history =
        HistoryConfig { location: Some(Location::File(db.clone())), ..Default::default() };
    let server = start_server_with_history(common::info(), history).await;
    let mut m = server.join("Michael").await;
    let said = say_all(
        &mut m,
        &["The release is Friday", "lunch?", "Releases slip", "release notes, \"draft\"", "bye"],
    )
    .await;

    m.send(search("lobby", "RELEASE", None, 20)).await;
    let (hits, more) = found(&mut m).await;
    assert_eq!(
        texts(&hits),
        ["release notes, \"draft\"", "Releases slip", "The release is Friday"]
    );
    assert_eq!(hits[0].seq, said[3].1);
    assert!(!more);

    m.send(search("lobby", "rel", None, 2)).await;
    let (page, more) = found(&mut m).await;
    assert_eq!(texts(&page), ["release notes, \"draft\"", "Releases slip"]);
    assert!(more, "a third match is older");
    m.send(search("lobby", "rel", Some(page[1].seq), 2)).await;
    let (rest, more) = found(&mut m).await;
    assert_eq!(texts(&rest), ["The release is Friday"]);
    assert!(!more);

    // Unquoted, `notes:` would be a column filter and `(draft` a syntax error.
    m.send(search("lobby", "notes: (\"draft", None, 20)).await;
    let (hits, _) = found(&mut m).await;
    assert_eq!(texts(&hits), ["release notes, \"draft\""], "typed text is words, not syntax");

    assert_eq!(indexed(&db, "slip"), 1, "indexed, so the check below can fail");
    m.send(ClientMsg::Delete { room: RoomName::lobby(), id: said[2].0 }).await;
    m.recv_deleted().await;
    assert_eq!(indexed(&db, "slip"), 0, "the deleted message's words left the index");
    m.send(search("lobby", "slip", None, 20)).await;
    let (hits, _) = found(&mut m).await;
    assert!(hits.is_empty(), "a deleted message is not found: {hits:?}");
    server.shutdown().await;
}

/// Pruned messages (`--history-keep`) leave the index with their rows.
#[tokio::test]
async fn sqlite_search_does_not_find_pruned_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let history = HistoryConfig {
        location: Some(Location::File(db.clone())),
        keep: 10,
        ..HistoryConfig::default()
    };
    let server = start_server_with_history(common::info(), history).await;
    let mut m = server.join("Michael").await;
    let n = 1200;
    for i in 1..=n {
        let text = Text::parse(&format!("needle {i}")).unwrap();
        m.send(ClientMsg::Say { room: RoomName::lobby(), text }).await;
    }
    m.recv_until(|msg| matches!(msg, ServerMsg::Message { seq, .. } if *seq == n)).await;
    let kept = common::page_all(&mut m, "lobby").await;
    let oldest = kept[0].seq;
    assert!(oldest > 1, "pruned, so the check below can fail");
    // The writer indexes many messages at a time; a search has it index what waits first.
    m.send(search("lobby", "needle", None, 1)).await;
    found(&mut m).await;
    // Both counts in one read, so the writer's pruning cannot fall between them.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (in_index, rows): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'needle'),
                    (SELECT count(*) FROM messages)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(rows < i64::try_from(n).unwrap(), "pruned rows are gone: {rows}");
    assert_eq!(in_index, rows, "the index holds the kept messages alone");
    let mut before = None;
    loop {
        m.send(search("lobby", "needle", before, 20)).await;
        let (hits, more) = found(&mut m).await;
        assert!(hits.iter().all(|h| h.seq >= oldest), "a pruned message was found");
        match hits.last() {
            Some(last) if more => before = Some(last.seq),
            _ => break,
        }
    }
    server.shutdown().await;
}

/// Only members search a room; an empty text is refused; the plain port prints matches.
#[tokio::test]
async fn only_members_search_and_the_plain_port_prints_matches() {
    let server = start_server_with_history(common::info(), HistoryConfig::default()).await;
    let mut m = server.join("Michael").await;
    say_all(&mut m, &["where is the map?"]).await;
    m.send(search("rust", "map", None, 20)).await;
    assert_eq!(m.refusal_of("search").await, ErrorCode::NotInRoom);
    m.send(search("lobby", "  ", None, 20)).await;
    assert_eq!(m.refusal_of("search").await, ErrorCode::InvalidText);

    let mut p = PlainClient::login(server.plain, "Sam").await;
    p.send("/search MAP\n").await;
    assert_eq!(p.line().await, "[lobby] -- messages with \"MAP\", newest first --");
    let hit = p.line().await;
    assert!(
        hit.starts_with("[lobby] #1 ") && hit.ends_with(" Michael: where is the map?"),
        "{hit}"
    );
    assert_eq!(p.line().await, "[lobby] -- end of matches --");
    server.shutdown().await;
}

/// On the plain port `/search` alone shows the older matches of the last search, a page at a
/// time, and says so when there are none left.
#[tokio::test]
async fn the_plain_port_pages_older_matches() {
    let server = start_server_with_history(common::info(), HistoryConfig::default()).await;
    let mut m = server.join("Michael").await;
    let page = protocol::limits::MAX_SEARCH_PAGE as usize;
    let texts: Vec<String> = (1..=page + 3).map(|n| format!("map {n}")).collect();
    say_all(&mut m, &texts.iter().map(String::as_str).collect::<Vec<_>>()).await;

    let mut p = PlainClient::login(server.plain, "Sam").await;
    p.send("/search map\n").await;
    assert_eq!(p.line().await, "[lobby] -- messages with \"map\", newest first --");
    for n in (4..=page + 3).rev() {
        let hit = p.line().await;
        assert!(hit.ends_with(&format!(" Michael: map {n}")), "match {n}: {hit}");
    }
    assert_eq!(p.line().await, "[lobby] -- older matches may exist: /search alone shows them --");

    p.send("/search\n").await;
    assert_eq!(p.line().await, "[lobby] -- messages with \"map\", newest first --");
    for n in (1..=3).rev() {
        let hit = p.line().await;
        assert!(hit.starts_with(&format!("[lobby] #{n} ")), "match {n}: {hit}");
        assert!(hit.ends_with(&format!(" Michael: map {n}")), "match {n}: {hit}");
    }
    assert_eq!(p.line().await, "[lobby] -- end of matches --");

    p.send("/search\n").await;
    let refused = p.line().await;
    assert!(refused.starts_with("! No older matches to show"), "{refused}");
    server.shutdown().await;
}

/// On Redis the search scans the room's stream: a message said on one node is found from
/// another, ignoring case, as a substring, newest first; a deleted one is not.
#[tokio::test]
async fn redis_search_scans_the_stream() {
    let redis = RedisServer::start();
    let a = Node::start(&redis, "a").await;
    let b = Node::start(&redis, "b").await;
    let mut michael = member(&a, "Michael").await;
    let mut tracy = member(&b, "Tracy").await;
    let said = say_all(&mut michael, &["Map of the world", "no", "a roadMAP", "mapping"]).await;
    michael.send(ClientMsg::Delete { room: RoomName::lobby(), id: said[3].0 }).await;
    michael.recv_deleted().await;
    tracy.send(search("lobby", "map", None, 20)).await;
    let (hits, more) = found(&mut tracy).await;
    assert_eq!(texts(&hits), ["a roadMAP", "Map of the world"]);
    assert!(!more);
    tracy.send(search("lobby", "map", None, 1)).await;
    let (hits, more) = found(&mut tracy).await;
    assert_eq!((texts(&hits), more), (vec!["a roadMAP"], true));
    a.stop().await;
    b.stop().await;
}

/// On Redis a search looks at [`SEARCH_SCAN`] messages: a page that stops there with older
/// messages left says older matches may exist, and the next page, from its oldest match, goes
/// on past them.
#[tokio::test]
async fn redis_search_goes_on_past_what_one_page_looks_at() {
    let redis = RedisServer::start();
    let a = Node::start(&redis, "a").await;
    let mut michael = member(&a, "Michael").await;
    say_all(&mut michael, &["the old map", "the newer map"]).await;
    // What the stream keeps of one message, written again as filler: one look from the newest
    // map reads no further than the filler.
    let mut conn = redis.connection().await;
    let log = "chat:{lobby}:log";
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(log).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let record = entries[1].1[0].1.replace("the newer map", "filler");
    let mut pipe = redis::pipe();
    for seq in 3..SEARCH_SCAN as u64 + 2 {
        pipe.cmd("XADD").arg(log).arg(format!("{seq}-0")).arg("m").arg(&record).ignore();
    }
    let () = pipe.query_async(&mut conn).await.unwrap();
    say_all(&mut michael, &["the newest map"]).await;

    michael.send(search("lobby", "map", None, 20)).await;
    let (hits, more) = found(&mut michael).await;
    assert_eq!((texts(&hits), more), (vec!["the newest map"], true), "stopped at the cap");
    // From it: the filler and the newer map fill the next look, and the one after finds the
    // old map at the stream's start.
    michael.send(search("lobby", "map", Some(hits[0].seq), 20)).await;
    let (hits, more) = found(&mut michael).await;
    assert_eq!((texts(&hits), more), (vec!["the newer map"], true));
    michael.send(search("lobby", "map", Some(hits[0].seq), 20)).await;
    let (hits, more) = found(&mut michael).await;
    assert_eq!((texts(&hits), more), (vec!["the old map"], false), "the stream's start");
    a.stop().await;
}
