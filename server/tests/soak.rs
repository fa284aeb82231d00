//! Soak: hundreds of clients connecting, chatting and going away, politely or not, for a
//! while. Proves that churn leaves nothing behind: no session panics (nor any `error!`), the
//! server's tokio tasks and the process's file descriptors come back to their counts before
//! the first client, memory comes back near where it started, and the server still answers.
//!
//! Short by default (CI). A long run, in release:
//! `SOAK_SECS=600 SOAK_CONNECTIONS=1000 cargo test --release -p chat-server --test soak -- --nocapture`
//! `SOAK_CONNECTIONS` is how many virtual clients run at once; each reconnects, as a new nick,
//! as soon as its last connection has ended, until `SOAK_SECS` are up.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_server::{HistoryConfig, ServerInfo};
use common::{TestServer, start_server_with_history};
use futures::{SinkExt, StreamExt};
use protocol::limits::MAX_SERVER_LINE_BYTES;
use protocol::{
    ByeCode, ClientCodec, ClientMsg, ErrorCode, Label, Nick, PROTOCOL_VERSION, RoomName, ServerMsg,
    Text,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::time::{Instant, sleep, timeout_at};
use tokio_util::codec::Framed;
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Default wall time of the churn, split over [`ROUNDS`].
const DEFAULT_SECS: u64 = 8;
/// Default number of virtual clients at once. A connection lasts about 1.5 s in a debug build
/// (the talk is cut short when a round ends), so eight seconds of 250 make about 900 to 1,000
/// connections (1,700 in release).
const DEFAULT_CLIENTS: usize = 250;
/// The churn runs twice; memory after the second round is compared with after the first, once
/// the allocator and the server's maps have grown to what this load needs.
const ROUNDS: u32 = 2;
/// Rooms the clients spread over (everyone is also in lobby).
const ROOMS: [&str; 4] = ["soak-a", "soak-b", "soak-c", "soak-d"];
/// Messages history keeps per room. Bounded, so the in-memory SQLite database stops growing
/// (it prunes at this plus `PRUNE_SLACK`, 1,000) instead of counting as a leak in a long run.
const HISTORY_KEEP: u64 = 100;
/// How long a client waits for an answer it is owed. Generous: debug builds on two cores.
const WAIT: Duration = Duration::from_secs(10);
/// How long the server gets to finish the sessions of clients that have gone.
const DRAIN: Duration = Duration::from_secs(15);
/// Memory the process may still hold after the churn, above what it held before any client,
/// for each client that was connected at once (both ends live here): glibc keeps most of what
/// was freed in its per-thread arenas (four runtime threads allocate) rather than give it back,
/// and the hub's and tokio's maps keep the capacity they grew to. Measured: about 60 KiB in
/// debug with 250 clients, 73 to 78 KiB in release with 1,000 (80 to 85% of the peak).
const RETAINED_PER_CLIENT_KIB: u64 = 96;
/// Plus, whatever the number of clients: the pages SQLite keeps for the stored history (at
/// most 4 rooms x 1,100 messages, see [`HISTORY_KEEP`]) and the runtimes' own buffers.
const RETAINED_KIB: u64 = 16 * 1024;
/// Growth allowed from the end of the first round to the end of the second, per client at
/// once and in all. The same load again reuses what the first round left in the allocator,
/// so what grows is a leak (or history filling up, and fragmentation: a few MiB). Measured:
/// 1 to 2.5 MiB in debug with 250 clients, -4 to +6 MiB in release with 1,000. A leak of 1 KiB a
/// connection shows in the long run (tens of thousands of connections a round); the short
/// run only catches leaks of tens of KiB a connection.
const GROWTH_PER_CLIENT_KIB: u64 = 16;
const GROWTH_KIB: u64 = 8 * 1024;

/// Figures of the whole run, shared by all clients.
#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    welcomed: AtomicU64,
    said: AtomicU64,
    acked: AtomicU64,
    received: AtomicU64,
    lagged: AtomicU64,
    quits: AtomicU64,
    half_closes: AtomicU64,
    closed_unread: AtomicU64,
    resets: AtomicU64,
    half_lines: AtomicU64,
    before_hello: AtomicU64,
    failures: AtomicU64,
    first_failures: Mutex<Vec<String>>,
}

impl Stats {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    fn fail(&self, what: String) {
        Self::add(&self.failures);
        let mut first = lock(&self.first_failures);
        if first.len() < 10 {
            first.push(what);
        }
    }

    fn print(&self) {
        let n = |c: &AtomicU64| c.load(Relaxed);
        println!(
            "soak: {} connections ({} welcomed), {} messages said, {} acknowledged by their echo, \
             {} messages received by reading clients, {} lagged notices",
            n(&self.connections),
            n(&self.welcomed),
            n(&self.said),
            n(&self.acked),
            n(&self.received),
            n(&self.lagged),
        );
        println!(
            "soak: endings: {} quit, {} half-closed, {} closed unread, {} reset, \
             {} closed or reset mid-line, {} gone before hello; {} failures",
            n(&self.quits),
            n(&self.half_closes),
            n(&self.closed_unread),
            n(&self.resets),
            n(&self.half_lines),
            n(&self.before_hello),
            n(&self.failures),
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The server's warnings and errors, counted, with the first few kept. Sessions catch their
/// own panics and log them with `error!`, so this is where a panicking session shows.
#[derive(Default)]
struct ServerLog {
    errors: AtomicU64,
    warnings: AtomicU64,
    first: Mutex<Vec<String>>,
}

struct Counting(Arc<ServerLog>);

impl<S: tracing::Subscriber> Layer<S> for Counting {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let level = *event.metadata().level();
        let counter =
            if level == tracing::Level::ERROR { &self.0.errors } else { &self.0.warnings };
        Stats::add(counter);
        let mut first = lock(&self.0.first);
        if first.len() < 10 {
            let mut text = format!("{level} {}:", event.metadata().target());
            event.record(&mut Fields(&mut text));
            first.push(text);
        }
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

fn count_server_log() -> Arc<ServerLog> {
    let log = Arc::new(ServerLog::default());
    let subscriber =
        tracing_subscriber::registry().with(Counting(log.clone()).with_filter(LevelFilter::WARN));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    log
}

/// Every panic in the process, with its thread, including any a session catches.
fn count_panics() -> Arc<Mutex<Vec<String>>> {
    let panics = Arc::new(Mutex::new(Vec::new()));
    let seen = panics.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        lock(&seen).push(format!("{thread}: {info}"));
        default(info);
    }));
    panics
}

/// What must come back after the churn: the server runtime's tasks, the process's open file
/// descriptors (the clients' too: both ends live here); and resident memory, for the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    tasks: usize,
    fds: usize,
    rss_kib: u64,
}

impl Snapshot {
    fn take(server: &Runtime) -> Self {
        Self {
            tasks: server.metrics().num_alive_tasks(),
            fds: std::fs::read_dir("/proc/self/fd").unwrap().count(),
            rss_kib: status_kib("VmRSS:"),
        }
    }

    fn same_handles(&self, other: &Self) -> bool {
        self.tasks == other.tasks && self.fds == other.fds
    }
}

/// One round of churn: what was left after it, how long it ran and how long it took to drain.
struct Round {
    after: Snapshot,
    churned: Duration,
    drain: Duration,
}

/// A figure of /proc/self/status in KiB: `VmRSS:` now, `VmHWM:` the peak.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// The soft limit on open files. The test cannot raise it (that needs libc or rlimit), so it
/// runs no more clients than fit under it.
fn fd_soft_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let soft = line["Max open files".len()..].split_whitespace().next().unwrap();
    soft.parse().unwrap_or(usize::MAX)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits, at most [`DRAIN`], for tasks and descriptors to be back to `before`.
fn drained(server: &Runtime, before: &Snapshot) -> (Snapshot, Duration) {
    let start = std::time::Instant::now();
    loop {
        let now = Snapshot::take(server);
        if now.same_handles(before) || start.elapsed() >= DRAIN {
            return (now, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Hundreds of clients connect, chat and leave in every way a connection can end, for a
/// while; afterwards no task, descriptor or (beyond a stated margin) memory is left behind,
/// nothing panicked or logged an error, and a new client is served.
#[test]
fn churn_leaves_no_task_fd_or_memory_behind() {
    let started = std::time::Instant::now();
    let log = count_server_log();
    let panics = count_panics();
    let secs: u64 = env_or("SOAK_SECS", DEFAULT_SECS);
    let wanted: usize = env_or("SOAK_CONNECTIONS", DEFAULT_CLIENTS);

    // The server on its own runtime, so its task count is its own; the clients on another.
    let server_rt = runtime("soak-server");
    let client_rt = runtime("soak-client");
    let info = ServerInfo { max_connections_per_ip: 10_000, flood: None, ..ServerInfo::default() };
    let history = HistoryConfig { keep: HISTORY_KEEP, ..HistoryConfig::default() };
    let server = server_rt.block_on(start_server_with_history(info, history));
    let before = Snapshot::take(&server_rt);

    // Each client is two descriptors (both ends are in this process), and the server end of a
    // client that has just gone may live on briefly while its session finishes: 2.5 each.
    let limit = fd_soft_limit();
    let clients = wanted.min(limit.saturating_sub(before.fds) * 2 / 5).max(1);
    println!(
        "soak: {clients} clients at once (asked {wanted}; open-files soft limit {limit}), \
         {secs} s in {ROUNDS} rounds"
    );

    let stats = Arc::new(Stats::default());
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let start = std::time::Instant::now();
        let until = Instant::now() + Duration::from_secs(secs) / ROUNDS;
        client_rt.block_on(churn(server.json, clients, round, until, stats.clone()));
        let churned = start.elapsed();
        let (after, drain) = drained(&server_rt, &before);
        rounds.push(Round { after, churned, drain });
    }
    let peak_kib = status_kib("VmHWM:");
    stats.print();
    print_figures(&before, &rounds, peak_kib);

    client_rt.block_on(fresh_client_is_served(&server));
    server_rt.block_on(server.shutdown());
    println!("soak: took {:.1} s", started.elapsed().as_secs_f64());

    check(&stats, &log, &panics);
    check_leftovers(&before, &rounds, clients);
}

/// Every round gave back every task and descriptor; memory is within the margins above.
fn check_leftovers(before: &Snapshot, rounds: &[Round], clients: usize) {
    for (i, round) in rounds.iter().enumerate() {
        let n = i + 1;
        assert_eq!(round.after.tasks, before.tasks, "round {n} left server tasks after {DRAIN:?}");
        assert_eq!(round.after.fds, before.fds, "round {n} left descriptors open after {DRAIN:?}");
    }
    let after_first = rounds[0].after;
    let after = rounds[rounds.len() - 1].after;
    let clients = clients as u64;
    let retained = RETAINED_KIB + RETAINED_PER_CLIENT_KIB * clients;
    assert!(
        after.rss_kib <= before.rss_kib + retained,
        "resident memory {} KiB, more than {retained} KiB above the {} KiB before any client",
        after.rss_kib,
        before.rss_kib,
    );
    let growth = GROWTH_KIB + GROWTH_PER_CLIENT_KIB * clients;
    assert!(
        after.rss_kib <= after_first.rss_kib + growth,
        "resident memory grew from {} KiB after the first round to {} KiB after the second, \
         more than {growth} KiB",
        after_first.rss_kib,
        after.rss_kib,
    );
}

fn print_figures(before: &Snapshot, rounds: &[Round], peak_kib: u64) {
    println!(
        "soak: before: {} server tasks, {} fds, {} KiB resident",
        before.tasks, before.fds, before.rss_kib
    );
    for (i, round) in rounds.iter().enumerate() {
        println!(
            "soak: after round {} ({} ms of churn, {} ms to drain): {} server tasks, {} fds, \
             {} KiB resident",
            i + 1,
            round.churned.as_millis(),
            round.drain.as_millis(),
            round.after.tasks,
            round.after.fds,
            round.after.rss_kib,
        );
    }
    println!("soak: peak resident {peak_kib} KiB");
}

/// Nothing the clients did went wrong, nothing panicked, the server logged no error.
fn check(stats: &Stats, log: &ServerLog, panics: &Mutex<Vec<String>>) {
    let warnings = log.warnings.load(Relaxed);
    let errors = log.errors.load(Relaxed);
    println!("soak: server logged {errors} errors, {warnings} warnings: {:#?}", lock(&log.first));
    assert_eq!(
        stats.failures.load(Relaxed),
        0,
        "clients failed: {:#?}",
        lock(&stats.first_failures)
    );
    // Copied out: the panic hook takes this lock, so it must not be held while panicking.
    let panics = lock(panics).clone();
    assert!(panics.is_empty(), "panicked: {panics:#?}");
    assert_eq!(errors, 0, "the server logged errors: {:#?}", lock(&log.first));
}

/// After the churn a new client still gets in, joins and has its message echoed.
async fn fresh_client_is_served(server: &TestServer) {
    let mut fresh = server.join("fresh").await;
    let room = RoomName::parse(ROOMS[0]).unwrap();
    fresh.send(ClientMsg::Join { room: room.clone(), key: None }).await;
    fresh.recv_until(|m| matches!(m, ServerMsg::Members { room: r, .. } if *r == room)).await;
    let text = Text::parse("still here").unwrap();
    fresh.send(ClientMsg::Say { room: room.clone(), text: text.clone() }).await;
    fresh
        .recv_until(|m| matches!(m, ServerMsg::Message { text: t, from, .. } if *t == text && from.as_str() == "fresh"))
        .await;
    fresh.send(ClientMsg::Quit { reason: None }).await;
    fresh.recv_until(|m| matches!(m, ServerMsg::Bye { code: ByeCode::Quit, .. })).await;
}

/// Runs `clients` virtual clients until `until`, and waits for the last of them to be done.
async fn churn(addr: SocketAddr, clients: usize, round: u32, until: Instant, stats: Arc<Stats>) {
    let seed: u64 = env_or("SOAK_SEED", 0x5eed);
    let tasks: Vec<_> = (0..clients)
        .map(|id| {
            let rng = Rng(seed ^ (u64::from(round) << 32) ^ id as u64);
            tokio::spawn(virtual_client(addr, format!("r{round}c{id}"), rng, until, stats.clone()))
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// One person's connections, one after another: each a new nick.
async fn virtual_client(
    addr: SocketAddr,
    name: String,
    mut rng: Rng,
    until: Instant,
    stats: Arc<Stats>,
) {
    // Spread the first connections over half a second rather than all at once.
    sleep(Duration::from_millis(rng.below(500))).await;
    let mut life = 0;
    while Instant::now() < until {
        let nick = format!("{name}n{life}");
        if let Err(e) = one_connection(addr, &nick, &mut rng, until, &stats).await {
            stats.fail(format!("{nick}: {e}"));
        }
        life += 1;
    }
}

/// Connects, says hello, joins a room, says a few things (reading, or not), and ends; cuts
/// the talk short once the round is over.
async fn one_connection(
    addr: SocketAddr,
    nick: &str,
    rng: &mut Rng,
    until: Instant,
    stats: &Stats,
) -> Result<(), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    Stats::add(&stats.connections);
    if rng.below(10) == 0 {
        return gone_before_hello(stream, rng, stats).await;
    }
    let mut c =
        Conn { frames: Framed::new(stream, ClientCodec::new(MAX_SERVER_LINE_BYTES)), stats };
    let me = Nick::parse(nick).unwrap();
    let hello = ClientMsg::Hello {
        nick: me.clone(),
        protocol: PROTOCOL_VERSION,
        client: Label::truncate("soak"),
        resume: None,
        password: None,
    };
    c.send(&hello).await?;
    c.until("welcome", |m| matches!(m, ServerMsg::Welcome { .. })).await?;
    Stats::add(&stats.welcomed);
    c.until("lobby's members", |m| matches!(m, ServerMsg::Members { .. })).await?;
    let room = RoomName::parse(ROOMS[rng.below(ROOMS.len() as u64) as usize]).unwrap();
    c.send(&ClientMsg::Join { room: room.clone(), key: None }).await?;
    c.until(
        "the room's members",
        |m| matches!(m, ServerMsg::Members { room: r, .. } if *r == room),
    )
    .await?;
    let reads = rng.below(2) == 0;
    for i in 0..2 + rng.below(4) {
        let text = Text::parse(&format!("{nick} says {i}")).unwrap();
        c.send(&ClientMsg::Say { room: room.clone(), text: text.clone() }).await?;
        Stats::add(&stats.said);
        let pause = Instant::now() + Duration::from_millis(150 + rng.below(400));
        if reads {
            c.until("the echo", |m| matches!(m, ServerMsg::Message { from, text: t, .. } if *from == me && *t == text))
                .await?;
            Stats::add(&stats.acked);
            c.read_until(pause).await?;
        } else {
            tokio::time::sleep_until(pause).await;
        }
        if Instant::now() >= until {
            break;
        }
    }
    c.end(rng.below(6), &room).await
}

/// A connection that goes away before its hello is complete: at once, or half-way through
/// the line, closed or reset.
async fn gone_before_hello(
    mut stream: TcpStream,
    rng: &mut Rng,
    stats: &Stats,
) -> Result<(), String> {
    Stats::add(&stats.before_hello);
    if rng.below(3) > 0 {
        stream.write_all(br#"{"type":"hello","nick":"half"#).await.map_err(|e| e.to_string())?;
    }
    if rng.below(2) == 0 {
        stream.set_zero_linger().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A client's connection, reading with a deadline and keeping the figures.
struct Conn<'a> {
    frames: Framed<TcpStream, ClientCodec>,
    stats: &'a Stats,
}

/// What a read came to.
enum Read {
    Msg(ServerMsg),
    Closed,
    TimedOut,
}

impl Conn<'_> {
    async fn send(&mut self, msg: &ClientMsg) -> Result<(), String> {
        self.frames.send(msg).await.map_err(|e| format!("send: {e}"))
    }

    /// The next message by `deadline`. An error event other than `lagged` is a failure: none
    /// of the requests of this test should be refused.
    async fn read(&mut self, deadline: Instant) -> Result<Read, String> {
        let msg = match timeout_at(deadline, self.frames.next()).await {
            Err(_) => return Ok(Read::TimedOut),
            Ok(None) => return Ok(Read::Closed),
            Ok(Some(Err(e))) => return Err(format!("socket error: {e}")),
            Ok(Some(Ok(Err(e)))) => return Err(format!("unreadable line from the server: {e:?}")),
            Ok(Some(Ok(Ok(msg)))) => msg,
        };
        match &msg {
            ServerMsg::Message { .. } => Stats::add(&self.stats.received),
            ServerMsg::Error { code: ErrorCode::Lagged, .. } => Stats::add(&self.stats.lagged),
            ServerMsg::Error { .. } => return Err(format!("refused: {msg:?}")),
            _ => {}
        }
        Ok(Read::Msg(msg))
    }

    /// Reads until a message is `wanted`, failing if the connection ends or stays silent.
    async fn until(
        &mut self,
        what: &str,
        wanted: impl Fn(&ServerMsg) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.read(deadline).await? {
                Read::Msg(msg) if wanted(&msg) => return Ok(()),
                Read::Msg(ServerMsg::Bye { code, message, .. }) => {
                    return Err(format!("bye {code:?} ({message}) while waiting for {what}"));
                }
                Read::Msg(_) => {}
                Read::Closed => return Err(format!("closed while waiting for {what}")),
                Read::TimedOut => return Err(format!("no {what} within {WAIT:?}")),
            }
        }
    }

    /// Reads whatever comes until `deadline`.
    async fn read_until(&mut self, deadline: Instant) -> Result<(), String> {
        loop {
            match self.read(deadline).await? {
                Read::Msg(_) => {}
                Read::TimedOut => return Ok(()),
                Read::Closed => return Err("closed by the server".into()),
            }
        }
    }

    /// Reads until the server closes the connection.
    async fn until_closed(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.read(deadline).await? {
                Read::Msg(_) => {}
                Read::Closed => return Ok(()),
                Read::TimedOut => return Err(format!("not closed within {WAIT:?}")),
            }
        }
    }

    /// Ends the connection in one of six ways: `quit` and read to the `bye`; half-close and
    /// read to the end; close with input unread (a reset, if any was waiting); reset; close or
    /// reset half-way through a line.
    async fn end(mut self, how: u64, room: &RoomName) -> Result<(), String> {
        let half_line = format!(r#"{{"type":"say","room":"{room}","text":"cut of"#);
        match how {
            0 => {
                self.send(&ClientMsg::Quit { reason: Some(Label::truncate("soaked")) }).await?;
                self.until("bye", |m| matches!(m, ServerMsg::Bye { code: ByeCode::Quit, .. }))
                    .await?;
                self.until_closed().await?;
                Stats::add(&self.stats.quits);
            }
            1 => {
                self.frames.get_mut().shutdown().await.map_err(|e| format!("shutdown: {e}"))?;
                self.until_closed().await?;
                Stats::add(&self.stats.half_closes);
            }
            2 => Stats::add(&self.stats.closed_unread),
            3 => {
                self.frames.get_ref().set_zero_linger().map_err(|e| e.to_string())?;
                Stats::add(&self.stats.resets);
            }
            _ => {
                let stream = self.frames.get_mut();
                stream.write_all(half_line.as_bytes()).await.map_err(|e| e.to_string())?;
                if how == 5 {
                    stream.set_zero_linger().map_err(|e| e.to_string())?;
                }
                Stats::add(&self.stats.half_lines);
            }
        }
        Ok(())
    }
}

/// splitmix64: reproducible choices (for one `SOAK_SEED`) without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
