//! Scenario `churn`: people coming and going while others talk. `--members` steady members in
//! lobby, `--senders` of them saying `--total-rate` messages a second in all (default 100),
//! are timed as in a paced fan-out, while `--parallel` churners each connect, say hello (which
//! announces them in lobby), join a room of their own (`churn`, whose history they are sent),
//! say a line there and wait for its echo, quit and wait for the goodbye, again and again, as
//! fast as they can. Reported: completed visits a second (connections/s), the churners'
//! failures, and the steady members' latency and loss while it goes on.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::AsyncReadExt;

use crate::histogram::Percentiles;
use crate::process::{Launch, open};
use crate::report::{self, Row, round};
use crate::room::{Usage, collect, fill_room, measure, start_paced, wait_for_stragglers};
use crate::stream::Dial;
use crate::subject::{Subject, label_width};
use crate::versus::{self, Versus};
use crate::wire::{MESSAGE, Shared, Tally, Timing, expect, hello};
use crate::{LOAD_LIMITS, ms};

pub struct Plan {
    pub members: Vec<usize>,
    pub senders: usize,
    /// Messages a second over the steady senders.
    pub total_rate: f64,
    /// Churners at once.
    pub parallel: usize,
    pub seconds: u64,
    pub size: usize,
    pub subjects: Vec<Subject>,
    pub csv: Option<PathBuf>,
}

/// The steady rate when `--total-rate` is not given.
pub const DEFAULT_RATE: f64 = 100.0;

/// Longest one visit may take before it counts as failed.
const VISIT_WAIT: Duration = Duration::from_secs(10);

/// Read buffer of a churner: a room's history page is the longest thing it reads.
const CHURNER_READER: usize = 16 * 1024;

/// What the churners did inside the window.
#[derive(Default)]
struct Visits {
    done: AtomicU64,
    failed: AtomicU64,
    /// The first failure, to show what went wrong.
    first_failure: Mutex<Option<String>>,
}

/// One run's figures.
struct Figures {
    members: usize,
    senders: usize,
    visits_per_s: f64,
    failed: u64,
    first_failure: Option<String>,
    sends_per_s: f64,
    deliveries_per_s: f64,
    lost: u64,
    errors: u64,
    /// Send to receipt.
    latency: Percentiles,
    usage: Usage,
}

pub async fn compare(launch: &Launch, plan: &Plan) -> anyhow::Result<()> {
    let pinned = launch.pinned();
    println!(
        "churn: {:?} steady members, {} senders at {} msg/s in all, {} churners, {}-byte \
         messages, {} s per run{pinned}",
        plan.members, plan.senders, plan.total_rate, plan.parallel, plan.size, plan.seconds
    );
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut against = Vec::new();
    for &members in &plan.members {
        let mut group = Vec::new();
        for &subject in &plan.subjects {
            let f = run(launch, plan, subject, members, results.len() + group.len())
                .await
                .with_context(|| format!("run with {members} members, {}", subject.label()))?;
            group.push((subject, f));
        }
        for (subject, f) in &group {
            let vs_before = Versus::of(*subject, &group, |f| {
                versus::loaded(f.visits_per_s, &f.latency, &f.usage)
            });
            let row = row(plan, *subject, f, &vs_before);
            println!("{}", row.json());
            rows.push(row);
            against.push((format!("{members} members, {}", subject.name()), vs_before));
        }
        results.extend(group);
        if let Some(path) = &plan.csv {
            report::write_csv(path, &rows)?;
        }
    }
    print_table(&results);
    versus::print(
        versus::AFTER_BEFORE,
        &versus::CHURN,
        against.iter().map(|(label, v)| (label.clone(), v)),
    );
    Ok(())
}

fn row(plan: &Plan, subject: Subject, f: &Figures, vs_before: &Versus) -> Row {
    let mut row = Row::default();
    row.push("scenario", "churn");
    row.push("history", subject.key());
    row.push("members", f.members);
    row.push("senders", f.senders);
    row.push("total_rate", round(Some(plan.total_rate), 3));
    row.push("parallel", plan.parallel);
    row.push("size", plan.size);
    row.push("seconds", plan.seconds);
    row.push("churn_per_s", round(Some(f.visits_per_s), 0));
    row.push("churn_failed", f.failed);
    row.push("sends_per_s", round(Some(f.sends_per_s), 0));
    row.push("deliveries_per_s", round(Some(f.deliveries_per_s), 0));
    row.push("lost", f.lost);
    row.push("errors", f.errors);
    row.push_latency(&f.latency);
    row.push("server_cpu", round(f.usage.server_cpu, 2));
    row.push("redis_cpu", round(f.usage.redis_cpu, 2));
    row.push("bench_cpu", round(f.usage.bench_cpu, 2));
    row.push("server_rss_mb", round(f.usage.server_rss_mb, 1));
    row.push("first_failure", f.first_failure.clone());
    vs_before.push(&mut row, subject, &versus::CHURN);
    row
}

fn print_table(results: &[(Subject, Figures)]) {
    let opt =
        |v: Option<f64>, decimals: usize| v.map_or("-".to_owned(), |v| format!("{v:.decimals$}"));
    let w = label_width(results.iter().map(|r| r.0));
    println!();
    println!(
        "{:>7} {:<w$} {:>8} {:>6} {:>12} {:>5} {:>6} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>7}",
        "members",
        "server",
        "churn/s",
        "failed",
        "deliveries/s",
        "lost",
        "errors",
        "p50 ms",
        "p99 ms",
        "p99.9",
        "max ms",
        "srv cpu",
        "bch cpu",
        "rss MB"
    );
    for (subject, f) in results {
        println!(
            "{:>7} {:<w$} {:>8.0} {:>6} {:>12.0} {:>5} {:>6} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>7} {:>7} {:>7}",
            f.members,
            subject.label(),
            f.visits_per_s,
            f.failed,
            f.deliveries_per_s,
            f.lost,
            f.errors,
            ms(f.latency.p50_us),
            ms(f.latency.p99_us),
            ms(f.latency.p999_us),
            ms(f.latency.max_us),
            opt(f.usage.server_cpu, 2),
            opt(f.usage.bench_cpu, 2),
            opt(f.usage.server_rss_mb, 0),
        );
    }
    for (subject, f) in results {
        if let Some(failure) = &f.first_failure {
            println!("{} members, {}: first churn failure: {failure}", f.members, subject.label());
        }
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
    let (stop_tx, shared) = Shared::new();
    let prefix = subject.nick_prefix(run);
    let room = fill_room(
        &server,
        &prefix,
        members,
        senders,
        Timing::SendTimes { in_order: false },
        false,
        &shared,
    )
    .await?;
    let mut tasks = start_paced(room.speakers, plan.total_rate, plan.size, &shared)?;
    let visits = Arc::new(Visits::default());
    for p in 0..plan.parallel {
        // On two nodes, the churners alternate between them too.
        let (addr, prefix) = (server.addr(p).to_owned(), format!("{prefix}c{p}x"));
        tasks.push(tokio::spawn(churner(addr, prefix, shared.clone(), visits.clone())));
    }
    let usage = measure(&server, &shared, plan.seconds).await;
    let tally = &shared.tally;
    let sends = Tally::get(&tally.sent);
    wait_for_stragglers(tally, sends * members as u64).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        t.abort();
    }
    let latencies = collect(room.receivers).await;
    server.stop().await;
    drop(room.listeners);
    let deliveries = Tally::get(&tally.delivered);
    let first_failure = visits.first_failure.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok(Figures {
        members,
        senders,
        visits_per_s: Tally::get(&visits.done) as f64 / usage.seconds,
        failed: Tally::get(&visits.failed),
        first_failure,
        sends_per_s: sends as f64 / usage.seconds,
        deliveries_per_s: deliveries as f64 / usage.seconds,
        lost: (sends * members as u64).saturating_sub(deliveries),
        errors: Tally::get(&tally.errors),
        latency: latencies.percentiles(),
        usage,
    })
}

/// Visits the server again and again (nicks `{prefix}1`, `{prefix}2`, ...) until the run
/// stops; counts the visits that end inside the window.
async fn churner(
    addr: String,
    prefix: String,
    shared: Shared,
    visits: Arc<Visits>,
) -> anyhow::Result<()> {
    let mut round = 0u64;
    while !*shared.stop.borrow() {
        round += 1;
        let nick = format!("{prefix}{round}");
        let visit = tokio::time::timeout(VISIT_WAIT, visit(&addr, &nick))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("{nick}: no goodbye within {VISIT_WAIT:?}")));
        if !shared.tally.contains(shared.now()) {
            continue;
        }
        match visit {
            Ok(()) => {
                visits.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                visits.failed.fetch_add(1, Ordering::Relaxed);
                visits
                    .first_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(|| format!("{e:#}"));
                // A server that refuses everyone should not be hammered in a tight loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(())
}

/// Connect, hello, join `churn`, say a line there and wait for its echo, quit, and wait for the
/// goodbye and the close.
async fn visit(addr: &str, nick: &str) -> anyhow::Result<()> {
    let (mut r, mut w) = hello(Dial::plain(addr), nick, CHURNER_READER).await?;
    w.send(b"{\"type\":\"join\",\"room\":\"churn\"}\n").await?;
    expect(&mut r, |l| l.starts_with(b"{\"type\":\"members\",\"room\":\"churn\"")).await?;
    w.send(b"{\"type\":\"say\",\"room\":\"churn\",\"text\":\"passing through\"}\n").await?;
    let from = format!("\"from\":\"{nick}\"");
    let from = memchr::memmem::Finder::new(from.as_bytes());
    expect(&mut r, |l| l.starts_with(MESSAGE) && from.find(l).is_some()).await?;
    w.send(b"{\"type\":\"quit\"}\n").await?;
    expect(&mut r, |l| l.starts_with(b"{\"type\":\"bye\",\"code\":\"quit\"")).await?;
    let mut rest = [0u8; 1024];
    while r.read(&mut rest).await? > 0 {}
    Ok(())
}
