//! Failed logins of an account: how many since its owner last logged in, from which address
//! blocks, and when. Kept with the account (so every node and a restart see them), told to
//! the owner at the next login, then cleared.
//!
//! The wait they impose falls on the blocks that failed, not on the account as a whole: a
//! guesser who fails from a few blocks slows only those, and the owner, elsewhere, logs in as
//! usual. Failures from more blocks than are remembered ([`MAX_BLOCKS`], a spread-out guesser)
//! make every try wait.

use std::net::IpAddr;
use std::time::Duration;

use crate::limits::{FREE_ACCOUNT_FAILURES, MAX_ACCOUNT_LOGIN_WAIT};

/// Address blocks remembered per account; failures from further blocks count towards the wait
/// that falls on every try.
pub const MAX_BLOCKS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// Milliseconds since the epoch of the last failure; 0 with none.
    pub last_ms: u64,
    /// Address blocks ("IPv4 203.0.113.0/24"), first seen first.
    pub from: Vec<Block>,
}

/// Failures from one address block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub name: String,
    pub count: u32,
    pub last_ms: u64,
}

impl Failures {
    /// One more failure, from `ip`, at `now_ms`.
    pub fn add(&mut self, ip: IpAddr, now_ms: u64) {
        self.count = self.count.saturating_add(1);
        self.last_ms = now_ms;
        let name = block(ip);
        if let Some(known) = self.from.iter_mut().find(|b| b.name == name) {
            known.count = known.count.saturating_add(1);
            known.last_ms = now_ms;
        } else if self.from.len() < MAX_BLOCKS {
            self.from.push(Block { name, count: 1, last_ms: now_ms });
        }
    }

    /// How long a login from `ip` waits, at `now_ms`: nothing for its block's first
    /// [`FREE_ACCOUNT_FAILURES`], then 1 s after its last failure, doubling with each one
    /// more, up to [`MAX_ACCOUNT_LOGIN_WAIT`]. Failures from blocks not remembered count the
    /// same way against every try.
    pub fn wait(&self, ip: IpAddr, now_ms: u64) -> Option<Duration> {
        let name = block(ip);
        let mine = self
            .from
            .iter()
            .find(|b| b.name == name)
            .map_or(Duration::ZERO, |b| backoff(b.count, b.last_ms, now_ms));
        let remembered: u32 = self.from.iter().map(|b| b.count).sum();
        let unplaced = backoff(self.count.saturating_sub(remembered), self.last_ms, now_ms);
        Some(mine.max(unplaced)).filter(|wait| !wait.is_zero())
    }

    /// What the owner is told on logging in: "3 failed logins since you last logged in, from
    /// IPv4 203.0.113.0/24 (2), IPv6 2001:db8:1::/48 (1)".
    pub fn describe(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let from: Vec<String> =
            self.from.iter().map(|b| format!("{} ({})", b.name, b.count)).collect();
        let plural = if self.count == 1 { "" } else { "s" };
        Some(format!(
            "{} failed login{plural} since you last logged in, from {}",
            self.count,
            if from.is_empty() { "unknown addresses".to_owned() } else { from.join(", ") }
        ))
    }

    /// The stored form: `count;last_ms;block=n@ms,block=n@ms`.
    pub fn encode(&self) -> String {
        let from: Vec<String> =
            self.from.iter().map(|b| format!("{}={}@{}", b.name, b.count, b.last_ms)).collect();
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
                let (name, rest) = entry.rsplit_once('=')?;
                let (count, last) = rest.split_once('@').unwrap_or((rest, ""));
                Some(Block {
                    name: name.to_owned(),
                    count: count.parse().ok()?,
                    last_ms: last.parse().unwrap_or(last_ms),
                })
            })
            .take(MAX_BLOCKS)
            .collect();
        Self { count, last_ms, from }
    }
}

/// The wait after `failures`, the last at `last_ms`, at `now_ms`.
fn backoff(failures: u32, last_ms: u64, now_ms: u64) -> Duration {
    let Some(over) = failures.checked_sub(FREE_ACCOUNT_FAILURES).filter(|over| *over > 0) else {
        return Duration::ZERO;
    };
    let wait = Duration::from_secs(1u64 << (over - 1).min(20)).min(MAX_ACCOUNT_LOGIN_WAIT);
    wait.saturating_sub(Duration::from_millis(now_ms.saturating_sub(last_ms)))
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
    fn waits_grow_after_the_free_failures_for_the_block_that_failed() {
        let mut f = Failures::default();
        let ip = "203.0.113.7".parse().unwrap();
        let neighbour = "203.0.113.200".parse().unwrap();
        let owner = "198.51.100.1".parse().unwrap();
        for _ in 0..FREE_ACCOUNT_FAILURES {
            f.add(ip, 1_000);
            assert_eq!(f.wait(ip, 1_000), None);
        }
        f.add(ip, 1_000);
        assert_eq!(f.wait(ip, 1_000), Some(Duration::from_secs(1)));
        assert_eq!(f.wait(neighbour, 1_500), Some(Duration::from_millis(500)));
        assert_eq!(f.wait(ip, 2_000), None);
        assert_eq!(f.wait(owner, 1_000), None, "another block is not held back");
        f.add(ip, 1_000);
        assert_eq!(f.wait(ip, 1_000), Some(Duration::from_secs(2)));
        for _ in 0..40 {
            f.add(ip, 1_000);
        }
        assert_eq!(f.wait(ip, 1_000), Some(MAX_ACCOUNT_LOGIN_WAIT));
        assert_eq!(f.wait(owner, 1_000), None);
    }

    #[test]
    fn failures_from_more_blocks_than_remembered_hold_every_try_back() {
        let mut f = Failures::default();
        let owner = "198.51.100.1".parse().unwrap();
        for i in 0..MAX_BLOCKS + FREE_ACCOUNT_FAILURES as usize + 1 {
            f.add(format!("10.0.{i}.1").parse().unwrap(), 1_000);
        }
        assert_eq!(f.from.len(), MAX_BLOCKS);
        assert_eq!(f.wait(owner, 1_000), Some(Duration::from_secs(1)));
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
        let old = Failures::decode("2;77;IPv4 10.0.0.0/24=2");
        assert_eq!(old.from, [Block { name: "IPv4 10.0.0.0/24".into(), count: 2, last_ms: 77 }]);
        assert_eq!(Failures::default().describe(), None);
    }
}
