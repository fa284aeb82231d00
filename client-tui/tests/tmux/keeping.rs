//! What the real client keeps on disk across a session, in the pane's own XDG directories:
//! the chat logs' lines after a session, and the ignore list across a restart.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::harness::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The only file in `dir`: a day's log, `YYYY-MM-DD.log`.
fn day_log(dir: &Path) -> String {
    let names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names.len(), 1, "one day's file in {dir:?}: {names:?}");
    let name = names[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.len() == "2026-12-03.log".len()
            && name.ends_with(".log")
            && name.as_bytes()[4] == b'-',
        "{name}"
    );
    assert_eq!(mode(&names[0]), 0o600, "{name}");
    std::fs::read_to_string(&names[0]).unwrap()
}

/// `HH:MM:SS` then the rest.
fn timed(line: &str) -> &str {
    let (time, rest) = line.split_at(9);
    let digits = time.bytes().enumerate().all(|(i, b)| match i {
        2 | 5 => b == b':',
        8 => b == b' ',
        _ => b.is_ascii_digit(),
    });
    assert!(digits, "{line:?}");
    rest
}

/// With `logs = true`, a session's room messages (others' and ours, `/me`) and private
/// messages are in `logs/<server>/<window>/<day>.log` afterwards, a line each, `HH:MM:SS
/// <nick> text`; the files are 0600 and their directories 0700.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_messages_are_in_the_logs_afterwards() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let config = tmux.home().join(".config/chat-tui");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "logs = true\n").unwrap();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    let mut tracy = Nc::login(plain, "Tracy").await;
    michael.wait_for("Tracy joined").await;
    tracy.send("hello from nc, \u{1b}[2J no escape").await;
    michael.wait_for("<Tracy> hello from nc").await;
    michael.type_line("hi Tracy");
    tracy.wait_for("Michael: hi Tracy").await;
    michael.type_line("/me waves");
    tracy.wait_for("waves").await;
    tracy.send("/msg Michael psst").await;
    michael.wait_for("@Tracy(1!)").await;
    michael.type_line("/exit");
    michael.wait_for("EXITED 0").await;

    let data = tmux.home().join(".local/share/chat-tui");
    let server = data.join("logs").join(format!("127.0.0.1%3A{}", json.port()));
    let lobby = day_log(&server.join("#lobby"));
    let lines: Vec<&str> = lobby.lines().map(timed).collect();
    assert_eq!(
        lines,
        ["<Tracy> hello from nc, ␛[2J no escape", "<Michael> hi Tracy", "* Michael waves"],
        "{lobby}"
    );
    let private = day_log(&server.join("@Tracy"));
    assert_eq!(private.lines().map(timed).collect::<Vec<_>>(), ["<Tracy> psst"]);
    for dir in [data.join("logs"), server.clone(), server.join("#lobby")] {
        assert_eq!(mode(&dir), 0o700, "{dir:?}");
    }
}

/// `/ignore Tracy` is kept: after a restart Tracy's messages (in the backlog and live) and
/// private messages are still not shown, while others' are, and `/ignore` lists her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ignore_list_survives_a_restart() {
    let (json, plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let args = format!("--name Michael --server {json}");
    let michael = tmux.start("first", &args, 100, 30);
    michael.wait_for("you joined #lobby").await;
    let mut tracy = Nc::login(plain, "Tracy").await;
    tracy.send("said before the ignore").await;
    michael.wait_for("<Tracy> said before the ignore").await;
    michael.type_line("/ignore Tracy");
    michael.wait_for("ignoring Tracy").await;
    michael.type_line("/exit");
    michael.wait_for("EXITED 0").await;
    let file = tmux.home().join(".local/share/chat-tui/ignored");
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(kept.lines().any(|l| l == "Tracy"), "{kept}");
    assert_eq!(mode(&file), 0o600);

    let michael = tmux.start("second", &args, 100, 30);
    michael.wait_for("you joined #lobby").await;
    let mut sam = Nc::login(plain, "Sam").await;
    tracy.send("can you see me").await;
    tracy.send("/msg Michael a private word").await;
    sam.send("sam here").await;
    let screen = michael.wait_for("<Sam> sam here").await;
    for hidden in ["said before the ignore", "can you see me", "@Tracy", "private word"] {
        assert!(!screen.contains(hidden), "{hidden:?} is shown:\n{screen}");
    }
    michael.type_line("/ignore");
    michael.wait_for("ignored: Tracy").await;
    michael.type_line("/exit");
    michael.wait_for("EXITED 0").await;
}
