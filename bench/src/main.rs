//! `chat-bench`: drives real `chat-server` processes over loopback and prints what they do.
//!
//! Scenario `attack` (see `attack.rs`): a steady chat's latency alone and with hostile clients.
//!
//! Scenario `fanout`: N members in one room, S of them sending flat out (closed loop: each
//! sender keeps at most `--window` of its messages undelivered to itself), for a fixed time.
//! The same load runs against the server with history in a file, in memory and off, one after
//! the other in one run, and the figures are printed side by side with their ratios.
//!
//! The server is pinned to CPU 0 and the bench to CPU 1 (with `taskset`) when the machine has
//! two or more, so the bench does not steal the server's core. Receiving does not parse JSON:
//! a delivery is a line that starts with `{"type":"message"`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};

mod attack;
mod baseline;
mod histogram;

use histogram::Histogram;

/// Load generator for chat-server.
#[derive(Debug, Parser)]
#[command(name = "chat-bench", version)]
struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Fanout)]
    scenario: Scenario,
    /// Messages a second per sender (scenario attack; fanout sends flat out).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Members of the room.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Members that send, flat out.
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Most messages a sender keeps undelivered to itself.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Seconds measured per run (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// History settings to compare, in order.
    #[arg(long, value_delimiter = ',', default_values = ["file", "memory", "off", "bare"])]
    history: Vec<Mode>,
    /// The chat-server binary (default: next to this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Be the bare fan-out server the others are compared with (the bench starts itself so).
    #[arg(long, hide = true)]
    baseline_server: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Throughput of one room, flat out, with history in a file, in memory and off.
    Fanout,
    /// Latency of a steady chat alone and with hostile clients in the room.
    Attack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `--db FILE` in a temporary directory.
    File,
    /// `--db :memory:`.
    Memory,
    /// `--no-history`.
    Off,
    /// Not chat-server: the bare fan-out server of `baseline.rs`, the yardstick.
    Bare,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::File => "history in a file",
            Mode::Memory => "history in memory",
            Mode::Off => "no history",
            Mode::Bare => "bare fan-out",
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    sends_per_s: f64,
    deliveries_per_s: f64,
    /// Messages that should have been delivered and were not (a member that lagged).
    lost: u64,
    errors: u64,
    /// Send to receipt, microseconds.
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
    /// CPU time per second of the measured time: 1.0 is one core busy.
    server_cpu: f64,
    bench_cpu: f64,
    server_rss_mb: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.baseline_server {
        return baseline::serve().await;
    }
    if args.senders > args.members || args.members == 0 {
        bail!("--senders must be between 1 and --members");
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cpus >= 2 && which("taskset");
    if pin {
        // This process on CPU 1; each server is started on CPU 0.
        let _ = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
    let server = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("chat-server"),
    };
    if args.scenario == Scenario::Attack {
        let a = attack::Attack {
            members: args.members,
            senders: args.senders,
            rate: args.rate,
            seconds: args.seconds,
        };
        return attack::compare(&server, pin, &a).await;
    }
    println!(
        "fan-out: {} members, {} senders flat out (window {}), {}-byte messages, {} s per run{}",
        args.members,
        args.senders,
        args.window,
        args.size,
        args.seconds,
        if pin { "; server on CPU 0, bench on CPU 1" } else { "" }
    );
    let mut results = Vec::new();
    for mode in &args.history {
        let figures = run(&args, &server, *mode, pin)
            .await
            .with_context(|| format!("run with {}", mode.name()))?;
        println!(
            "{}",
            serde_json::json!({
                "scenario": "fanout", "history": format!("{mode:?}").to_lowercase(),
                "members": args.members, "senders": args.senders, "window": args.window,
                "size": args.size, "seconds": args.seconds,
                "sends_per_s": figures.sends_per_s.round(), "deliveries_per_s": figures.deliveries_per_s.round(),
                "lost": figures.lost, "errors": figures.errors,
                "p50_ms": ms(figures.p50_us), "p99_ms": ms(figures.p99_us),
                "p999_ms": ms(figures.p999_us), "max_ms": ms(figures.max_us),
                "server_cpu": (figures.server_cpu * 100.0).round() / 100.0,
                "bench_cpu": (figures.bench_cpu * 100.0).round() / 100.0,
                "server_rss_mb": figures.server_rss_mb.round(),
            })
        );
        results.push((*mode, figures));
    }
    let find = |mode| results.iter().find(|(m, _)| *m == mode).map(|(_, f)| f.deliveries_per_s);
    let (off, bare) = (find(Mode::Off), find(Mode::Bare));
    let ratio = |f: &Figures, to: Option<f64>| {
        to.map_or("-".to_owned(), |r| format!("{:.2}", f.deliveries_per_s / r))
    };
    println!();
    println!(
        "{:<18} {:>10} {:>13} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}",
        "server",
        "sends/s",
        "deliveries/s",
        "vs off",
        "vs bare",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "max ms",
        "lost",
        "errors"
    );
    for (mode, f) in &results {
        println!(
            "{:<18} {:>10.0} {:>13.0} {:>7} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>5} {:>6} {:>7.2} {:>7.2} {:>7.0}",
            mode.name(),
            f.sends_per_s,
            f.deliveries_per_s,
            ratio(f, off),
            ratio(f, bare),
            ms(f.p50_us),
            ms(f.p99_us),
            ms(f.p999_us),
            ms(f.max_us),
            f.lost,
            f.errors,
            f.server_cpu,
            f.bench_cpu,
            f.server_rss_mb
        );
    }
    Ok(())
}

/// User + system CPU seconds a process has used, from /proc (0 where there is none).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, in USER_HZ (100 on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

/// A process's resident memory in MB, from /proc.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1000.0)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A chat-server process, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

/// Starts `binary` on port 0 with the history `mode` and the `extra` flags.
async fn start_server(
    binary: &Path,
    mode: Mode,
    pin: bool,
    extra: &[&str],
) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let bench = std::env::current_exe()?;
    let program = if mode == Mode::Bare { bench.as_path() } else { binary };
    let mut cmd = if pin {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    match mode {
        Mode::Bare => cmd.arg("--baseline-server"),
        _ => cmd.args(["--listen", "127.0.0.1:0", "--no-plain"]).args(extra),
    };
    match mode {
        Mode::File => cmd.arg("--db").arg(&db),
        Mode::Memory => cmd.args(["--db", ":memory:"]),
        Mode::Off => cmd.arg("--no-history"),
        Mode::Bare => &mut cmd,
    };
    // The server's log (a warning per lagging member under this load) would drown the figures.
    cmd.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", program.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("json="))
        .with_context(|| format!("chat-server said {line:?}"))?
        .to_owned();
    Ok(Server { child, addr, _dir: dir })
}

/// Connects and registers `nick`; returns the socket halves after the lobby's member list.
async fn member(
    addr: &str,
    nick: &str,
) -> anyhow::Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let hello = format!(
        "{{\"type\":\"hello\",\"nick\":\"{nick}\",\"protocol\":{}}}\n",
        protocol::PROTOCOL_VERSION
    );
    w.write_all(hello.as_bytes()).await?;
    let mut r = BufReader::with_capacity(1 << 16, r);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            bail!("{nick}: the server closed the connection during hello");
        }
        if line.starts_with("{\"type\":\"members\"") {
            return Ok((r, w));
        }
    }
}

const MESSAGE: &[u8] = b"{\"type\":\"message\"";

/// Counts deliveries (and, for a sender, its own echoes) from one member's socket, and times
/// each from the send time in its text. Returns the latencies when the socket closes.
async fn receive(
    mut r: BufReader<OwnedReadHalf>,
    own: Option<(memchr::memmem::Finder<'static>, Arc<AtomicU64>)>,
    epoch: Instant,
    counting: Arc<AtomicBool>,
    delivered: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) -> Histogram {
    let mut buf = vec![0u8; 1 << 16];
    let mut partial: Vec<u8> = Vec::new();
    let mut latencies = Histogram::default();
    let mut seen = 0u64;
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return latencies,
            Ok(n) => n,
        };
        let now = micros(epoch);
        let counting = counting.load(Ordering::Relaxed);
        partial.extend_from_slice(&buf[..n]);
        let mut start = 0;
        let (mut messages, mut mine, mut bad) = (0u64, 0u64, 0u64);
        // SIMD searches (memchr): at millions of lines a second, the bench's own core must not
        // be what limits the figures.
        for end in memchr::memchr_iter(b'\n', &partial) {
            let line = &partial[start..end];
            start = end + 1;
            if line.starts_with(MESSAGE) {
                messages += 1;
                seen += 1;
                if let Some((from, _)) = &own
                    && from.find(line).is_some()
                {
                    mine += 1;
                }
                // Every eighth message is timed: plenty of samples, an eighth of the work.
                if counting
                    && seen.is_multiple_of(LATENCY_SAMPLE)
                    && let Some(sent) = sent_at(line)
                {
                    latencies.record(now.saturating_sub(sent));
                }
            } else if line.starts_with(b"{\"type\":\"error\"") {
                bad += 1;
            }
        }
        partial.drain(..start);
        if counting {
            delivered.fetch_add(messages, Ordering::Relaxed);
            errors.fetch_add(bad, Ordering::Relaxed);
        }
        if let Some((_, echoed)) = &own {
            echoed.fetch_add(mine, Ordering::Release);
        }
    }
}

const SENT_AT: &[u8] = b"\"text\":\"t";

/// One message in this many is timed.
const LATENCY_SAMPLE: u64 = 8;

/// The send time a message's text starts with: `t` and 16 digits of microseconds.
fn sent_at(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, SENT_AT)? + SENT_AT.len();
    let digits = line.get(at..at + 16)?;
    digits.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0')))
}

fn micros(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Sends flat out, keeping at most `window` messages unechoed.
/// What a sender shares with the run: its clock, when to stop, when to count, the count.
struct SendShared {
    epoch: Instant,
    stop: Arc<AtomicBool>,
    counting: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
}

async fn send(
    mut w: OwnedWriteHalf,
    echoed: Arc<AtomicU64>,
    window: u64,
    size: usize,
    shared: SendShared,
) -> anyhow::Result<u64> {
    let SendShared { epoch, stop, counting, sent } = shared;
    // `t` and the send time in 17 bytes, then padding to `size`.
    let padding = "x".repeat(size.saturating_sub(17));
    let mut total = 0u64;
    let mut batch = Vec::with_capacity((size + 48) * window as usize);
    while !stop.load(Ordering::Relaxed) {
        let in_flight = total - echoed.load(Ordering::Acquire);
        let room = window.saturating_sub(in_flight);
        if room == 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        batch.clear();
        let now = micros(epoch);
        for _ in 0..room {
            use std::io::Write as _;
            let _ = writeln!(
                batch,
                "{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"t{now:016}{padding}\"}}"
            );
        }
        w.write_all(&batch).await?;
        total += room;
        if counting.load(Ordering::Relaxed) {
            sent.fetch_add(room, Ordering::Relaxed);
        }
    }
    Ok(total)
}

async fn run(args: &Args, binary: &Path, mode: Mode, pin: bool) -> anyhow::Result<Figures> {
    // Every simulated client comes from 127.0.0.1 and sends flat out: the limits meant for
    // strangers on the internet would refuse the load being measured.
    let limits = ["--no-flood-control", "--max-connections-per-ip", "100000"];
    let mut server = start_server(binary, mode, pin, &limits).await?;
    let epoch = Instant::now();
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    let mut idle = Vec::new();
    for i in 0..args.members {
        let nick = format!("m{i}");
        let (r, w) = member(&server.addr, &nick).await?;
        let own = (i < args.senders).then(|| {
            let from = format!("\"from\":\"{nick}\"").into_bytes();
            (memchr::memmem::Finder::new(&from).into_owned(), Arc::new(AtomicU64::new(0)))
        });
        if let Some((_, echoed)) = &own {
            senders.push((w, echoed.clone()));
        } else {
            // Kept open until the run ends: closing it would end the member's session.
            idle.push(w);
        }
        receivers.push(tokio::spawn(receive(
            r,
            own,
            epoch,
            counting.clone(),
            delivered.clone(),
            errors.clone(),
        )));
    }
    let mut sending = Vec::new();
    for (w, echoed) in senders {
        sending.push(tokio::spawn(send(
            w,
            echoed,
            args.window as u64,
            args.size,
            SendShared {
                epoch,
                stop: stop.clone(),
                counting: counting.clone(),
                sent: sent.clone(),
            },
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_pid = server.child.id().unwrap_or(0);
    let cpu_before = (cpu_seconds(server_pid), cpu_seconds(std::process::id()));
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = (cpu_seconds(server_pid) - cpu_before.0) / elapsed;
    let bench_cpu = (cpu_seconds(std::process::id()) - cpu_before.1) / elapsed;
    let server_rss_mb = rss_mb(server_pid);
    stop.store(true, Ordering::Relaxed);
    let (sends, deliveries) = (sent.load(Ordering::Relaxed), delivered.load(Ordering::Relaxed));
    // Each message sent in the window should reach every member; a shortfall beyond what was
    // still in flight when counting stopped is loss.
    let in_flight_allowance = (args.senders * args.window * args.members) as u64;
    let expected = sends * args.members as u64;
    let lost = expected.saturating_sub(deliveries + in_flight_allowance);
    for s in sending {
        let _ = s.await;
    }
    let _ = server.child.kill().await;
    let mut latencies = Histogram::default();
    for r in receivers {
        if let Ok(Ok(h)) = tokio::time::timeout(Duration::from_secs(5), r).await {
            latencies.merge(&h);
        }
    }
    drop(idle);
    Ok(Figures {
        sends_per_s: sends as f64 / elapsed,
        deliveries_per_s: deliveries as f64 / elapsed,
        lost,
        errors: errors.load(Ordering::Relaxed),
        p50_us: latencies.quantile(0.5),
        p99_us: latencies.quantile(0.99),
        p999_us: latencies.quantile(0.999),
        max_us: latencies.max(),
        server_cpu,
        bench_cpu,
        server_rss_mb,
    })
}
