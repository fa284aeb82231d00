//! The fan-out scenario's own tests: ratios, rows, rounds.

use super::targets::meets_targets;
use super::*;
use crate::tls::Transport::{Plain, Tls};

fn figures(deliveries_per_s: f64, p99_us: u64) -> Figures {
    Figures {
        senders: 2,
        sends_per_s: 100.0,
        deliveries_per_s,
        lost: 0,
        repeated: Some(0),
        errors: 0,
        latency: Percentiles { p50_us: 1, p99_us, p999_us: p99_us, max_us: p99_us },
        usage: Usage {
            seconds: 1.0,
            server_cpu: None,
            redis_cpu: None,
            bench_cpu: None,
            server_rss_mb: None,
        },
    }
}

#[test]
fn a_run_over_tls_is_compared_with_its_plain_run_and_with_other_runs_over_tls() {
    let group = [
        (Subject::Started(Mode::File, None, Plain), figures(1000.0, 2000)),
        (Subject::Started(Mode::File, None, Tls), figures(800.0, 3000)),
        (Subject::Started(Mode::Off, None, Plain), figures(2000.0, 1000)),
        (Subject::Started(Mode::Off, None, Tls), figures(1600.0, 1000)),
        (Subject::Started(Mode::Bare, None, Plain), figures(4000.0, 1000)),
    ];
    let plain = Ratios::of(group[0].0, &group[0].1, &group);
    let tls = Ratios::of(group[1].0, &group[1].1, &group);
    assert_eq!((plain.vs_off, plain.vs_bare), (Some(0.5), Some(0.25)));
    assert_eq!((tls.vs_off, tls.vs_bare), (Some(0.5), Some(0.2)), "off over TLS; bare plain");
    let plan = Plan {
        members: vec![10],
        senders: 2,
        total_rate: None,
        window: 8,
        seconds: 1,
        size: 64,
        subjects: group.iter().map(|g| g.0).collect(),
        rounds: 1,
        csv: None,
        plot: None,
    };
    let json = row(&plan, group[1].0, 10, &group[1].1, &tls).json();
    let tail = r#""tls":true,"vs_plain":0.8,"p50_vs_plain":1.0,"p99_vs_plain":1.5,"cpu_vs_plain":null,"rss_vs_plain":null,"cpu_per_delivery_vs_plain":null}"#;
    assert!(json.ends_with(tail), "{json}");
    let json = row(&plan, group[0].0, 10, &group[0].1, &plain).json();
    assert!(json.contains(r#""tls":false,"vs_plain":null,"#), "{json}");
}

#[test]
fn two_nodes_are_compared_with_each_one_node_run() {
    let group = [
        (Subject::Started(Mode::Off, None, Plain), figures(1000.0, 2000)),
        (Subject::Started(Mode::Bare, None, Plain), figures(1000.0, 1000)),
        (Subject::Started(Mode::Redis, None, Plain), figures(900.0, 2500)),
        (Subject::Started(Mode::Redis2, None, Plain), figures(900.0, 5000)),
    ];
    let lines = two_nodes_against_one(100, &group);
    assert_eq!(
        lines,
        ["100 members, two nodes on Redis (p99 5.00 ms) against no history: deliveries/s x \
          0.90, p99 x 2.50 (2.00 ms); one node on Redis: deliveries/s x 1.00, p99 x 2.00 \
          (2.50 ms)"]
    );
    assert!(two_nodes_against_one(100, &group[..3]).is_empty(), "no two-node run");
    assert!(two_nodes_against_one(100, &group[1..2]).is_empty());
}

/// Over rounds, each figure is its median, and what went wrong is summed: one round that
/// lost messages shows, however good the others were.
#[test]
fn rounds_give_medians_and_every_loss() {
    let mut runs = vec![figures(900.0, 3000), figures(1000.0, 1000), figures(1100.0, 2000)];
    runs[2].lost = 5;
    runs[0].repeated = Some(1);
    runs[1].usage.server_cpu = Some(0.5);
    let f = Figures::over_rounds(&runs);
    assert_eq!((f.deliveries_per_s, f.latency.p99_us), (1000.0, 2000));
    assert_eq!((f.lost, f.repeated, f.errors), (5, Some(1), 0));
    assert_eq!(f.usage.server_cpu, Some(0.5), "the median of the runs that have one");
    assert_eq!(Figures::over_rounds(&runs[1..2]).latency.p99_us, 1000, "one round: its run");
}

/// A paced run's latency is set against the bare server's of its room size: issue 23's
/// figures, in the rows and in the lines after the table.
#[test]
fn latency_is_set_against_the_bare_server() {
    let mut file = figures(1000.0, 1300);
    file.latency.p50_us = 480;
    let mut bare = figures(1000.0, 1000);
    bare.latency.p50_us = 400;
    let group = vec![
        (Subject::Started(Mode::File, None, Plain), file),
        (Subject::Started(Mode::Bare, None, Plain), bare),
    ];
    let r = Ratios::of(group[0].0, &group[0].1, &group);
    assert_eq!((r.p50_vs_bare, r.p99_vs_bare), (Some(1.2), Some(1.3)));
    let r = Ratios::of(group[1].0, &group[1].1, &group);
    assert_eq!((r.p50_vs_bare, r.p99_vs_bare), (Some(1.0), Some(1.0)), "the bare server itself");
    assert!(meets_targets(1.2, 1.0), "at the limits");
    assert!(!meets_targets(1.2, 1.3), "the p99 above the bare server's");
    assert!(!meets_targets(1.21, 0.9), "the p50 past 1.2x");
}
