//! Scenario `attack`: what hostile clients cost the well-behaved ones.
//!
//! A room of members chats at a steady rate, each message carrying its send time; every member
//! measures how long each message took to reach it. The same chat runs twice, on a fresh server
//! each time, with the default limits (flood control on): once alone, once with attackers
//! in the room — flooders that reconnect after every cut-off, members that never read, half-open
//! slowloris connections, garbage senders, senders of escape sequences and impostors with
//! look-alike nicks. The figures are printed side by side: latency percentiles, messages lost,
//! and what the attackers got for it.
//!
//! Every connection comes from a loopback address of its own, so that per-address limits act as
//! they would on the internet: each member from 127.0.1.N, each kind of attacker from 127.0.2.N.
//! A server that exempts loopback from its per-address throttles is told not to
//! (`--throttle-exempt none`, when it has the flag).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::Mode;
use crate::histogram::Histogram;
use crate::process::start_server;
use crate::room::collect;
use crate::stream::{Dial, Writer, tcp_from};
use crate::wire::{Shared, Tally, Timing, member, receive, say_line};

/// The settings of one comparison.
pub struct Attack {
    pub members: usize,
    pub senders: usize,
    /// Messages a second per sender (within the default flood limit of 2).
    pub rate: f64,
    pub seconds: u64,
}

/// What one run measured.
pub struct Outcome {
    sent: u64,
    delivered: u64,
    lost: u64,
    latencies: Histogram,
    /// Attackers' connections, lines, goodbyes received, refusals received.
    attacks: [u64; 4],
}

#[derive(Default)]
struct AttackCounts {
    connections: AtomicU64,
    lines: AtomicU64,
    /// Goodbyes the server sent the attackers (flooding, too_many_errors, ...).
    byes: AtomicU64,
    refusals: AtomicU64,
}

pub async fn compare(binary: &std::path::Path, pin: bool, a: &Attack) -> anyhow::Result<()> {
    println!(
        "attack: {} members, {} sending {} msg/s each, {} s per run; default limits (flood control on)",
        a.members, a.senders, a.rate, a.seconds
    );
    let flags = exemption_flags(binary);
    if flags.is_empty() {
        println!(
            "this chat-server has no --throttle-exempt: its per-address throttles, if any, as built"
        );
    } else {
        println!("loopback is throttled as the internet is: --throttle-exempt none");
    }
    let calm = run(binary, pin, a, flags, false).await.context("run without attackers")?;
    let under_attack = run(binary, pin, a, flags, true).await.context("run with attackers")?;
    println!();
    println!(
        "{:<16} {:>9} {:>11} {:>9} {:>9} {:>9} {:>6}   attackers: connections, lines, goodbyes, refusals",
        "run", "sent", "delivered", "p50 ms", "p99 ms", "max ms", "lost"
    );
    for (name, o) in [("alone", &calm), ("under attack", &under_attack)] {
        let (p50, p99, max) = percentiles(&o.latencies);
        let [connections, lines, byes, refusals] = o.attacks;
        println!(
            "{name:<16} {:>9} {:>11} {p50:>9.2} {p99:>9.2} {max:>9.2} {:>6}   {connections}, {lines}, {byes}, {refusals}",
            o.sent, o.delivered, o.lost,
        );
        println!(
            "{}",
            serde_json::json!({
                "scenario": "attack", "attackers": std::ptr::eq(o, &under_attack),
                "members": a.members, "senders": a.senders, "rate": a.rate, "seconds": a.seconds,
                "sent": o.sent, "delivered": o.delivered, "lost": o.lost,
                "p50_ms": p50, "p99_ms": p99, "max_ms": max,
            })
        );
    }
    let (_, calm_p99, _) = percentiles(&calm.latencies);
    let (_, attacked_p99, _) = percentiles(&under_attack.latencies);
    println!("p99 under attack / alone: {:.2}", attacked_p99 / calm_p99.max(0.001));
    Ok(())
}

/// `--throttle-exempt none` when `binary` has the flag: its per-address throttles then count
/// loopback addresses too, as they count the internet's.
fn exemption_flags(binary: &std::path::Path) -> &'static [&'static str] {
    let help = std::process::Command::new(binary).arg("--help").output();
    match help {
        Ok(help) if String::from_utf8_lossy(&help.stdout).contains("--throttle-exempt") => {
            &["--throttle-exempt", "none"]
        }
        _ => &[],
    }
}

/// The `i`th member's address: 127.0.1.1, 127.0.1.2, ... then, past 254 members,
/// 127.1.0.1 onwards (none of them ends in .0 or .255).
fn member_address(i: usize) -> anyhow::Result<IpAddr> {
    let (second, host) = if i < 254 { (0, i + 254) } else { (1, i - 254) };
    let third = u8::try_from(host / 254)
        .map_err(|_| anyhow::anyhow!("more members than the bench has loopback addresses for"))?;
    let last = u8::try_from(host % 254 + 1)?;
    Ok(IpAddr::V4(Ipv4Addr::new(127, second, third, last)))
}

/// p50, p99 and max, in milliseconds.
fn percentiles(h: &Histogram) -> (f64, f64, f64) {
    let ms = |us: u64| us as f64 / 1000.0;
    (ms(h.quantile(0.5)), ms(h.quantile(0.99)), ms(h.max()))
}

async fn run(
    binary: &std::path::Path,
    pin: bool,
    a: &Attack,
    flags: &[&str],
    attackers: bool,
) -> anyhow::Result<Outcome> {
    // The default limits, per address too: everyone has an address of their own.
    let server = start_server(binary, Mode::File, pin, flags, None).await?;
    let addr = server.addr(0).to_owned();
    let to: SocketAddr = addr.parse().with_context(|| format!("server address {addr}"))?;
    let (stop_readers, shared) = Shared::new();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(AttackCounts::default());

    let mut receivers = Vec::new();
    let mut writers = Vec::new();
    for i in 0..a.members {
        let dial = Dial::plain(&addr).source(member_address(i)?);
        let (r, w) = member(dial, &format!("m{i}")).await?;
        receivers.push(tokio::spawn(receive(
            r,
            None,
            Timing::SendTimes { in_order: false },
            shared.clone(),
        )));
        writers.push(w);
    }
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    if attackers {
        tasks.extend(start_attackers(to, stop.clone(), counts.clone()));
    }
    let senders: Vec<Writer> = writers.drain(..a.senders.min(a.members)).collect();
    let interval = Duration::from_secs_f64(1.0 / a.rate);
    for (i, w) in senders.into_iter().enumerate() {
        // Spread the senders over the interval, as people would be.
        let offset = interval.mul_f64(i as f64 / a.senders as f64);
        tasks.push(tokio::spawn(speak(w, offset, interval, shared.clone(), stop.clone())));
    }
    // Warm-up (the attackers connect, the first reconnections happen), then the measured time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.tally.open(shared.now());
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    shared.tally.close(shared.now());
    // Stragglers sent inside the window still count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let _ = stop_readers.send(true);
    let latencies = collect(receivers).await;
    drop(server);
    let delivered = Tally::get(&shared.tally.delivered);
    let sent = Tally::get(&shared.tally.sent);
    let lost = (sent * a.members as u64).saturating_sub(delivered);
    drop(writers);
    let attacks = [&counts.connections, &counts.lines, &counts.byes, &counts.refusals]
        .map(|c| c.load(Ordering::Relaxed));
    Ok(Outcome { sent, delivered, lost, latencies, attacks })
}

/// Says a message every `interval`, its text the send time.
async fn speak(
    mut w: Writer,
    offset: Duration,
    interval: Duration,
    shared: Shared,
    stop: Arc<AtomicBool>,
) {
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = shared.now();
        line.clear();
        say_line(&mut line, "lobby", now, "");
        if w.send(&line).await.is_err() {
            return;
        }
        if shared.tally.contains(now) {
            shared.tally.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Flooders 5, non-readers 10, slowloris 50, garbage 5, escape-sequence senders 2,
/// impostors 2; the `n`th kind from 127.0.2.n.
fn start_attackers(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    counts: Arc<AttackCounts>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let spawn = |kind: Kind, from: IpAddr, i: usize| {
        tokio::spawn(attacker(addr, from, kind, i, stop.clone(), counts.clone()))
    };
    for (k, (kind, n)) in [
        (Kind::Flooder, 5),
        (Kind::NonReader, 10),
        (Kind::Slowloris, 50),
        (Kind::Garbage, 5),
        (Kind::Escapes, 2),
        (Kind::Impostor, 2),
    ]
    .into_iter()
    .enumerate()
    {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 2, k as u8 + 1));
        for i in 0..n {
            tasks.push(spawn(kind, from, i));
        }
    }
    tasks
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Sends a burst far past the flood limit, is cut off, comes back.
    Flooder,
    /// Joins and never reads.
    NonReader,
    /// Sends a hello one byte a second, never finishing it.
    Slowloris,
    /// Unreadable lines until cut off, then comes back.
    Garbage,
    /// Escape sequences, bidi overrides and combining floods, within the flood limit.
    Escapes,
    /// Tries nicks that look like members' (Cyrillic о in "m0"), again and again.
    Impostor,
}

async fn attacker(
    addr: SocketAddr,
    from: IpAddr,
    kind: Kind,
    i: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<AttackCounts>,
) {
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let Ok(stream) = tcp_from(from, addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (mut r, mut w) = stream.into_split();
        let hello =
            |nick: &str| format!("{{\"type\":\"hello\",\"nick\":\"{nick}\",\"protocol\":1}}\n");
        let lines: Vec<u8> = match kind {
            Kind::Flooder => {
                let mut l = hello(&format!("flood{i}x{round}")).into_bytes();
                for n in 0..1000 {
                    l.extend_from_slice(
                        format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"spam {n}\"}}\n")
                            .as_bytes(),
                    );
                }
                l
            }
            Kind::Garbage => {
                let mut l = hello(&format!("junk{i}x{round}")).into_bytes();
                for n in 0..100 {
                    match n % 4 {
                        0 => l.extend_from_slice(b"\xff\xfe not utf-8\n"),
                        1 => l.extend_from_slice(&[b'['; 20_000]),
                        2 => l.extend_from_slice(b"\n{\"type\":\"dance\"}\n"),
                        _ => l.extend_from_slice(b"{\"type\":\"say\",\"room\":\"lobby\"}\n"),
                    }
                }
                l
            }
            Kind::Impostor => hello("\u{43c}0").into_bytes(),
            Kind::NonReader => hello(&format!("sleepy{i}x{round}")).into_bytes(),
            Kind::Escapes => hello(&format!("esc{i}x{round}")).into_bytes(),
            Kind::Slowloris => Vec::new(),
        };
        counts
            .lines
            .fetch_add(lines.iter().filter(|&&b| b == b'\n').count() as u64, Ordering::Relaxed);
        if w.write_all(&lines).await.is_err() {
            continue;
        }
        match kind {
            Kind::Flooder | Kind::Garbage | Kind::Impostor => {
                read_to_end(&mut r, &counts).await;
                // Sustained, not a connection flood: that is the per-address cap's job.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Kind::NonReader => {
                // Never reads; holds the connection until the server gives up on it.
                let mut one = [0u8; 1];
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let Ok(Ok(0)) = tokio::time::timeout(Duration::ZERO, r.read(&mut one)).await
                    {
                        break;
                    }
                }
            }
            Kind::Slowloris => {
                for byte in hello("slow").bytes().take_while(|&b| b != b'\n') {
                    if stop.load(Ordering::Relaxed) || w.write_all(&[byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Kind::Escapes => {
                let texts = [
                    "\\u001b[2J\\u001b]0;pwned\\u0007",
                    "\\u202etxt.exe\\u202c \\u2066x\\u2069",
                    "\\u009b31m\\u009d0;x\\u009c",
                ];
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let line = format!(
                        "{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"{}\"}}\n",
                        texts[n % texts.len()]
                    );
                    n += 1;
                    if w.write_all(line.as_bytes()).await.is_err() {
                        break;
                    }
                    counts.lines.fetch_add(1, Ordering::Relaxed);
                    // Within the flood limit: this attack is on the readers' terminals.
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    let mut sink = [0u8; 4096];
                    while let Ok(Ok(1..)) =
                        tokio::time::timeout(Duration::ZERO, r.read(&mut sink)).await
                    {
                    }
                }
            }
        }
    }
}

/// Reads until the server closes, counting its goodbyes and refusals.
async fn read_to_end(r: &mut tokio::net::tcp::OwnedReadHalf, counts: &AttackCounts) {
    let mut buf = vec![0u8; 1 << 16];
    let mut tail = Vec::new();
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf)).await
    {
        tail.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(end) = tail[start..].iter().position(|&b| b == b'\n') {
            let line = &tail[start..start + end];
            if line.starts_with(b"{\"type\":\"bye\"") {
                counts.byes.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with(b"{\"type\":\"error\"") {
                counts.refusals.fetch_add(1, Ordering::Relaxed);
            }
            start += end + 1;
        }
        tail.drain(..start);
    }
}
