//! What the real binary writes to disk only its own user may open: the database, its `-wal`
//! and `-shm` files (0600), the directories it makes for them (0700), the self-signed TLS
//! certificate and key; and a database found open to others is warned of once, with the
//! command that closes it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{JsonClient, ServerProcess};
use protocol::{ClientMsg, RoomName, ServerMsg, Text};

fn mode(path: &Path) -> u32 {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    meta.permissions().mode() & 0o777
}

/// `chat-server` with nothing of the test's environment but a data directory of its own,
/// which does not exist yet.
fn server(data: &Path, args: &[&str], stderr: Stdio) -> ServerProcess {
    let mut cmd = ServerProcess::command();
    cmd.env("XDG_DATA_HOME", data)
        .args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"])
        .args(args);
    ServerProcess::spawn(&mut cmd, stderr)
}

/// Says something in lobby and waits for its echo: the database has been written.
async fn talk(server: &ServerProcess) {
    let mut client = JsonClient::connect(server.json).await;
    client.hello("Michael").await;
    client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let text = Text::parse("hello").unwrap();
    client.send(ClientMsg::Say { room: RoomName::lobby(), text }).await;
    client.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// A fresh data directory: the directories made for the database are 0700 (the data
/// directory itself too, since the server made it), and the database, its `-wal` and `-shm`
/// files 0600, while the server runs. A database made wider by hand is warned of,
/// once, with its path and the chmod to run.
#[tokio::test]
async fn the_database_and_its_directories_are_private() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let dir = data.join("chat-server");
    let db = dir.join("history.db");
    let mut running = server(&data, &[], Stdio::null());
    talk(&running).await;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for file in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    running.signal("TERM");
    assert!(running.wait_exit().success());

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log_path = home.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut running = server(&data, &[], Stdio::from(log));
    talk(&running).await;
    running.signal("TERM");
    assert!(running.wait_exit().success());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let chmod = format!("chmod 600 {}", db.display());
    assert_eq!(log.matches(&chmod).count(), 1, "one warning naming the file:\n{log}");
    assert!(log.contains("mode 0644"), "{log}");
}

/// `--tls-self-signed` in a fresh data directory: the directory it makes is 0700, the key
/// and the certificate 0600.
#[tokio::test]
async fn the_self_signed_key_and_its_directory_are_private() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let dir = data.join("chat-server");
    let running = server(&data, &["--tls-self-signed"], Stdio::null());
    assert!(running.stdout_line().contains("certificate SHA-256"));
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for file in ["tls-key.pem", "tls-cert.pem", "history.db"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
}
