//! `chat-bench`: drives chat-server processes over loopback and prints what they do.
//!
//! Every scenario runs against each server of `--history` in turn, each a fresh process: the
//! chat-server with history in a file, in memory or off, and a bare fan-out server written for
//! the bench (`baseline.rs`), the yardstick. Or, with `--connect`, against a server that is
//! already running. With `--before`, each chat-server runs twice, on the binary built before a
//! change and on the one built after it, and the figures are compared (`versus`). With `--tls`,
//! each chat-server of a fan-out run runs twice, plainly and over TLS (`tls`). With `redis`
//! and `redis2` the chat-server keeps its history in a redis-server the bench starts for the
//! invocation: one node, or two nodes sharing it with the room's members (and senders)
//! alternating between them. The bench pins the servers it starts (every node and the
//! redis-server alike) to CPU 0 and itself to CPU 1 (with `taskset`, the bench then on one
//! thread) when the machine has two or more, so it does not steal the server's core. Every run
//! prints one JSON line (with `--rounds`, one per server and room size, of the rounds'
//! medians); `--csv` writes them all as a table, `--plot` draws fan-out sweeps.
//!
//! Latency is from send to receipt: each timed message carries the time it was written (not
//! the time it was scheduled for: see `pace`) in its text, and the receiver subtracts it from
//! the time its read returned. Receiving parses no JSON.
//!
//! # Layout
//! - `fanout`: one room, S of N members sending flat out or at a fixed total rate; sweeps N.
//! - `idle`: thousands of connections that say hello and stay; the server's memory for each.
//! - `churn`: visitors that come, say a line and quit, while steady members' latency is timed.
//! - `attack`: a steady chat's latency and the server's memory, calm and with hostile clients
//!   (issue 21's targets).
//! - `baseline`: the bare fan-out server (`chat-bench --baseline-server`).
//! - `wire`: the client side: registering, timed `say` lines, reading deliveries unparsed.
//! - `stream`: a client's connection, plain or over TLS.
//! - `tls`: the bench's certificate, given to the servers of `--tls` and trusted by its
//!   clients.
//! - `room`: what fan-out and churn share: a room of members, paced senders, the measured
//!   window.
//! - `deliveries`: the flat-out closed loop: what each member has received from each sender.
//! - `pace`: the fixed-rate schedule.
//! - `subject`: what a run measures (a history mode, a build), and its names.
//! - `process`: starting and finding servers; their CPU and memory from /proc.
//! - `redis`: the redis-server of the runs on Redis.
//! - `report`: JSON lines, CSV and the SVG chart.
//! - `versus`: the runs after a change against those before it (`--before`).
//! - `rounds`: fan-out runs repeated, taking turns, summed up by medians (`--rounds`).
//! - `histogram`: latency percentiles.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};

mod attack;
mod baseline;
mod churn;
mod deliveries;
mod fanout;
mod histogram;
mod idle;
mod pace;
mod process;
mod redis;
mod report;
mod room;
mod rounds;
mod stream;
mod subject;
mod tls;
mod versus;
mod wire;

use process::Launch;
use subject::{Build, Subject};
use tls::{BenchCert, Transport};

/// Load generator for chat-server.
#[derive(Debug, Parser)]
#[command(name = "chat-bench", version)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Fanout)]
    scenario: Scenario,
    /// Members of the room (churn: the steady members). A list sweeps: 10,100,1000.
    #[arg(long, value_delimiter = ',', default_value = "100", value_name = "N[,N...]")]
    members: Vec<usize>,
    /// Members that send (at most --members).
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages a second over all senders, spread evenly; without it fanout sends flat out
    /// (churn: 100).
    #[arg(long, value_name = "R")]
    total_rate: Option<f64>,
    /// Flat out: most messages a sender keeps that some member has not yet received.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Seconds measured per run (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Fanout: run every server of --history this many times at each member count, the
    /// servers taking turns in each round. The table gives each figure's median over the
    /// rounds (lost, repeated and errors: their sum), as do the JSON, CSV and plot rows, and
    /// each round's p50 and p99 follow it. Each round starts at the next server, so none
    /// always runs first. On a machine whose timing drifts from run to run, the median of
    /// five says more than one run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    rounds: u16,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Servers to compare, in order [default: fanout file,memory,off,bare; idle and churn
    /// file,off,bare]. redis and redis2 start a redis-server (two nodes: e.g.
    /// --history off,redis,redis2).
    #[arg(long, value_delimiter = ',', value_name = "MODE[,MODE...]")]
    history: Option<Vec<Mode>>,
    /// Idle: connections to open.
    #[arg(long, default_value_t = 5000)]
    connections: usize,
    /// Idle: rooms to spread the connections over (1: all stay in lobby, where hello puts
    /// them; more: each leaves lobby for one of them).
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Churn: visitors at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Scenario attack: messages a second per sender.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Scenario attack: the attackers to run, to see what each costs [default: all]: flooder,
    /// non-reader, slowloris, garbage, escapes, impostor, reconnect, who, history, rooms,
    /// churner, nicks.
    #[arg(long, value_delimiter = ',', value_name = "KIND[,KIND...]")]
    attackers: Option<Vec<String>>,
    /// Measure the server already listening at this loopback address instead of starting
    /// servers (no pinning, one run per member count, labelled "external"). It must allow the
    /// load: e.g. chat-server --no-flood-control --max-connections-per-ip 100000.
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<String>,
    /// Start the servers without pinning them (or the bench) to a CPU: the scheduler places
    /// everything, as on a machine where nobody ran taskset. By default, with two CPUs or more,
    /// the servers run on CPU 0 and the bench on CPU 1.
    #[arg(long)]
    no_pin: bool,
    /// Write every run's figures to this CSV file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Fanout: draw deliveries/s and p99 against members into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// The chat-server binary to start [default: the chat-server beside chat-bench]. With
    /// --before, the build after the change.
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
    /// Compare with this chat-server binary, built before a change: each chat-server of
    /// --history runs on it and at once on --server, rows "before" and "after", and the after
    /// rows get after/before ratios (deliveries/s or churn/s, p50, p99, server CPU, RSS; idle:
    /// memory per connection). The bare server runs once.
    #[arg(long, value_name = "PATH")]
    before: Option<PathBuf>,
    /// Fan-out: each chat-server of --history runs plainly and at once over TLS (a certificate
    /// the bench makes for 127.0.0.1; handshakes before the measured window), rows "over TLS",
    /// and the TLS rows get TLS/plain ratios (deliveries/s, p50, p99, server CPU, RSS, CPU per
    /// delivery). The bare server runs once, plainly.
    #[arg(long)]
    tls: bool,
    /// Keep the log of every chat-server started, one file each in this directory
    /// (NN-MODE[-BUILD][-tls][-NODE].log); by default it is dropped.
    #[arg(long, value_name = "DIR")]
    server_log: Option<PathBuf>,
    /// Be the bare fan-out server the others are compared with (the bench starts itself so).
    #[arg(long, hide = true)]
    baseline_server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// One room, S of N members sending flat out or at --total-rate.
    Fanout,
    /// --connections connections that hello and stay: server memory per connection.
    Idle,
    /// Visitors that connect, join, say a line and quit while steady members chat.
    Churn,
    /// Latency of a steady chat alone and with hostile clients in the room.
    Attack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `--db FILE` in a temporary directory.
    File,
    /// `--db :memory:`.
    Memory,
    /// `--no-history`.
    Off,
    /// Not chat-server: the bare fan-out server of `baseline.rs`, the yardstick.
    Bare,
    /// `--redis`: one node, its history in a redis-server the bench starts.
    Redis,
    /// `--redis`: two nodes sharing that redis-server; members alternate between them.
    #[value(name = "redis2")]
    Redis2,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::File => "history in a file",
            Mode::Memory => "history in memory",
            Mode::Off => "no history",
            Mode::Bare => "bare fan-out",
            Mode::Redis => "one node on Redis",
            Mode::Redis2 => "two nodes on Redis",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Mode::File => "file",
            Mode::Memory => "memory",
            Mode::Off => "off",
            Mode::Bare => "bare",
            Mode::Redis => "redis",
            Mode::Redis2 => "redis2",
        }
    }

    /// How many chat-server nodes share the bench's redis-server: 0 for a server on its own.
    pub fn nodes_on_redis(self) -> usize {
        match self {
            Mode::Redis => 1,
            Mode::Redis2 => 2,
            _ => 0,
        }
    }
}

/// chat-server's flags for load from one address: its limits are meant for strangers on the
/// internet and would refuse the load being measured.
pub const LOAD_LIMITS: &[&str] = &[
    "--no-flood-control",
    "--max-connections-per-ip",
    "1000000",
    "--max-connections",
    "1000000",
    "--max-room-members",
    "1000000",
];

/// Open files the bench needs besides its connections (the runtime, a server's pipes).
const SPARE_FILES: usize = 64;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.baseline_server {
        // The same kind of runtime as chat-server's.
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return runtime.block_on(baseline::serve());
    }
    if args.members.is_empty() || args.members.contains(&0) || args.senders == 0 {
        bail!("--members and --senders must be at least 1");
    }
    if args.before.is_some() && (args.connect.is_some() || args.scenario == Scenario::Attack) {
        bail!(
            "--before compares servers the bench starts: not with --connect or --scenario attack"
        );
    }
    refuse_tls(&args)?;
    if args.attackers.is_some() && args.scenario != Scenario::Attack {
        bail!("--attackers chooses the attackers of --scenario attack");
    }
    if args.rounds > 1 && (args.scenario != Scenario::Fanout || args.connect.is_some()) {
        bail!(
            "--rounds repeats the fan-out runs of servers the bench starts: use it with \
             --scenario fanout, not with --connect"
        );
    }
    if args.plot.is_some() && args.scenario != Scenario::Fanout {
        bail!("--plot draws fan-out runs; use it with --scenario fanout");
    }
    let connections = match args.scenario {
        Scenario::Fanout => args.members.iter().copied().max().unwrap_or(0),
        Scenario::Idle => args.connections,
        Scenario::Churn => args.members.iter().copied().max().unwrap_or(0) + args.parallel,
        // The members, the reference and some 80 attackers' connections.
        Scenario::Attack => args.members[0] + 100,
    };
    process::check_fd_limit((connections + SPARE_FILES) as u64)?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = args.connect.is_none() && !args.no_pin && cpus >= 2 && process::which("taskset");
    let runtime = if pin {
        process::pin_bench();
        // One CPU: a second worker thread would only contend for it, and hand tasks over
        // between threads on every wake-up.
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()?
    };
    runtime.block_on(bench(args, pin))
}

async fn bench(args: Args, pin: bool) -> anyhow::Result<()> {
    let external = match &args.connect {
        Some(target) => Some(loopback(target).await?),
        None => None,
    };
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("chat-server"),
    };
    let default: &[Mode] = match args.scenario {
        Scenario::Fanout => &[Mode::File, Mode::Memory, Mode::Off, Mode::Bare],
        Scenario::Idle | Scenario::Churn => &[Mode::File, Mode::Off, Mode::Bare],
        // It starts its own: chat-server with history in a file.
        Scenario::Attack => &[],
    };
    let subjects = match external {
        Some(addr) => vec![Subject::External(addr)],
        None if args.scenario == Scenario::Attack => Vec::new(),
        None => {
            to_start(args.history.as_deref().unwrap_or(default), args.before.is_some(), args.tls)
        }
    };
    if let Some(before) = &args.before {
        println!("before: {}\nafter:  {}", before.display(), binary.display());
    }
    let tls = if args.tls { Some(BenchCert::make()?) } else { None };
    if let Some(cert) = &tls {
        println!("tls: each chat-server plainly, then over TLS with {}", cert.path());
    }
    if let Some(dir) = &args.server_log {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--server-log: cannot create {}", dir.display()))?;
    }
    let redis = if subjects.iter().any(|s| s.uses_redis()) {
        Some(redis::Redis::start(pin).await?)
    } else {
        None
    };
    let logs = args.server_log.clone();
    let before = args.before.clone();
    let started = AtomicUsize::new(0);
    let mut launch = Launch { binary, before, pin, redis, logs, started, tls };
    let result = scenario(&args, &launch, subjects, external, pin).await;
    if let Some(redis) = launch.redis.take() {
        redis.stop().await;
    }
    result
}

/// The servers to start for `modes`, in order. Comparing builds, each chat-server runs on the
/// build before and at once on the build after; with `tls`, plainly and at once over TLS: so
/// that a change in what else the machine is doing weighs on both alike. The bare server, not
/// chat-server, runs once, plainly.
fn to_start(modes: &[Mode], compare: bool, tls: bool) -> Vec<Subject> {
    let builds: &[Option<Build>] =
        if compare { &[Some(Build::Before), Some(Build::After)] } else { &[None] };
    let transports: &[Transport] =
        if tls { &[Transport::Plain, Transport::Tls] } else { &[Transport::Plain] };
    let mut subjects = Vec::new();
    for &mode in modes {
        if mode == Mode::Bare {
            subjects.push(Subject::Started(mode, None, Transport::Plain));
            continue;
        }
        for &build in builds {
            subjects.extend(transports.iter().map(|&t| Subject::Started(mode, build, t)));
        }
    }
    subjects
}

/// Fails, saying why, when `--tls` is asked for with what it cannot be measured with.
fn refuse_tls(args: &Args) -> anyhow::Result<()> {
    if !args.tls {
        return Ok(());
    }
    let chat_server = |modes: &[Mode]| modes.iter().any(|&m| m != Mode::Bare);
    let why = if args.scenario != Scenario::Fanout {
        "it measures fan-out runs (flat out or --total-rate): use it with --scenario fanout"
    } else if args.connect.is_some() {
        "it gives the servers it starts its own certificate; a server already running \
         (--connect) has another"
    } else if args.before.is_some() {
        "--before already runs each chat-server twice; compare builds and TLS in separate \
         invocations"
    } else if args.history.as_deref().is_some_and(|modes| !chat_server(modes)) {
        "the bare server speaks no TLS: --history needs a chat-server mode (file, memory, off, \
         redis, redis2)"
    } else {
        return Ok(());
    };
    bail!("--tls: {why}")
}

async fn scenario(
    args: &Args,
    launch: &Launch,
    subjects: Vec<Subject>,
    external: Option<SocketAddr>,
    pin: bool,
) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Fanout => {
            let plan = fanout::Plan {
                members: args.members.clone(),
                senders: args.senders,
                total_rate: args.total_rate,
                window: args.window,
                seconds: args.seconds,
                size: args.size,
                subjects,
                rounds: usize::from(args.rounds),
                csv: args.csv.clone(),
                plot: args.plot.clone(),
            };
            fanout::sweep(launch, &plan).await
        }
        Scenario::Idle => {
            let plan = idle::Plan {
                connections: args.connections,
                rooms: args.rooms,
                subjects,
                csv: args.csv.clone(),
            };
            idle::compare(launch, &plan).await
        }
        Scenario::Churn => {
            let plan = churn::Plan {
                members: args.members.clone(),
                senders: args.senders,
                total_rate: args.total_rate.unwrap_or(churn::DEFAULT_RATE),
                parallel: args.parallel.max(1),
                seconds: args.seconds,
                size: args.size,
                subjects,
                csv: args.csv.clone(),
            };
            churn::compare(launch, &plan).await
        }
        Scenario::Attack => {
            if external.is_some() || args.csv.is_some() || args.members.len() > 1 {
                bail!(
                    "--scenario attack starts its own servers, for one member count, and has no CSV"
                );
            }
            let a = attack::Attack {
                members: args.members[0],
                senders: args.senders,
                rate: args.rate,
                seconds: args.seconds,
                attackers: args.attackers.clone(),
            };
            attack::compare(&launch.binary, pin, &a).await
        }
    }
}

/// The address of `target`, which must be on this machine: the bench is a load generator,
/// not something to point at other people's servers.
async fn loopback(target: &str) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(target)
        .await
        .with_context(|| format!("--connect {target}: expected HOST:PORT"))?
        .collect();
    match addrs.iter().find(|a| a.ip().is_loopback()) {
        Some(addr) => Ok(*addr),
        None => bail!(
            "--connect {target}: the bench only targets loopback addresses (127.0.0.1, ::1, localhost)"
        ),
    }
}

/// Microseconds as milliseconds.
pub fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}
