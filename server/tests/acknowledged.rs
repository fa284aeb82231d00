//! "Acknowledged means stored": a message's echo comes back to its sender only once the message
//! is committed, so no crash of the server loses a message its sender saw acknowledged.
//! (Several nodes: `cluster.rs` holds the same guarantee for Redis.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chat_server::HistoryConfig;
use chat_server::broker::Location;
use chat_server::broker::local::store;
use common::{JsonClient, ServerProcess, start_server_with_history};
use protocol::{RoomName, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Messages in one test's burst: far more than the writer commits at once, so the burst spans
/// many commits.
const BURST: usize = 20_000;

/// Crashes in the SIGKILL test, each at a different point of a burst.
const CRASHES: usize = 5;

/// Writes `BURST` numbered says for lobby as fast as the socket takes them, and hands the
/// writing half back open: a client that closes its side is answered for a short while only
/// (`SETTLE_TIMEOUT`), and the echoes of a burst may take longer than that on a busy machine.
fn burst(
    mut writer: OwnedWriteHalf,
    tag: usize,
) -> tokio::task::JoinHandle<Option<OwnedWriteHalf>> {
    tokio::spawn(async move {
        for i in 0..BURST {
            let line =
                format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"r{tag}-m{i}\"}}\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                return None;
            }
        }
        Some(writer)
    })
}

/// Takes the complete lines out of `buf` and returns the (id, seq) of the room messages
/// among them.
fn take_acks(buf: &mut Vec<u8>) -> Vec<(uuid::Uuid, u64)> {
    let mut acks = Vec::new();
    while let Some(end) = buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = buf.drain(..=end).collect();
        if let Ok(ServerMsg::Message { id, seq, .. }) = serde_json::from_slice::<ServerMsg>(&line) {
            acks.push((id, seq));
        }
    }
    acks
}

/// Reads whatever arrives within a second; `None` at the end of the stream (or a reset).
async fn read_some(reader: &mut OwnedReadHalf, chunk: &mut [u8]) -> Option<usize> {
    match tokio::time::timeout(Duration::from_secs(10), reader.read(chunk)).await {
        Ok(Ok(n)) if n > 0 => Some(n),
        Ok(_) => None,
        Err(_) => panic!("the server neither answered nor closed within 10 s"),
    }
}

fn lobby() -> RoomName {
    RoomName::lobby()
}

/// The sequence number of the last message of lobby in the database file, read by a
/// connection of its own (as another process would).
fn last_stored(db: &Path) -> u64 {
    let conn = store::Store::reader(db).unwrap();
    let page = store::page(&conn, &lobby(), None, 1).unwrap();
    page.messages.last().map_or(0, |m| m.seq)
}

/// Every echo is already in the database file when it reaches its sender: after each read of
/// echoes, a separate connection to the file finds the newest one acknowledged. Broadcasting a
/// batch before its commit has finished is caught here without any crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_echo_is_already_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let config =
        HistoryConfig { location: Some(Location::File(db.clone())), ..HistoryConfig::default() };
    let server = start_server_with_history(common::info(), config).await;
    let c = server.join("Writer").await;
    let (mut reader, writer) = c.frames.into_inner().into_split();
    let sending = burst(writer, 0);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let mut acked = 0;
    let mut checks = 0;
    while acked < BURST as u64 {
        let n = read_some(&mut reader, &mut chunk).await.expect("the server stays up");
        buf.extend_from_slice(&chunk[..n]);
        let Some(newest) = take_acks(&mut buf).iter().map(|(_, seq)| *seq).max() else {
            continue;
        };
        acked = newest;
        let stored = last_stored(&db);
        assert!(stored >= newest, "message {newest} was acknowledged; the file has up to {stored}");
        checks += 1;
    }
    eprintln!("{checks} reads of the file, each holding every message acknowledged before it");
    sending.await.unwrap();
    server.shutdown().await;
}

/// SIGKILL in the middle of a burst, again and again on one database: after each restart every
/// message that was acknowledged before the kill is stored, once, in its place. The kill
/// follows the arrival of echoes at once, before they are even parsed, so the newest
/// acknowledgements are as fresh as they can be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lose_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let args = ["--db", db.to_str().unwrap(), "--no-flood-control"];
    let mut acked: Vec<(uuid::Uuid, u64)> = Vec::new();
    for crash in 0..CRASHES {
        let mut server = ServerProcess::start(&args, Stdio::null());
        let mut c = JsonClient::connect(server.json).await;
        c.hello("Writer").await;
        c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        assert_all_stored(&mut c, &acked).await;

        // Kill once some thousands (a different number each round) have been echoed.
        let kill_after = 2_000 + crash * 1_500;
        let (mut reader, writer) = c.frames.into_inner().into_split();
        let sending = burst(writer, crash);
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        let mut lines = 0;
        let mut killed = false;
        while let Some(n) = read_some(&mut reader, &mut chunk).await {
            buf.extend_from_slice(&chunk[..n]);
            lines += chunk[..n].iter().filter(|&&b| b == b'\n').count();
            if !killed && lines >= kill_after {
                server.kill();
                killed = true;
            }
        }
        sending.abort();
        assert!(killed, "crash {crash}: the server closed before the kill ({lines} lines)");
        let new = take_acks(&mut buf);
        assert!(new.len() >= kill_after - 10, "crash {crash}: only {} echoes", new.len());
        acked.extend(new);
    }
    let server = ServerProcess::start(&args, Stdio::null());
    let mut c = JsonClient::connect(server.json).await;
    c.hello("Reader").await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    assert_all_stored(&mut c, &acked).await;
    eprintln!("{} messages acknowledged over {CRASHES} crashes, all stored", acked.len());
}

/// Every message of `acked` is in lobby's history at its place; the history is numbered
/// without gaps and holds no message twice.
async fn assert_all_stored(c: &mut JsonClient, acked: &[(uuid::Uuid, u64)]) {
    let stored = common::page_all(c, "lobby").await;
    common::assert_contiguous(&stored, 1);
    let ids: HashSet<_> = stored.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), stored.len(), "no message is stored twice");
    for (id, seq) in acked {
        let Some(at) = stored.get((*seq - 1) as usize) else {
            panic!(
                "acknowledged message {seq} is missing after the crash ({} stored)",
                stored.len()
            );
        };
        assert_eq!(at.id, *id, "message {seq} is not the one acknowledged");
    }
}
