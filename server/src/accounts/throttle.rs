//! What keeps password guessing and account making slow, on this node:
//!
//! - login attempts per address: a burst, then a steady rate (governor's keyed GCRA);
//! - new accounts per address, the same way but far fewer: each costs a hash and a row kept
//!   for good;
//! - one password check at a time per account, so that parallel guesses cannot each read the
//!   account's failure count before the others have added theirs (the growing wait per
//!   account lives with the account, [`super::Failures::wait`], where every node sees it).
//!
//! Addresses are keyed by their [`AddressBlock`].

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use protocol::NickKey;
use tokio::sync::OwnedMutexGuard;

use crate::flood::{AddressBlock, Rate};
use crate::limits::{
    ADDRESS_LOGIN_BURST, ADDRESS_LOGIN_REFILL, ADDRESS_REGISTER_BURST, ADDRESS_REGISTER_REFILL,
};
use crate::sync::lock;

/// Checks between sweeps of the limiters' memory (addresses whose budget is full again) and
/// of the account locks no one holds.
const SWEEP_EVERY: u32 = 1024;

pub struct Logins {
    attempts: DefaultKeyedRateLimiter<AddressBlock>,
    registrations: DefaultKeyedRateLimiter<AddressBlock>,
    clock: DefaultClock,
    accounts: Mutex<HashMap<NickKey, Arc<tokio::sync::Mutex<()>>>>,
    checks: AtomicU32,
}

impl Default for Logins {
    fn default() -> Self {
        Self {
            attempts: RateLimiter::keyed(quota(ADDRESS_LOGIN_BURST, ADDRESS_LOGIN_REFILL)),
            registrations: RateLimiter::keyed(quota(
                ADDRESS_REGISTER_BURST,
                ADDRESS_REGISTER_REFILL,
            )),
            clock: DefaultClock::default(),
            accounts: Mutex::default(),
            checks: AtomicU32::new(0),
        }
    }
}

fn quota(burst: u32, every: Duration) -> Quota {
    Rate { burst, every }.quota()
}

impl fmt::Debug for Logins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logins").field("addresses", &self.attempts.len()).finish_non_exhaustive()
    }
}

impl Logins {
    /// Takes one login attempt from `ip`'s budget, or says how long until there is one.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), Duration> {
        self.sweep();
        self.take(&self.attempts, ip)
    }

    /// Takes one new account from `ip`'s budget, or says how long until there is one.
    pub fn register(&self, ip: IpAddr) -> Result<(), Duration> {
        self.sweep();
        self.take(&self.registrations, ip)
    }

    /// Waits for, and holds until dropped, the one password check of `key` at a time.
    pub async fn one_at_a_time(&self, key: &NickKey) -> OwnedMutexGuard<()> {
        let turn = {
            let mut accounts = lock(&self.accounts);
            accounts.entry(key.clone()).or_default().clone()
        };
        turn.lock_owned().await
    }

    fn take(
        &self,
        limiter: &DefaultKeyedRateLimiter<AddressBlock>,
        ip: IpAddr,
    ) -> Result<(), Duration> {
        limiter
            .check_key(&AddressBlock::of(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.attempts.retain_recent();
            self.registrations.retain_recent();
            lock(&self.accounts).retain(|_, turn| Arc::strong_count(turn) > 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait_per_address_block() {
        let logins = Logins::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::ffff".parse().unwrap();
        for _ in 0..ADDRESS_LOGIN_BURST {
            logins.attempt(ip).unwrap();
        }
        let wait = logins.attempt(neighbour).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= ADDRESS_LOGIN_REFILL, "{wait:?}");
        logins.attempt("2001:db8:0:1::1".parse().unwrap()).unwrap();
        logins.attempt("203.0.113.1".parse().unwrap()).unwrap();
        // Registrations have a budget of their own.
        for _ in 0..ADDRESS_REGISTER_BURST {
            logins.register(ip).unwrap();
        }
        assert!(logins.register(ip).is_err());
    }

    #[tokio::test]
    async fn password_checks_of_one_account_take_turns() {
        let logins = Logins::default();
        let key = protocol::Nick::parse("Michael").unwrap().key();
        let first = logins.one_at_a_time(&key).await;
        let second =
            tokio::time::timeout(Duration::from_millis(50), logins.one_at_a_time(&key)).await;
        assert!(second.is_err(), "a second check ran beside the first");
        let other = protocol::Nick::parse("Tracy").unwrap().key();
        drop(logins.one_at_a_time(&other).await);
        drop(first);
        drop(logins.one_at_a_time(&key).await);
    }
}
