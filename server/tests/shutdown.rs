//! Ctrl-C / SIGTERM: every client is told the server is shutting down, connections close
//! cleanly, the process exits 0.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{JsonClient, PlainClient, start_server};
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

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real binary on port 0 and reads the addresses it prints.
fn spawn_server() -> (Process, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0", "--db", ":memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // "chat-server listening: json=127.0.0.1:PORT plain=127.0.0.1:PORT"
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("{line}"))
            .to_owned()
    };
    let (json, plain) = (field("json="), field("plain="));
    (Process(child), json, plain)
}

fn wait_exit(p: &mut Process) -> std::process::ExitStatus {
    for _ in 0..100 {
        if let Some(status) = p.0.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("chat-server did not exit within 5 s of the signal");
}

/// The real binary on SIGTERM and on SIGINT (Ctrl-C): clients get `bye`, exit status 0.
#[tokio::test]
async fn the_binary_exits_zero_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let (mut process, json, _) = spawn_server();
        let mut c = JsonClient::connect(json.parse().unwrap()).await;
        c.hello("Michael").await;
        c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        let status =
            Command::new("kill").args([signal, &process.0.id().to_string()]).status().unwrap();
        assert!(status.success());
        let got = c.recv_until_closed().await;
        assert!(
            matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::Shutdown, .. })),
            "{got:?}"
        );
        let status = wait_exit(&mut process);
        assert_eq!(status.code(), Some(0), "{signal}");
    }
}

/// An address that cannot be bound makes the binary exit non-zero, naming the address.
#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let (_running, json, _) = spawn_server();
    let out = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--listen", &json, "--no-plain", "--db", ":memory:"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot listen on {json}")), "{stderr}");
}

/// `--help` documents every flag.
#[test]
fn help_lists_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_chat-server")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--plain-listen",
        "--no-plain",
        "--name",
        "--motd",
        "--max-connections",
        "--verbose",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}
