//! `chat-bench` runs end to end against the real server and prints one JSON line per run and a
//! table. A short, small run: this checks that the bench works, not how fast anything is.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::process::Command;

#[test]
fn a_short_fanout_run_prints_figures_for_each_history_mode() {
    let bench = std::path::Path::new(env!("CARGO_BIN_EXE_chat-bench"));
    let server = bench.with_file_name("chat-server");
    assert!(
        server.exists(),
        "{} is missing: build the workspace (cargo test --workspace)",
        server.display()
    );
    let out = Command::new(bench)
        .args(["--members", "4", "--senders", "2", "--seconds", "1", "--history", "memory,off"])
        .arg("--server")
        .arg(&server)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let runs: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "{stdout}");
    for run in &runs {
        assert!(run["deliveries_per_s"].as_f64().unwrap() > 0.0, "{run}");
        assert!(run["sends_per_s"].as_f64().unwrap() > 0.0, "{run}");
    }
    assert_eq!(runs[0]["history"], "memory");
    assert_eq!(runs[1]["history"], "off");
    assert!(stdout.contains("vs off"), "{stdout}");
}
