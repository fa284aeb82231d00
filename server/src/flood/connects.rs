//! What one address block may open: connections at once (`--max-connections-per-ip`), and
//! new connections over time (`--connect-burst`, `--connect-rate`): a burst, then a steady
//! rate, then a refusal that says how long to wait. Without the second, a client that
//! reconnects in a loop gets a fresh session (and its greeting, join and quit announcements)
//! as often as it likes.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};

use super::{AddressBlock, Exempt, Rate};
use crate::sync::lock;

/// Connection attempts between sweeps of the throttle's memory (blocks whose budget is full
/// again, which need not be remembered).
const SWEEP_EVERY: u32 = 1024;

pub struct Connects {
    // std Mutex: held for one map update, never across an await.
    open: Mutex<HashMap<AddressBlock, usize>>,
    /// What is allowed; replaced whole by [`Connects::retune`] (SIGHUP), while the counts of
    /// open connections stay.
    limits: ArcSwap<Limits>,
    clock: DefaultClock,
    checks: AtomicU32,
}

struct Limits {
    max_open: usize,
    /// The rate `attempts` enforces.
    rate: Option<Rate>,
    /// `None`: connections over time are not limited.
    attempts: Option<Arc<DefaultKeyedRateLimiter<AddressBlock>>>,
    exempt: Exempt,
}

impl Limits {
    /// The limiter of `now` is kept if it enforces `rate` already.
    fn new(max_open: usize, rate: Option<Rate>, exempt: Exempt, now: Option<&Limits>) -> Self {
        let same = now.filter(|now| now.rate == rate).and_then(|now| now.attempts.clone());
        let attempts = same.or_else(|| rate.map(|rate| Arc::new(RateLimiter::keyed(rate.quota()))));
        Self { max_open, rate, attempts, exempt }
    }
}

/// Why a connection is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnedAway {
    /// Its address block has as many connections open as allowed.
    TooMany,
    /// Its address block connected too often; it may again after this long.
    Throttled(Duration),
}

/// One connection's place in [`Connects`]; gives it back when dropped.
pub struct AddressSlot {
    table: Arc<Connects>,
    key: AddressBlock,
}

impl fmt::Debug for Connects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max_open = self.limits.load().max_open;
        f.debug_struct("Connects").field("max_open", &max_open).finish_non_exhaustive()
    }
}

impl Connects {
    /// `attempts`: new connections per address block over time, `None` for no limit; the
    /// `exempt` networks are not limited over time (they still count towards `max_open`).
    pub fn new(max_open: usize, attempts: Option<Rate>, exempt: Exempt) -> Self {
        Self {
            open: Mutex::default(),
            limits: ArcSwap::from_pointee(Limits::new(max_open, attempts, exempt, None)),
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Puts new limits in force for the connections that come next; those open stay, and
    /// count. An unchanged rate keeps what each address block already used of it.
    pub fn retune(&self, max_open: usize, attempts: Option<Rate>, exempt: Exempt) {
        let now = self.limits.load();
        self.limits.store(Arc::new(Limits::new(max_open, attempts, exempt, Some(&now))));
    }

    fn open(&self) -> MutexGuard<'_, HashMap<AddressBlock, usize>> {
        lock(&self.open)
    }

    /// A place for one more connection from `ip`, or why there is none. A connection turned
    /// away for having too many open does not use up an attempt.
    pub fn admit(table: &Arc<Self>, ip: IpAddr) -> Result<AddressSlot, TurnedAway> {
        let key = AddressBlock::of(ip);
        let limits = table.limits.load();
        let mut open = table.open();
        let count = open.get(&key).copied().unwrap_or(0);
        if count >= limits.max_open {
            return Err(TurnedAway::TooMany);
        }
        if let Some(attempts) = &limits.attempts
            && !limits.exempt.covers(ip)
        {
            if table.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                attempts.retain_recent();
            }
            attempts.check_key(&key).map_err(|not_until| {
                TurnedAway::Throttled(not_until.wait_time_from(table.clock.now()))
            })?;
        }
        open.insert(key, count + 1);
        Ok(AddressSlot { table: table.clone(), key })
    }
}

impl AddressSlot {
    pub fn block(&self) -> AddressBlock {
        self.key
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Each address gets its own allowance, places come back when connections end, and an
    /// IPv6 /64 counts as one address.
    #[test]
    fn connections_per_address() {
        let table = Arc::new(Connects::new(2, None, Exempt::default()));
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let first = Connects::admit(&table, a).unwrap();
        let _second = Connects::admit(&table, a).unwrap();
        assert_eq!(Connects::admit(&table, a).err(), Some(TurnedAway::TooMany));
        assert!(Connects::admit(&table, b).is_ok(), "another address is not affected");
        drop(first);
        assert!(Connects::admit(&table, a).is_ok());

        let _x = Connects::admit(&table, ip("2001:db8::1")).unwrap();
        let _y = Connects::admit(&table, ip("2001:db8::ffff:1")).unwrap();
        assert!(Connects::admit(&table, ip("2001:db8::2")).is_err(), "same /64");
        assert!(Connects::admit(&table, ip("2001:db8:0:1::1")).is_ok(), "next /64");
        let mapped = Connects::admit(&table, ip("::ffff:192.0.2.2")).unwrap();
        assert_eq!(mapped.block().ip(), b, "an IPv4-mapped address counts as the IPv4 one");
    }

    /// The table does not keep addresses that have no connection left.
    #[test]
    fn the_table_forgets_idle_addresses() {
        let table = Arc::new(Connects::new(5, None, Exempt::default()));
        for i in 0..100u8 {
            drop(Connects::admit(&table, IpAddr::from([10, 0, 0, i])));
        }
        assert!(table.open().is_empty());
    }

    /// New connections: a burst, then refused with the wait until the next, per address
    /// block; exempt networks and connections refused for too many open use no attempt.
    #[test]
    fn connecting_too_often_is_refused_with_the_wait() {
        let rate = Rate { burst: 3, every: Duration::from_secs(10) };
        let table = Arc::new(Connects::new(2, Some(rate), Exempt::loopback()));
        let a = ip("192.0.2.1");
        let held = Connects::admit(&table, a).unwrap();
        let _held_too = Connects::admit(&table, a).unwrap();
        assert_eq!(Connects::admit(&table, a).err(), Some(TurnedAway::TooMany));
        drop(held);
        drop(Connects::admit(&table, a).unwrap());
        match Connects::admit(&table, a).err() {
            Some(TurnedAway::Throttled(wait)) => {
                assert!(wait > Duration::from_secs(9) && wait <= rate.every, "{wait:?}")
            }
            other => panic!("{other:?}"),
        }
        assert!(Connects::admit(&table, ip("192.0.2.9")).is_ok(), "another block");
        for _ in 0..10 {
            drop(Connects::admit(&table, ip("127.0.0.1")).unwrap());
        }
    }

    /// Retuned limits hold for the next connections; the ones open still count, and an
    /// unchanged rate keeps what each block used.
    #[test]
    fn retuned_limits_count_the_connections_already_open() {
        let rate = Rate { burst: 2, every: Duration::from_secs(10) };
        let table = Arc::new(Connects::new(4, Some(rate), Exempt::default()));
        let a = ip("192.0.2.1");
        let _open = [Connects::admit(&table, a).unwrap(), Connects::admit(&table, a).unwrap()];
        table.retune(2, Some(rate), Exempt::default());
        assert_eq!(Connects::admit(&table, a).err(), Some(TurnedAway::TooMany));
        table.retune(3, Some(rate), Exempt::default());
        assert!(matches!(Connects::admit(&table, a), Err(TurnedAway::Throttled(_))), "burst used");
        table.retune(3, Some(Rate { burst: 5, ..rate }), Exempt::default());
        assert!(Connects::admit(&table, a).is_ok(), "a new rate starts afresh");
    }
}
