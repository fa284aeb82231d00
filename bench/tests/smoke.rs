//! `chat-bench` runs end to end against the real server and prints one JSON line per run and a
//! table. Short, small runs of each scenario: these check that the bench works, not how fast
//! anything is.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// A flat-out fan-out run with history in memory and off: one JSON line each, with deliveries
/// and sends per second, and the table compares them with off.
#[test]
fn a_short_fanout_run_prints_figures_for_each_history_mode() {
    let (stdout, runs) =
        bench(&["--members", "4", "--senders", "2", "--seconds", "1", "--history", "memory,off"]);
    assert_eq!(runs.len(), 2, "{stdout}");
    for run in &runs {
        assert!(run["deliveries_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["sends_per_s"].as_f64().unwrap() > 0.0, "{run}");
    }
    assert_eq!(runs[0]["history"], "memory");
    assert_eq!(runs[1]["history"], "off");
    assert!(stdout.contains("vs off"), "{stdout}");
}

/// `--before`, given this build's chat-server as well: each chat-server runs on both binaries,
/// a row "before" and a row "after", the after row with its ratios to the before row, and a
/// table of them; the bare server runs once.
#[test]
fn before_runs_each_chat_server_on_both_binaries_and_prints_the_ratios() {
    let server = current_server();
    let (stdout, runs) = bench(&[
        "--members",
        "4",
        "--senders",
        "2",
        "--total-rate",
        "50",
        "--seconds",
        "1",
        "--history",
        "off,bare",
        "--before",
        server.to_str().unwrap(),
    ]);
    assert_eq!(runs.len(), 3, "{stdout}");
    assert_eq!([&runs[0]["history"], &runs[0]["build"]], ["off", "before"]);
    assert_eq!([&runs[1]["history"], &runs[1]["build"]], ["off", "after"]);
    assert!(runs[2]["history"] == "bare" && runs[2]["build"].is_null(), "{stdout}");
    assert!(runs[1]["vs_before"].is_f64() && runs[1]["p99_vs_before"].is_f64(), "{stdout}");
    assert!(runs[0]["vs_before"].is_null(), "{stdout}");
    assert!(stdout.contains("after / before") && stdout.contains("4 members, no history"));
    assert!(stdout.contains("no history (before)") && stdout.contains("no history (after)"));
}

/// `--tls`, paced: each chat-server runs plainly and then over TLS (the bench's certificate),
/// both rows delivering every message once; the TLS row carries its ratios to the plain one,
/// also printed as a table; the bare server runs once, plainly.
#[test]
fn tls_runs_each_chat_server_plainly_and_over_tls_and_prints_the_ratios() {
    let (stdout, runs) = bench(&[
        "--members",
        "4",
        "--senders",
        "2",
        "--total-rate",
        "50",
        "--seconds",
        "1",
        "--history",
        "off,bare",
        "--tls",
    ]);
    assert_eq!(runs.len(), 3, "{stdout}");
    assert!(runs[0]["history"] == "off" && runs[0]["tls"] == false, "{stdout}");
    assert!(runs[1]["history"] == "off" && runs[1]["tls"] == true, "{stdout}");
    assert!(runs[2]["history"] == "bare" && runs[2]["tls"] == false, "{stdout}");
    for run in &runs {
        assert_eq!(run["lost"], 0, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
        assert!(run["deliveries_per_s"].as_f64().unwrap() > 0.0, "{run}");
    }
    assert!(runs[1]["vs_plain"].is_f64() && runs[1]["p99_vs_plain"].is_f64(), "{stdout}");
    assert!(runs[0]["vs_plain"].is_null() && runs[2]["vs_plain"].is_null(), "{stdout}");
    assert!(stdout.contains("no history over TLS"), "{stdout}");
    assert!(stdout.contains("TLS / plain") && stdout.contains("4 members, no history"));
}

/// `--tls` on two nodes sharing a redis-server: both nodes serve the bench's certificate, and
/// every message still reaches every member once. Needs `redis-server`.
#[test]
fn tls_on_two_nodes_delivers_every_message_once() {
    let (stdout, runs) = bench(&[
        "--members",
        "6",
        "--senders",
        "2",
        "--total-rate",
        "50",
        "--seconds",
        "1",
        "--history",
        "redis2",
        "--tls",
    ]);
    assert_eq!(runs.len(), 2, "{stdout}");
    assert!(runs[1]["history"] == "redis2" && runs[1]["tls"] == true, "{stdout}");
    for run in &runs {
        assert_eq!(run["lost"], 0, "{run}");
        assert_eq!(run["repeated"], 0, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
    }
    assert!(runs[1]["vs_plain"].is_f64(), "{stdout}");
}

/// `--tls` where it cannot be measured is refused, saying why.
#[test]
fn tls_is_refused_where_it_makes_no_sense() {
    for (args, why) in [
        (&["--scenario", "idle"][..], "fan-out"),
        (&["--connect", "127.0.0.1:1"][..], "--connect"),
        (&["--history", "bare"][..], "the bare server speaks no TLS"),
    ] {
        let out = Command::new(this_bench()).args(args).arg("--tls").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains("--tls: ") && stderr.contains(why), "{args:?}: {stderr}");
    }
}

/// `--before` on idle connections: the memory of the run after against the run before.
#[test]
fn before_compares_the_memory_of_idle_connections() {
    let server = current_server();
    let (stdout, runs) = bench(&[
        "--scenario",
        "idle",
        "--connections",
        "20",
        "--history",
        "off",
        "--before",
        server.to_str().unwrap(),
    ]);
    assert_eq!(runs.len(), 2, "{stdout}");
    assert_eq!([&runs[0]["build"], &runs[1]["build"]], ["before", "after"]);
    assert!(runs[1]["rss_vs_before"].is_f64(), "{stdout}");
    assert!(stdout.contains("after / before") && stdout.contains("KiB/conn"), "{stdout}");
}

/// This build's chat-bench.
fn this_bench() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_chat-bench"))
}

/// Runs the bench with `args` against this build's chat-server; returns stdout and its JSON
/// lines.
fn bench(args: &[&str]) -> (String, Vec<serde_json::Value>) {
    let bench = this_bench();
    let server = current_server();
    let out = Command::new(bench).args(args).arg("--server").arg(&server).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let runs = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stdout, runs)
}

/// The chat-server binary of this build, beside chat-bench, checked to be built from the sources
/// as they are now. Cargo builds it for `cargo test --workspace` (chat-server's own tests need
/// it) but not for `cargo test -p chat-bench`: a test gets `CARGO_BIN_EXE_*` only for its own
/// package's binaries, and a dependency on another package's binary (an artifact dependency)
/// is not in stable cargo. So a binary left from an earlier build would be measured without a
/// word. Instead, one older than any source file of chat-server or of the protocol crate it is
/// built from (what cargo itself compares to decide on a rebuild) fails the test, saying so.
fn current_server() -> PathBuf {
    let server = this_bench().with_file_name("chat-server");
    let build = "build it: cargo build -p chat-server (cargo test --workspace does)";
    let built = std::fs::metadata(&server)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{} is missing ({e}): {build}", server.display()));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for crate_src in ["server/src", "protocol/src"] {
        let (newest, changed) = newest_rust_file(&workspace.join(crate_src));
        assert!(
            changed <= built,
            "{} is older than {}: the test would run a stale server; {build}",
            server.display(),
            newest.display()
        );
    }
    server
}

/// The most recently modified `.rs` file under `dir`, and when it was modified.
fn newest_rust_file(dir: &Path) -> (PathBuf, SystemTime) {
    let mut newest = (dir.to_owned(), SystemTime::UNIX_EPOCH);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let found = if path.is_dir() {
            newest_rust_file(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            (path, modified)
        } else {
            continue;
        };
        if found.1 > newest.1 {
            newest = found;
        }
    }
    newest
}

/// A paced sweep over two member counts: every message sent reaches every member, and the
/// CSV and the chart hold every run.
#[test]
fn a_paced_sweep_writes_a_csv_row_per_run_and_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, svg) = (dir.path().join("runs.csv"), dir.path().join("runs.svg"));
    let (_, runs) = bench(&[
        "--members",
        "3,6",
        "--senders",
        "2",
        "--total-rate",
        "50",
        "--seconds",
        "1",
        "--history",
        "off,bare",
        "--csv",
        csv.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(runs.len(), 4);
    for run in &runs {
        assert_eq!(run["lost"], 0, "{run}");
        assert_eq!(run["total_rate"], 50.0, "{run}");
        let expected = 50.0 * run["members"].as_f64().unwrap();
        let deliveries = run["deliveries_per_s"].as_f64().unwrap();
        assert!((deliveries - expected).abs() <= expected * 0.1, "{run}");
    }
    assert_eq!(runs[3]["history"], "bare");
    assert_eq!(runs[3]["members"], 6);
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.starts_with("scenario,history,members,"), "{csv}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("deliveries / s") && svg.contains("bare"), "{svg:.200}");
}

/// Idle connections: the server's memory is measured before and after they come.
#[test]
fn an_idle_run_reports_memory_per_connection() {
    let (_, runs) = bench(&["--scenario", "idle", "--connections", "50", "--history", "off,bare"]);
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!(run["connections"], 50, "{run}");
        assert!(run["rss_after_kib"].as_f64().unwrap() > 0.0, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
    }
}

/// Churn: visitors come and go while the steady members' messages all arrive.
#[test]
fn a_churn_run_counts_visits_and_times_the_steady_members() {
    let (_, runs) = bench(&[
        "--scenario",
        "churn",
        "--members",
        "3",
        "--senders",
        "1",
        "--parallel",
        "2",
        "--seconds",
        "1",
        "--history",
        "file",
    ]);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(run["churn_per_s"].as_f64().unwrap() > 0.0, "{run}");
    assert_eq!(run["churn_failed"], 0, "{run}");
    assert_eq!(run["lost"], 0, "{run}");
}

/// Two chat-server nodes sharing a redis-server the bench starts, the members split between
/// them: every message reaches every member once, as on one node, and the two-node run is
/// compared with the one-node runs. Needs `redis-server` (as the server's cluster tests do).
#[test]
fn a_two_node_run_delivers_every_message_once() {
    let (stdout, runs) = bench(&[
        "--members",
        "6",
        "--senders",
        "2",
        "--total-rate",
        "50",
        "--seconds",
        "1",
        "--history",
        "off,redis,redis2",
    ]);
    assert_eq!(runs.len(), 3, "{stdout}");
    assert_eq!(runs[2]["history"], "redis2");
    for run in &runs {
        assert_eq!(run["lost"], 0, "{run}");
        assert_eq!(run["repeated"], 0, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
        let expected = 50.0 * 6.0;
        let deliveries = run["deliveries_per_s"].as_f64().unwrap();
        assert!((deliveries - expected).abs() <= expected * 0.1, "{run}");
    }
    assert!(runs[0]["redis_cpu"].is_null() && runs[2]["redis_cpu"].is_f64(), "{stdout}");
    assert!(runs[2]["p99_vs_off"].is_f64() && runs[2]["p99_vs_redis"].is_f64(), "{stdout}");
    assert!(stdout.contains("two nodes on Redis (p99"), "{stdout}");
}

/// An attack run with the new attackers of issue 21 only: a calm line and an attacked one,
/// nothing lost; every attacker named got answers (the reconnect flooder messages accepted,
/// the room spammer rooms made, ...); the server's memory read three times in each run; and
/// the targets printed with pass or fail.
#[test]
fn an_attack_run_measures_each_attacker_and_the_targets() {
    let (stdout, runs) = bench(&[
        "--scenario",
        "attack",
        "--members",
        "4",
        "--senders",
        "2",
        "--seconds",
        "1",
        "--attackers",
        "reconnect,who,history,rooms,churner,nicks",
    ]);
    assert_eq!(runs.len(), 2, "{stdout}");
    assert_eq!([&runs[0]["attackers"], &runs[1]["attackers"]], [false, true], "{stdout}");
    for run in &runs {
        assert_eq!(run["lost"], 0, "{run}");
        for rss in ["rss_start_kib", "rss_peak_kib", "rss_after_kib"] {
            assert!(run[rss].as_u64().unwrap() > 0, "{run}");
        }
    }
    let by_attacker = &runs[1]["by_attacker"];
    for kind in ["reconnect", "who", "history", "rooms", "churner", "nicks"] {
        assert!(by_attacker[kind]["answers"].as_u64().unwrap() > 0, "{kind}: {stdout}");
    }
    assert!(runs[1]["reconnect_ratio"].is_f64() && runs[1]["p99_ratio"].is_f64(), "{stdout}");
    assert!(stdout.contains("issue 21's targets") && stdout.contains("reconnect flooder"));
    assert!(stdout.contains("PASS") || stdout.contains("FAIL"), "{stdout}");
}
