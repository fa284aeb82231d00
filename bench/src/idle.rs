//! Scenario `idle`: what a connection costs the server while it does nothing. `--connections`
//! clients say hello (which puts each in `lobby`) and stay, reading what the server sends them
//! (every newcomer's arrival) and pinging now and then as a real client would. With `--rooms`
//! over 1, each leaves lobby for one of that many rooms instead: every join is announced to
//! the whole room, so C connections in one room cost the server C²/2 announcements, and at
//! ten thousand that takes a while. Once they are
//! all in and the server has gone quiet, its resident memory is compared with what it was
//! before the first one connected: the difference per connection is the figure (the issue's
//! target is 4 KiB). Each server of `--history` runs in turn on a fresh process; on Redis, the
//! memory is that of the nodes and the redis-server together, and the connections alternate
//! between the nodes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::BufReader;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Mode;
use crate::process::{Launch, Server, open};
use crate::report::{self, Row, round};
use crate::stream::{Dial, Reader, Writer};
use crate::subject::{Subject, label_width};
use crate::versus::{self, Versus};
use crate::wire::{Shared, Tally, Timing, expect, hello, receive};

pub struct Plan {
    pub connections: usize,
    /// 1: every connection stays in lobby, where hello puts it; more: each leaves lobby for
    /// one of this many rooms.
    pub rooms: usize,
    pub subjects: Vec<Subject>,
    pub csv: Option<PathBuf>,
}

/// One server's figures.
struct Figures {
    /// Seconds to connect them all.
    connect_s: f64,
    /// Seconds from the last hello until the server was quiet.
    settle_s: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    /// `error` lines the connections got.
    errors: u64,
}

impl Figures {
    fn kib_per_connection(&self, connections: usize) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) / connections.max(1) as f64
    }
}

/// Connections being opened at once.
const CONNECTING: usize = 32;

/// Read buffer of an idle connection: the bench holds thousands.
const IDLE_READER: usize = 2048;

/// A real client's keep-alive, well within chat-server's default ping interval (60 s).
const KEEPALIVE: Duration = Duration::from_secs(20);

/// Longest wait for the server to go quiet after the last hello (every member hears of every
/// later one, so a big lobby keeps it busy for a while).
const SETTLE_WAIT: Duration = Duration::from_secs(60);

/// CPU share below which the server counts as quiet.
const QUIET_CPU: f64 = 0.03;

/// The server's limits are for the internet; these connections all come from 127.0.0.1.
const IDLE_LIMITS: &[&str] = &[
    "--max-connections",
    "1000000",
    "--max-connections-per-ip",
    "1000000",
    "--max-room-members",
    "1000000",
];

pub async fn compare(launch: &Launch, plan: &Plan) -> anyhow::Result<()> {
    let pinned = launch.pinned();
    let place = match plan.rooms {
        0 | 1 => "stay in lobby".to_owned(),
        rooms => format!("move from lobby to one of {rooms} rooms"),
    };
    println!("idle: {} connections that hello and {place}{pinned}", plan.connections);
    let mut results = Vec::new();
    for (i, &subject) in plan.subjects.iter().enumerate() {
        let figures = run(launch, plan, subject, i)
            .await
            .with_context(|| format!("run with {}", subject.label()))?;
        results.push((subject, figures));
    }
    let bare = results
        .iter()
        .find(|(s, _)| s.mode() == Some(Mode::Bare))
        .map(|(_, f)| f.kib_per_connection(plan.connections));
    print_table(plan, &results, bare);
    let mut rows = Vec::new();
    let mut against = Vec::new();
    for (subject, f) in &results {
        let vs_before = Versus::of(*subject, &results, |f| {
            vec![Some(f.kib_per_connection(plan.connections)), Some(f.rss_after_kib as f64)]
        });
        rows.push(row(plan, *subject, f, bare, &vs_before));
        against.push((subject.name().to_owned(), vs_before));
    }
    versus::print(
        versus::AFTER_BEFORE,
        &versus::IDLE,
        against.iter().map(|(label, v)| (label.clone(), v)),
    );
    for row in &rows {
        println!("{}", row.json());
    }
    if let Some(path) = &plan.csv {
        report::write_csv(path, &rows)?;
    }
    Ok(())
}

/// A server's KiB per connection against the bare server's `bare`.
fn vs_bare(plan: &Plan, f: &Figures, bare: Option<f64>) -> Option<f64> {
    bare.filter(|b| *b > 0.0).map(|b| f.kib_per_connection(plan.connections) / b)
}

fn print_table(plan: &Plan, results: &[(Subject, Figures)], bare: Option<f64>) {
    let w = label_width(results.iter().map(|r| r.0));
    println!();
    println!(
        "{:<w$} {:>11} {:>9} {:>8} {:>10} {:>10} {:>9} {:>7} {:>6}",
        "server",
        "connections",
        "connect s",
        "conn/s",
        "RSS before",
        "RSS after",
        "KiB/conn",
        "vs bare",
        "errors"
    );
    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    for (subject, f) in results {
        println!(
            "{:<w$} {:>11} {:>9.2} {:>8.0} {:>7.1} MB {:>7.1} MB {:>9.2} {:>7} {:>6}",
            subject.label(),
            plan.connections,
            f.connect_s,
            plan.connections as f64 / f.connect_s,
            mb(f.rss_before_kib),
            mb(f.rss_after_kib),
            f.kib_per_connection(plan.connections),
            vs_bare(plan, f, bare).map_or("-".to_owned(), |r| format!("{r:.2}")),
            f.errors
        );
    }
}

fn row(plan: &Plan, subject: Subject, f: &Figures, bare: Option<f64>, vs_before: &Versus) -> Row {
    let mut row = Row::default();
    row.push("scenario", "idle");
    row.push("history", subject.key());
    row.push("connections", plan.connections);
    row.push("rooms", plan.rooms.max(1));
    row.push("connect_s", round(Some(f.connect_s), 3));
    row.push("connections_per_s", round(Some(plan.connections as f64 / f.connect_s), 0));
    row.push("settle_s", round(Some(f.settle_s), 2));
    row.push("rss_before_kib", f.rss_before_kib);
    row.push("rss_after_kib", f.rss_after_kib);
    row.push("kib_per_connection", round(Some(f.kib_per_connection(plan.connections)), 2));
    row.push("vs_bare", round(vs_bare(plan, f, bare), 2));
    row.push("errors", f.errors);
    vs_before.push(&mut row, subject, &versus::IDLE);
    row
}

async fn run(
    launch: &Launch,
    plan: &Plan,
    subject: Subject,
    run: usize,
) -> anyhow::Result<Figures> {
    let server = open(launch, subject, IDLE_LIMITS).await?;
    if server.pids().is_empty() {
        bail!(
            "cannot find the process listening on {} (it must be this user's): its memory is \
             what this scenario measures",
            server.addr(0)
        );
    }
    // The server's own start (the database, the runtime's threads) is not the connections'.
    wait_until_quiet(&server, Duration::from_secs(5)).await;
    let rss_before_kib = server.rss_kib().context("the server's memory")?;
    let (stop_tx, shared) = Shared::new();
    shared.tally.open(shared.now());
    let started = Instant::now();
    let (receivers, writers) =
        connect_all(&server, plan.connections, plan.rooms, &subject.nick_prefix(run), |r| {
            tokio::spawn(receive(r, None, Timing::Arrivals { every: u64::MAX }, shared.clone()))
        })
        .await?;
    let connect_s = started.elapsed().as_secs_f64();
    let keepalive = tokio::spawn(keep_alive(writers, shared.stop.clone()));
    let settling = Instant::now();
    wait_until_quiet(&server, SETTLE_WAIT).await;
    let settle_s = settling.elapsed().as_secs_f64();
    let rss_after_kib = server.rss_kib().context("the server's memory")?;
    let _ = stop_tx.send(true);
    let _ = keepalive.await;
    for r in receivers {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    server.stop().await;
    let errors = Tally::get(&shared.tally.errors);
    Ok(Figures { connect_s, settle_s, rss_before_kib, rss_after_kib, errors })
}

type Connections<T> = (Vec<tokio::task::JoinHandle<T>>, Vec<Writer>);

/// Opens `count` connections, [`CONNECTING`] at a time, spread over `rooms`, and hands each
/// one's reading half to `read`.
async fn connect_all<T>(
    server: &Server,
    count: usize,
    rooms: usize,
    prefix: &str,
    mut read: impl FnMut(BufReader<Reader>) -> tokio::task::JoinHandle<T>,
) -> anyhow::Result<Connections<T>> {
    let mut connecting = JoinSet::new();
    let (mut readers, mut writers) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut next = 0;
    while next < count || !connecting.is_empty() {
        if next < count && connecting.len() < CONNECTING {
            // On two nodes, the connections alternate between them.
            let (addr, nick) = (server.addr(next).to_owned(), format!("{prefix}i{next}"));
            let room = (rooms > 1).then(|| format!("idle{}", next % rooms));
            connecting.spawn(async move { settle_in(&addr, &nick, room).await });
            next += 1;
            continue;
        }
        let Some(done) = connecting.join_next().await else { break };
        let (r, w) = done
            .context("a connecting task failed")?
            .with_context(|| format!("after {} connections", writers.len()))?;
        readers.push(read(r));
        writers.push(w);
    }
    Ok((readers, writers))
}

/// Connects and says hello; with a `room`, leaves lobby for it.
async fn settle_in(
    addr: &str,
    nick: &str,
    room: Option<String>,
) -> anyhow::Result<(BufReader<Reader>, Writer)> {
    let (mut r, mut w) = hello(Dial::plain(addr), nick, IDLE_READER).await?;
    if let Some(room) = room {
        let lines = format!(
            "{{\"type\":\"leave\",\"room\":\"lobby\"}}\n{{\"type\":\"join\",\"room\":\"{room}\"}}\n"
        );
        w.send(lines.as_bytes()).await?;
        let members = format!("{{\"type\":\"members\",\"room\":\"{room}\"");
        expect(&mut r, |l| l.starts_with(members.as_bytes()))
            .await
            .with_context(|| format!("{nick}: join {room}"))?;
    }
    Ok((r, w))
}

/// Pings on every connection every [`KEEPALIVE`], as chat-tui does, until `stop`; then closes
/// them all.
async fn keep_alive(mut writers: Vec<Writer>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(KEEPALIVE);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.wait_for(|&s| s) => return,
            _ = tick.tick() => {}
        }
        for w in &mut writers {
            let _ = w.send(b"{\"type\":\"ping\",\"token\":1}\n").await;
        }
    }
}

/// Waits until the server (all its processes) uses less than [`QUIET_CPU`] of a core over half
/// a second, or `longest` has passed.
async fn wait_until_quiet(server: &Server, longest: Duration) {
    const STEP: Duration = Duration::from_millis(500);
    let deadline = Instant::now() + longest;
    let mut before = server.cpu_seconds();
    while Instant::now() < deadline {
        tokio::time::sleep(STEP).await;
        let now = server.cpu_seconds();
        match (before, now) {
            (Some(b), Some(n)) if (n - b) / STEP.as_secs_f64() < QUIET_CPU => return,
            (_, None) => return,
            _ => before = now,
        }
    }
}
