//! `--metrics-listen`: the real binary serves Prometheus text, and what a client does shows in
//! it, counted once.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::Stdio;

use common::scrape::{free_port, samples, scrape};
use common::{JsonClient, ServerProcess, WAIT};
use protocol::{ClientMsg, ErrorCode, RoomName, ServerMsg, Text};

/// A server with `--db DB` and metrics on a free port, and Tracy, who said hi in lobby and
/// got its echo.
async fn tracy_said_hi(db: &str) -> (ServerProcess, std::net::SocketAddr, JsonClient) {
    let metrics = free_port();
    let listen = metrics.to_string();
    let server = ServerProcess::start(
        &["--db", db, "--no-plain", "--metrics-listen", &listen],
        Stdio::null(),
    );
    assert_eq!(server.stdout_line(), format!("chat-server metrics: http://{metrics}/metrics"));
    let mut tracy = JsonClient::connect(server.json).await;
    assert!(matches!(tracy.hello("Tracy").await, ServerMsg::Welcome { .. }));
    let lobby = RoomName::lobby();
    // In lobby once its member list is in: a message said before would come in its backlog.
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if *room == lobby)).await;
    tracy.send(ClientMsg::Say { room: lobby.clone(), text: Text::parse("hi").unwrap() }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { room, .. } if *room == lobby)).await;
    (server, metrics, tracy)
}

/// A client's hello, message and refused request show in the scrape: the connection, the
/// session, its nick and room, the message, the error by its code (once); every metric is
/// `chat_`-named and described.
#[tokio::test]
async fn a_scrape_counts_what_a_client_did() {
    let (_server, metrics, mut tracy) = tracy_said_hi(":memory:").await;
    tracy.send(ClientMsg::Leave { room: RoomName::parse("rust").unwrap() }).await;
    assert_eq!(tracy.recv_error().await.code, ErrorCode::NotInRoom);

    let text = scrape(metrics).await;
    let got = samples(&text);
    let value = |series: &str| *got.get(series).unwrap_or_else(|| panic!("no {series}:\n{text}"));
    assert!(value("chat_connections_accepted_total") >= 1.0, "{text}");
    assert!(value("chat_messages_total") >= 1.0, "{text}");
    assert!(value("chat_deliveries_total") >= 1.0, "{text}");
    assert_eq!(value("chat_refusals_total{code=\"not_in_room\"}"), 1.0, "{text}");
    assert_eq!(value("chat_sessions"), 1.0, "{text}");
    assert_eq!(value("chat_sessions_registered"), 1.0, "{text}");
    assert_eq!(value("chat_rooms"), 1.0, "{text}");
    assert!(value("chat_history_commit_seconds_count") >= 1.0, "{text}");
    for series in got.keys() {
        assert!(series.starts_with("chat_"), "{series} in\n{text}");
    }
    for name in [
        "chat_connections_accepted_total",
        "chat_messages_total",
        "chat_deliveries_total",
        "chat_refusals_total",
        "chat_sessions",
        "chat_sessions_registered",
        "chat_rooms",
        "chat_history_commit_seconds",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "no HELP for {name}:\n{text}");
    }

    tracy.send(ClientMsg::Quit { reason: None }).await;
    tracy.recv_until_closed().await;
    // The session's end is counted as its task finishes, just after its goodbye.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = scrape(metrics).await;
        let got = samples(&text);
        let ended = got.get("chat_session_ends_total{code=\"quit\"}").copied();
        if ended == Some(1.0) && got.get("chat_sessions").copied() == Some(0.0) {
            assert_eq!(got.get("chat_sessions_registered").copied(), Some(0.0), "{text}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no quit counted, or the session still open:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// With a database file, the write-ahead log is copied into it by the checkpointer thread,
/// counted in `chat_history_checkpoint_seconds` within a second or so of a message.
#[tokio::test]
async fn a_database_file_is_checkpointed_off_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_server, metrics, _tracy) = tracy_said_hi(db.to_str().unwrap()).await;

    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = scrape(metrics).await;
        if samples(&text).get("chat_history_checkpoint_seconds_count").is_some_and(|n| *n >= 1.0) {
            assert!(text.contains("# HELP chat_history_checkpoint_seconds "), "{text}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no checkpoint counted:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Port 0 is refused, with the flag named: the exporter would not say which port it got.
#[test]
fn port_zero_is_refused() {
    let output = ServerProcess::command()
        .args(["--listen", "127.0.0.1:0", "--no-plain", "--no-history"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--metrics-listen 127.0.0.1:0: give a port"), "{said}");
}
