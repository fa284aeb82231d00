//! The well-behaved reference: one connection, from an address of its own, that says a line in
//! the members' room exactly as fast as the default flood limit allows, for the whole run. What
//! it gets accepted a second is what the reconnect flooder is measured against.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use super::counts::{Counts, Snapshot};
use super::inbox::{Inbox, field, is};
use super::{ROOM, lines, source};
use crate::stream::tcp_from;

/// The server's default `--flood-rate`: messages a second.
pub const RATE: f64 = 2.0;

const NICK: &str = "steady";

/// Long enough for its last message's echo, on a server that is not under attack any more.
const LAST_ECHO: Duration = Duration::from_millis(500);

/// The reference while it runs; stopped when dropped.
pub struct Reference {
    counts: Arc<Counts>,
    /// When each of its messages came back accepted.
    echoes: Arc<Mutex<Vec<Instant>>>,
    tasks: [JoinHandle<()>; 2],
}

impl Reference {
    /// Connects and registers, then starts saying.
    pub async fn start(server: SocketAddr) -> anyhow::Result<Reference> {
        let counts = Arc::new(Counts::default());
        let stream = tcp_from(source::REFERENCE, server)
            .await
            .with_context(|| format!("reference: connect from {}", source::REFERENCE))?;
        stream.set_nodelay(true)?;
        Counts::add(&counts.connections, 1);
        let (r, mut w) = stream.into_split();
        let mut inbox = Inbox::new(r, counts.clone());
        let mut out = Vec::new();
        lines::hello(&mut out, NICK);
        w.write_all(&out).await?;
        Counts::add(&counts.requests, 1);
        let mut registered = false;
        while !registered {
            let read = inbox.read(|line| registered |= is(line, "members"));
            if !tokio::time::timeout(Duration::from_secs(10), read).await.unwrap_or(false) {
                bail!("reference: no member list after hello");
            }
        }
        let echoes = Arc::new(Mutex::new(Vec::new()));
        let reading = tokio::spawn(read_echoes(inbox, counts.clone(), echoes.clone()));
        let saying = tokio::spawn(say(w, counts.clone()));
        Ok(Reference { counts, echoes, tasks: [reading, saying] })
    }

    /// Stops saying, waits for the last echo, and says what it did over the whole run.
    pub async fn finish(self) -> Snapshot {
        self.tasks[1].abort();
        tokio::time::sleep(LAST_ECHO).await;
        self.counts.snapshot()
    }

    /// Its accepted messages a second between `from` and `to`: the echoes between them, one
    /// interval per echo after the first, over the time from the first to the last. (Echoes
    /// over the window's length would be 24 or 25 in 12 s, by where the ticks fall.)
    pub fn rate(&self, from: Instant, to: Instant) -> f64 {
        let echoes = self.echoes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut inside = echoes.iter().filter(|&&t| t >= from && t <= to);
        let Some(first) = inside.next() else { return 0.0 };
        let (n, last) = inside.fold((0u32, *first), |(n, _), &t| (n + 1, t));
        let span = last.duration_since(*first).as_secs_f64();
        if span > 0.0 { f64::from(n) / span } else { 0.0 }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A line every 1/[`RATE`] seconds; a tick missed (the bench was busy) is not made up for.
async fn say(mut w: tokio::net::tcp::OwnedWriteHalf, counts: Arc<Counts>) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Vec::new();
    for n in 0u64.. {
        tick.tick().await;
        out.clear();
        // Not a timed text (those start with "t"): members do not count it as theirs.
        lines::say(&mut out, ROOM, &format!("steady {n}"));
        if w.write_all(&out).await.is_err() {
            return;
        }
        Counts::add(&counts.requests, 1);
    }
}

/// Counts its own messages as they come back, the accepted ones, and notes when.
async fn read_echoes(mut inbox: Inbox, counts: Arc<Counts>, echoes: Arc<Mutex<Vec<Instant>>>) {
    loop {
        let mut accepted = 0;
        let open = inbox
            .read(|line| {
                if is(line, "message") && field(line, "from") == Some(NICK) {
                    accepted += 1;
                }
            })
            .await;
        Counts::add(&counts.answers, accepted);
        if accepted > 0 {
            let now = Instant::now();
            echoes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend((0..accepted).map(|_| now));
        }
        if !open {
            return;
        }
    }
}
