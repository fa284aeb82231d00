//! The screen of issue 22 in a real terminal: the server window and the rows it gives the
//! conversation, the status line with a mention in the last window at 40 columns, `/who`
//! answered where it was typed, the unread mark after `/leave`, a rejoined room's number,
//! the read marker, and `--no-mouse`.

use std::time::Instant;

use super::harness::*;

/// The status line: the last row of the screen.
fn status(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// At 80x24 the conversation shows 17 rows or more; the connection's lines are in window 1,
/// the server window, which Alt+1 shows and the status line lists first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eighty_by_twenty_four_shows_seventeen_rows_and_the_server_window() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("rows", &format!("--name Michael --server {json}"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    let mut guest = Nc::login(plain, "Guest").await;
    for i in 1..=30 {
        guest.send(&format!("said {i:02}")).await;
    }
    let screen = pane.wait_for("said 30").await;
    let rows = screen.lines().filter(|l| l.contains("said ")).count();
    assert!(rows >= 17, "{rows} rows of conversation:\n{screen}");
    assert!(status(&screen).contains(" 1:server 2:#lobby"), "{screen}");
    let screen = pane.server_window_shows("Hello, Michael! Welcome to chat.", 2).await;
    assert!(screen.contains("Be kind."), "the MOTD:\n{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// At 40x12, with seven windows, a mention in the last one opened is on the status line,
/// with its count apart from the unread one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_in_the_last_window_shows_at_forty_columns() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("narrow", &format!("--name Michael --server {json}"), 40, 12);
    pane.wait_for("you joined #lobby").await;
    for room in ["rust", "ops", "design", "release", "sam"] {
        pane.type_line(&format!("/join {room}"));
        pane.wait_for(&format!("┌ #{room} ")).await;
    }
    pane.alt_until(2, "#lobby", |s| s.contains("┌ #lobby ")).await;
    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("/join sam").await;
    guest.wait_for("[sam] Members:").await;
    guest.send("Michael: the release is yours").await;
    let screen = pane
        .wait_until("the mention on the status line", Instant::now() + WAIT, |s| {
            status(s).contains("(1,1!)")
        })
        .await;
    assert!(status(&screen).contains("7:#sam(1,1!)"), "{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// `/who lobby` typed in #rust is answered in #rust; lobby's window has no such line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_typed_in_a_room_is_answered_there() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("who", &format!("--name Michael --server {json}"), 100, 30);
    pane.wait_for("you joined #lobby").await;
    let _guest = Nc::login(plain, "Guest").await;
    pane.wait_for("Guest joined").await;
    pane.type_line("/join rust");
    pane.wait_for("┌ #rust ").await;
    pane.type_line("/who lobby");
    let screen = pane.wait_for("members of #lobby: Guest, Michael").await;
    assert!(screen.contains("┌ #rust "), "answered in #rust:\n{screen}");
    pane.alt_until(2, "#lobby", |s| s.contains("┌ #lobby ")).await;
    let screen = pane.capture();
    assert!(!screen.contains("members of #lobby: Guest, Michael"), "{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// `/leave` shows the window before, read: its unread mark goes. Joined again, the room
/// comes back at its number, and Alt+3 shows it as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_clears_the_mark_and_a_rejoined_room_keeps_its_number() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("leave", &format!("--name Michael --server {json}"), 100, 30);
    pane.wait_for("you joined #lobby").await;
    for room in ["rust", "go"] {
        pane.type_line(&format!("/join {room}"));
        pane.wait_for(&format!("┌ #{room} ")).await;
    }
    pane.alt_until(3, "#rust", |s| s.contains("┌ #rust ")).await;
    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("while you were in rust").await;
    pane.wait_for("2:#lobby(1)").await;
    pane.type_line("/leave");
    let screen = pane.wait_for("┌ #lobby ").await;
    assert!(!status(&screen).contains("#lobby(1)"), "the mark is gone:\n{screen}");
    assert!(status(&screen).contains(" 3:#go"), "go moved up meanwhile:\n{screen}");
    pane.type_line("/join rust");
    let screen = pane.wait_for("┌ #rust ").await;
    assert!(status(&screen).contains(" 3:#rust 4:#go"), "{screen}");
    pane.alt_until(4, "#go", |s| s.contains("┌ #go ")).await;
    pane.alt_until(3, "#rust", |s| s.contains("┌ #rust ")).await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// Lines that came while another window was shown are under the read marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_marker_is_where_the_window_was_left() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("marker", &format!("--name Michael --server {json}"), 100, 30);
    pane.wait_for("you joined #lobby").await;
    let mut guest = Nc::login(plain, "Guest").await;
    guest.send("read before").await;
    pane.wait_for("read before").await;
    pane.type_line("/join rust");
    pane.wait_for("┌ #rust ").await;
    guest.send("new after").await;
    pane.wait_for("2:#lobby(1)").await;
    pane.alt_until(2, "#lobby", |s| s.contains("┌ #lobby ")).await;
    let screen = pane.wait_for("new after").await;
    let at = |text: &str| screen.lines().position(|l| l.contains(text)).unwrap();
    assert!(at("read before") < at("── new since you left"), "{screen}");
    assert!(at("── new since you left") < at("new after"), "{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// `--no-mouse` leaves the mouse to the terminal (no mouse reports asked for), so that
/// selecting text needs no Shift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mouse_leaves_the_mouse_to_the_terminal() {
    let (json, _plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("mouse", &format!("--name Michael --server {json} --no-mouse"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    assert_eq!(pane.format("#{mouse_any_flag} #{mouse_sgr_flag}"), "0 0");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}
