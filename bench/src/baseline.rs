//! The bare fan-out server the bench measures `chat-server` against: what the same load costs
//! with nothing but the fan-out itself. It speaks just enough of the protocol for the bench's
//! clients: `hello` and `join` are answered with an empty `members` line, `quit` with `bye`,
//! and every `say` is sent to every connection (the sender included, whatever its room) as a
//! `message` from its nick; other lines are ignored. No history, no validation, no presence.
//! It has the same freedom to batch as the real server: each connection's writer takes
//! everything queued for it and writes it with one syscall.
//!
//! So that the comparison is of the servers, not of their line formats, its `message` lines
//! have chat-server's fields and length (an id shaped like a UUID, `seq`, `kind`, `ts`: about
//! 210 bytes for a 64-byte text, where a bare `{"type":"message","from":..,"text":..}` would be
//! 130), and like chat-server it is lossless and bounded: a connection's queue holds
//! [`QUEUE`] messages, and a sender whose message finds one full waits for it.
//!
//! Started by `chat-bench --baseline-server` (the bench runs itself, pinned like the server).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type Outboxes = Arc<Mutex<Vec<(usize, mpsc::Sender<Bytes>)>>>;

/// Messages queued for one connection: chat-server's room channel holds as many.
const QUEUE: usize = 1024;

/// Numbers the messages, as chat-server's `seq` does (one counter: one room).
static SEQ: AtomicU64 = AtomicU64::new(0);

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
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
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
            let mut p = b",\"from\":\"".to_vec();
            p.extend_from_slice(&nick);
            p.extend_from_slice(b"\",\"kind\":\"say\",");
            prefix = Some(p);
            let _ = tx
                .send(Bytes::from_static(
                    b"{\"type\":\"members\",\"room\":\"lobby\",\"nicks\":[]}\n",
                ))
                .await;
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
                let _ = tx.send(Bytes::from(members)).await;
            } else if line.starts_with(b"{\"type\":\"quit\"") {
                let _ = tx
                    .send(Bytes::from_static(
                        b"{\"type\":\"bye\",\"code\":\"quit\",\"message\":\"goodbye\"}\n",
                    ))
                    .await;
                break;
            }
            // Anything else (a ping) needs no answer from a server that never times anyone out.
            continue;
        };
        let message = message(prefix, rest);
        // Queues with room take it at once; a full one is waited for outside the lock.
        let mut full = Vec::new();
        for (_, outbox) in lock(&outboxes).iter() {
            if let Err(mpsc::error::TrySendError::Full(m)) = outbox.try_send(message.clone()) {
                full.push((outbox.clone(), m));
            }
        }
        for (outbox, m) in full {
            let _ = outbox.send(m).await;
        }
    }
    lock(&outboxes).retain(|(other, _)| *other != id);
    drop(tx);
    let _ = writer.await;
}

/// `{"type":"say",REST` from NICK as chat-server would send it:
/// `{"type":"message","id":"…","room":"lobby","seq":N,"from":"NICK","kind":"say","text":…,"ts":T}`.
/// `from` is `,"from":"NICK","kind":"say",`.
fn message(from: &[u8], say: &[u8]) -> Bytes {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // The text field and what follows it, without the closing brace and newline.
    let text = say
        .windows(7)
        .position(|w| w == b"\"text\":")
        .map_or(&b"\"text\":\"\""[..], |at| &say[at..]);
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let text = text.strip_suffix(b"}").unwrap_or(text);
    let mut line = Vec::with_capacity(160 + from.len() + text.len());
    let _ = write!(
        line,
        "{{\"type\":\"message\",\"id\":\"{:08x}-0000-7000-8000-{seq:012x}\",\"room\":\"lobby\",\"seq\":{seq}",
        ts & 0xffff_ffff
    );
    line.extend_from_slice(from);
    line.extend_from_slice(text);
    let _ = writeln!(line, ",\"ts\":{ts}}}");
    Bytes::from(line)
}

fn lock(outboxes: &Outboxes) -> std::sync::MutexGuard<'_, Vec<(usize, mpsc::Sender<Bytes>)>> {
    outboxes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value of a string field, found by its `"name":"` prefix.
fn field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = line.windows(key.len()).position(|w| w == key)? + key.len();
    let len = line[start..].iter().position(|&b| b == b'"')?;
    Some(&line[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_chat_servers_fields_and_length() {
        let say = b"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"t0001763700000000 hello\"}\n";
        let line = message(b",\"from\":\"m12\",\"kind\":\"say\",", say);
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["type"], "message");
        assert_eq!(value["from"], "m12");
        assert_eq!(value["text"], "t0001763700000000 hello");
        assert_eq!(value["id"].as_str().map(str::len), Some(36));
        assert!(value["seq"].is_u64() && value["ts"].is_u64());
        assert!(line.ends_with(b"}\n"));
    }
}
