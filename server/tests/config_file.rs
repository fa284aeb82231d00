//! `--config FILE`, `--print-config` and SIGHUP on the real binary: the file's settings reach
//! the clients under the command line's, a wrong key stops the start, the printed settings
//! read back the same without the Redis password, and a reload changes what new clients see
//! while everyone connected stays.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{JsonClient, ServerProcess};
use protocol::{ByeCode, ClientMsg, ErrorCode, Password, RoomName, ServerMsg, Text};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn say(text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(text).unwrap() }
}

/// Says hello and returns the welcome's greeting and motd, once in lobby (its member list
/// read: what is said from now on comes live, not in the joining's backlog).
async fn welcome(client: &mut JsonClient, nick: &str) -> (String, String) {
    let said = match client.hello(nick).await {
        ServerMsg::Welcome { greeting, motd, .. } => (greeting, motd),
        other => panic!("no welcome: {other:?}"),
    };
    client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    said
}

/// Runs the binary with `args` to its end (it must not serve: at most 10 s); its status, stdout
/// and stderr.
fn run_to_the_end(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = ServerProcess::command()
        .args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chat-server {args:?} went on running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (out.status, text(out.stdout), text(out.stderr))
}

/// Waits (at most 10 s) until the log at `path` says `line`.
fn wait_for_log(path: &Path, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(line) {
            return;
        }
        assert!(Instant::now() < deadline, "{line:?} is not in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config file sets the welcome (name and motd) and the flood limit; a flag on the command
/// line wins over the file's value.
#[tokio::test]
async fn a_config_file_sets_the_welcome_and_the_limits_and_a_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chat-server.toml");
    write(
        &config,
        "name = \"the file's chat\"\nmotd = \"From the file.\"\ndb = \":memory:\"\n\
         flood-burst = 2\nflood-rate = 0.01\n",
    );
    let server = ServerProcess::start(
        &["--config", config.to_str().unwrap(), "--name", "the flag's chat"],
        Stdio::null(),
    );
    let mut client = JsonClient::connect(server.json).await;
    let (greeting, motd) = welcome(&mut client, "Michael").await;
    assert_eq!(greeting, "Hello, Michael! Welcome to the flag's chat.");
    assert_eq!(motd, "From the file.");
    for text in ["one", "two", "three"] {
        client.send(say(text)).await;
    }
    let (refused, _) =
        client.recv_until(|m| matches!(m, ServerMsg::Error { code: ErrorCode::Flood, .. })).await;
    assert!(matches!(refused, ServerMsg::Error { code: ErrorCode::Flood, .. }), "{refused:?}");
}

/// A key that is no flag stops the start, naming the key, the file and the flag it is like.
#[test]
fn an_unknown_key_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chat-server.toml");
    write(&config, "motd = \"hi\"\ndb = \":memory:\"\nflod-rate = 2.0\n");
    let (status, _, stderr) = run_to_the_end(&["--config", config.to_str().unwrap()]);
    assert!(!status.success(), "started: {stderr}");
    for said in ["unknown key `flod-rate`", "`flood-rate`", config.to_str().unwrap()] {
        assert!(stderr.contains(said), "{said:?} is not in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--print-config` prints the settings in force (file, flags, defaults) as a file that
/// `--config` reads back to the same settings, and exits 0; a Redis password in a flag or in
/// the file is never printed.
#[test]
fn print_config_reads_back_the_same_and_never_shows_the_redis_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chat-server.toml");
    write(&config, "motd = \"From the file.\"\nadmin = [\"Michael\"]\nconnect-rate = 0.5\n");
    let (status, printed, stderr) = run_to_the_end(&[
        "--config",
        config.to_str().unwrap(),
        "--no-flood-control",
        "--history-max-age",
        "30d",
        "--print-config",
    ]);
    assert!(status.success(), "{stderr}");
    let first: toml::Table = printed.parse().unwrap();
    assert_eq!(first["motd"].as_str(), Some("From the file."));
    assert_eq!(first["connect-rate"].as_float(), Some(0.5));
    assert_eq!(first["history-max-age"].as_str(), Some("30d"));
    assert_eq!(first["no-flood-control"].as_bool(), Some(true));
    let again = dir.path().join("printed.toml");
    write(&again, &printed);
    let (status, reprinted, stderr) =
        run_to_the_end(&["--config", again.to_str().unwrap(), "--print-config"]);
    assert!(status.success(), "{stderr}");
    assert_eq!(reprinted.parse::<toml::Table>().unwrap(), first, "{printed}\n{reprinted}");

    let secret = "secret";
    let url = format!("redis://:{secret}@127.0.0.1:1");
    let (status, printed, stderr) = run_to_the_end(&["--redis", &url, "--print-config"]);
    assert!(status.success(), "{stderr}");
    assert!(!printed.contains(secret) && !stderr.contains(secret), "{printed}");
    assert!(printed.contains("redis://:***@127.0.0.1:1"), "{printed}");
    write(&config, &format!("redis = {url:?}\n"));
    let (status, printed, stderr) =
        run_to_the_end(&["--config", config.to_str().unwrap(), "--print-config"]);
    assert!(status.success(), "{stderr}");
    assert!(!printed.contains(secret) && !stderr.contains(secret), "{printed}");
}

/// SIGHUP reads the file again: new clients get the new motd and per-address limit, an
/// account added as admin is one at once (in its open session), and whoever was connected
/// stays and chats. A broken file on SIGHUP keeps the settings in force, and the server
/// serves on.
#[tokio::test]
async fn sighup_reloads_the_file_and_drops_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chat-server.toml");
    let log_path: PathBuf = dir.path().join("server.log");
    write(&config, "motd = \"Before.\"\ndb = \":memory:\"\n");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server =
        ServerProcess::start(&["--config", config.to_str().unwrap()], Stdio::from(log));

    let mut michael = JsonClient::connect(server.json).await;
    assert_eq!(welcome(&mut michael, "Michael").await.1, "Before.");
    michael
        .send(ClientMsg::Register { password: Password::parse("a long password").unwrap() })
        .await;
    michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    michael.send(ClientMsg::Gbans).await;
    let (refused, _) = michael.recv_until(|m| matches!(m, ServerMsg::Error { .. })).await;
    assert!(matches!(refused, ServerMsg::Error { code: ErrorCode::NotAdmin, .. }), "{refused:?}");

    write(
        &config,
        "motd = \"After.\"\nadmin = [\"Michael\"]\ndb = \":memory:\"\nmax-connections-per-ip = 3\n",
    );
    server.signal("HUP");
    wait_for_log(&log_path, "SIGHUP: admin changed");
    let mut tracy = JsonClient::connect(server.json).await;
    assert_eq!(welcome(&mut tracy, "Tracy").await.1, "After.");
    michael.send(ClientMsg::Gbans).await;
    let (bans, _) =
        michael.recv_until(|m| matches!(m, ServerMsg::Bans { .. } | ServerMsg::Error { .. })).await;
    assert!(matches!(bans, ServerMsg::Bans { room: None, .. }), "not an admin yet: {bans:?}");
    michael.send(say("still here")).await;
    tracy
        .recv_until(
            |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "still here"),
        )
        .await;

    write(&config, "motd = \"Broken\n");
    server.signal("HUP");
    wait_for_log(&log_path, "the settings in force stay");
    let mut anna = JsonClient::connect(server.json).await;
    assert_eq!(welcome(&mut anna, "Anna").await.1, "After.");
    let mut fourth = JsonClient::connect(server.json).await;
    let bye = fourth.recv().await;
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::TooManyConnections, .. }), "{bye:?}");
    michael.send(say("and still")).await;
    anna.recv_until(
        |m| matches!(m, ServerMsg::Message { text, .. } if text.as_str() == "and still"),
    )
    .await;

    server.signal("TERM");
    assert!(server.wait_exit().success());
}

/// `assets/chat-server.toml` and README's example are files chat-server reads, and the asset
/// names every setting (a key, or a commented-out one), so it stays complete as flags come.
#[test]
fn the_example_files_are_read_and_the_asset_names_every_setting() {
    let asset = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/chat-server.toml");
    let (status, _, stderr) = run_to_the_end(&["--config", asset, "--print-config"]);
    assert!(status.success(), "{asset}: {stderr}");
    let example = std::fs::read_to_string(asset).unwrap();
    let (_, defaults, _) = run_to_the_end(&["--print-config"]);
    let keys = defaults.lines().filter_map(|line| {
        let line = line.strip_prefix("# ").unwrap_or(line);
        let key = line.split([' ', ':']).next()?;
        let setting = line.starts_with(&format!("{key} = ")) || line == format!("{key}: not set");
        (setting && !key.is_empty()).then_some(key.to_owned())
    });
    let keys: Vec<String> = keys.collect();
    assert!(keys.len() > 30, "{keys:?}");
    for key in keys {
        let named = example
            .lines()
            .any(|l| l.strip_prefix("# ").unwrap_or(l).starts_with(&format!("{key} = ")));
        assert!(named, "assets/chat-server.toml does not name {key}");
    }

    let readme = include_str!("../../README.md");
    let start = readme.find("```toml\n# /etc/chat-server.toml\n").expect("README's example");
    let text = &readme[start + "```toml\n".len()..];
    let text = &text[..text.find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chat-server.toml");
    write(&config, text);
    let (status, printed, stderr) =
        run_to_the_end(&["--config", config.to_str().unwrap(), "--print-config"]);
    assert!(status.success(), "README's example: {stderr}");
    assert!(printed.contains("\nhistory-max-age = \"30d\"\n"), "{printed}");
}
