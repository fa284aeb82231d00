//! The bare fan-out server the bench measures `chat-server` against: what the same load costs
//! with nothing but the fan-out itself. It speaks just enough of the protocol for the bench's
//! clients: `hello` and `join` are answered with an empty `members` line, `quit` with `bye`,
//! and every `say` is sent to every connection (the sender included, whatever its room) as a
//! `message` from its nick; other lines are ignored. No history, no validation, no presence.
//! It has the same freedom to batch as the real server: each connection's writer takes
//! everything queued for it and writes it with one syscall.
//!
//! Started by `chat-bench --baseline-server` (the bench runs itself, pinned like the server).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Outboxes = Arc<Mutex<Vec<(usize, mpsc::UnboundedSender<Bytes>)>>>;

/// Listens on 127.0.0.1:0, prints the address as chat-server does, serves until killed. It
/// runs on the same kind of runtime as chat-server (tokio's multi-threaded one, pinned to one
/// CPU by the bench).
pub async fn serve() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("baseline listening: json={}", listener.local_addr()?);
    let outboxes: Outboxes = Arc::default();
    let mut next_id = 0;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        tokio::spawn(connection(stream, next_id, outboxes.clone()));
    }
}

async fn connection(stream: TcpStream, id: usize, outboxes: Outboxes) {
    let _ = stream.set_nodelay(true);
    let (r, mut w) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let writer = tokio::spawn(async move {
        let mut batch = BytesMut::new();
        while let Some(first) = rx.recv().await {
            batch.extend_from_slice(&first);
            while let Ok(more) = rx.try_recv() {
                batch.extend_from_slice(&more);
            }
            if w.write_all(&batch).await.is_err() {
                return;
            }
            batch.clear();
        }
    });
    let mut lines = BufReader::new(r);
    let mut line = Vec::new();
    let mut prefix: Option<Vec<u8>> = None;
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Some(prefix) = &prefix else {
            // The hello: note the nick, join the room.
            let nick = field(&line, b"\"nick\":\"").unwrap_or(b"anon").to_vec();
            let mut p = b"{\"type\":\"message\",\"room\":\"lobby\",\"from\":\"".to_vec();
            p.extend_from_slice(&nick);
            p.extend_from_slice(b"\",");
            prefix = Some(p);
            let _ = tx.send(Bytes::from_static(
                b"{\"type\":\"members\",\"room\":\"lobby\",\"nicks\":[]}\n",
            ));
            lock(&outboxes).push((id, tx.clone()));
            continue;
        };
        // `{"type":"say",REST` becomes `{"type":"message",...,"from":"NICK",REST`.
        let Some(rest) = line.strip_prefix(b"{\"type\":\"say\",".as_slice()) else {
            if line.starts_with(b"{\"type\":\"join\"") {
                // Every connection hears everything anyway: a join is only answered.
                let room = field(&line, b"\"room\":\"").unwrap_or(b"lobby");
                let mut members = b"{\"type\":\"members\",\"room\":\"".to_vec();
                members.extend_from_slice(room);
                members.extend_from_slice(b"\",\"nicks\":[]}\n");
                let _ = tx.send(Bytes::from(members));
            } else if line.starts_with(b"{\"type\":\"quit\"") {
                let _ = tx.send(Bytes::from_static(
                    b"{\"type\":\"bye\",\"code\":\"quit\",\"message\":\"goodbye\"}\n",
                ));
                break;
            }
            // Anything else (a ping) needs no answer from a server that never times anyone out.
            continue;
        };
        let mut message = BytesMut::with_capacity(prefix.len() + rest.len());
        message.extend_from_slice(prefix);
        message.extend_from_slice(rest);
        let message = message.freeze();
        for (_, outbox) in lock(&outboxes).iter() {
            let _ = outbox.send(message.clone());
        }
    }
    lock(&outboxes).retain(|(other, _)| *other != id);
    drop(tx);
    let _ = writer.await;
}

fn lock(
    outboxes: &Outboxes,
) -> std::sync::MutexGuard<'_, Vec<(usize, mpsc::UnboundedSender<Bytes>)>> {
    outboxes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value of a string field, found by its `"name":"` prefix.
fn field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = line.windows(key.len()).position(|w| w == key)? + key.len();
    let len = line[start..].iter().position(|&b| b == b'"')?;
    Some(&line[start..start + len])
}
