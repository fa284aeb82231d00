//! The figures of a comparison: the members' side by side, calm and under attack; what each
//! kind of attacker did; and issue 21's targets, each a ratio with pass or fail. One JSON line
//! per run, as the other scenarios print.

use serde_json::{Value, json};

use super::attackers::{self, Kind};
use super::counts::Snapshot;
use super::{AFTER, Attack, Outcome, ROOM, WARM_UP, reference, source};

/// Issue 21's limits: p99 under attack over calm, memory after over calm, the reconnect
/// flooder's accepted messages a second over the well-behaved connection's.
const P99_LIMIT: f64 = 1.5;
const RSS_LIMIT: f64 = 1.1;
const RECONNECT_LIMIT: f64 = 2.0;

pub fn heading(a: &Attack, throttled: bool) {
    println!(
        "attack: {} members (from 127.0.1.N), {} of them saying {} msg/s each in {ROOM}, and a \
         well-behaved connection (from {}) at {} msg/s; {} s measured after {} s of warm-up, the \
         attackers (each kind from its own 127.0.2.N) through both; memory read {} s after they \
         stop; default limits",
        a.members,
        a.senders.min(a.members),
        a.rate,
        source::REFERENCE,
        reference::RATE,
        a.seconds,
        WARM_UP.as_secs(),
        AFTER.as_secs(),
    );
    if throttled {
        println!("loopback is throttled as the internet is: --throttle-exempt none");
    } else {
        println!(
            "this chat-server has no --throttle-exempt: its per-address throttles, if any, \
             as built"
        );
    }
}

pub fn print(a: &Attack, calm: &Outcome, attacked: &Outcome) {
    println!();
    println!(
        "{:<13} {:>7} {:>9} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7}   server MB: {:>7} {:>7} {:>7}",
        "run",
        "sent",
        "delivered",
        "lost",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv CPU",
        "bench",
        "start",
        "peak",
        "after",
    );
    for (name, o) in [("calm", calm), ("under attack", attacked)] {
        let (p50, p99, max) = percentiles(o);
        let [start, peak, after] = o.rss.map(mb);
        println!(
            "{name:<13} {:>7} {:>9} {:>5} {p50:>7.2} {p99:>7.2} {max:>7.2} {:>7} {:>7}              {start:>7} {peak:>7} {after:>7}",
            o.sent,
            o.delivered,
            o.lost,
            percent(o.server_cpu),
            percent(o.bench_cpu),
        );
    }
    if let Some(attack) = &attacked.attack {
        print_attackers(attack);
    }
    let targets = Targets::of(calm, attacked);
    targets.print(a, calm, attacked);
    for o in [calm, attacked] {
        println!("{}", json_line(a, o, std::ptr::eq(o, attacked).then_some(&targets)));
    }
}

fn print_attackers(attack: &attackers::Outcome) {
    println!();
    println!("attackers, over {:.1} s:", attack.seconds);
    println!(
        "{:<19} {:<11} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}  {:<18} goodbyes",
        "kind",
        "from",
        "conns",
        "requests",
        "answers",
        "a/s",
        "MB in",
        "refusals",
        "errors",
        "answers are",
    );
    for (kind, s) in &attack.kinds {
        println!(
            "{:<19} {:<11} {:>6} {:>8} {:>8} {:>8.1} {:>8.2} {:>8} {:>6}  {:<18} {}",
            kind.name(),
            attackers::address(*kind).to_string(),
            s.connections,
            s.requests,
            s.answers,
            s.answers as f64 / attack.seconds,
            s.bytes as f64 / 1e6,
            s.refusals,
            s.errors,
            kind.answer(),
            match s.goodbyes() {
                0 => "0".to_owned(),
                n => format!("{n}: {}", s.bye_codes()),
            },
        );
    }
}

/// Issue 21's targets, measured.
struct Targets {
    /// Under attack over calm.
    p99: f64,
    /// After the attack over the calm run at the same moment; none if memory was not read.
    rss: Option<f64>,
    /// The reconnect flooder's accepted messages a second, and their ratio to the reference's;
    /// none when it did not run (`--attackers` without it).
    reconnect_rate: Option<f64>,
    reconnect: Option<f64>,
}

impl Targets {
    fn of(calm: &Outcome, attacked: &Outcome) -> Targets {
        let (_, calm_p99, _) = percentiles(calm);
        let (_, attacked_p99, _) = percentiles(attacked);
        let rss = match (attacked.rss[2], calm.rss[2]) {
            (Some(after), Some(calm)) if calm > 0 => Some(after as f64 / calm as f64),
            _ => None,
        };
        let reconnect_rate = attacked
            .attack
            .as_ref()
            .and_then(|a| a.of(Kind::Reconnect).map(|flooder| flooder.answers as f64 / a.seconds));
        Targets {
            p99: attacked_p99 / calm_p99.max(0.001),
            rss,
            reconnect_rate,
            reconnect: reconnect_rate.map(|r| r / attacked.reference_rate.max(0.001)),
        }
    }

    /// Pass or fail of each target; none for one that was not measured.
    fn passes(&self, attacked: &Outcome) -> [Option<bool>; 4] {
        [
            Some(attacked.lost == 0),
            Some(self.p99 <= P99_LIMIT),
            self.rss.map(|r| r <= RSS_LIMIT),
            self.reconnect.map(|r| r <= RECONNECT_LIMIT),
        ]
    }

    fn print(&self, a: &Attack, calm: &Outcome, attacked: &Outcome) {
        let (_, calm_p99, _) = percentiles(calm);
        let (_, attacked_p99, _) = percentiles(attacked);
        let rss = match self.rss {
            Some(r) => {
                format!("{} / {} MB = {r:.2}x", mb(attacked.rss[2]), mb(calm.rss[2]))
            }
            None => "not read".to_owned(),
        };
        let figures = [
            format!("{} of {} lost", attacked.lost, attacked.sent * a.members as u64),
            format!("{attacked_p99:.2} / {calm_p99:.2} ms = {:.2}x", self.p99),
            rss,
            match (self.reconnect_rate, self.reconnect) {
                (Some(rate), Some(ratio)) => {
                    format!("{rate:.1} / {:.2} msg/s = {ratio:.1}x", attacked.reference_rate)
                }
                _ => "not run".to_owned(),
            },
        ];
        let names = [
            "members lose nothing".to_owned(),
            format!("p99 under attack within {P99_LIMIT}x of calm"),
            format!("memory {} s after the attack within 10% of calm", AFTER.as_secs()),
            format!("reconnect flooder within {RECONNECT_LIMIT}x of well-behaved"),
        ];
        println!();
        println!("issue 21's targets:");
        for ((name, figure), pass) in names.iter().zip(&figures).zip(self.passes(attacked)) {
            let verdict = match pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "-",
            };
            println!("  {name:<50} {figure:<36} {verdict}");
        }
        for (name, o) in [("calm", calm), ("under attack", attacked)] {
            let r = &o.reference;
            println!(
                "  well-behaved connection, {name}: {} said, {} accepted ({:.2}/s), {} refused, \
                 {} other errors, goodbyes: {}",
                r.requests.saturating_sub(1),
                r.answers,
                o.reference_rate,
                r.refusals,
                r.errors,
                r.goodbyes(),
            );
        }
    }
}

fn json_line(a: &Attack, o: &Outcome, targets: Option<&Targets>) -> String {
    let (p50, p99, max) = percentiles(o);
    let mut line = json!({
        "scenario": "attack", "attackers": o.attack.is_some(),
        "members": a.members, "senders": a.senders, "rate": a.rate, "seconds": a.seconds,
        "sent": o.sent, "delivered": o.delivered, "lost": o.lost,
        "p50_ms": p50, "p99_ms": p99, "max_ms": max,
        "server_cpu": o.server_cpu, "bench_cpu": o.bench_cpu,
        "rss_start_kib": o.rss[0], "rss_peak_kib": o.rss[1], "rss_after_kib": o.rss[2],
        "attack_seconds": o.phase_seconds,
        "reference_accepted_per_s": o.reference_rate,
        "reference": counts(&o.reference),
    });
    if let (Some(attack), Value::Object(map)) = (&o.attack, &mut line) {
        let kinds =
            attack.kinds.iter().map(|(kind, s)| (kind.key().to_owned(), counts(s))).collect();
        map.insert("by_attacker".into(), Value::Object(kinds));
    }
    if let (Some(t), Value::Object(map)) = (targets, &mut line) {
        let [no_loss, p99, rss, reconnect] = t.passes(o);
        map.insert("p99_ratio".into(), json!(t.p99));
        map.insert("rss_after_ratio".into(), json!(t.rss));
        map.insert("reconnect_accepted_per_s".into(), json!(t.reconnect_rate));
        map.insert("reconnect_ratio".into(), json!(t.reconnect));
        map.insert(
            "targets".into(),
            json!({"no_loss": no_loss, "p99": p99, "rss_after": rss, "reconnect": reconnect}),
        );
    }
    line.to_string()
}

fn counts(s: &Snapshot) -> Value {
    json!({
        "connections": s.connections, "requests": s.requests, "answers": s.answers,
        "bytes": s.bytes, "refusals": s.refusals, "errors": s.errors, "byes": s.byes,
    })
}

/// p50, p99 and max, in milliseconds.
fn percentiles(o: &Outcome) -> (f64, f64, f64) {
    let h = &o.latencies;
    (crate::ms(h.quantile(0.5)), crate::ms(h.quantile(0.99)), crate::ms(h.max()))
}

/// KiB as MB, one decimal; "-" when unknown.
fn mb(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".to_owned(), |k| format!("{:.1}", k as f64 * 1024.0 / 1e6))
}

/// CPU per second as a percentage of a core.
fn percent(cpu: Option<f64>) -> String {
    cpu.map_or_else(|| "-".to_owned(), |c| format!("{:.0}%", c * 100.0))
}
