//! What the real client writes to its terminal besides the screen: a desktop notification
//! (OSC 777) for a mention in a window not shown, and a URL as an OSC 8 hyperlink, each
//! read from the program's own output (tmux's `pipe-pane`), hostile text kept out of both.

use std::time::Instant;

use super::harness::*;

/// Waits until the output recorded in `file` holds `needle`.
async fn output_with(file: &std::path::Path, needle: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = std::fs::read(file).unwrap_or_default();
        if out.windows(needle.len()).any(|w| w == needle) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "{:?} never written; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&out)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn holds(out: &[u8], needle: &[u8]) -> bool {
    out.windows(needle.len()).any(|w| w == needle)
}

/// With `notify = "osc777"`, a mention in a window not shown asks the terminal for a
/// notification, its text sanitised (a `;` and an ESC from the sender do not reach the
/// sequence raw); a URL is written as an OSC 8 hyperlink around each of its cells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_notifies_and_a_url_is_a_link() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let config = tmux.home().join(".config/chat-tui");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "notify = \"osc777\"\n").unwrap();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    let output = tmux.home().join("output");
    michael.record_output(&output);
    michael.type_line("/join rust");
    michael.wait_for("you joined #rust").await;
    let mut tracy = Nc::login(plain, "Tracy").await;
    tracy.send("Michael; look \u{1b}]0;pwned\u{7} at https://example.org/a?b=1.").await;
    michael.wait_for("#lobby(1,1!)").await;
    let out = output_with(&output, b"\x1b]777;notify;chat: #lobby;<Tracy> Michael, look ").await;
    for raw in [&b"\x1b]0;pwned"[..], b"\x1b]0,pwned", b"pwned\x07"] {
        assert!(!holds(&out, raw), "{:?}", String::from_utf8_lossy(&out));
    }
    michael.alt_until(2, "#lobby", |s| s.contains("┌ #lobby")).await;
    michael.wait_for("<Tracy> Michael; look").await;
    let link = b";https://example.org/a?b=1\x1b\\h\x1b]8;;\x1b\\";
    let out = output_with(&output, link).await;
    assert!(holds(&out, b"\x1b]8;id="), "{:?}", String::from_utf8_lossy(&out));
    michael.type_line("/exit");
    michael.wait_for("EXITED 0").await;
}
