//! Clients' addresses stay out of the real binary's log at its default level unless
//! `--log-addresses` is given: sessions are named by their id, refusals and failed logins say
//! what happened without from where.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::process::Stdio;

use common::{JsonClient, ServerProcess};
use protocol::{ByeCode, ClientMsg, Password, ServerMsg};

const SECRET: &str = "correct horse battery staple";

/// Runs the binary with `args` (its log at the default level, as an operator runs it) through
/// what logs a client: a plain-text session, a session that registers, a wrong password from
/// a third connection, and a fourth refused as one too many from the address.
/// Returns its log.
async fn log_of_a_busy_server(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let db = dir.path().join("history.db");
    let mut all = vec!["--db", db.to_str().unwrap(), "--max-connections-per-ip", "3"];
    all.extend_from_slice(args);
    let mut server = ServerProcess::start(&all, Stdio::from(log));

    let plain = common::PlainClient::login(server.plain.unwrap(), "Tracy").await;
    let mut owner = JsonClient::connect(server.json).await;
    owner.hello("Michael").await;
    owner.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    owner.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    let mut guesser = JsonClient::connect(server.json).await;
    let answer = guesser.hello_with_password("Michael", Some("a wrong guess")).await;
    assert!(matches!(answer, ServerMsg::Error { .. }), "{answer:?}");
    let mut fourth = JsonClient::connect(server.json).await;
    let bye = fourth.recv().await;
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::TooManyConnections, .. }), "{bye:?}");
    drop((plain, owner, guesser, fourth));
    server.signal("TERM");
    assert!(server.wait_exit().success());
    std::fs::read_to_string(&log_path).unwrap()
}

/// By default the log names sessions by id and says what happened, but no address: not the
/// client's (127.0.0.1), not its block (127.0.0.0/24).
#[tokio::test]
async fn the_log_holds_no_address_by_default() {
    let log = log_of_a_busy_server(&[]).await;
    assert!(!log.contains("127.0.0."), "an address in the log:\n{log}");
    for said in
        ["session{id=", "registered", "failed login", "too many connections from your address"]
    {
        assert!(log.contains(said), "{said:?} is not in the log:\n{log}");
    }
    // What a session logs while it handles a request, and at its end, names it.
    for said in ["registered nick=", "failed login", "left nick="] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(said)).collect();
        assert!(!lines.is_empty(), "{said:?} is not in the log:\n{log}");
        assert!(lines.iter().all(|l| l.contains("session{id=")), "{said:?} unnamed:\n{log}");
    }
}

/// With `--log-addresses` the same lines carry the address.
#[tokio::test]
async fn log_addresses_puts_them_back() {
    let log = log_of_a_busy_server(&["--log-addresses"]).await;
    let lines = |said: &str| log.lines().filter(|l| l.contains(said)).collect::<Vec<_>>();
    for said in ["registered nick=", "too many connections from your address"] {
        let found = lines(said);
        assert!(!found.is_empty(), "{said:?} is not in the log:\n{log}");
        assert!(found.iter().all(|l| l.contains("127.0.0.1")), "{said:?} without it:\n{log}");
    }
    let failed = lines("failed login");
    assert!(failed.iter().any(|l| l.contains("127.0.0.0/24")), "failed logins:\n{log}");
}
