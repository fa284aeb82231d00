//! The screen: resizing and the mouse wheel.

use std::time::Instant;

use super::harness::*;

/// The row of the input line's text in a terminal `height` rows high (from 0): above the
/// input box's bottom border and the status line, or, below 8 rows, where there are no borders,
/// just above the status line.
fn input_row(height: u16) -> usize {
    usize::from(if height >= 8 { height - 3 } else { height - 2 })
}

/// Resizing keeps what you typed: a half-typed line stays in the input line while the
/// terminal shrinks to 40x12, to the smallest size the client draws (20x5), and grows to
/// 120x40; Enter then sends exactly that line. Before each resize the pane is blanked, so
/// what is seen after it is what the client drew for the new size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizing_keeps_the_half_typed_line() {
    let (json, plain, _stop) = start_server().await;
    let mut guest = Nc::login(plain, "Guest").await;
    let tmux = Tmux::new();
    let pane = tmux.start("resize", &format!("--name Michael --server {json}"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    guest.wait_for("[lobby] --> Michael joined").await;

    let typed = "half 你好 typed";
    pane.type_text(typed);
    pane.wait_for(typed).await;
    for (width, height) in [(40, 12), (20, 5), (120, 40), (80, 24)] {
        pane.key("-R"); // resets the pane: a blank screen
        pane.wait_until("a blank screen", Instant::now() + WAIT, |s| s.trim().is_empty()).await;
        pane.resize(width, height);
        let row = input_row(height);
        let screen = pane
            .wait_until(
                &format!("{typed:?} on the input line (row {row}) at {width}x{height}"),
                Instant::now() + WAIT,
                |s| s.lines().nth(row).is_some_and(|l| l.contains(typed)),
            )
            .await;
        assert_eq!(count(&screen, typed), 1, "{screen}");
    }
    pane.key("Enter");
    let seen = guest.wait_for("[lobby] Michael: ").await;
    assert_eq!(seen.last().unwrap().trim_end(), format!("[lobby] Michael: {typed}"));
    pane.wait_for(&format!("<Michael> {typed}")).await;
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
}

/// The numbers `n` of the "wheel line n" lines on the screen.
fn wheel_lines(screen: &str) -> Vec<u32> {
    screen
        .split("wheel line ")
        .skip(1)
        .filter_map(|rest| rest.get(..2).and_then(|n| n.parse().ok()))
        .collect()
}

/// The mouse wheel scrolls the conversation: the client asks the terminal for mouse reports
/// in SGR form; with more lines than fit, four notches up (as the terminal reports them) bring
/// older lines into view and take the newest out of it, four notches down bring it back. On
/// exit the terminal gets its mouse back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_wheel_scrolls_the_conversation() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let pane = tmux.start("wheel", &format!("--name Michael --server {json}"), 80, 24);
    pane.wait_for("you joined #lobby").await;
    // Mouse reports on (any motion, which includes the wheel), in SGR form.
    assert_eq!(pane.format("#{mouse_any_flag} #{mouse_sgr_flag}"), "1 1");

    let mut guest = Nc::login(plain, "Guest").await;
    for i in 1..=40 {
        guest.send(&format!("wheel line {i:02}")).await;
    }
    let screen = pane.wait_for("wheel line 40").await;
    let oldest = *wheel_lines(&screen).iter().min().unwrap();
    assert!(oldest > 12, "all of it fits; the test needs more lines:\n{screen}");

    // SGR mouse reports at column 20, row 12 (in the conversation): button 64 is wheel up, 65
    // wheel down. The client scrolls 3 rows a notch.
    for _ in 0..4 {
        pane.send_bytes(b"\x1b[<64;20;12M");
    }
    let older = format!("wheel line {:02}", oldest - 1);
    let screen = pane
        .wait_until("the conversation scrolled back", Instant::now() + WAIT, |s| {
            s.contains(&older) && !s.contains("wheel line 40")
        })
        .await;
    assert!(!screen.contains("[<"), "a mouse report was taken as typing:\n{screen}");
    for _ in 0..4 {
        pane.send_bytes(b"\x1b[<65;20;12M");
    }
    pane.wait_until("the conversation back at the newest line", Instant::now() + WAIT, |s| {
        s.contains("wheel line 40") && !s.contains(&older)
    })
    .await;

    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
    assert_eq!(pane.format("#{mouse_any_flag} #{mouse_sgr_flag}"), "0 0");
}
