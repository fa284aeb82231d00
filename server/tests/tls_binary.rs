//! The real binary with TLS: its flags, the fingerprint it prints, SIGHUP reloading the
//! certificate, a certificate it makes for itself, and files it refuses before listening.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::tls::{TestCa, Trust, peer_certificate};
use common::{JsonClient, ServerProcess};
use protocol::{ClientMsg, RoomName, ServerMsg, Text};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// `chat-server --tls-cert --tls-key` prints the certificate's fingerprint and serves TLS;
/// SIGHUP after the files were replaced gives new connections the new certificate while an
/// open one chats on; a broken file and SIGHUP leave the one in force, and the log says why.
#[tokio::test]
async fn the_binary_serves_tls_and_reloads_it_on_sighup() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (files, first) = ca.issue(dir.path(), "server");
    let log = dir.path().join("server.log");
    let server = ServerProcess::start(
        &[
            "--db",
            ":memory:",
            "--tls-cert",
            files.cert.to_str().unwrap(),
            "--tls-key",
            files.key.to_str().unwrap(),
        ],
        std::fs::File::create(&log).unwrap().into(),
    );
    let printed = server.stdout_line();
    assert_eq!(
        printed,
        format!(
            "chat-server tls: certificate SHA-256 {}",
            protocol::fingerprint::fingerprint(&first)
        )
    );

    let early = ca.connect(server.json).await;
    assert_eq!(peer_certificate(&early), first);
    let mut early = JsonClient::over(early);
    early.hello("Early").await;
    early.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    let (renewed, second) = ca.issue(dir.path(), "renewed");
    std::fs::rename(&renewed.cert, &files.cert).unwrap();
    std::fs::rename(&renewed.key, &files.key).unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + common::WAIT;
    loop {
        let fresh = ca.connect(server.json).await;
        if peer_certificate(&fresh) == second {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    early.send(ClientMsg::Ping { token: 3 }).await;
    early.recv_until(|m| *m == ServerMsg::Pong { token: 3 }).await;
    let text = Text::parse("still here").unwrap();
    early.send(ClientMsg::Say { room: RoomName::lobby(), text }).await;
    early.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;

    std::fs::write(&files.cert, "not a certificate\n").unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + common::WAIT;
    while !std::fs::read_to_string(&log).unwrap().contains("the certificate in force stays") {
        assert!(Instant::now() < deadline, "the failed reload was not logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&files.cert.display().to_string()), "{logged}");
    let after = ca.connect(server.json).await;
    assert_eq!(peer_certificate(&after), second, "the certificate in force stays");
}

/// Files that cannot be used stop the binary at once, exit 1, with one line naming the file
/// and the reason, before it listens on any port.
#[test]
fn unusable_tls_files_stop_the_binary_before_it_listens() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = ca.issue(dir.path(), "one");
    let (two, _) = ca.issue(dir.path(), "two");
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    for (cert, key, named, reason) in [
        (&one.cert, &two.key, &one.cert, "cannot be used together"),
        (&missing, &one.key, &missing, "No such file"),
        (&garbage, &one.key, &garbage, "no certificate"),
        (&one.cert, &garbage, &garbage, "no private key"),
    ] {
        let out = ServerProcess::command()
            .args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"])
            .args(["--db", ":memory:", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty(), "it listened: {}", String::from_utf8_lossy(&out.stdout));
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(lines[0].contains(&named.display().to_string()), "{stderr}");
        assert!(lines[0].contains(reason), "{reason:?} in {stderr}");
    }
}

/// `--tls-self-signed`: the first start makes a certificate and key in the data directory,
/// readable by the owner alone, and prints the fingerprint; a client that trusts exactly that
/// certificate connects; the next start reuses it (same fingerprint).
#[tokio::test]
async fn a_self_signed_certificate_is_made_once_kept_private_and_printed() {
    let data = tempfile::tempdir().unwrap();
    let start = || {
        let mut cmd = ServerProcess::command();
        cmd.env("XDG_DATA_HOME", data.path());
        cmd.args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"]);
        cmd.args(["--db", ":memory:", "--tls-self-signed"]);
        ServerProcess::spawn(&mut cmd, Stdio::null())
    };
    let mut server = start();
    let printed = server.stdout_line();
    let dir = data.path().join("chat-server");
    for file in ["tls-cert.pem", "tls-key.pem"] {
        let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let cert = std::fs::read(dir.join("tls-cert.pem")).unwrap();
    let cert: CertificateDer<'static> = PemObject::from_pem_slice(&cert).unwrap();
    let fingerprint = protocol::fingerprint::fingerprint(&cert);
    assert_eq!(printed, format!("chat-server tls: certificate SHA-256 {fingerprint}"));

    let stream = Trust::of(cert.clone()).connect(server.json).await;
    assert_eq!(peer_certificate(&stream), cert);
    let mut c = JsonClient::over(stream);
    assert!(matches!(c.hello("Michael").await, ServerMsg::Welcome { .. }));
    server.kill();

    let again = start();
    assert_eq!(again.stdout_line(), printed, "the same certificate on the next start");
}
