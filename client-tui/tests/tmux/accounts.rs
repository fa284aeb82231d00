//! Accounts in a real terminal against a real server: logging in with `CHAT_PASSWORD`, the
//! masked prompt, `/register` typed in, and a guest's line beside an account's.

use std::os::unix::fs::PermissionsExt as _;

use super::harness::*;

const PASSWORD: &str = "correct-horse-battery";

/// Whether `screen` shows the password anywhere, or a telling part of it.
fn shows_password(screen: &str) -> bool {
    ["correct", "horse", "battery"].iter().any(|part| screen.contains(part))
}

/// An account registered beforehand (by a JSON client): chat-tui with `CHAT_PASSWORD` logs in
/// to it, and the status line says so with ✓.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_password_logs_in_to_the_account() {
    let (json, _plain, _stop) = start_server().await;
    register_michael(json).await;

    let tmux = Tmux::new();
    let michael = tmux.start_with_env(
        "michael",
        &[("CHAT_PASSWORD", PASSWORD)],
        &format!("--name Michael --server {json}"),
        100,
        30,
    );
    let screen = michael.wait_for(&format!(" online  {json} · Michael ✓ · #lobby")).await;
    assert!(!shows_password(&screen), "{screen}");
    let screen = michael.server_window_shows("Hello, Michael!", 2).await;
    assert!(!shows_password(&screen), "{screen}");
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;

    // The same from a file readable by its owner alone ...
    let file = tmux.home().join("chat-password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let args = format!("--name Michael --server {json} --password-file {}", file.display());
    let from_file = tmux.start("from-file", &args, 100, 30);
    from_file.wait_for(&format!(" online  {json} · Michael ✓ · #lobby")).await;
    from_file.key("C-c");
    from_file.wait_for("EXITED 0").await;

    // ... and from the config file's password_command.
    let config = tmux.home().join(".config/chat-tui");
    std::fs::create_dir_all(&config).unwrap();
    let command = format!("password_command = \"cat '{}'\"\n", file.display());
    std::fs::write(config.join("config.toml"), command).unwrap();
    let from_command =
        tmux.start("from-command", &format!("--name Michael --server {json}"), 100, 30);
    let screen = from_command.wait_for(&format!(" online  {json} · Michael ✓ · #lobby")).await;
    assert!(!shows_password(&screen), "{screen}");
    from_command.key("C-c");
    from_command.wait_for("EXITED 0").await;
}

/// A private message to an account that is away is kept: the sender is told so, and the
/// owner gets it at the next login, marked as received while away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_message_kept_while_away_is_delivered_at_login() {
    let (json, _plain, _stop) = start_server().await;
    register_michael(json).await;

    let tmux = Tmux::new();
    let tracy = tmux.start("tracy", &format!("--name Tracy --server {json}"), 100, 30);
    tracy.wait_for("you joined #lobby").await;
    tracy.type_line("/msg Michael are you there?");
    tracy.wait_for("Michael is away: kept, delivered when they log in").await;

    let michael = tmux.start_with_env(
        "michael",
        &[("CHAT_PASSWORD", PASSWORD)],
        &format!("--name Michael --server {json}"),
        100,
        30,
    );
    // Delivered right after the welcome, before lobby's window opens: the first one shown.
    let screen = michael.wait_for("<Tracy> are you there?").await;
    assert!(screen.contains("┌ @Tracy ─"), "{screen}");
    let rows: Vec<&str> = screen.lines().collect();
    let at = rows.iter().position(|r| r.contains("<Tracy> are you there?")).unwrap();
    assert!(rows[at - 1].contains("── received while you were away"), "{screen}");
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
}

/// Without a password, the server's `password_required` turns the input line into a prompt:
/// what is typed shows as asterisks only, and Enter logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_asks_for_the_password_and_logs_in() {
    let (json, _plain, _stop) = start_server().await;
    register_michael(json).await;

    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("Password for Michael: ").await;
    michael.type_text(PASSWORD);
    let stars = "*".repeat(PASSWORD.len());
    let screen = michael.wait_for(&format!("Password for Michael: {stars}")).await;
    assert!(!shows_password(&screen), "{screen}");
    michael.key("Enter");
    let screen = michael.wait_for(&format!(" online  {json} · Michael ✓ · #lobby")).await;
    assert!(!shows_password(&screen), "{screen}");
    assert!(!screen.contains(&stars), "the prompt is gone:\n{screen}");
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
}

/// Tracy speaks as a guest, registers, and speaks as the account: Michael's screen shows the
/// two lines differently. Then Michael registers from chat-tui: the line is masked while
/// typed, echoed masked, not recalled by Up, and the status line gets its ✓.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guests_line_and_an_accounts_line_look_different() {
    let (json, _plain, _stop) = start_server().await;
    let tmux = Tmux::new();
    let michael = tmux.start("michael", &format!("--name Michael --server {json}"), 100, 30);
    michael.wait_for("you joined #lobby").await;

    let mut tracy = Json::hello(json, "Tracy", None).await;
    michael.wait_for("Tracy joined").await;
    tracy.send(r#"{"type":"say","room":"lobby","text":"said as a guest"}"#).await;
    michael.wait_for("said as a guest").await;
    tracy.register("tracys-own-password").await;
    tracy.send(r#"{"type":"say","room":"lobby","text":"said by the account"}"#).await;
    let screen = michael.wait_for("said by the account").await;
    let line = |text: &str| screen.lines().find(|l| l.contains(text)).unwrap().to_owned();
    let guest = line("said as a guest");
    let account = line("said by the account");
    assert!(guest.contains("<Tracy> said as a guest"), "{screen}");
    assert!(account.contains("<Tracy✓> said by the account"), "{screen}");

    michael.type_text(&format!("/register {PASSWORD}"));
    let typed = format!("/register {}", "*".repeat(PASSWORD.len()));
    let screen = michael.wait_for(&typed).await;
    assert!(!shows_password(&screen), "{screen}");
    michael.key("Enter");
    let screen = michael.wait_for(&format!(" online  {json} · Michael ✓ · #lobby")).await;
    assert!(screen.contains("/register ********"), "{screen}");
    assert!(screen.contains("Michael is now your account"), "{screen}");
    assert!(!shows_password(&screen), "{screen}");
    michael.key("Up");
    // Up recalls nothing (the /register line was never kept): the input line stays empty.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let screen = michael.capture();
    assert!(!screen.contains(&typed), "{screen}");
    assert!(!shows_password(&screen), "{screen}");
    michael.key("C-c");
    michael.wait_for("EXITED 0").await;
}

/// Makes Michael an account with [`PASSWORD`], as a script would, and leaves.
async fn register_michael(json: std::net::SocketAddr) {
    let mut owner = Json::hello(json, "Michael", None).await;
    owner.register(PASSWORD).await;
    owner.quit().await;
}
