//! Failed logins of an account: how many since its owner last logged in, from which address
//! blocks, and when the last was. Kept with the account (so every node and a restart see
//! them), told to the owner at the next login, then cleared.

use std::net::IpAddr;
use std::time::Duration;

use crate::limits::{FREE_ACCOUNT_FAILURES, MAX_ACCOUNT_LOGIN_WAIT};

/// Address blocks remembered per account; failures from further blocks are counted in the
/// total only.
const MAX_BLOCKS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// Milliseconds since the epoch of the last failure; 0 with none.
    pub last_ms: u64,
    /// Address blocks ("IPv4 203.0.113.0/24") and their counts, first seen first.
    pub from: Vec<(String, u32)>,
}

impl Failures {
    /// One more failure, from `ip`, at `now_ms`.
    pub fn add(&mut self, ip: IpAddr, now_ms: u64) {
        self.count = self.count.saturating_add(1);
        self.last_ms = now_ms;
        let block = block(ip);
        if let Some((_, n)) = self.from.iter_mut().find(|(b, _)| *b == block) {
            *n = n.saturating_add(1);
        } else if self.from.len() < MAX_BLOCKS {
            self.from.push((block, 1));
        }
    }

    /// How long the next login of this account waits, at `now_ms`: nothing for the first
    /// [`FREE_ACCOUNT_FAILURES`], then 1 s after the last failure, doubling with each one more,
    /// up to [`MAX_ACCOUNT_LOGIN_WAIT`].
    pub fn wait(&self, now_ms: u64) -> Option<Duration> {
        let over = self.count.checked_sub(FREE_ACCOUNT_FAILURES).filter(|over| *over > 0)?;
        let wait = Duration::from_secs(1u64 << (over - 1).min(20)).min(MAX_ACCOUNT_LOGIN_WAIT);
        let since = Duration::from_millis(now_ms.saturating_sub(self.last_ms));
        wait.checked_sub(since).filter(|left| !left.is_zero())
    }

    /// What the owner is told on logging in: "3 failed logins since you last logged in, from
    /// IPv4 203.0.113.0/24 (2), IPv6 2001:db8:1::/48 (1)".
    pub fn describe(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let from: Vec<String> = self.from.iter().map(|(b, n)| format!("{b} ({n})")).collect();
        let plural = if self.count == 1 { "" } else { "s" };
        Some(format!(
            "{} failed login{plural} since you last logged in, from {}",
            self.count,
            if from.is_empty() { "unknown addresses".to_owned() } else { from.join(", ") }
        ))
    }

    /// The stored form: `count;last_ms;block=n,block=n`.
    pub fn encode(&self) -> String {
        let from: Vec<String> = self.from.iter().map(|(b, n)| format!("{b}={n}")).collect();
        format!("{};{};{}", self.count, self.last_ms, from.join(","))
    }

    /// Reads [`Failures::encode`]'s form; anything unreadable is no failures.
    pub fn decode(s: &str) -> Self {
        let mut parts = s.splitn(3, ';');
        let count = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let last_ms = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let from = parts
            .next()
            .unwrap_or("")
            .split(',')
            .filter_map(|entry| {
                let (block, n) = entry.rsplit_once('=')?;
                Some((block.to_owned(), n.parse().ok()?))
            })
            .take(MAX_BLOCKS)
            .collect();
        Self { count, last_ms, from }
    }
}

/// The block an address is told as: its IPv4 /24 or IPv6 /48, never the address itself.
pub fn block(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("IPv4 {a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("IPv6 {net}/48")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hide_the_address() {
        assert_eq!(block("203.0.113.77".parse().unwrap()), "IPv4 203.0.113.0/24");
        assert_eq!(block("::ffff:203.0.113.77".parse().unwrap()), "IPv4 203.0.113.0/24");
        assert_eq!(block("2001:db8:1:2::5".parse().unwrap()), "IPv6 2001:db8:1::/48");
    }

    #[test]
    fn waits_grow_after_the_free_failures() {
        let mut f = Failures::default();
        let ip = "203.0.113.7".parse().unwrap();
        for _ in 0..FREE_ACCOUNT_FAILURES {
            f.add(ip, 1_000);
            assert_eq!(f.wait(1_000), None);
        }
        f.add(ip, 1_000);
        assert_eq!(f.wait(1_000), Some(Duration::from_secs(1)));
        assert_eq!(f.wait(1_500), Some(Duration::from_millis(500)));
        assert_eq!(f.wait(2_000), None);
        f.add(ip, 1_000);
        assert_eq!(f.wait(1_000), Some(Duration::from_secs(2)));
        for _ in 0..40 {
            f.add(ip, 1_000);
        }
        assert_eq!(f.wait(1_000), Some(MAX_ACCOUNT_LOGIN_WAIT));
    }

    #[test]
    fn encoding_round_trips_and_garbage_is_nothing() {
        let mut f = Failures::default();
        f.add("203.0.113.7".parse().unwrap(), 5);
        f.add("2001:db8::1".parse().unwrap(), 9);
        f.add("203.0.113.9".parse().unwrap(), 12);
        assert_eq!(Failures::decode(&f.encode()), f);
        assert_eq!(
            f.describe().unwrap(),
            "3 failed logins since you last logged in, from IPv4 203.0.113.0/24 (2), IPv6 2001:db8::/48 (1)"
        );
        assert_eq!(Failures::decode("nonsense"), Failures::default());
        assert_eq!(Failures::default().describe(), None);
    }
}
