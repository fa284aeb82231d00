//! The parts of a run that fan-out and churn share: a room of members, each read by a task;
//! paced senders; the measured window and what it cost the server and the bench; the
//! latencies once the readers stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::deliveries::Deliveries;
use crate::histogram::Histogram;
use crate::pace::{Pace, paced, schedule};
use crate::process::{Server, cpu_seconds};
use crate::stream::Writer;
use crate::wire::{Shared, Tally, Timing, member, receive};

/// How far ahead of the decision the measured window opens and closes.
const WINDOW_LEAD: Duration = Duration::from_millis(10);

/// Wait after the window for the last messages sent in it (paced runs).
const STRAGGLERS: Duration = Duration::from_secs(2);

/// A room of the bench's members, each read by a task.
pub struct Room {
    pub receivers: Vec<JoinHandle<Histogram>>,
    /// The senders' writing halves.
    pub speakers: Vec<Writer>,
    /// The others' writing halves, kept until the run ends: closing one ends its session.
    pub listeners: Vec<Writer>,
    /// For a closed loop: what each member has received from each sender.
    pub deliveries: Option<Arc<Deliveries>>,
}

/// Connects `members` members (nicks `{prefix}m0`, ...), of which the first `senders` will
/// speak, and starts reading each; on a server of several nodes, member `i` connects to node
/// `i % nodes`. With `closed_loop`, the readers count what each member receives from each
/// sender (in [`Room::deliveries`]), for fan-out's flat-out senders.
pub async fn fill_room(
    server: &Server,
    prefix: &str,
    members: usize,
    senders: usize,
    timing: Timing,
    closed_loop: bool,
    shared: &Shared,
) -> anyhow::Result<Room> {
    let deliveries = closed_loop.then(|| Arc::new(Deliveries::new(prefix, senders, members)));
    let mut room = Room {
        receivers: Vec::new(),
        speakers: Vec::new(),
        listeners: Vec::new(),
        deliveries: deliveries.clone(),
    };
    for i in 0..members {
        let nick = format!("{prefix}m{i}");
        let (r, w) = member(server.dial(i), &nick).await?;
        if i < senders {
            room.speakers.push(w);
        } else {
            room.listeners.push(w);
        }
        let counted = deliveries.as_ref().map(|d| (d.clone(), i));
        room.receivers.push(tokio::spawn(receive(r, counted, timing, shared.clone())));
    }
    Ok(room)
}

/// Starts the speakers saying `total_rate` messages a second in all, in lobby.
pub fn start_paced(
    speakers: Vec<Writer>,
    total_rate: f64,
    size: usize,
    shared: &Shared,
) -> anyhow::Result<Vec<JoinHandle<anyhow::Result<()>>>> {
    let schedule = schedule(total_rate, speakers.len())?;
    let start = tokio::time::Instant::now();
    let mut sending = Vec::new();
    for (w, offset) in speakers.into_iter().zip(&schedule.offsets) {
        let pace =
            Pace { first: start + *offset, interval: schedule.interval, room: "lobby", size };
        sending.push(tokio::spawn(paced(w, pace, shared.clone())));
    }
    Ok(sending)
}

/// Waits (at most [`STRAGGLERS`]) until `expected` deliveries have been counted.
pub async fn wait_for_stragglers(tally: &Tally, expected: u64) {
    let deadline = Instant::now() + STRAGGLERS;
    while Tally::get(&tally.delivered) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every member's latencies, once their readers have stopped.
pub async fn collect(receivers: Vec<JoinHandle<Histogram>>) -> Histogram {
    let mut latencies = Histogram::default();
    for r in receivers {
        if let Ok(Ok(h)) = tokio::time::timeout(Duration::from_secs(5), r).await {
            latencies.merge(&h);
        }
    }
    latencies
}

/// What the measured window cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// The window's length.
    pub seconds: f64,
    /// CPU time per second of the window: 1.0 is one core busy. On Redis, that of the nodes
    /// and the redis-server together.
    pub server_cpu: Option<f64>,
    /// The redis-server's share of `server_cpu`, on Redis.
    pub redis_cpu: Option<f64>,
    pub bench_cpu: Option<f64>,
    /// At the window's end; on Redis, the nodes' and the redis-server's together.
    pub server_rss_mb: Option<f64>,
}

/// One second of warm-up, then the measured window of `seconds`.
pub async fn measure(server: &Server, shared: &Shared, seconds: u64) -> Usage {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bench = std::process::id();
    let before = (server.cpu_seconds(), cpu_seconds(bench), server.redis_cpu_seconds());
    let tally = &shared.tally;
    // Each end of the window is set a little ahead, so that every task sees it before it
    // stamps a message with a time inside it: a sender and the receivers agree on what counts.
    let lead = u64::try_from(WINDOW_LEAD.as_micros()).unwrap_or(0);
    tally.open(shared.now() + lead);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    tally.close(shared.now() + lead);
    tokio::time::sleep(WINDOW_LEAD).await;
    let elapsed = tally.seconds();
    let per_second = |before: Option<f64>, after: Option<f64>| Some((after? - before?) / elapsed);
    Usage {
        seconds: elapsed,
        server_cpu: per_second(before.0, server.cpu_seconds()),
        redis_cpu: per_second(before.2, server.redis_cpu_seconds()),
        bench_cpu: per_second(before.1, cpu_seconds(bench)),
        server_rss_mb: server.rss_mb(),
    }
}
