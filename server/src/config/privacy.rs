//! The flags that say what the server keeps about the people who use it, beyond what it
//! needs to work: how long their messages stay (`--history-max-age`), and whether their
//! addresses reach the log (`--log-addresses`).

use std::time::Duration;

/// `--history-max-age`, among the history flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Retention {
    /// Delete messages older than this (e.g. 30d, 12h, 90m, 45s; a bare number is minutes;
    /// at most 366d), on either backend. Looked for at start-up and every minute (twice per
    /// age if that is shorter). Default: kept whatever their age, up to --history-keep.
    #[arg(long, value_name = "DURATION", value_parser = parse_age, conflicts_with = "no_history")]
    pub history_max_age: Option<Duration>,
}

/// `--log-addresses`, beside the log level.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Logs {
    /// Write clients' IP addresses in info and warning lines (sessions, refused connections,
    /// failed logins). Without it they show at debug level (-v) only, and a session is named
    /// by its id.
    #[arg(long)]
    pub log_addresses: bool,
}

/// A duration as `protocol::parse_duration` reads it (`/ban`'s durations).
fn parse_age(text: &str) -> Result<Duration, String> {
    protocol::parse_duration(text).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser as _;

    use super::*;
    use crate::Config;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("chat-server").chain(args.iter().copied()))
    }

    /// Ages are written as people write them, reach the history settings, and make no sense
    /// without history; addresses stay out of the log unless asked for.
    #[test]
    fn privacy_flags() {
        let config = parse(&["--history-max-age", "30d", "--db", ":memory:"]).unwrap();
        let history = config.history().unwrap();
        assert_eq!(history.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(history.expiry_check(), Some(crate::limits::EXPIRY_CHECK));
        let short = parse(&["--history-max-age", "2s", "--db", ":memory:"]).unwrap();
        assert_eq!(short.history().unwrap().expiry_check(), Some(Duration::from_secs(1)));
        assert_eq!(parse(&["--db", ":memory:"]).unwrap().history().unwrap().max_age, None);
        for bad in ["0s", "soon", "5y", "400d"] {
            let e = parse(&["--history-max-age", bad]).unwrap_err().to_string();
            assert!(e.contains("--history-max-age"), "{bad}: {e}");
        }
        assert!(parse(&["--history-max-age", "1h", "--no-history"]).is_err());
        assert!(!parse(&[]).unwrap().logs.log_addresses);
        assert!(parse(&["--log-addresses"]).unwrap().logs.log_addresses);
    }
}
