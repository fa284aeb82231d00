//! Login attempts per address: a burst, then a steady rate (governor's keyed GCRA limiter),
//! so one address cannot guess passwords across many accounts quickly. Per account, the
//! growing wait lives with the account ([`super::Failures::wait`]), where every node sees it.
//!
//! Keyed by the IPv4 address or the IPv6 /64 (one host's usual allocation: keying by the
//! full IPv6 address would give one host 2^64 budgets). Each node keeps its own.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::limits::{ADDRESS_LOGIN_BURST, ADDRESS_LOGIN_REFILL};

/// Checks between sweeps of addresses whose budget is full again (the limiter's memory).
const SWEEP_EVERY: u32 = 1024;

pub struct AddressThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl Default for AddressThrottle {
    fn default() -> Self {
        let burst = NonZeroU32::new(ADDRESS_LOGIN_BURST).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(ADDRESS_LOGIN_REFILL)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }
}

impl fmt::Debug for AddressThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressThrottle").field("addresses", &self.limiter.len()).finish()
    }
}

impl AddressThrottle {
    /// Takes one login attempt from `ip`'s budget, or says how long until there is one.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait_per_address_block() {
        let throttle = AddressThrottle::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::ffff".parse().unwrap();
        for _ in 0..ADDRESS_LOGIN_BURST {
            throttle.attempt(ip).unwrap();
        }
        let wait = throttle.attempt(neighbour).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= ADDRESS_LOGIN_REFILL, "{wait:?}");
        throttle.attempt("2001:db8:0:1::1".parse().unwrap()).unwrap();
        throttle.attempt("203.0.113.1".parse().unwrap()).unwrap();
    }
}
