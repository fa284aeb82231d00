//! Sending in real terminals: a private window opened with `/query`, `/me` and `/who` in it and
//! a `/msg` echoed where it was typed; lines typed during an outage sent after the comeback; a
//! paste line by line paced to the server's flood control; a taken nick at start-up.

use std::net::SocketAddr;
use std::time::Instant;

use chat_server::{FloodLimits, Listeners, Rate, ServerInfo};

use super::harness::*;

/// A server with flood control at `burst` messages, then `per_second`.
async fn flood_controlled_server(
    burst: u32,
    per_second: f64,
) -> (SocketAddr, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let any = "127.0.0.1:0".parse().unwrap();
    let listeners = Listeners::bind(any, Some(any)).await.unwrap();
    let (json, plain) = (listeners.json_addr().unwrap(), listeners.plain_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let flood = FloodLimits { messages: Rate::per_second(burst, per_second), ..Default::default() };
    let info = ServerInfo { motd: "Be kind.".into(), flood: Some(flood), ..ServerInfo::default() };
    let history = chat_server::Broker::local(Default::default()).unwrap();
    tokio::spawn(chat_server::run(listeners, info, history, async {
        let _ = stopped.await;
    }));
    (json, plain, stop)
}

/// `/query Tracy` opens a private window without sending anything; `/me` there reaches Tracy
/// as an action; `/who` there says where Tracy is; a `/msg` typed in #lobby is echoed in
/// #lobby; `/close` closes the private window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_window_opened_with_query() {
    let (json, _, _stop) = start_server().await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    tracy.wait_for("you joined #lobby").await;
    michael.wait_for("Tracy joined").await;

    michael.type_line("/query Tracy");
    michael.wait_for("┌ @Tracy").await;
    michael.type_line("/who");
    michael.wait_for("Tracy is online, in #lobby").await;
    michael.type_line("/me waves");
    tracy.wait_for("@Michael(1!)").await;
    tracy.alt_until(3, "the @Michael window", |s| s.contains("┌ @Michael")).await;
    tracy.wait_for("* Michael waves").await;

    michael.alt_until(2, "#lobby", |s| s.contains("┌ #lobby")).await;
    michael.wait_for("┌ #lobby").await;
    michael.type_line("/msg Tracy typed in the lobby");
    michael.wait_for("-> Tracy: typed in the lobby").await;
    tracy.wait_for("<Michael> typed in the lobby").await;

    michael.alt_until(3, "the @Tracy window", |s| s.contains("┌ @Tracy")).await;
    michael.wait_for("┌ @Tracy").await;
    michael.type_line("/close");
    let screen = michael.wait_for("┌ #lobby").await;
    assert!(!screen.contains("@Tracy"), "the private window is gone:\n{screen}");
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
}

/// Lines typed while the server is down are shown queued, and once the client is back they
/// reach the room, in order, once each; the queued notes leave as the echoes come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_typed_during_an_outage_are_sent_after_the_comeback() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (json, plain, server) = server_at(any, any, &db).await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    michael.wait_for("reconnecting in").await;
    michael.type_line("typed while away, first");
    michael.type_line("typed while away, second");
    let screen = michael.wait_for("queued: typed while away, second").await;
    assert!(screen.contains("queued: typed while away, first"), "{screen}");

    drop(held);
    let (_, _, server) = server_at(json, plain, &db).await;
    // Echoed, grouped under one nick: once each, in the order typed; each queued note leaves
    // once its echo shows the line.
    michael.wait_for("<Michael> typed while away, first").await;
    let both = |s: &str| {
        !s.contains("queued: ")
            && !s.contains("not sent: ")
            && count(s, "typed while away, second") == 1
    };
    let screen = michael.wait_until("the second echo", Instant::now() + WAIT, both).await;
    let first = screen.rfind("<Michael> typed while away, first").expect(&screen);
    let second = screen.rfind("typed while away, second").expect(&screen);
    assert!(first < second, "in the order typed:\n{screen}");
    assert_eq!(count(&screen, "typed while away, first"), 1, "echoed, the note gone:\n{screen}");
    // The room has them: a newcomer sees them in its backlog.
    let mut guest = Nc::login(plain, "Guest").await;
    guest.wait_for("typed while away, second").await;
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// Twelve lines pasted line by line against a server that takes three at once and then five
/// a second: all arrive, in order, and the server refuses none (no "slow down" on screen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paste_line_by_line_is_paced_to_the_server() {
    let (json, plain, _stop) = flood_controlled_server(3, 5.0).await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    let mut guest = Nc::login(plain, "Guest").await;
    michael.wait_for("Guest joined").await;

    let lines: Vec<String> = (1..=12).map(|i| format!("pasted line {i:02}")).collect();
    let paste = format!("\x1b[200~{}\x1b[201~", lines.join("\r"));
    michael.send_bytes(paste.as_bytes());
    michael.wait_for("paste of 12 lines").await;
    michael.key("l");
    let heard = guest.wait_for("pasted line 12").await;
    let said: Vec<&String> = heard.iter().filter(|l| l.contains("pasted line")).collect();
    assert_eq!(said.len(), 12, "{heard:?}");
    for (line, want) in said.iter().zip(&lines) {
        assert!(line.contains(want.as_str()), "out of order: {heard:?}");
    }
    // Each echoed once (a sender's lines are grouped under one nick).
    let screen = michael.wait_for("pasted line 12").await;
    assert!(!screen.contains("slow down"), "{screen}");
    assert!(screen.contains("<Michael> pasted line 01"), "{screen}");
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
}

/// The nick asked for is taken at start-up: the conversation pane says so, and the client
/// comes in as `Michael_` by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_nick_at_start_up_falls_back() {
    let (json, plain, _stop) = start_server().await;
    let _holder = Nc::login(plain, "Michael").await;
    let tmux = Tmux::new();
    let pane = tmux.start("second", &format!("--name Michael --server {json}"), 100, 30);
    pane.wait_for("you joined #lobby").await;
    pane.server_window_shows("Hello, Michael_! Welcome to chat.", 2).await;
    // In the conversation pane, as an error line (the server window has no "!!").
    pane.wait_for("!! the nick Michael is already in use; trying Michael_ instead").await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}
