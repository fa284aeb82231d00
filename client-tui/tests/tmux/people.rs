//! `/away`, `/whois`, `/search` and `/goto` in real terminals against a real server.

use super::harness::*;

/// Tracy goes away; Michael's private message is answered in his `@Tracy` window, once;
/// `/whois` shows her away message; `/search` finds Michael's words with their number, and
/// `/goto` shows that message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_whois_and_search_in_real_terminals() {
    let (json, _plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;
    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 100, 30);
    tracy.wait_for("you joined #lobby").await;
    michael.wait_for("Tracy joined").await;

    michael.type_line("where is the treasure map?");
    tracy.wait_for("where is the treasure map?").await;
    tracy.type_line("/away gone fishing");
    tracy.wait_for("You are away: gone fishing").await;

    michael.type_line("/msg Tracy hello?");
    michael.wait_for("@Tracy").await;
    michael.alt_until(3, "the @Tracy window", |s| s.contains("┌ @Tracy")).await;
    michael.wait_for("Tracy is away: gone fishing").await;
    michael.type_line("still there?");
    michael.wait_for("<Michael> still there?").await;
    let screen = michael.capture();
    assert_eq!(screen.matches("Tracy is away").count(), 1, "told once:\n{screen}");

    michael.type_line("/whois Tracy");
    michael.wait_for("Tracy is a guest").await;
    michael.wait_for("away: gone fishing").await;

    michael.alt_until(2, "#lobby", |s| s.contains("┌ #lobby")).await;
    michael.type_line("/search TREASURE");
    michael.wait_for("messages with \"TREASURE\"").await;
    michael.wait_for("#1 ").await;
    michael.type_line("/goto 1");
    michael.wait_for("where is the treasure map?").await;
}
