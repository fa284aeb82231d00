//! TLS on both ports, with certificates made in the test: real handshakes, chat over them,
//! clients that do not speak TLS told so and closed quickly, a certificate replaced while
//! connections carry on, and bad files refused with the path and the reason.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_server::limits::TLS_FIRST_BYTE;
use chat_server::tls::{Tls, TlsError, TlsFiles};
use common::tls::{TestCa, peer_certificate};
use common::{JsonClient, PlainClient, start_tls_server};
use protocol::{ByeCode, ClientMsg, RoomName, ServerMsg, Text};
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn say(text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(text).unwrap() }
}

/// A CA, a certificate it signed in a fresh directory, and TLS loaded from it.
fn tls_setup() -> (TestCa, tempfile::TempDir, TlsFiles, Arc<Tls>) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = ca.issue(dir.path(), "server");
    let tls = Arc::new(Tls::load(files.clone()).unwrap());
    (ca, dir, files, tls)
}

/// A JSON client over TLS that said hello as `nick` and saw its lobby.
async fn json_member(
    ca: &TestCa,
    addr: std::net::SocketAddr,
    nick: &str,
) -> JsonClient<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut c = JsonClient::over(ca.connect(addr).await);
    assert!(matches!(c.hello(nick).await, ServerMsg::Welcome { .. }));
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    c
}

/// Both ports speak TLS: a JSON client and an `openssl s_client`-like plain client, each
/// over a verified handshake, chat with each other; the certificate shown is the one loaded.
#[tokio::test]
async fn both_ports_speak_tls_and_the_chat_works_over_it() {
    let (ca, _dir, files, tls) = tls_setup();
    let server = start_tls_server(tls.clone()).await;
    let mut michael = json_member(&ca, server.json, "Michael").await;
    let stream = ca.connect(server.plain).await;
    let shown = peer_certificate(&stream);
    let mut guest = PlainClient::over(stream).log_in("Guest").await;
    michael.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;

    michael.send(say("hello over TLS")).await;
    assert_eq!(guest.line().await, "[lobby] Michael: hello over TLS");
    guest.send("and back\n").await;
    let (msg, _) = michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    let (msg, _) = match msg {
        ServerMsg::Message { ref text, .. } if text.as_str() == "hello over TLS" => {
            michael.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await
        }
        other => (other, Vec::new()),
    };
    assert!(matches!(msg, ServerMsg::Message { text, .. } if text.as_str() == "and back"));

    let loaded = std::fs::read(&files.cert).unwrap();
    let loaded = rustls::pki_types::CertificateDer::from_pem_slice(&loaded).unwrap();
    assert_eq!(shown, loaded);
    assert_eq!(tls.fingerprint(), protocol::fingerprint::fingerprint(&loaded));
    server.shutdown().await;
}

/// Much more than one TLS record or one socket buffer, both ways, to a member that stops
/// reading for a while: it gets every message, in order (the session drives TLS by
/// readiness; plaintext left in the TLS layer must not be forgotten, nor encrypted bytes
/// left unsent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_and_many_messages_cross_tls_intact() {
    let (ca, _dir, _files, tls) = tls_setup();
    let server = start_tls_server(tls).await;
    let mut talker = json_member(&ca, server.json, "Talker").await;
    // Reads nothing until the talker is done; a small receive buffer fills sooner, so the
    // server's writes to it wait, then its session lets go of the room and fills it in.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.json).await.unwrap();
    let mut sleeper = JsonClient::over(ca.connect_on(tcp).await);
    assert!(matches!(sleeper.hello("Sleeper").await, ServerMsg::Welcome { .. }));
    sleeper.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    talker.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    let text = "x".repeat(4000);
    // More than a room's channel holds, and than the kernel's buffers.
    let total = 3000u64;
    // In big writes: many TLS records arrive at once. The talker reads its echoes as it
    // goes, so it is never the one that falls behind.
    let mut echoes = 0;
    for batch in 0..total / 100 {
        let lines: String = (batch * 100..(batch + 1) * 100)
            .map(|i| serde_json::to_string(&say(&format!("{i} {text}"))).unwrap() + "\n")
            .collect();
        talker.send_raw(lines.as_bytes()).await;
        while echoes < (batch + 1) * 100 {
            if let ServerMsg::Message { .. } = talker.recv().await {
                echoes += 1;
            }
        }
    }
    // The sleeper reads only now: everything, in order.
    let mut seen = Vec::new();
    while seen.len() < total as usize {
        if let ServerMsg::Message { seq, text: got, .. } = sleeper.recv().await {
            assert!(got.as_str().ends_with(&text));
            seen.push(seq);
        }
    }
    let first = seen[0];
    assert_eq!(seen, (first..first + total).collect::<Vec<_>>());
    server.shutdown().await;
}

/// A client that does not speak TLS on a TLS port is told so in clear text, in its own
/// dialect, and closed at once; one that says nothing is closed within [`TLS_FIRST_BYTE`].
/// TLS members notice nothing.
#[tokio::test]
async fn plain_text_on_a_tls_port_is_told_and_closed_quickly() {
    let (ca, _dir, _files, tls) = tls_setup();
    let server = start_tls_server(tls).await;
    let mut member = json_member(&ca, server.json, "Member").await;

    let started = Instant::now();
    let mut json = JsonClient::connect(server.json).await;
    json.send(ClientMsg::Ping { token: 1 }).await;
    let got = json.recv_until_closed().await;
    assert!(
        matches!(got.as_slice(), [ServerMsg::Bye { code: ByeCode::TlsRequired, .. }]),
        "{got:?}"
    );
    let mut plain = PlainClient::connect(server.plain).await;
    plain.send("Guest\n").await;
    let said = plain.rest().await;
    assert!(said.contains("speaks TLS only"), "{said:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "told at once: {:?}", started.elapsed());

    let mut silent = TcpStream::connect(server.plain).await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(TLS_FIRST_BYTE * 2, silent.read_to_end(&mut rest))
        .await
        .expect("a silent connection is closed")
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= TLS_FIRST_BYTE && waited < TLS_FIRST_BYTE + Duration::from_secs(2));

    member.send(ClientMsg::Ping { token: 7 }).await;
    member.recv_until(|m| *m == ServerMsg::Pong { token: 7 }).await;
    server.shutdown().await;
}

/// A new certificate loaded while the server runs: new connections are shown it, one
/// already open carries on chatting; a bad file on reload keeps the one in force.
#[tokio::test]
async fn a_reloaded_certificate_serves_new_connections_and_spares_open_ones() {
    let (ca, dir, files, tls) = tls_setup();
    let server = start_tls_server(tls.clone()).await;
    let old_stream = ca.connect(server.json).await;
    let old_cert = peer_certificate(&old_stream);
    let mut old = JsonClient::over(old_stream);
    old.hello("Early").await;
    old.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    let (new_files, new_cert) = ca.issue(dir.path(), "renewed");
    std::fs::copy(&new_files.cert, &files.cert).unwrap();
    std::fs::copy(&new_files.key, &files.key).unwrap();
    tls.reload().unwrap();
    let fresh = ca.connect(server.json).await;
    assert_eq!(peer_certificate(&fresh), new_cert);
    assert_ne!(old_cert, new_cert);
    let mut fresh = JsonClient::over(fresh);
    fresh.hello("Late").await;
    fresh.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    old.send(say("still here")).await;
    fresh
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "still here"),
        )
        .await;

    // A broken file: the reload fails, saying which file, and the certificate stays.
    std::fs::write(&files.key, "not a key\n").unwrap();
    let error = tls.reload().unwrap_err();
    assert!(matches!(error, TlsError::Key { .. }), "{error}");
    assert!(error.to_string().contains(&files.key.display().to_string()), "{error}");
    let again = ca.connect(server.json).await;
    assert_eq!(peer_certificate(&again), new_cert);
    server.shutdown().await;
}

/// Files that cannot be used are refused with the path and the reason: a missing file, a
/// file that is not PEM, a key that belongs to another certificate.
#[test]
fn unusable_files_are_refused_with_the_path_and_the_reason() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = ca.issue(dir.path(), "one");
    let (other, _) = ca.issue(dir.path(), "two");

    let missing = TlsFiles { cert: dir.path().join("nope.pem"), key: files.key.clone() };
    let error = Tls::load(missing.clone()).err().unwrap().to_string();
    assert!(error.contains(&missing.cert.display().to_string()), "{error}");
    assert!(error.contains("No such file"), "{error}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello\n").unwrap();
    let error =
        Tls::load(TlsFiles { cert: garbage.clone(), key: files.key.clone() }).err().unwrap();
    assert!(error.to_string().contains("no certificate"), "{error}");

    let mismatched = TlsFiles { cert: files.cert.clone(), key: other.key.clone() };
    let error = Tls::load(mismatched).err().unwrap();
    assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
    assert!(error.to_string().contains("cannot be used together"), "{error}");
}

/// Over TLS a session ends as over TCP: `quit` is answered with `bye`, and the client sees
/// the stream end cleanly.
#[tokio::test]
async fn a_tls_session_ends_with_its_goodbye() {
    let (ca, _dir, _files, tls) = tls_setup();
    let server = start_tls_server(tls).await;
    let mut c = json_member(&ca, server.json, "Leaver").await;
    c.send(ClientMsg::Quit { reason: None }).await;
    let got = c.recv_until_closed().await;
    assert!(matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::Quit, .. })), "{got:?}");
    let mut stream = c.frames.into_inner();
    let _ = stream.shutdown().await;
    server.shutdown().await;
}

/// A client that sends its first line in the same packet as the end of its handshake (TLS
/// 1.3 allows it, and a fast client does it): the server decrypts that line while finishing
/// the handshake, with nothing left on the socket to announce it, and must still read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_sent_with_the_handshake_is_read() {
    let (ca, _dir, _files, tls) = tls_setup();
    let server = start_tls_server(tls).await;
    let addr = server.json;
    let connector = ca.connector();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{BufRead, Read, Write};
        let mut conn = rustls::ClientConnection::new(
            connector.config().clone(),
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(common::WAIT)).unwrap();
        // Until the server's Finished is processed: our own Finished is then queued, unsent.
        while conn.is_handshaking() {
            while conn.wants_write() {
                conn.write_tls(&mut sock).unwrap();
            }
            if conn.is_handshaking() {
                conn.read_tls(&mut sock).unwrap();
                conn.process_new_packets().unwrap();
            }
        }
        // The hello joins our Finished: one write, one packet.
        let hello = r#"{"type":"hello","nick":"Quick","protocol":1}"#;
        conn.writer().write_all(format!("{hello}\n").as_bytes()).unwrap();
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight).unwrap();
        }
        sock.write_all(&flight).unwrap();
        // The welcome comes back.
        let mut line = String::new();
        let mut stream = rustls::Stream::new(&mut conn, &mut sock);
        std::io::BufReader::new(&mut stream).read_line(&mut line).unwrap();
        let _ = stream.read(&mut [0u8; 0]);
        line
    });
    let line = tokio::time::timeout(common::WAIT * 2, answer)
        .await
        .expect("the server answers the hello sent with the handshake")
        .unwrap();
    let welcome: ServerMsg = serde_json::from_str(&line).unwrap();
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
    server.shutdown().await;
}
