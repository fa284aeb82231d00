//! Rooms with owners in real terminals against a real server: the owner's topic as a header
//! row, role marks in the member list, an operator made, a kick seen from both sides, the
//! room commands in /help and in Tab completion.

use super::harness::*;

const MICHAELS_PASSWORD: &str = "michaels-own-password";
const TRACYS_PASSWORD: &str = "tracys-own-password";

/// The row of `screen` just below the top border of the #rust pane: the topic's row.
fn row_under_title(screen: &str) -> &str {
    let rows: Vec<&str> = screen.lines().collect();
    let title = rows.iter().position(|r| r.starts_with("┌ #rust ")).expect("the #rust pane");
    rows.get(title + 1).copied().unwrap_or_default()
}

/// The member list's rows: what each screen row holds right of the conversation's pane.
fn member_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|r| r.split_once("││").map(|(_, members)| members.trim_matches(['│', ' '])))
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Michael (an account) makes #rust and owns it, sets its topic; Tracy joins and sees the
/// topic over the conversation; Michael's member list marks him `~`. Tracy registers and is
/// made an operator (`@Tracy`), then is kicked: her window of #rust closes and she is told
/// by whom and why; Michael sees her go. /help lists /kick and Tab completes /kic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_the_topic_ops_and_kicks() {
    let (json, _plain, _stop) = start_server().await;
    let mut account = Json::hello(json, "Michael", None).await;
    account.register(MICHAELS_PASSWORD).await;
    account.quit().await;

    let tmux = Tmux::new();
    let michael = tmux.start_with_env(
        "michael",
        &[("CHAT_PASSWORD", MICHAELS_PASSWORD)],
        &format!("--name Michael --server {json}"),
        100,
        30,
    );
    michael.wait_for(" · Michael ✓ · #lobby").await;
    michael.type_line("/join rust");
    michael.wait_for("Michael now owns the room").await;
    michael.type_line("/topic Rust 1.92 is out");
    let screen = michael.wait_for("Michael set the topic: Rust 1.92 is out").await;
    assert_eq!(row_under_title(&screen).trim_matches(['│', ' ']), "Rust 1.92 is out", "{screen}");

    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 80, 24);
    tracy.wait_for("you joined #lobby").await;
    tracy.type_line(&format!("/register {TRACYS_PASSWORD}"));
    tracy.wait_for(" · Tracy ✓ · #lobby").await;
    tracy.type_line("/join rust");
    let screen = tracy.wait_for("topic of #rust: Rust 1.92 is out (set by Michael)").await;
    assert_eq!(row_under_title(&screen).trim_matches(['│', ' ']), "Rust 1.92 is out", "{screen}");

    michael.wait_for("Tracy joined").await;
    michael.key("F2");
    let screen = michael.wait_for("┌ 2 members").await;
    assert_eq!(member_rows(&screen), ["~Michael", "Tracy"], "{screen}");
    michael.type_line("/op Tracy");
    tracy.wait_for("Michael made Tracy an operator").await;
    let screen = michael.wait_for("Michael made Tracy an operator").await;
    assert_eq!(member_rows(&screen), ["~Michael", "@Tracy"], "{screen}");

    michael.type_line("/kick Tracy spamming");
    let screen = tracy.wait_for("you were kicked from #rust by Michael: spamming").await;
    assert!(!screen.contains("┌ #rust"), "the window is closed:\n{screen}");
    assert!(screen.contains("· 1:#lobby"), "{screen}");
    assert!(!screen.contains("2:#rust"), "{screen}");
    let screen = michael.wait_for("Tracy was kicked by Michael: spamming").await;
    assert_eq!(member_rows(&screen), ["~Michael"], "{screen}");

    michael.key("F1");
    let screen = michael.wait_for(" help 1-").await;
    assert!(screen.contains("/kick NICK [REASON] remove someone from the room"), "{screen}");
    michael.key("Escape");
    michael.wait_until("the help closed", deadline(), |s| !s.contains(" help 1-")).await;
    michael.type_text("/kic");
    michael.key("Tab");
    let screen = michael.wait_for("/kick ").await;
    let input = screen.lines().skip_while(|r| !r.starts_with("┌ Michael")).nth(1).unwrap();
    assert_eq!(input.trim_matches(['│', ' ']), "/kick", "{screen}");

    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
}

fn deadline() -> std::time::Instant {
    std::time::Instant::now() + WAIT
}
