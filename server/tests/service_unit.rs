//! `assets/chat-server.service`: a unit systemd accepts as it is (`systemd-analyze verify`:
//! every directive known, every value valid), hardened as README says, whose command line
//! chat-server takes; and `systemctl reload` (SIGHUP) never stops a server. The unit's check
//! is skipped, saying so, only where `systemd-analyze` is not installed.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::{Command, Stdio};

use clap::Parser as _;
use common::{JsonClient, ServerProcess};

const UNIT: &str = include_str!("../../assets/chat-server.service");

/// Where the unit expects the binary; the check runs a copy that names the one just built.
const INSTALLED: &str = "/usr/local/bin/chat-server";

/// The lines README promises: a user of its own, a private state directory, a read-only
/// system, no capabilities, few system calls, TCP only, and a restart after a crash.
const HARDENING: &[&str] = &[
    "DynamicUser=yes",
    "StateDirectory=chat-server",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service",
    "LimitNOFILE=65536",
    "Restart=on-failure",
    "ExecReload=/bin/kill -HUP $MAINPID",
];

/// `systemd-analyze verify` finds nothing to say about the unit (pointed at the binary just
/// built, since `verify` checks that the command exists).
#[test]
fn the_unit_verifies_with_systemd_analyze() {
    for line in HARDENING {
        assert!(UNIT.lines().any(|l| l == *line), "the unit lacks {line:?}");
    }
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED the_unit_verifies_with_systemd_analyze: systemd-analyze is not installed \
             (apt-get install systemd); assets/chat-server.service was not verified"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("chat-server.service");
    let built = env!("CARGO_BIN_EXE_chat-server").replace('%', "%%");
    assert!(UNIT.contains(&format!("ExecStart={INSTALLED} ")), "ExecStart names {INSTALLED}");
    std::fs::write(&unit, UNIT.replace(INSTALLED, &built)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify:\n{said}");
}

/// The unit's command line is one chat-server takes: its flags exist and go together.
#[test]
fn the_units_command_line_is_chat_servers() {
    let exec = exec_start();
    let args: Vec<String> = exec
        .split_whitespace()
        .map(|word| word.replace("%S", "/var/lib").replace("%%", "%"))
        .collect();
    assert_eq!(args[0], INSTALLED);
    if let Err(e) = chat_server::Config::try_parse_from(&args) {
        panic!("chat-server refuses the unit's command line {exec:?}: {e}");
    }
}

/// `ExecStart=`, its continued lines joined.
fn exec_start() -> String {
    let mut lines = UNIT.lines().skip_while(|l| !l.starts_with("ExecStart="));
    let mut exec = String::new();
    for line in lines.by_ref() {
        let line = line.strip_prefix("ExecStart=").unwrap_or(line).trim();
        match line.strip_suffix('\\') {
            Some(part) => exec.push_str(part),
            None => {
                exec.push_str(line);
                return exec;
            }
        }
        exec.push(' ');
    }
    panic!("no ExecStart= in the unit");
}

/// `systemctl reload` sends SIGHUP: a server without TLS (nothing to reload) keeps serving
/// through it, and still stops cleanly on SIGTERM.
#[tokio::test]
async fn sighup_does_not_stop_a_server_without_tls() {
    let mut server = ServerProcess::start(&["--db", ":memory:"], Stdio::null());
    server.signal("HUP");
    tokio::time::sleep(common::QUIET).await;
    assert!(server.child.try_wait().unwrap().is_none(), "SIGHUP stopped the server");
    let mut client = JsonClient::connect(server.json).await;
    client.hello("Michael").await;
    server.signal("TERM");
    assert!(server.wait_exit().success());
}
