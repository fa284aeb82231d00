//! Scenario `attack`: what hostile clients cost the well-behaved ones (issue 21).
//!
//! A room of members chats at a steady rate, each message carrying its send time; every member
//! measures how long each message took to reach it. The same chat runs twice, on a fresh server
//! each time, with the default limits (flood control on): once calm, once with attackers. In
//! the second run the attackers start with the warm-up, stay through the measured window, and
//! stop at its end; the members chat on, and the server's memory is read [`AFTER`] later. Every
//! connection comes from a loopback address of its own (`source`), so that per-address limits
//! act as they would on the internet; a server that exempts loopback from its per-address
//! throttles by default is told not to (`--throttle-exempt none`, when it has the flag).
//!
//! # Layout
//! - `members`: the members, the senders among them, the side rooms they share.
//! - `reference`: the well-behaved connection at the flood limit's rate.
//! - `attackers`: every kind of attacker, on a thread of their own; starting and stopping them.
//! - `crowd`: flooders, non-readers, slowloris, garbage, escape sequences, impostors.
//! - `reconnect`: the reconnect flooder (one address, a new connection every ten messages).
//! - `repeat`: what the one-connection attackers share: a request repeated as fast as answered.
//! - `who`, `history`, `rooms`, `churner`, `nicks`: those attackers' requests.
//! - `inbox`: an attacker's reading side, counting bytes, goodbyes and refusals.
//! - `counts`: what each kind did.
//! - `lines`: the request lines.
//! - `source`: every connection's address.
//! - `table`: the figures side by side, the targets, the JSON lines.

mod attackers;
mod churner;
mod counts;
mod crowd;
mod history;
mod inbox;
mod lines;
mod members;
mod nicks;
mod reconnect;
mod reference;
mod repeat;
mod rooms;
mod source;
mod table;
mod who;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::Mode;
use crate::histogram::Histogram;
use crate::process::{cpu_seconds, rss_kib, start_server};
use crate::room::collect;
use crate::wire::{Shared, Tally};
use attackers::{Attackers, Kind};
use counts::Snapshot;
use reference::Reference;

/// The members' room: hello puts everyone in it.
pub const ROOM: &str = "lobby";

/// Rooms the members share besides [`ROOM`].
pub const SIDE_ROOMS: [&str; 3] = ["side-1", "side-2", "side-3"];

/// Before the measured window: the attackers connect, the first reconnections happen.
const WARM_UP: Duration = Duration::from_secs(2);

/// After the attackers stop (the members chatting on), when the server's memory is read.
const AFTER: Duration = Duration::from_secs(5);

/// How often the server's memory is read for its peak.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The settings of one comparison.
pub struct Attack {
    pub members: usize,
    pub senders: usize,
    /// Messages a second per sender (within the default flood limit of 2).
    pub rate: f64,
    pub seconds: u64,
    /// `--attackers`: the kinds to run, by key; all of them when none are named.
    pub attackers: Option<Vec<String>>,
}

/// What one run measured.
pub struct Outcome {
    sent: u64,
    delivered: u64,
    lost: u64,
    latencies: Histogram,
    /// The server's resident memory: once the members are in, its peak through the warm-up
    /// and the window, and [`AFTER`] the window (KiB).
    rss: [Option<u64>; 3],
    /// CPU time per second of the window, the server's and the bench's (1.0: a core).
    server_cpu: Option<f64>,
    bench_cpu: Option<f64>,
    /// Seconds from the warm-up's start to the window's end: the attackers' time.
    phase_seconds: f64,
    /// The reference's accepted messages a second over that time.
    reference_rate: f64,
    /// What the reference did over the whole run (its hello among the requests).
    reference: Snapshot,
    attack: Option<attackers::Outcome>,
}

pub async fn compare(binary: &Path, pin: bool, a: &Attack) -> anyhow::Result<()> {
    let kinds = Kind::parse(a.attackers.as_deref())?;
    let throttled = exemption_flags(binary);
    table::heading(a, throttled.is_some());
    let flags = throttled.unwrap_or(&[]);
    let calm = run(binary, pin, a, flags, &[]).await.context("run without attackers")?;
    let attacked = run(binary, pin, a, flags, &kinds).await.context("run with attackers")?;
    table::print(a, &calm, &attacked);
    Ok(())
}

/// `--throttle-exempt none` when `binary` has the flag: its per-address throttles then count
/// loopback addresses too, as they count the internet's. None when it has no such flag.
fn exemption_flags(binary: &Path) -> Option<&'static [&'static str]> {
    let help = std::process::Command::new(binary).arg("--help").output().ok()?;
    let has = String::from_utf8_lossy(&help.stdout).contains("--throttle-exempt");
    has.then_some(&["--throttle-exempt", "none"])
}

async fn run(
    binary: &Path,
    pin: bool,
    a: &Attack,
    flags: &[&str],
    kinds: &[Kind],
) -> anyhow::Result<Outcome> {
    let server = start_server(binary, Mode::File, pin, flags, None).await?;
    let pid = server.pids().first().copied();
    let rss = || pid.and_then(rss_kib);
    let addr = server.addr(0).to_owned();
    let to: SocketAddr = addr.parse().with_context(|| format!("server address {addr}"))?;
    let (stop_readers, shared) = Shared::new();
    let stop = Arc::new(AtomicBool::new(false));

    let mut members = members::connect(&addr, a.members, &shared).await?;
    let reference = Reference::start(to).await?;
    let speakers = members.speak(a.senders, a.rate, &shared, &stop);
    let start_rss = rss();
    let attackers = if kinds.is_empty() { None } else { Some(Attackers::start(kinds, to)?) };
    let phase = Instant::now();
    let mut peak = start_rss;
    watch_memory(pid, WARM_UP, &mut peak).await;

    let bench = std::process::id();
    let cpu_before = (pid.and_then(cpu_seconds), cpu_seconds(bench));
    shared.tally.open(shared.now());
    watch_memory(pid, Duration::from_secs(a.seconds), &mut peak).await;
    shared.tally.close(shared.now());
    let window = shared.tally.seconds();
    let per_second = |before: Option<f64>, after: Option<f64>| Some((after? - before?) / window);
    let server_cpu = per_second(cpu_before.0, pid.and_then(cpu_seconds));
    let bench_cpu = per_second(cpu_before.1, cpu_seconds(bench));

    let attack = match attackers {
        Some(attackers) => Some(attackers.stop().await),
        None => None,
    };
    let phase_seconds = phase.elapsed().as_secs_f64();
    let reference_rate = reference.rate(phase, Instant::now());
    // The members chat on; stragglers of the window arrive meanwhile.
    tokio::time::sleep(AFTER).await;
    let after_rss = rss();

    stop.store(true, Ordering::Relaxed);
    for s in speakers {
        s.abort();
    }
    let reference_counts = reference.finish().await;
    let _ = stop_readers.send(true);
    let latencies = collect(members.receivers).await;
    server.stop().await;
    let delivered = Tally::get(&shared.tally.delivered);
    let sent = Tally::get(&shared.tally.sent);
    let lost = (sent * a.members as u64).saturating_sub(delivered);
    drop(members.writers);
    Ok(Outcome {
        sent,
        delivered,
        lost,
        latencies,
        rss: [start_rss, peak, after_rss],
        server_cpu,
        bench_cpu,
        phase_seconds,
        reference_rate,
        reference: reference_counts,
        attack,
    })
}

/// Waits `length`, reading the server's memory every [`SAMPLE_EVERY`] into `peak`.
async fn watch_memory(pid: Option<u32>, length: Duration, peak: &mut Option<u64>) {
    let end = tokio::time::Instant::now() + length;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(SAMPLE_EVERY.min(left)).await;
        if let Some(now) = pid.and_then(rss_kib) {
            *peak = Some(peak.map_or(now, |p| p.max(now)));
        }
    }
}
