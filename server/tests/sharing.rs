//! Senders that outrun their room take turns at it. Each is held back as the room fills and let
//! go with an equal share of it, so one sender's flood does not go out while another's waits in
//! its socket: a room shared by floods moves them on together.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use chat_server::HistoryConfig;
use chat_server::limits::ROOM_CHANNEL_CAPACITY;
use common::start_server_with_history;
use protocol::ServerMsg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SENDERS: usize = 4;

/// Each sender's flood: many times what the room holds before it holds its senders back.
const EACH: usize = ROOM_CHANNEL_CAPACITY * 3;

/// Four senders write their floods at once and read the room meanwhile; an observer counts
/// each sender's messages among those it receives while the room is contended. With the room
/// shared, each sender has about a quarter of them; with the first sender to run taking the
/// room each time, it has most of them.
#[tokio::test]
async fn senders_flooding_one_room_take_turns() {
    let history = HistoryConfig { location: None, ..HistoryConfig::default() };
    let server = start_server_with_history(common::info(), history).await;
    let mut observer = server.join("observer").await;
    let mut floods = Vec::new();
    for s in 0..SENDERS {
        let client = server.join(&format!("flooder{s}")).await;
        let (mut read, write) = client.frames.into_inner().into_split();
        let mut lines = Vec::new();
        for i in 0..EACH {
            lines.extend_from_slice(
                format!(r#"{{"type":"say","room":"lobby","text":"{s} {i}"}}"#).as_bytes(),
            );
            lines.push(b'\n');
        }
        // Reads the room, as a client must for the room not to let it go as stalled.
        tokio::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            while read.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        floods.push((write, lines));
    }
    for (mut write, lines) in floods {
        tokio::spawn(async move {
            write.write_all(&lines).await.unwrap();
            // Kept open until the test ends.
            std::future::pending::<()>().await;
        });
    }
    // Each sender's messages among those the observer receives once the room is full and
    // before any flood runs out: the first to run fills the empty room alone, as it may.
    let window = ROOM_CHANNEL_CAPACITY..ROOM_CHANNEL_CAPACITY * 6;
    let mut received = [0; SENDERS];
    let mut in_window = [0; SENDERS];
    let mut total = 0;
    while received.iter().any(|&n| n < EACH) {
        let ServerMsg::Message { from, .. } = observer.recv_within(Duration::from_secs(60)).await
        else {
            continue;
        };
        let s: usize = from.as_str().trim_start_matches("flooder").parse().unwrap();
        received[s] += 1;
        if window.contains(&total) {
            in_window[s] += 1;
        }
        total += 1;
    }
    let (least, most) = (in_window.iter().min().unwrap(), in_window.iter().max().unwrap());
    assert!(
        most * 2 <= least * 3,
        "each sender's messages among the observer's {window:?}: {in_window:?}"
    );
    server.shutdown().await;
}
