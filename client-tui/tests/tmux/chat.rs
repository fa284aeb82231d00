//! Chatting in real terminals: two people and a guest, errors explained, signals, history,
//! and the environment the panes see.

use std::process::Command;
use std::time::{Duration, Instant};

use super::harness::*;

/// Two people and an `nc` guest chat, join a room, whisper, and leave with /exit and Ctrl-C; the
/// terminal is restored each time and the exit status is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminals_and_a_guest_chat() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    michael.server_window_shows("Hello, Michael! Welcome to chat.", 2).await;
    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 80, 24);
    tracy.wait_for("you joined #lobby").await;
    tracy.server_window_shows("Hello, Tracy! Welcome to chat.", 2).await;
    michael.wait_for("Tracy joined").await;

    michael.type_line("hi Tracy, 你好 👋");
    tracy.wait_for("<Michael> hi Tracy, 你好 👋").await;

    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("hello from nc").await;
    tracy.wait_for("<Guest> hello from nc").await;
    michael.wait_for("<Guest> hello from nc").await;
    tracy.type_line("welcome, Guest");
    guest.wait_for("[lobby] Tracy: welcome, Guest").await;

    tracy.type_line("/join rust");
    tracy.wait_for("┌ #rust").await;
    michael.type_line("/join rust");
    michael.wait_for("┌ #rust").await;
    tracy.wait_for("Michael joined").await;
    michael.type_line("/me likes ownership");
    tracy.wait_for("* Michael likes ownership").await;

    michael.type_line("/msg Tracy a secret");
    let screen = tracy.wait_for("@Michael(1!)").await;
    assert!(!screen.contains("a secret"), "the private message is in its own window:\n{screen}");
    tracy.key("M-4");
    tracy.wait_for("<Michael> a secret").await;
    tracy.key("M-3");
    tracy.wait_for("┌ #rust").await;

    michael.type_line("/exit");
    let screen = michael.wait_for("EXITED 0").await;
    assert!(!screen.contains("┌ #"), "the terminal is restored after /exit:\n{screen}");
    tracy.wait_for("Michael left").await;
    // The guest saw the lobby talk and the leave, and never the private message.
    let seen = guest.wait_for("Michael left").await;
    assert!(!seen.iter().any(|l| l.contains("secret")), "{seen:?}");

    tracy.key("C-c");
    let screen = tracy.wait_for("EXITED 0").await;
    assert!(!screen.contains("┌ #"), "the terminal is restored after Ctrl-C:\n{screen}");
}

/// An unreachable server is explained in the server window; the client keeps trying (with a wait
/// between attempts) and stays up until asked to quit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_explained() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let tmux = Tmux::new();
    let pane = tmux.start("alone", &format!("--name Michael --server {addr}"), 100, 24);
    let screen = pane.wait_for(&format!("cannot connect to {addr}")).await;
    assert!(screen.contains("Connection refused"), "{screen}");
    assert!(screen.contains("(is chat-server"), "{screen}");
    pane.wait_for("reconnecting in ").await;
    pane.wait_for("(attempt 2)").await;
    pane.type_line("/exit");
    pane.wait_for("EXITED 0").await;
}

/// When the server goes away mid-session the client stays up, says so (in the notice above
/// the input, and in the server window), and keeps trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_going_away_is_reported() {
    let (json, _, stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("left", &format!("--name Michael --server {json}"), 100, 24);
    pane.wait_for("you joined #lobby").await;
    stop.send(()).unwrap();
    pane.wait_until("the notice above the input", Instant::now() + WAIT, |s| {
        s.contains("! disconnected: the server closed") && s.contains(" · reconnecting in ")
    })
    .await;
    pane.type_line("still there?");
    pane.wait_for("queued: still there?").await;
    pane.server_window_shows("server says goodbye: the server is shutting down", 2).await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// SIGTERM, SIGINT and SIGHUP end the client like Ctrl-C: terminal restored, exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_end_the_client_cleanly() {
    let (json, _, _stop) = start_server().await;
    let tmux = Tmux::new();
    for (i, signal) in ["-TERM", "-INT", "-HUP"].iter().enumerate() {
        let pane = tmux.start(
            &format!("signal{i}"),
            &format!("--name Michael{i} --server {json}"),
            100,
            24,
        );
        pane.wait_for("you joined #lobby").await;
        let pid = pane.program_pid().to_string();
        assert!(Command::new("kill").args([*signal, pid.as_str()]).status().unwrap().success());
        let screen = pane.wait_for("EXITED 0").await;
        assert!(!screen.contains("┌ #"), "terminal not restored after {signal}:\n{screen}");
    }
}

/// Joining shows the recent conversation marked as earlier history; PgUp past the top fetches
/// older pages until the beginning of the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_join_and_paging_back() {
    let (json, plain, _stop) = start_server().await;
    let mut guest = Nc::login(plain, "Guest").await;
    for i in 1..=150 {
        guest.send(&format!("old message {i}")).await;
    }
    guest.wait_for("old message 150").await;
    let tmux = Tmux::new();
    let pane = tmux.start("history", &format!("--name Michael --server {json}"), 90, 20);
    let screen = pane.wait_for("you joined #lobby").await;
    assert!(screen.contains("── now"), "{screen}");
    // One sender's burst is one group: the nick once, then the lines under it.
    assert!(screen.contains("        old message 150"), "{screen}");
    // The backlog holds 101..150 under an "earlier messages" marker; older pages come as the
    // view reaches the top.
    let mut screen = String::new();
    let mut marker_seen = false;
    for _ in 0..200 {
        pane.key("PPage");
        screen = pane.capture();
        marker_seen |= screen.contains("── earlier messages");
        if screen.contains("the beginning of #lobby") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(marker_seen, "the backlog was never shown as earlier messages");
    assert!(screen.contains("the beginning of #lobby"), "{screen}");
    assert!(
        screen.contains("<Guest> old message 1\n") || screen.contains("<Guest> old message 1 "),
        "{screen}"
    );
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// The tests are hermetic: a program in a pane sees the home and the environment the test
/// gave it, not those of the person running the tests. No variable of theirs gets through (a
/// `NO_COLOR`, a `RUST_LOG`, their `TERM` or `XDG_*`), and `chat-tui` finds no config file (a
/// `~/.config/chat-tui/config.toml` of theirs with another name, rooms or `colors = false`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programs_in_the_panes_see_only_the_tests_environment() {
    let tmux = Tmux::new();
    let home = tmux.home();
    let env = tmux.spawn("env", "env | sort; echo ENV-END; sleep 600", 250, 40);
    let screen = env.wait_for("ENV-END").await;
    let vars: Vec<(&str, &str)> = screen.lines().filter_map(|l| l.split_once('=')).collect();
    let allowed = [
        // Given by the test.
        "HOME",
        "LC_ALL",
        "PATH",
        "SHELL",
        "TERM",
        "TZ",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        // Added by tmux and the shell.
        "TMUX",
        "TMUX_PANE",
        "TERM_PROGRAM",
        "TERM_PROGRAM_VERSION",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    ];
    for (name, _) in &vars {
        assert!(allowed.contains(name), "{name} leaked into the pane:\n{screen}");
    }
    let value = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(value("HOME"), home.to_str(), "{screen}");
    assert_eq!(value("XDG_CONFIG_HOME"), home.join(".config").to_str(), "{screen}");
    assert_eq!(value("TERM"), Some(PANE_TERM), "{screen}");
    assert_eq!(value("PWD"), home.to_str(), "{screen}");

    // chat-tui's own view: no config file, so colours on and no rooms but lobby.
    let config = tmux.start("config", "--name Michael --print-config", 250, 20);
    let screen = config.wait_for("EXITED 0").await;
    let file = home.join(".config/chat-tui/config.toml");
    assert!(screen.contains(&format!("# no config file at {}", file.display())), "{screen}");
    assert!(screen.contains("name = \"Michael\""), "{screen}");
    assert!(screen.contains("rooms = []"), "{screen}");
    assert!(screen.contains("colors = true"), "{screen}");
}
