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
    #[arg(long, value_delimiter = ',', default_values = ["file", "memory", "off"])]
    history: Vec<Mode>,
    /// The chat-server binary (default: next to this one).
    #[arg(long)]
    server: Option<PathBuf>,
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
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::File => "history in a file",
            Mode::Memory => "history in memory",
            Mode::Off => "no history",
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
            })
        );
        results.push((*mode, figures));
    }
    let reference = results.iter().find(|(m, _)| *m == Mode::Off).map(|(_, f)| f.deliveries_per_s);
    println!();
    println!(
        "{:<20} {:>12} {:>15} {:>10} {:>6} {:>7}",
        "history", "sends/s", "deliveries/s", "vs off", "lost", "errors"
    );
    for (mode, f) in &results {
        let ratio = reference.map_or("-".to_owned(), |r| format!("{:.2}", f.deliveries_per_s / r));
        println!(
            "{:<20} {:>12.0} {:>15.0} {:>10} {:>6} {:>7}",
            mode.name(),
            f.sends_per_s,
            f.deliveries_per_s,
            ratio,
            f.lost,
            f.errors
        );
    }
    Ok(())
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
    let mut cmd = if pin {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]).arg(binary);
        cmd
    } else {
        Command::new(binary)
    };
    cmd.args(["--listen", "127.0.0.1:0", "--no-plain"]).args(extra);
    match mode {
        Mode::File => cmd.arg("--db").arg(&db),
        Mode::Memory => cmd.args(["--db", ":memory:"]),
        Mode::Off => cmd.arg("--no-history"),
    };
    // The server's log (a warning per lagging member under this load) would drown the figures.
    cmd.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", binary.display()))?;
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

/// Counts deliveries (and, for a sender, its own echoes) from one member's socket.
async fn receive(
    mut r: BufReader<OwnedReadHalf>,
    own: Option<(Vec<u8>, Arc<AtomicU64>)>,
    counting: Arc<AtomicBool>,
    delivered: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 1 << 16];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        partial.extend_from_slice(&buf[..n]);
        let mut start = 0;
        let (mut messages, mut mine, mut bad) = (0u64, 0u64, 0u64);
        while let Some(end) = partial[start..].iter().position(|&b| b == b'\n') {
            let line = &partial[start..start + end];
            if line.starts_with(MESSAGE) {
                messages += 1;
                if let Some((from, _)) = &own
                    && line.windows(from.len()).any(|w| w == from.as_slice())
                {
                    mine += 1;
                }
            } else if line.starts_with(b"{\"type\":\"error\"") {
                bad += 1;
            }
            start += end + 1;
        }
        partial.drain(..start);
        if counting.load(Ordering::Relaxed) {
            delivered.fetch_add(messages, Ordering::Relaxed);
            errors.fetch_add(bad, Ordering::Relaxed);
        }
        if let Some((_, echoed)) = &own {
            echoed.fetch_add(mine, Ordering::Release);
        }
    }
}

/// Sends flat out, keeping at most `window` messages unechoed.
async fn send(
    mut w: OwnedWriteHalf,
    echoed: Arc<AtomicU64>,
    window: u64,
    size: usize,
    stop: Arc<AtomicBool>,
    counting: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> anyhow::Result<u64> {
    let text = "x".repeat(size);
    let line = format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"{text}\"}}\n");
    let mut total = 0u64;
    let mut batch = Vec::with_capacity(line.len() * window as usize);
    while !stop.load(Ordering::Relaxed) {
        let in_flight = total - echoed.load(Ordering::Acquire);
        let room = window.saturating_sub(in_flight);
        if room == 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        batch.clear();
        for _ in 0..room {
            batch.extend_from_slice(line.as_bytes());
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
        let own = (i < args.senders)
            .then(|| (format!("\"from\":\"{nick}\"").into_bytes(), Arc::new(AtomicU64::new(0))));
        if let Some((_, echoed)) = &own {
            senders.push((w, echoed.clone()));
        } else {
            // Kept open until the run ends: closing it would end the member's session.
            idle.push(w);
        }
        receivers.push(tokio::spawn(receive(
            r,
            own,
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
            stop.clone(),
            counting.clone(),
            sent.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
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
    for r in receivers {
        r.abort();
    }
    drop(idle);
    Ok(Figures {
        sends_per_s: sends as f64 / elapsed,
        deliveries_per_s: deliveries as f64 / elapsed,
        lost,
        errors: errors.load(Ordering::Relaxed),
    })
}
