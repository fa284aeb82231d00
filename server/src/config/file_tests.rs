//! The config file: its keys become flags under the command line's, `--print-config` prints
//! what `--config` reads back, and a reload puts in force what may change and nothing else.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::server::Settings;

/// Writes `text` as a config file in `dir`.
fn file(dir: &Path, text: &str) -> String {
    let path = dir.join("chat-server.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn load(args: &[&str]) -> Result<Loaded, String> {
    Loaded::from_args(std::iter::once("chat-server").chain(args.iter().copied()))
        .map_err(|e| e.to_string())
}

/// Every kind of flag has its key: values, switches, counts and lists, spelt as on the
/// command line.
#[test]
fn the_files_keys_are_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        r#"
        name = "Tracy's chat"
        motd = "-- starts with dashes --"
        flood-rate = 0.5
        flood-burst = 3
        admin = ["Michael", "Tracy"]
        throttle-exempt = "10.0.0.0/8"
        no-plain = true
        log-addresses = false
        verbose = 2
        history-max-age = "30d"
        "#,
    );
    let config = load(&["--config", &path]).unwrap().config;
    assert_eq!(
        (config.name.as_str(), config.motd.as_str()),
        ("Tracy's chat", "-- starts with dashes --")
    );
    let flood = config.flood.limits().unwrap();
    assert_eq!(flood.messages, crate::flood::Rate { burst: 3, every: Duration::from_secs(2) });
    let admins: Vec<&str> = config.admins.iter().map(|n| n.as_str()).collect();
    assert_eq!(admins, ["Michael", "Tracy"]);
    assert!(config.flood.exempt().covers("10.1.2.3".parse().unwrap()));
    assert!(!config.flood.exempt().covers("127.0.0.1".parse().unwrap()), "the list replaces");
    assert!(config.no_plain && !config.logs.log_addresses);
    assert_eq!(config.verbose, 2);
    assert_eq!(config.retention.history_max_age, Some(Duration::from_secs(30 * 86_400)));
}

/// The command line wins: a value, a list (replaced, not added to), a count, and a flag that
/// conflicts with the file's.
#[test]
fn the_command_line_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(
        dir.path(),
        "name = \"file\"\nadmin = [\"Michael\"]\nverbose = 2\nno-flood-control = true\n\
         db = \"/var/lib/x.db\"\n",
    );
    let config = load(&[
        "--config",
        &path,
        "--name",
        "flag",
        "--admin",
        "Tracy",
        "-v",
        "--flood-rate",
        "5",
        "--redis",
        "redis://127.0.0.1:1",
    ])
    .unwrap()
    .config;
    assert_eq!(config.name, "flag");
    let admins: Vec<&str> = config.admins.iter().map(|n| n.as_str()).collect();
    assert_eq!(admins, ["Tracy"]);
    assert_eq!(config.verbose, 1);
    assert!(!config.flood.no_flood_control && config.flood.flood_rate == 5.0);
    assert_eq!(config.db, None, "--redis decides against the file's db");
}

/// A wrong file names itself and what is wrong, as clap names a wrong flag: an unknown key
/// (with the closest flag), a value of the wrong kind or refused by the flag's parser, a key
/// for the command line only, bad TOML (without quoting the line), a missing file.
#[test]
fn a_wrong_file_is_refused_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |text: &str| {
        let path = file(dir.path(), text);
        let e = load(&["--config", &path]).unwrap_err();
        assert!(e.contains(&path), "{e}");
        e
    };
    let e = refused("flod-rate = 2.0\n");
    assert!(e.contains("unknown key `flod-rate`") && e.contains("`flood-rate`"), "{e}");
    assert!(refused("flood_burst = 2\n").contains("`flood-burst`"));
    assert!(refused("no-plain = \"yes\"\n").contains("no-plain: true or false"));
    assert!(refused("name = [\"a\", \"b\"]\n").contains("name: one value, not a list"));
    let e = refused("flood-rate = \"fast\"\n");
    assert!(e.contains("invalid value 'fast' for '--flood-rate <N>'"), "{e}");
    assert!(refused("config = \"other.toml\"\n").contains("config: a flag for the command line"));
    assert!(refused("[flood]\nrate = 1\n").contains("the keys are flat"));
    assert!(refused("throttle-exempt = []\n").contains("leave the key out"));
    let e = refused("redis = \"redis://:Pangolin@host:1\n");
    assert!(e.contains(":1:") && !e.contains("Pangolin"), "{e}");
    let e = refused("no-flood-control = true\nflood-rate = 1\n");
    assert!(e.contains("cannot be used with"), "{e}");
    let e = load(&["--config", "/nonexistent/chat-server.toml"]).unwrap_err();
    assert!(e.contains("/nonexistent/chat-server.toml"), "{e}");
}

/// What `--print-config` prints, `--config` reads back to the same settings: values typed,
/// lists, defaults that do not apply left out. The Redis password is never printed.
#[test]
fn printed_settings_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "motd = \"a \\\"quoted\\\"\\nsecond line\"\nconnect-rate = 0.25\n");
    let first = load(&[
        "--config",
        &path,
        "--no-flood-control",
        "--admin",
        "Michael",
        "--admin",
        "Tracy",
        "--throttle-exempt",
        "none",
        "--history-max-age",
        "12h",
        "-vv",
        "--db",
        ":memory:",
    ])
    .unwrap();
    let printed = first.effective.to_toml();
    assert!(printed.contains("# flood-rate = 2.0  (not in force"), "{printed}");
    let again = file(dir.path(), &printed);
    let second = load(&["--config", &again]).unwrap();
    assert_eq!(first.effective.changes(&second.effective), [], "{printed}");
    assert_eq!(second.config.motd, "a \"quoted\"\nsecond line");

    let secret = "Pangolin-Secret-42";
    let url = format!("redis://:{secret}@127.0.0.1:1");
    let printed = load(&["--redis", &url]).unwrap().effective.to_toml();
    assert!(!printed.contains(secret), "{printed}");
    assert!(printed.contains("# redis = \"redis://:***@127.0.0.1:1\""), "{printed}");
    let clear = load(&["--redis", "redis://127.0.0.1:1"]).unwrap().effective.to_toml();
    assert!(clear.contains("\nredis = \"redis://127.0.0.1:1\"\n"), "{clear}");
}

/// A reload puts in force what may change, for new sessions, and keeps the rest: a change
/// that needs a restart is reported as such, a broken file changes nothing.
#[test]
fn a_reload_changes_what_may_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "motd = \"before\"\nmax-rooms = 5\n");
    let loaded = load(&["--config", &path, "--hello-timeout", "7"]).unwrap();
    let settings = Settings::new(loaded.config.server_info());
    let mut reloader = Reloader::new(loaded, settings.clone()).unwrap();
    let session = settings.load();

    file(dir.path(), "motd = \"after\"\nmax-rooms = 6\nadmin = [\"Michael\"]\nhello-timeout = 9\n");
    let Reloaded::Changed { live, restart } = reloader.reload() else { panic!("refused") };
    let keys = |changes: &[Change]| changes.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&live), ["motd", "admin"]);
    assert_eq!(keys(&restart), ["max-rooms"]);
    let now = settings.load();
    assert_eq!((now.motd.as_str(), now.admins.len(), now.max_rooms), ("after", 1, 5));
    assert_eq!(now.hello_timeout, Duration::from_secs(7), "the command line stays on top");
    assert_eq!(session.motd, "before", "a session keeps the settings it started with");

    file(dir.path(), "motd = \"broken\n");
    assert!(matches!(reloader.reload(), Reloaded::Refused(why) if why.contains("not TOML")));
    assert_eq!(settings.load().motd, "after");
    // The restart-only change is still waiting: said again, not taken as done.
    file(dir.path(), "motd = \"after\"\nmax-rooms = 6\nadmin = [\"Michael\"]\n");
    let Reloaded::Changed { live, restart } = reloader.reload() else { panic!("refused") };
    assert_eq!((keys(&live), keys(&restart)), (vec![], vec!["max-rooms".to_owned()]));
}

/// Every key a reload puts in force is a flag.
#[test]
fn the_live_keys_are_flags() {
    use clap::CommandFactory as _;
    let cmd = Config::command();
    for key in LIVE {
        assert!(cmd.get_arguments().any(|arg| arg.get_long() == Some(key)), "{key}");
    }
}
