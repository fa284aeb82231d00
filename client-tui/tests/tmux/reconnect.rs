//! Coming back: a server restart, a half-dead connection, `/connect`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::harness::*;

/// The server crashes and comes back on the same port while two people chat in #rust: both
/// clients reconnect by themselves, keep their nicks, rejoin #rust and show what was said
/// while they were away, each line once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_come_back_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (json, plain, server) = server_at(any, any, &db).await;
    let tmux = Tmux::new();
    let args = |name: &str| format!("--name {name} --server {json} --room rust");
    let michael = tmux.start("michael", &args("Michael"), 100, 30);
    let tracy = tmux.start("tracy", &args("Tracy"), 100, 30);
    michael.wait_for("┌ #rust").await;
    tracy.wait_for("┌ #rust").await;
    michael.type_line("said before the crash");
    tracy.wait_for("said before the crash").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    michael.wait_for("reconnecting in").await;
    tracy.wait_for("reconnecting in").await;

    drop(held);
    let (_, _, server) = server_at(json, plain, &db).await;
    // Someone speaks in #rust before the two are back.
    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("/join rust").await;
    guest.wait_for("[rust] --> Guest joined").await;
    guest.send("said during the outage").await;

    for (pane, me) in [(&michael, "Michael"), (&tracy, "Tracy")] {
        let screen = pane.wait_for("said during the outage").await;
        assert_eq!(count(&screen, "said during the outage"), 1, "{screen}");
        assert_eq!(count(&screen, "said before the crash"), 1, "{screen}");
        assert!(screen.contains(&format!(" online  {json} · {me} · #rust")), "{screen}");
        pane.server_window_shows("back; rejoining #lobby, #rust", 3).await;
    }
    tracy.type_line("and after it");
    let screen = michael.wait_for("<Tracy> and after it").await;
    assert_eq!(count(&screen, "said during the outage"), 1, "{screen}");
    guest.wait_for("Tracy: and after it").await;
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// The connection dies without the server noticing: the client comes back at once through
/// the resume token, under its own nick, although the server still holds the old session
/// (without the token it would be told the nick is in use until the ping timeout, minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_dead_connection_is_taken_over_with_the_resume_token() {
    let (json, plain, _stop) = start_server().await;
    let relay = Relay::to(json).await;
    let tmux = Tmux::new();
    let michael =
        tmux.start("michael", &format!("--name Michael --server {}", relay.addr), 100, 30);
    michael.wait_for("┌ #lobby").await;
    let mut guest = Nc::login(plain, "Guest").await;
    guest.wait_for("[lobby] Members: Guest, Michael").await;

    relay.cut();
    guest.wait_for("[lobby] <-- Michael dropped (reconnected)").await;
    guest.wait_for("[lobby] --> Michael joined").await;
    let screen = michael.wait_for(&format!(" online  {} · Michael · #lobby", relay.addr)).await;
    assert!(!screen.contains("in use"), "{screen}");
    let screen = michael.server_window_shows("back; rejoining #lobby", 2).await;
    assert!(!screen.contains("in use"), "{screen}");
    michael.type_line("still me");
    guest.wait_for("Michael: still me").await;
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
}

/// The newest "reconnecting in X s" in the server window or the notice: X, if there is one.
fn announced_delay(screen: &str) -> Option<f64> {
    let (_, rest) = screen.rsplit_once("reconnecting in ")?;
    rest.split_once(" s")?.0.parse().ok()
}

/// `/connect` tries now: the server is gone long enough for the reconnect delay to have grown
/// past 8 s; it comes back on the same port and `/connect` is typed: the client is back well
/// before the delay would have run out (the next attempt on its own is at least 7 s away), under
/// its nick and in its rooms again (a newcomer to #rust sees it there and hears it speak).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tries_at_once_instead_of_waiting_out_the_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (json, plain, server) = server_at(any, any, &db).await;
    let tmux = Tmux::new();
    let michael =
        tmux.start("michael", &format!("--name Michael --server {json} --room rust"), 100, 30);
    michael.wait_for("┌ #rust").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    // Each refused attempt doubles the delay: 0.25-0.5 s, 0.5-1, 1-2, 2-4, 4-8, then 8-16 s,
    // reached within 8 s of attempts.
    const LONG: f64 = 8.0;
    let screen = michael
        .wait_until(
            &format!("a reconnect delay of {LONG} s or more"),
            Instant::now() + Duration::from_secs(40),
            |s| announced_delay(s).is_some_and(|d| d >= LONG),
        )
        .await;
    let seen = Instant::now();
    let delay = Duration::from_secs_f64(announced_delay(&screen).unwrap());

    drop(held);
    let (_, _, server) = server_at(json, plain, &db).await;
    michael.type_line("/connect");
    // Left to itself the client tries again `delay` after it said so, which was at most a
    // moment before `seen`: 3 s of slack for that moment, and the rest is long enough to
    // connect and be welcomed on a busy machine.
    let back_by = seen + delay - Duration::from_secs(3);
    michael.wait_for_until(&format!(" online  {json} · Michael · #rust"), back_by).await;
    michael.server_window_shows("back; rejoining #lobby, #rust", 3).await;

    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("/join rust").await;
    guest.wait_for("[rust] Members: Guest, Michael").await;
    michael.type_line("back in rust");
    guest.wait_for("[rust] Michael: back in rust").await;
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
    server.shutdown_background();
}
