//! Room history: stored before it is sent, shown on join, paged back, kept across restarts and
//! crashes, and refused clearly when the storage is unusable.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chat_server::history::Location;
use chat_server::{History, HistoryConfig};
use common::{JsonClient, TestServer, nick, start_server_with_history};
use protocol::{ClientMsg, ErrorCode, RoomName, ServerMsg, Stored, Text};

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn say(r: &str, t: &str) -> ClientMsg {
    ClientMsg::Say { room: room(r), text: Text::parse(t).unwrap() }
}

fn file_config(path: &Path) -> HistoryConfig {
    HistoryConfig { location: Some(Location::File(path.to_owned())), ..HistoryConfig::default() }
}

async fn server_on(path: &Path) -> TestServer {
    start_server_with_history(common::info(), file_config(path)).await
}

/// Says `texts` in lobby and waits for each echo; returns the echoes' sequence numbers.
async fn say_all(c: &mut JsonClient, texts: impl IntoIterator<Item = String>) -> Vec<u64> {
    let mut seqs = Vec::new();
    for text in texts {
        c.send(say("lobby", &text)).await;
        let (echo, _) = c.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        let ServerMsg::Message { seq, text: got, .. } = echo else { unreachable!() };
        assert_eq!(got.as_str(), text);
        seqs.push(seq);
    }
    seqs
}

/// Joins lobby as `name`; returns the backlog it was shown and the client.
async fn join_with_backlog(server: &TestServer, name: &str) -> (Vec<Stored>, bool, JsonClient) {
    let mut c = JsonClient::connect(server.json).await;
    c.hello(name).await;
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, beginning, .. } = history else { unreachable!() };
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    (messages, beginning, c)
}

/// Pages back through `room` from the newest message to the first, 100 at a time.
async fn page_all(c: &mut JsonClient, r: &str) -> Vec<Stored> {
    let mut all: Vec<Stored> = Vec::new();
    let mut before = None;
    loop {
        c.send(ClientMsg::History { room: room(r), before, limit: 100 }).await;
        let (page, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
        let ServerMsg::History { messages, beginning, .. } = page else { unreachable!() };
        assert!(messages.len() <= 100);
        before = messages.first().map(|m| m.seq);
        all.splice(0..0, messages);
        if beginning {
            return all;
        }
    }
}

fn assert_contiguous(messages: &[Stored], first: u64) {
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.seq, first + i as u64, "sequence numbers have a gap or a duplicate at {i}");
    }
}

/// Joining shows the last 50 messages, oldest first, then the join, then live messages: no
/// duplicate, no gap, in order.
#[tokio::test]
async fn the_backlog_comes_first_in_order_then_live_messages() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("h.db")).await;
    let mut tracy = server.join("Tracy").await;
    let seqs = say_all(&mut tracy, (1..=60).map(|i| format!("m{i}"))).await;
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>(), "a room's messages are numbered 1, 2, 3...");

    let (backlog, beginning, mut michael) = join_with_backlog(&server, "Michael").await;
    assert_eq!(backlog.len(), 50);
    assert!(!beginning, "ten older messages exist");
    assert_contiguous(&backlog, 11);
    assert_eq!(backlog[0].text.as_str(), "m11");
    assert_eq!(backlog[49].text.as_str(), "m60");
    assert_eq!(backlog[0].from, nick("Tracy"));

    tracy.send(say("lobby", "live")).await;
    let (live, _) = michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(live, ServerMsg::Message { seq: 61, .. }), "{live:?}");
    server.shutdown().await;
}

/// Messages said while someone is joining reach them exactly once: in the backlog or live.
#[tokio::test]
async fn messages_during_a_join_arrive_once() {
    let server = common::start_server().await;
    let mut tracy = server.join("Tracy").await;
    let talker = tokio::spawn(async move {
        for i in 1..=300 {
            tracy.send(say("lobby", &format!("m{i}"))).await;
        }
        tracy.recv_until(|m| matches!(m, ServerMsg::Message { seq: 300, .. })).await;
        tracy
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (backlog, _, mut michael) = join_with_backlog(&server, "Michael").await;
    let mut seen: Vec<u64> = backlog.iter().map(|m| m.seq).collect();
    while seen.last() != Some(&300) {
        let (m, _) = michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        let ServerMsg::Message { seq, .. } = m else { unreachable!() };
        seen.push(seq);
    }
    let first = seen[0];
    assert_eq!(seen, (first..=300).collect::<Vec<_>>(), "each message once, in order, no gap");
    talker.await.unwrap();
    server.shutdown().await;
}

/// Paging back with `history` reaches the room's first message, 100 at a time, in order.
#[tokio::test]
async fn paging_back_to_the_first_message() {
    let server = common::start_server().await;
    let mut tracy = server.join("Tracy").await;
    say_all(&mut tracy, (1..=250).map(|i| format!("m{i}"))).await;
    let all = page_all(&mut tracy, "lobby").await;
    assert_eq!(all.len(), 250);
    assert_contiguous(&all, 1);
    assert_eq!(all[0].text.as_str(), "m1");
    // A limit past 100 is cut to 100.
    tracy.send(ClientMsg::History { room: room("lobby"), before: None, limit: 5000 }).await;
    let (page, _) = tracy.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    assert!(matches!(page, ServerMsg::History { ref messages, .. } if messages.len() == 100));
    server.shutdown().await;
}

/// After a restart, the rooms and their history are there again.
#[tokio::test]
async fn a_restart_keeps_rooms_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let server = server_on(&db).await;
    let mut tracy = server.join("Tracy").await;
    tracy.send(ClientMsg::Join { room: room("rust") }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    say_all(&mut tracy, ["before the restart".to_owned()]).await;
    tracy.send(say("rust", "ownership")).await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Message { room, .. } if room.as_str() == "rust"))
        .await;
    server.shutdown().await;
    assert!(
        !dir.path().join("h.db-wal").exists(),
        "a clean shutdown folds the WAL into the database file"
    );

    let server = server_on(&db).await;
    let mut c = JsonClient::connect(server.json).await;
    let ServerMsg::Welcome { rooms, .. } = c.hello("Michael").await else { panic!() };
    let names: Vec<&str> = rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["lobby", "rust"], "rooms with history are listed after a restart");
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, beginning, .. } = history else { unreachable!() };
    assert!(beginning);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.as_str(), "before the restart");
    c.send(ClientMsg::Join { room: room("rust") }).await;
    let (history, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    assert!(
        matches!(history, ServerMsg::History { ref messages, .. } if messages[0].text.as_str() == "ownership")
    );
    // Numbering goes on where it stopped.
    let seqs = say_all(&mut c, ["after".to_owned()]).await;
    assert_eq!(seqs, [2]);
    server.shutdown().await;
}

/// Many clients writing at once: every message stored once, numbered without gaps, and every
/// member sees the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("h.db")).await;
    let mut observer = server.join("Observer").await;
    let writers = 20;
    let each = 50;
    let mut clients = Vec::new();
    for w in 0..writers {
        clients.push(server.join(&format!("W{w}")).await);
    }
    let mut tasks = Vec::new();
    for (w, mut c) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            // Each writer waits for its own echo before its next message, so twenty are in
            // flight at once and every reader keeps up.
            let mut order = Vec::new();
            for i in 0..each {
                let text = format!("w{w}-{i}");
                c.send(say("lobby", &text)).await;
                loop {
                    if let ServerMsg::Message { id, text: got, .. } = c.recv().await {
                        order.push(id);
                        if got.as_str() == text {
                            break;
                        }
                    }
                }
            }
            while order.len() < writers * each {
                if let ServerMsg::Message { id, .. } = c.recv().await {
                    order.push(id);
                }
            }
            order
        }));
    }
    let mut orders = Vec::new();
    for t in tasks {
        orders.push(t.await.unwrap());
    }
    let mut seen = Vec::new();
    while seen.len() < writers * each {
        if let ServerMsg::Message { id, seq, .. } = observer.recv().await {
            seen.push((id, seq));
        }
    }
    let observer_order: Vec<_> = seen.iter().map(|(id, _)| *id).collect();
    for order in &orders {
        assert_eq!(order, &observer_order, "every member sees the same order");
    }
    let stored = page_all(&mut observer, "lobby").await;
    assert_eq!(stored.len(), writers * each);
    assert_contiguous(&stored, 1);
    let stored_ids: Vec<_> = stored.iter().map(|m| m.id).collect();
    assert_eq!(stored_ids, observer_order, "the stored order is the order everyone saw");
    server.shutdown().await;
}

/// Keeping N messages per room: older ones are deleted in the background, and paging stops at
/// the oldest kept message.
#[tokio::test]
async fn retention_keeps_the_newest_messages() {
    let config = HistoryConfig { keep: 10, ..HistoryConfig::default() };
    let server = start_server_with_history(common::info(), config).await;
    let mut tracy = server.join("Tracy").await;
    let n = 1200;
    for i in 1..=n {
        tracy.send(say("lobby", &format!("m{i}"))).await;
    }
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { seq, .. } if *seq == n)).await;
    let kept = page_all(&mut tracy, "lobby").await;
    assert!(kept.len() < 1200 - 10, "old messages were pruned: {} left", kept.len());
    assert!(kept.len() >= 10, "at least the newest 10 are kept");
    assert_eq!(kept.last().unwrap().seq, n);
    assert_contiguous(&kept, kept[0].seq);
    server.shutdown().await;
}

/// Private messages are not stored; presence is not history.
#[tokio::test]
async fn private_messages_and_presence_are_not_history() {
    let server = common::start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    tracy.send(ClientMsg::Msg { to: nick("Michael"), text: Text::parse("secret").unwrap() }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    let all = page_all(&mut michael, "lobby").await;
    assert!(all.is_empty(), "{all:?}");
    server.shutdown().await;
}

/// A database that fills up: the sender is told its message could not be stored, nothing is
/// broadcast, and the server goes on serving reads; what was stored stays readable.
#[tokio::test]
async fn a_full_database_refuses_messages_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let config = HistoryConfig { max_bytes: Some(256 * 1024), ..file_config(&db) };
    let server = start_server_with_history(common::info(), config).await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = server.join("Michael").await;
    tracy.recv().await;
    let big = "x".repeat(4000);
    let mut stored = 0;
    let error = loop {
        tracy.send(say("lobby", &big)).await;
        match tracy.recv().await {
            ServerMsg::Message { .. } => stored += 1,
            ServerMsg::Error { code, message, request, .. } => break (code, message, request),
            other => panic!("{other:?}"),
        }
        assert!(stored < 1000, "the database never filled up");
    };
    assert_eq!(error.0, ErrorCode::StorageFailed);
    assert!(error.1.contains("could not be stored"), "{}", error.1);
    assert!(error.1.contains("full"), "{}", error.1);
    assert_eq!(error.2.as_deref(), Some("say"));
    // Michael got the stored ones and not the refused one.
    let mut got = 0;
    while got < stored {
        if let ServerMsg::Message { .. } = michael.recv().await {
            got += 1;
        }
    }
    michael.assert_silent().await;
    // Reads still work, and the session goes on.
    let all = page_all(&mut michael, "lobby").await;
    assert_eq!(all.len(), stored);
    michael.send(ClientMsg::Ping { token: 1 }).await;
    assert_eq!(michael.recv().await, ServerMsg::Pong { token: 1 });
    server.shutdown().await;
    // The file is intact: it opens and holds everything that was acknowledged.
    let server = server_on(&db).await;
    let mut c = server.join("Reader").await;
    assert_eq!(page_all(&mut c, "lobby").await.len(), stored);
    server.shutdown().await;
}

/// A database written by the previous schema version is migrated at start-up, every message
/// kept.
#[tokio::test]
async fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/history-v1.db"), &db)
        .unwrap();
    let server = server_on(&db).await;
    let mut c = server.join("Reader").await;
    let lobby = page_all(&mut c, "lobby").await;
    let texts: Vec<&str> = lobby.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first message of the lobby", "waves", "你好"]);
    assert_eq!(lobby[2].from, nick("小明"));
    assert_eq!(lobby[1].kind, protocol::MessageKind::Action);
    let rust = page_all(&mut c, "rust").await;
    assert_eq!(rust.len(), 1);
    let seqs = say_all(&mut c, ["after the migration".to_owned()]).await;
    assert_eq!(seqs, [4], "numbering goes on after the migrated messages");
    server.shutdown().await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, chat_server::history::schema::VERSION);
}

/// The same database cannot be opened twice in one process either.
#[tokio::test]
async fn a_database_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let _first = History::open(file_config(&db)).unwrap();
    let second = History::open(file_config(&db)).err().expect("refused");
    assert!(second.to_string().contains("another chat-server is using this database"), "{second}");
}

// ---- the real binary: start-up refusals and a crash ----

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chat_server(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-server"));
    cmd.args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--db", db]);
    cmd.arg("--no-flood-control");
    cmd
}

/// Starts the binary and waits for its "listening" line; returns the JSON address.
fn spawn(db: &str) -> (Process, String) {
    let mut child = chat_server(db).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let json = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("json="))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (Process(child), json)
}

/// Runs the binary on a database that must be refused: exits non-zero at once, saying the path
/// and the reason, the file unchanged.
/// Creates a current-version database at `db`, closed (its WAL folded in) when this returns.
fn create_db(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let history = History::open(file_config(db)).unwrap();
        history.close().await;
    });
}

fn assert_refused(cmd: &mut Command, db: &Path, reason: &str) {
    let before = std::fs::read(db).ok();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // A server that starts anyway would run forever: give it a few seconds, then fail.
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("chat-server started on a database it should refuse ({reason})");
        }
        std::thread::sleep(Duration::from_millis(20));
        waited += Duration::from_millis(20);
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "started on a bad database: {stderr}");
    assert!(stderr.contains(&db.display().to_string()), "no path in: {stderr}");
    assert!(stderr.contains(reason), "expected {reason:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read(db).ok(), before, "the file was changed");
}

#[test]
fn a_path_that_cannot_be_created_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no/such/dir/h.db");
    assert_refused(&mut chat_server(db.to_str().unwrap()), &db, "No such file or directory");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.txt");
    std::fs::write(&db, "shopping list: milk, eggs\n".repeat(200)).unwrap();
    assert_refused(&mut chat_server(db.to_str().unwrap()), &db, "not a SQLite database");
    assert!(!dir.path().join("notes.txt.lock").exists(), "a refused start leaves nothing behind");
}

#[test]
fn a_database_of_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert_refused(
        &mut chat_server(db.to_str().unwrap()),
        &db,
        "schema version 99, newer than this chat-server",
    );
}

#[test]
fn a_database_locked_by_another_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    create_db(&db);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held (x);").unwrap();
    assert_refused(&mut chat_server(db.to_str().unwrap()), &db, "locked by another program");
    conn.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_database_used_by_another_chat_server_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let (_first, _) = spawn(db.to_str().unwrap());
    assert_refused(
        &mut chat_server(db.to_str().unwrap()),
        &db,
        "another chat-server is using this database",
    );
}

/// A read-only database. As root, file permissions do not stop writes, so the server runs as
/// the unprivileged user `nobody` there.
#[test]
fn a_read_only_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    create_db(&db);
    let mut perms = std::fs::metadata(&db).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&db, perms).unwrap();
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut cmd = if root {
        // nobody must be able to reach the directory and create the lock file there.
        let mut dir_perms = std::fs::metadata(dir.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut dir_perms, 0o777);
        std::fs::set_permissions(dir.path(), dir_perms).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_chat-server"),
        ]);
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--plain-listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ]);
        cmd
    } else {
        chat_server(db.to_str().unwrap())
    };
    assert_refused(&mut cmd, &db, "read-only");
}

/// SIGKILL in the middle of a burst: after a restart, every message that was acknowledged is
/// stored, in order, once.
#[tokio::test]
async fn a_crash_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let db = db.to_str().unwrap();
    let (mut server, json) = spawn(db);
    let mut c = JsonClient::connect(json.parse().unwrap()).await;
    c.hello("Writer").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    // Send a long burst without waiting; read acknowledgements as they come; kill the server
    // once a good number are acknowledged.
    let (mut reader, mut writer) = c.frames.into_inner().into_split();
    let burst = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for i in 0..100_000 {
            let line = format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"m{i}\"}}\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let mut buf = Vec::new();
    let mut killed = false;
    loop {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 65536];
        let n = match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut chunk)).await {
            Ok(Ok(n)) => n,
            _ => 0,
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            if let Ok(ServerMsg::Message { id, seq, .. }) =
                serde_json::from_slice::<ServerMsg>(&line)
            {
                acked.push((id, seq));
            }
        }
        if !killed && acked.len() >= 2000 {
            server.0.kill().unwrap();
            killed = true;
        }
    }
    burst.abort();
    assert!(killed && acked.len() >= 2000, "only {} acknowledged", acked.len());
    server.0.wait().unwrap();

    let (_server, json) = spawn(db);
    let mut c = JsonClient::connect(json.parse().unwrap()).await;
    c.hello("Reader").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let stored = page_all(&mut c, "lobby").await;
    assert_contiguous(&stored, 1);
    let stored_ids: HashSet<_> = stored.iter().map(|m| m.id).collect();
    assert_eq!(stored_ids.len(), stored.len(), "no duplicates");
    for (id, seq) in &acked {
        assert!(stored_ids.contains(id), "acknowledged message {seq} is missing after the crash");
        assert_eq!(stored[(*seq - 1) as usize].id, *id, "message {seq} is out of place");
    }
    eprintln!("acknowledged {} before SIGKILL; {} stored", acked.len(), stored.len());
}

/// Rooms joined in one burst are shown in the order they were asked for, however their
/// backlog reads finish: a busy room asked for first (a long read) still comes before the
/// empty ones after it, and its live events are not mixed in ahead of its backlog.
#[tokio::test]
async fn rooms_joined_in_a_burst_are_shown_in_the_order_asked() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&dir.path().join("history.db")).await;
    let mut seeder = JsonClient::connect(server.json).await;
    seeder.hello("Seeder").await;
    seeder.send(ClientMsg::Join { room: room("busy") }).await;
    seeder.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for i in 0..300 {
        seeder
            .send(say("busy", &format!("message {i} with some words to make the row longer")))
            .await;
    }
    seeder.recv_until(|m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "message 299 with some words to make the row longer")).await;

    let asked = ["busy", "a", "b", "c", "d", "e", "f", "g"];
    for n in 0..8 {
        let mut c = JsonClient::connect(server.json).await;
        c.hello(&format!("Joiner{n}")).await;
        let burst: String = asked
            .iter()
            .map(|r| serde_json::to_string(&ClientMsg::Join { room: room(r) }).unwrap() + "\n")
            .collect();
        c.send_raw(burst.as_bytes()).await;
        // The order of the rooms' member lists, which close each join.
        let mut shown = Vec::new();
        while shown.len() < asked.len() {
            if let ServerMsg::Members { room, .. } = c.recv().await
                && room != RoomName::lobby()
            {
                shown.push(room.as_str().to_owned());
            }
        }
        assert_eq!(shown, asked, "joiner {n}");
    }
}
