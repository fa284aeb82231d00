//! Start-up on unusable storage: the real binary refuses, with the path and the reason, and
//! without touching the file, a database it cannot or must not use.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chat_server::broker::Location;
use chat_server::{Broker, HistoryConfig};
use common::ServerProcess;

fn file_config(path: &Path) -> HistoryConfig {
    HistoryConfig { location: Some(Location::File(path.to_owned())), ..HistoryConfig::default() }
}

fn chat_server(db: &str) -> Command {
    let mut cmd = ServerProcess::command();
    cmd.args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--db", db]);
    cmd
}

/// Creates a current-version database at `db`, closed (its WAL folded in) when this returns.
fn create_db(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let history = Broker::local(file_config(db)).unwrap();
        history.close().await;
    });
}

/// Runs the binary on a database that must be refused: exits non-zero at once, saying the path
/// and the reason, the file unchanged.
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
    let _first = ServerProcess::start(&["--db", db.to_str().unwrap()], Stdio::null());
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
    // Readable by everyone (the server makes it 0600), writable by nobody.
    let mut perms = std::fs::metadata(&db).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o444);
    std::fs::set_permissions(&db, perms).unwrap();
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut cmd = if root {
        // nobody must be able to reach the directory and create the lock file there.
        let mut dir_perms = std::fs::metadata(dir.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut dir_perms, 0o777);
        std::fs::set_permissions(dir.path(), dir_perms).unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.env_clear();
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

/// The same database cannot be opened twice in one process either.
#[tokio::test]
async fn a_database_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let _first = Broker::local(file_config(&db)).unwrap();
    let second = Broker::local(file_config(&db)).err().expect("refused");
    assert!(second.to_string().contains("another chat-server is using this database"), "{second}");
}

/// The runtime's worker threads of a running chat-server, by their names in /proc, once there
/// are `expected` of them (a thread names itself once it runs) or 5 s have passed.
fn workers(pid: u32, expected: usize) -> usize {
    let count = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
            .filter(|name| name.trim() == "tokio-runtime-w" || name.trim() == "tokio-rt-worker")
            .count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while count() != expected && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    count()
}

/// `--worker-threads N` gives the runtime N workers; without it, one per CPU this process may
/// use (the test runs it with the test's own affinity), and a wrong `TOKIO_WORKER_THREADS`
/// in the environment is not read.
#[test]
fn the_runtime_has_one_worker_per_cpu_or_as_many_as_asked() {
    let asked = ServerProcess::start(&["--no-history", "--worker-threads", "3"], Stdio::null());
    assert_eq!(workers(asked.child.id(), 3), 3);
    let cpus = std::thread::available_parallelism().unwrap().get();
    let mut cmd = ServerProcess::command();
    cmd.args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--no-history"]);
    cmd.env("TOKIO_WORKER_THREADS", "many");
    let default = ServerProcess::spawn(&mut cmd, Stdio::null());
    assert_eq!(workers(default.child.id(), cpus), cpus);
}

/// Whether a connection's debug line ("connected", in the session's span) is logged when the
/// binary runs with `args` and `RUST_LOG` set to `rust_log` (or unset).
fn logs_debug(args: &[&str], rust_log: Option<&str>) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = ServerProcess::command();
    cmd.args(["--listen", "127.0.0.1:0", "--no-plain", "--no-history"]).args(args);
    if let Some(directives) = rust_log {
        cmd.env("RUST_LOG", directives);
    }
    let mut server = ServerProcess::spawn(&mut cmd, Stdio::from(log));
    let client = std::net::TcpStream::connect(server.json).unwrap();
    // The hello timeout is long: the line is there once the server has ended the session.
    std::thread::sleep(Duration::from_millis(300));
    drop(client);
    server.signal("TERM");
    assert!(server.wait_exit().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    log.lines().any(|l| l.contains("session{") && l.contains("DEBUG") && l.contains("connected"))
}

/// `-v` and `RUST_LOG` set the level: directives of targets and levels, and those only the
/// full filter reads (a span's name), which the server hands to it.
#[test]
fn the_log_level_follows_v_and_rust_log() {
    assert!(!logs_debug(&[], None), "debug at the default level");
    assert!(logs_debug(&["-v"], None), "-v gives no debug line");
    assert!(logs_debug(&[], Some("chat_server=debug")), "RUST_LOG of a target");
    assert!(!logs_debug(&["-v"], Some("warn")), "RUST_LOG wins over -v");
    assert!(logs_debug(&[], Some("[session]=debug")), "RUST_LOG of a span");
    assert!(!logs_debug(&["-v"], Some("[nothing]=debug")), "a span's directive is not read");
    // Read as an `EnvFilter` reads them, as before: empty directives are skipped.
    assert!(logs_debug(&[], Some("debug,")), "a trailing comma");
    assert!(!logs_debug(&["-v"], Some("")), "an empty RUST_LOG logs nothing");
}
