//! Rooms with owners in real terminals against a real server: the owner's topic as a header
//! row, role marks in the member list, an operator made, a kick seen from both sides, the
//! room commands in /help and in Tab completion.

use super::harness::*;

const MICHAELS_PASSWORD: &str = "michaels-own-password";
const TRACYS_PASSWORD: &str = "tracys-own-password";
const TOPIC: &str = "Rust 1.92 is out";

/// What the row of `screen` just below the top border of the #rust pane says: the topic's
/// row. Empty when there is no such pane.
fn row_under_title(screen: &str) -> String {
    let rows: Vec<&str> = screen.lines().collect();
    let Some(title) = rows.iter().position(|r| r.starts_with("┌ #rust ")) else {
        return String::new();
    };
    let row = rows.get(title + 1).copied().unwrap_or_default();
    row.split("││").next().unwrap_or_default().trim_matches(['│', ' ']).to_owned()
}

/// What the input line says (the row under the input pane's top border).
fn input_line(screen: &str) -> String {
    let row = screen.lines().skip_while(|r| !r.starts_with("┌ Michael")).nth(1);
    row.unwrap_or_default().trim_matches(['│', ' ']).to_owned()
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
/// made an operator (`@Tracy`) and a member again, then is kicked: her window of #rust closes
/// and she is told by whom and why; Michael sees her go. /help lists /kick and Tab completes
/// /kic.
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
    // Screens are read whole: a capture taken while a frame is half drawn is read again.
    michael.wait_for("Michael set the topic: Rust 1.92 is out").await;
    michael.wait_until("the topic's row", deadline(), |s| row_under_title(s) == TOPIC).await;

    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 80, 24);
    tracy.wait_for("you joined #lobby").await;
    tracy.type_line(&format!("/register {TRACYS_PASSWORD}"));
    tracy.wait_for(" · Tracy ✓ · #lobby").await;
    tracy.type_line("/join rust");
    tracy.wait_for("topic of #rust: Rust 1.92 is out (set by Michael)").await;
    tracy.wait_until("the topic's row", deadline(), |s| row_under_title(s) == TOPIC).await;

    michael.wait_for("Tracy joined").await;
    michael.key("F2");
    michael.wait_for("┌ 2 members").await;
    wait_for_members(&michael, &["~Michael", "Tracy"]).await;
    michael.type_line("/op Tracy");
    tracy.wait_for("Michael made Tracy an operator").await;
    michael.wait_for("Michael made Tracy an operator").await;
    wait_for_members(&michael, &["~Michael", "@Tracy"]).await;

    // Kicks are for members: an operator is deopped first (main's server leaves operators
    // in the room, without an error, when a kick names one).
    michael.type_line("/deop Tracy");
    tracy.wait_for("Michael made Tracy a member, with no role").await;
    michael.wait_for("Michael made Tracy a member, with no role").await;
    wait_for_members(&michael, &["~Michael", "Tracy"]).await;

    michael.type_line("/kick Tracy spamming");
    tracy.wait_for("you were kicked from #rust by Michael: spamming").await;
    // The window is closed: lobby is shown, and the status line lists no #rust.
    tracy
        .wait_until("#rust's window closed", deadline(), |s| {
            s.contains("┌ #lobby") && !s.contains("┌ #rust") && !s.contains(":#rust")
        })
        .await;
    michael.wait_for("Tracy was kicked by Michael: spamming").await;
    wait_for_members(&michael, &["~Michael"]).await;

    michael.key("F1");
    michael.wait_for("/kick NICK [REASON] remove someone from the room").await;
    michael.key("Escape");
    michael.wait_until("the help closed", deadline(), |s| !s.contains(" help 1-")).await;
    michael.type_text("/kic");
    michael.key("Tab");
    michael.wait_until("/kick in the input", deadline(), |s| input_line(s) == "/kick").await;

    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
}

fn deadline() -> std::time::Instant {
    std::time::Instant::now() + WAIT
}

/// Waits until `pane`'s member list shows `nicks`, in that order.
async fn wait_for_members(pane: &Pane<'_>, nicks: &[&str]) {
    pane.wait_until(&format!("the members {nicks:?}"), deadline(), |s| member_rows(s) == nicks)
        .await;
}
