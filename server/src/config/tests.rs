//! The flags, parsed: what they become, what goes together and what is refused.

use super::*;
use crate::flood::{FloodLimits, Rate};

fn info(args: &[&str]) -> ServerInfo {
    let argv = std::iter::once("chat-server").chain(args.iter().copied());
    Config::try_parse_from(argv).unwrap().server_info()
}

fn config(args: &[&str]) -> Config {
    let argv = std::iter::once("chat-server").chain(args.iter().copied());
    Config::try_parse_from(argv).unwrap()
}

/// Only an address other machines can reach, without TLS, is warned of.
#[test]
fn clear_text_is_warned_of_beyond_loopback_only() {
    assert_eq!(config(&[]).clear_text_warning(false), None);
    assert_eq!(config(&["--listen", "[::1]:7878"]).clear_text_warning(false), None);
    let exposed = config(&["--listen", "0.0.0.0:7878"]);
    let warning = exposed.clear_text_warning(false).unwrap();
    assert!(warning.contains("0.0.0.0:7878 without TLS"), "{warning}");
    assert!(warning.contains("clear text"), "{warning}");
    assert_eq!(exposed.clear_text_warning(true), None);
    let plain = config(&["--plain-listen", "192.0.2.1:7879"]).clear_text_warning(false);
    assert!(plain.unwrap().contains("192.0.2.1:7879"));
    assert_eq!(
        config(&["--plain-listen", "192.0.2.1:7879", "--no-plain"]).clear_text_warning(false),
        None
    );
}

/// The TLS flags go together: a certificate needs its key, and files exclude making one.
#[test]
fn tls_flags() {
    let argv = |args: &[&str]| {
        Config::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied()))
    };
    assert!(argv(&["--tls-cert", "c.pem"]).is_err());
    assert!(argv(&["--tls-key", "k.pem"]).is_err());
    assert!(argv(&["--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-self-signed"]).is_err());
    let given = config(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tls().unwrap();
    assert_eq!(given, Some(TlsFiles { cert: "c.pem".into(), key: "k.pem".into() }));
    assert_eq!(config(&[]).tls().unwrap(), None);
    let names = config(&["--listen", "10.1.2.3:7878"]).host_names();
    assert!(names.contains(&"10.1.2.3".to_owned()) && names.contains(&"localhost".to_owned()));
}

/// `--trusted-proxy` takes networks and single addresses of both families, as often as
/// given; anything else is refused naming the flag.
#[test]
fn trusted_proxy_flags() {
    assert!(config(&[]).trusted_proxies().is_empty());
    let proxies =
        config(&["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"]).trusted_proxies();
    assert!(proxies.trusts("10.9.8.7".parse().unwrap()));
    assert!(proxies.trusts("::1".parse().unwrap()));
    assert!(!proxies.trusts("127.0.0.1".parse().unwrap()));
    for bad in ["10.0.0.0/40", "proxy.example", "10.0.0.1/8", ""] {
        let argv = ["chat-server", "--trusted-proxy", bad];
        let e = Config::try_parse_from(argv).unwrap_err().to_string();
        assert!(e.contains("--trusted-proxy"), "{bad}: {e}");
    }
}

/// The limit flags reach the server's settings; flood control is on unless switched off,
/// and its refusals never refill slower than the default rate.
#[test]
fn limit_flags() {
    let defaults = info(&[]);
    assert_eq!(defaults.flood, Some(FloodLimits::default()));
    assert_eq!(defaults.max_connections_per_ip, MAX_CONNECTIONS_PER_IP);
    let set = info(&[
        "--flood-burst",
        "3",
        "--flood-rate",
        "0.5",
        "--max-connections-per-ip",
        "5",
        "--max-room-members",
        "7",
    ]);
    let flood = set.flood.unwrap();
    assert_eq!(flood.messages, Rate { burst: 3, every: Duration::from_secs(2) });
    assert_eq!(flood.refusals, FloodLimits::default().refusals);
    assert_eq!(flood.joins, FloodLimits::default().joins);
    assert_eq!((set.max_connections_per_ip, set.max_room_members), (5, 7));
    assert_eq!(info(&["--no-flood-control"]).flood, None);
    let both = ["chat-server", "--no-flood-control", "--flood-rate", "5"];
    assert!(Config::try_parse_from(both).is_err(), "contradictory flags are refused");
}

fn parse(args: &[&str]) -> Config {
    Config::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied())).unwrap()
}

/// The Redis URL comes from one place: the flag, a file or the environment. Two are
/// refused, naming both; the password shows nowhere, not even in `Debug`.
#[test]
fn one_redis_url_source() {
    let secret = "Pangolin-Secret-42";
    let url = format!("redis://:{secret}@127.0.0.1:6379");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let file = file.to_str().unwrap();
    let shown = "redis://:***@127.0.0.1:6379";

    let cases: [(&[&str], Option<&str>); 3] =
        [(&["--redis", &url], None), (&["--redis-url-file", file], None), (&[], Some(&url))];
    for (args, env) in cases {
        let config = parse(args);
        assert!(!format!("{config:?}").contains(secret), "Debug of {args:?}");
        let cluster = config.cluster_with(env.map(OsString::from)).unwrap().unwrap();
        assert_eq!(cluster.url.to_string(), shown, "{args:?}");
        assert!(!format!("{cluster:?}").contains(secret), "Debug of {args:?}");
    }
    assert!(parse(&[]).cluster_with(Some(OsString::new())).unwrap().is_none(), "empty: unset");

    let refused = |args: &[&str], env: Option<&str>| {
        let e = parse(args).cluster_with(env.map(OsString::from)).unwrap_err().to_string();
        assert!(!e.contains(secret), "{e}");
        e
    };
    let e = refused(&["--redis", &url], Some(&url));
    assert!(e.contains("--redis and CHAT_REDIS_URL"), "{e}");
    let e = refused(&["--redis-url-file", file], Some(&url));
    assert!(e.contains("--redis-url-file and CHAT_REDIS_URL"), "{e}");
    let e = refused(&["--db", ":memory:"], Some(&url));
    assert!(e.contains("--db") && e.contains("CHAT_REDIS_URL"), "{e}");
    assert!(refused(&["--node-id", "a"], None).contains("--node-id"));
    let e = refused(&["--redis", &url, "--redis-tls-ca", file], None);
    assert!(e.contains("rediss://") && e.contains(shown), "{e}");
    let e = refused(&["--redis", &format!("redis://:{secret}@host:port")], None);
    assert!(e.starts_with("--redis: "), "{e}");
    let e = refused(&["--redis-url-file", "/nonexistent/redis-url"], None);
    assert!(e.contains("/nonexistent/redis-url"), "{e}");

    let both = ["chat-server", "--redis", &url, "--redis-url-file", file];
    let e = Config::try_parse_from(both).unwrap_err().to_string();
    assert!(!e.contains(secret), "clap's refusal quotes no URL: {e}");
}
