//! Ctrl-C / SIGTERM: every client is told the server is shutting down, connections close
//! cleanly, the process exits 0.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::Stdio;

use common::{JsonClient, PlainClient, ServerProcess, start_server};
use protocol::{ByeCode, ServerMsg};

/// In-process: the shutdown future completes, every session gets a `bye` and is closed, and
/// `run` returns.
#[tokio::test]
async fn shutdown_says_goodbye_to_every_client() {
    let server = start_server().await;
    let mut michael = server.join("Michael").await;
    let mut tracy = server.join("Tracy").await;
    let mut plain = PlainClient::login(server.plain, "Nc").await;
    let mut fresh = JsonClient::connect(server.json).await;
    michael
        .recv_until(|m| matches!(m, ServerMsg::Presence { nick, .. } if nick.as_str() == "Nc"))
        .await;
    tracy
        .recv_until(|m| matches!(m, ServerMsg::Presence { nick, .. } if nick.as_str() == "Nc"))
        .await;

    server.shutdown().await;
    for client in [&mut michael, &mut tracy, &mut fresh] {
        let got = client.recv_until_closed().await;
        let byes: Vec<_> = got.iter().filter(|m| matches!(m, ServerMsg::Bye { .. })).collect();
        assert_eq!(byes.len(), 1, "{got:?}");
        assert!(matches!(byes[0], ServerMsg::Bye { code: ByeCode::Shutdown, .. }));
    }
    assert!(plain.rest().await.ends_with("Bye: the server is shutting down.\r\n"));
}

/// The real binary, history in memory.
fn spawn_server() -> ServerProcess {
    ServerProcess::start(&["--db", ":memory:"], Stdio::null())
}

/// The real binary on SIGTERM and on SIGINT (Ctrl-C): clients get `bye`, exit status 0.
#[tokio::test]
async fn the_binary_exits_zero_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let mut process = spawn_server();
        let mut c = JsonClient::connect(process.json).await;
        c.hello("Michael").await;
        c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        process.signal(signal);
        let got = c.recv_until_closed().await;
        assert!(
            matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::Shutdown, .. })),
            "{got:?}"
        );
        let status = process.wait_exit();
        assert_eq!(status.code(), Some(0), "{signal}");
    }
}

/// An address that cannot be bound makes the binary exit non-zero, naming the address.
#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let running = spawn_server();
    let json = running.json.to_string();
    let out = ServerProcess::command()
        .args(["--listen", &json, "--no-plain", "--db", ":memory:"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot listen on {json}")), "{stderr}");
}

/// `--help` documents every flag of README's flag table (and the table names no flag the
/// binary lacks).
#[test]
fn help_lists_every_flag_of_the_readme() {
    let out = ServerProcess::command().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let table = readme
        .split("`chat-server` (all flags in `chat-server --help`):")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").nth(1))
        .expect("README has the chat-server flag table");
    let flags: Vec<&str> = table
        .lines()
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .filter(|word| {
            word.strip_prefix("--").is_some_and(|name| name.starts_with(char::is_alphabetic))
        })
        .collect();
    assert!(flags.len() > 20, "the table was not found whole: {flags:?}");
    for flag in flags {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}
