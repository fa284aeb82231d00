//! Scenario `fanout`: N members in one room, S of them sending, for a fixed time: flat out
//! (closed loop: each sender keeps at most `--window` of its messages not yet received by
//! every member of the room, itself included; see `deliveries`) or at a fixed total rate
//! (`--total-rate`, see `pace`). Each member count of `--members` runs against every server
//! of `--history` in turn, each on a fresh server, and the figures are printed side by side
//! with their ratios to the server without history, to the bare fan-out server and to one node
//! on Redis; two nodes on Redis are also compared with each one-node run of the same room
//! size. On two nodes the members alternate between them (`m0` on the first, `m1` on the
//! second, ...), so the senders, the first `--senders` members, are split too; every member
//! must still receive every message, wherever it was said.
//!
//! Flat out, deliveries are counted as they arrive inside the measured window and every
//! eighth is timed (parsing every send time would cost the bench a core at millions a
//! second). Paced, every message is timed, and deliveries are counted by send time, so that
//! loss is exact: each message sent in the window must reach every member, once (from
//! chat-server, a delivery whose `seq` is not above the last one its member got is counted as
//! `repeated`, not as delivered).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;

use crate::deliveries::Deliveries;
use crate::histogram::Percentiles;
use crate::process::{Launch, open};
use crate::report::{self, Row, ratio, round};
use crate::room::{Usage, collect, fill_room, measure, start_paced, wait_for_stragglers};
use crate::rounds::{self, median, median_of_some};
use crate::stream::Writer;
use crate::subject::{Subject, label_width};
use crate::versus::{self, Versus};
use crate::wire::{Shared, Tally, Timing, padding, say_line};
use crate::{LOAD_LIMITS, Mode, ms};
use targets::print_against_bare;

/// What to run.
pub struct Plan {
    pub members: Vec<usize>,
    pub senders: usize,
    /// Messages a second over all senders; flat out when `None`.
    pub total_rate: Option<f64>,
    pub window: usize,
    pub seconds: u64,
    pub size: usize,
    pub subjects: Vec<Subject>,
    /// Runs of each server at each room size, taking turns ([`crate::rounds`]).
    pub rounds: usize,
    pub csv: Option<PathBuf>,
    pub plot: Option<PathBuf>,
}

impl Plan {
    fn load(&self) -> String {
        match self.total_rate {
            Some(rate) => format!("{} senders, {rate} msg/s in all", self.senders),
            None => format!("{} senders flat out (window {})", self.senders, self.window),
        }
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    senders: usize,
    sends_per_s: f64,
    deliveries_per_s: f64,
    /// Messages that should have been delivered and were not (a member that lagged).
    lost: u64,
    /// Paced, from chat-server: deliveries a member had had already or got out of order.
    repeated: Option<u64>,
    errors: u64,
    /// Send to receipt.
    latency: Percentiles,
    usage: Usage,
}

pub async fn sweep(launch: &Launch, plan: &Plan) -> anyhow::Result<()> {
    let pinned = launch.pinned();
    let rounds = match plan.rounds {
        1 => String::new(),
        n => format!(", {n} rounds (medians)"),
    };
    println!(
        "fan-out: {:?} members, {}, {}-byte messages, {} s per run{rounds}{pinned}",
        plan.members,
        plan.load(),
        plan.size,
        plan.seconds,
    );
    let mut rows = Vec::new();
    let mut table = Vec::new();
    let mut comparisons = Vec::new();
    let mut spreads = Vec::new();
    let mut run_index = 0;
    let count = plan.subjects.len();
    for &members in &plan.members {
        let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); count];
        for round in 0..plan.rounds {
            for at in rounds::turns(round, count) {
                let subject = plan.subjects[at];
                let figures = run(launch, plan, subject, members, run_index)
                    .await
                    .with_context(|| format!("run with {members} members, {}", subject.label()))?;
                run_index += 1;
                runs[at].push(figures);
            }
        }
        let mut group = Vec::new();
        for (&subject, runs) in plan.subjects.iter().zip(&runs) {
            let rounds = runs.iter().map(|f| (f.latency.p50_us, f.latency.p99_us)).collect();
            spreads.push(rounds::Spread { members, subject, rounds });
            group.push((subject, Figures::over_rounds(runs)));
        }
        for &(subject, f) in &group {
            let ratios = Ratios::of(subject, &f, &group);
            let row = row(plan, subject, members, &f, &ratios);
            println!("{}", row.json());
            rows.push(row);
            table.push((members, subject, f, ratios));
        }
        comparisons.extend(two_nodes_against_one(members, &group));
        if let Some(path) = &plan.csv {
            report::write_csv(path, &rows)?;
        }
    }
    print_table(&table);
    if plan.total_rate.is_some() {
        print_against_bare(&table);
    }
    rounds::print(&spreads);
    let label = |members: usize, subject: Subject| format!("{members} members, {}", subject.name());
    let versus = table.iter().map(|(m, subject, _, ratios)| (label(*m, *subject), &ratios.versus));
    versus::print(versus::AFTER_BEFORE, &versus::FANOUT, versus);
    let tls = table.iter().map(|(m, subject, _, ratios)| (label(*m, *subject), &ratios.tls));
    versus::print(versus::TLS_PLAIN, &versus::FANOUT_TLS, tls);
    if !comparisons.is_empty() {
        println!();
        for line in &comparisons {
            println!("{line}");
        }
    }
    if let Some(path) = &plan.plot {
        let caption = format!("chat-server fan-out: {}, {}-byte messages", plan.load(), plan.size);
        report::plot(path, &report::series(&rows), &caption)?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

impl Figures {
    /// One server's figures over its rounds at one room size: the median of each (its only
    /// run's, in one round), except what went wrong (lost, repeated, errors), which is summed
    /// so that no median hides it.
    fn over_rounds(runs: &[Figures]) -> Figures {
        let Some(first) = runs.first() else { return Figures::default() };
        let f64s = |f: fn(&Figures) -> f64| median(runs.iter().map(f)).unwrap_or(0.0);
        let u64s = |f: fn(&Figures) -> u64| median(runs.iter().map(f)).unwrap_or(0);
        let some = |f: fn(&Figures) -> Option<f64>| median_of_some(runs.iter().map(f));
        Figures {
            senders: first.senders,
            sends_per_s: f64s(|f| f.sends_per_s),
            deliveries_per_s: f64s(|f| f.deliveries_per_s),
            lost: runs.iter().map(|f| f.lost).sum(),
            repeated: runs.iter().map(|f| f.repeated).sum(),
            errors: runs.iter().map(|f| f.errors).sum(),
            latency: Percentiles {
                p50_us: u64s(|f| f.latency.p50_us),
                p99_us: u64s(|f| f.latency.p99_us),
                p999_us: u64s(|f| f.latency.p999_us),
                max_us: u64s(|f| f.latency.max_us),
            },
            usage: Usage {
                seconds: f64s(|f| f.usage.seconds),
                server_cpu: some(|f| f.usage.server_cpu),
                redis_cpu: some(|f| f.usage.redis_cpu),
                bench_cpu: some(|f| f.usage.bench_cpu),
                server_rss_mb: some(|f| f.usage.server_rss_mb),
            },
        }
    }
}

/// A run's deliveries/s and p99 against those of other servers in the same group, and its
/// figures against its run before the change and, over TLS, against its plain run.
#[derive(Debug, Clone)]
struct Ratios {
    vs_off: Option<f64>,
    vs_bare: Option<f64>,
    /// Against one node on Redis.
    vs_redis: Option<f64>,
    p99_vs_off: Option<f64>,
    p99_vs_redis: Option<f64>,
    /// Latency against the bare server's: what issue 23's targets are about.
    p50_vs_bare: Option<f64>,
    p99_vs_bare: Option<f64>,
    versus: Versus,
    tls: Versus,
}

impl Ratios {
    /// The ratios of the run `f` of `subject` to the other runs of its `group` (one room size)
    /// on the same binary and transport: with `--before`, those on the other build measure
    /// the change, not the server; with `--tls`, those of the other transport measure TLS.
    fn of(subject: Subject, f: &Figures, group: &[(Subject, Figures)]) -> Ratios {
        let find = |mode| {
            group.iter().find(|(s, _)| s.mode() == Some(mode) && subject.beside(*s)).map(|r| &r.1)
        };
        let (off, bare, redis) = (find(Mode::Off), find(Mode::Bare), find(Mode::Redis));
        Ratios {
            vs_off: ratio(f.deliveries_per_s, off.map(|o| o.deliveries_per_s)),
            vs_bare: ratio(f.deliveries_per_s, bare.map(|b| b.deliveries_per_s)),
            vs_redis: ratio(f.deliveries_per_s, redis.map(|r| r.deliveries_per_s)),
            p99_vs_off: ratio(p99(f), off.map(p99)),
            p99_vs_redis: ratio(p99(f), redis.map(p99)),
            p50_vs_bare: ratio(f.latency.p50_us as f64, bare.map(|b| b.latency.p50_us as f64)),
            p99_vs_bare: ratio(p99(f), bare.map(p99)),
            versus: Versus::of(subject, group, |f| {
                versus::loaded(f.deliveries_per_s, &f.latency, &f.usage)
            }),
            tls: Versus::against(subject, subject.plain(), group, tls_figures),
        }
    }
}

/// The values of [`versus::FANOUT_TLS`]'s figures for a run.
fn tls_figures(f: &Figures) -> Vec<Option<f64>> {
    let mut values = versus::loaded(f.deliveries_per_s, &f.latency, &f.usage);
    let per_delivery = f.usage.server_cpu.filter(|_| f.deliveries_per_s > 0.0);
    values.push(per_delivery.map(|cpu| cpu / f.deliveries_per_s));
    values
}

fn p99(f: &Figures) -> f64 {
    ms(f.latency.p99_us)
}

/// For each run on two nodes in `group` (one room size), a line comparing it with each run on
/// one chat-server node of the same binary: deliveries/s and p99 as ratios.
fn two_nodes_against_one(members: usize, group: &[(Subject, Figures)]) -> Vec<String> {
    // chat-server on its own, or one node on Redis.
    let one_node =
        |s: &Subject| s.mode().is_some_and(|m| m != Mode::Bare && m.nodes_on_redis() <= 1);
    let mut lines = Vec::new();
    for (two, f) in group.iter().filter(|(s, _)| s.mode() == Some(Mode::Redis2)) {
        let against: Vec<String> = group
            .iter()
            .filter(|(s, _)| one_node(s) && two.beside(*s))
            .map(|(one, o)| {
                let r = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
                format!(
                    "{}: deliveries/s x {}, p99 x {} ({:.2} ms)",
                    one.label(),
                    r(ratio(f.deliveries_per_s, Some(o.deliveries_per_s))),
                    r(ratio(p99(f), Some(p99(o)))),
                    p99(o),
                )
            })
            .collect();
        if !against.is_empty() {
            lines.push(format!(
                "{members} members, {} (p99 {:.2} ms) against {}",
                two.label(),
                p99(f),
                against.join("; ")
            ));
        }
    }
    lines
}

fn row(plan: &Plan, subject: Subject, members: usize, f: &Figures, ratios: &Ratios) -> Row {
    let mut row = Row::default();
    row.push("scenario", "fanout");
    row.push("history", subject.key());
    row.push("members", members);
    row.push("senders", f.senders);
    row.push("total_rate", round(plan.total_rate, 3));
    row.push("window", if plan.total_rate.is_some() { None } else { Some(plan.window) });
    row.push("size", plan.size);
    row.push("seconds", plan.seconds);
    row.push("sends_per_s", round(Some(f.sends_per_s), 0));
    row.push("deliveries_per_s", round(Some(f.deliveries_per_s), 0));
    row.push("vs_off", round(ratios.vs_off, 3));
    row.push("vs_bare", round(ratios.vs_bare, 3));
    row.push("vs_redis", round(ratios.vs_redis, 3));
    row.push("lost", f.lost);
    row.push("repeated", f.repeated);
    row.push("errors", f.errors);
    row.push_latency(&f.latency);
    row.push("p99_vs_off", round(ratios.p99_vs_off, 3));
    row.push("p99_vs_redis", round(ratios.p99_vs_redis, 3));
    row.push("p50_vs_bare", round(ratios.p50_vs_bare, 3));
    row.push("p99_vs_bare", round(ratios.p99_vs_bare, 3));
    row.push("server_cpu", round(f.usage.server_cpu, 2));
    row.push("redis_cpu", round(f.usage.redis_cpu, 2));
    row.push("bench_cpu", round(f.usage.bench_cpu, 2));
    row.push("server_rss_mb", round(f.usage.server_rss_mb, 1));
    ratios.versus.push(&mut row, subject, &versus::FANOUT);
    // Several: every figure of the row is the median of its rounds, lost, repeated and errors
    // their sum.
    row.push("rounds", plan.rounds);
    row.push("tls", subject.transport().is_tls());
    ratios.tls.push_ratios(&mut row, &versus::FANOUT_TLS);
    row
}

type TableLine = (usize, Subject, Figures, Ratios);

fn print_table(lines: &[TableLine]) {
    let fmt_ratio = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.2}"));
    let opt =
        |v: Option<f64>, decimals: usize| v.map_or("-".to_owned(), |v| format!("{v:.decimals$}"));
    let w = label_width(lines.iter().map(|l| l.1));
    println!();
    println!(
        "{:>7} {:<w$} {:>9} {:>12} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>6} {:>6} {:>7} {:>7} {:>7}",
        "members",
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
        "repeat",
        "errors",
        "srv cpu",
        "bch cpu",
        "rss MB"
    );
    for (members, subject, f, ratios) in lines {
        println!(
            "{members:>7} {:<w$} {:>9.0} {:>12.0} {:>6} {:>7} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>7} {:>6} {:>6} {:>7} {:>7} {:>7}",
            subject.label(),
            f.sends_per_s,
            f.deliveries_per_s,
            fmt_ratio(ratios.vs_off),
            fmt_ratio(ratios.vs_bare),
            ms(f.latency.p50_us),
            ms(f.latency.p99_us),
            ms(f.latency.p999_us),
            ms(f.latency.max_us),
            f.lost,
            f.repeated.map_or("-".to_owned(), |r| r.to_string()),
            f.errors,
            opt(f.usage.server_cpu, 2),
            opt(f.usage.bench_cpu, 2),
            opt(f.usage.server_rss_mb, 0),
        );
    }
}

async fn run(
    launch: &Launch,
    plan: &Plan,
    subject: Subject,
    members: usize,
    run: usize,
) -> anyhow::Result<Figures> {
    let server = open(launch, subject, LOAD_LIMITS).await?;
    let senders = plan.senders.min(members);
    let timing = match plan.total_rate {
        Some(_) => Timing::SendTimes { in_order: subject.mode() != Some(Mode::Bare) },
        None => Timing::Arrivals { every: LATENCY_SAMPLE },
    };
    let (stop_tx, shared) = Shared::new();
    let prefix = subject.nick_prefix(run);
    let flat = plan.total_rate.is_none();
    let room = fill_room(&server, &prefix, members, senders, timing, flat, &shared).await?;
    let sending = match plan.total_rate {
        Some(rate) => start_paced(room.speakers, rate, plan.size, &shared)?,
        None => {
            let deliveries = room.deliveries.context("a flat-out room counts its deliveries")?;
            let mut sending = Vec::new();
            for (s, w) in room.speakers.into_iter().enumerate() {
                let window = plan.window as u64;
                let sender = Sender { index: s, deliveries: deliveries.clone(), window };
                sending.push(tokio::spawn(flat_out(w, sender, plan.size, shared.clone())));
            }
            sending
        }
    };
    let usage = measure(&server, &shared, plan.seconds).await;
    let tally = &shared.tally;
    let sends = Tally::get(&tally.sent);
    let expected = sends * members as u64;
    if plan.total_rate.is_some() {
        wait_for_stragglers(tally, expected).await;
    }
    let _ = stop_tx.send(true);
    let deliveries = Tally::get(&tally.delivered);
    let lost = match plan.total_rate {
        Some(_) => expected.saturating_sub(deliveries),
        // Each message sent in the window should reach every member; a shortfall beyond what
        // was still in flight when the window closed is loss. A sender has at most `window`
        // messages that some member has not received, so at most `window * members`
        // deliveries outstanding.
        None => {
            let in_flight = (senders * plan.window * members) as u64;
            expected.saturating_sub(deliveries + in_flight)
        }
    };
    for s in sending {
        s.abort();
    }
    let latencies = collect(room.receivers).await;
    server.stop().await;
    drop(room.listeners);
    Ok(Figures {
        senders,
        sends_per_s: sends as f64 / usage.seconds,
        deliveries_per_s: deliveries as f64 / usage.seconds,
        lost,
        repeated: match timing {
            Timing::SendTimes { in_order: true } => Some(Tally::get(&tally.repeated)),
            _ => None,
        },
        errors: Tally::get(&tally.errors),
        latency: latencies.percentiles(),
        usage,
    })
}

/// One message in this many is timed when sending flat out.
const LATENCY_SAMPLE: u64 = 8;

/// A flat-out sender's place in its room's [`Deliveries`].
struct Sender {
    index: usize,
    deliveries: Arc<Deliveries>,
    /// Most messages not yet received by every member.
    window: u64,
}

/// Sends flat out, keeping at most `window` messages that some member of the room has not
/// received (woken by that member's reader when the window is full); counts those sent inside
/// the measured window.
async fn flat_out(
    mut w: Writer,
    sender: Sender,
    size: usize,
    shared: Shared,
) -> anyhow::Result<()> {
    let Sender { index, deliveries, window } = sender;
    let padding = padding(size);
    let mut stop = shared.stop.clone();
    let mut total = 0u64;
    let mut batch = Vec::with_capacity((size + 48) * window as usize);
    loop {
        let room = tokio::select! {
            biased;
            _ = stop.wait_for(|&s| s) => return Ok(()),
            room = deliveries.room(index, total, window) => room,
        };
        batch.clear();
        let now = shared.now();
        for _ in 0..room {
            say_line(&mut batch, "lobby", now, &padding);
        }
        // Counted before the write, as `paced` does.
        if shared.tally.contains(now) {
            shared.tally.sent.fetch_add(room, Ordering::Relaxed);
        }
        total += room;
        w.send(&batch).await?;
    }
}

mod targets;
#[cfg(test)]
mod tests;
