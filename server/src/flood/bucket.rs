//! A token bucket: a rate with a burst, kept as one instant (GCRA), so a bucket is small
//! enough to keep for every address and account that used one recently.

use std::time::Duration;

use tokio::time::Instant;

/// Longer than any session lives: a rate this slow (or slower) never refills, and instants
/// stay far from overflow.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A rate: `burst` at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    /// `burst` at once, then `per_second` a second (may be fractional: 0.5 is one every two
    /// seconds). A rate of zero or less refills nothing.
    pub fn per_second(burst: u32, per_second: f64) -> Self {
        let every = if per_second > 0.0 {
            Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(NEVER).min(NEVER)
        } else {
            NEVER
        };
        Self { burst, every }
    }
}

impl Rate {
    /// The same rate as a governor quota, for limiters keyed by many addresses at once. A
    /// burst of zero counts as one.
    pub fn quota(&self) -> governor::Quota {
        let burst = std::num::NonZeroU32::new(self.burst).unwrap_or(std::num::NonZeroU32::MIN);
        // governor keeps `period * burst` in u64 nanoseconds: a period that slow is capped
        // where that still fits (some 580 years over the burst).
        let longest = Duration::from_nanos(u64::MAX / (u64::from(burst.get()) + 1));
        governor::Quota::with_period(self.every.min(NEVER).min(longest))
            .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

/// Tokens that refill at a [`Rate`], up to its burst. Time is tokio's, so tests with a paused
/// clock are exact.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    /// When the bucket will be full again; the bucket is empty while `full_at - now` is
    /// `burst * every` or more (the "theoretical arrival time" of GCRA, which keeps the
    /// arithmetic in whole durations).
    full_at: Instant,
}

impl Bucket {
    pub fn new(rate: Rate) -> Self {
        Self { rate, full_at: Instant::now() }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self) -> Result<(), Duration> {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> Result<(), Duration> {
        if self.rate.burst == 0 {
            return Err(Duration::MAX);
        }
        let every = self.rate.every.min(NEVER);
        let start = self.full_at.max(now);
        let window = every.saturating_mul(self.rate.burst);
        let Some(next) = start.checked_add(every) else {
            return Err(every);
        };
        let ahead = next.saturating_duration_since(now);
        if ahead > window {
            return Err(ahead - window);
        }
        self.full_at = next;
        Ok(())
    }

    /// Puts back a token [`Bucket::take`] took for work that was then not done.
    pub fn give_back(&mut self) {
        let every = self.rate.every.min(NEVER);
        self.full_at = self.full_at.checked_sub(every).unwrap_or(self.full_at);
    }

    /// Takes `tokens` more after the fact, for work whose size is known only once it is done
    /// (the bytes of an answer): the bucket may go below empty, and the next [`Bucket::take`]
    /// waits until it has refilled past that. At most a burst below empty, so one big answer
    /// costs a bounded wait.
    pub fn charge(&mut self, tokens: u32) {
        self.charge_at(Instant::now(), tokens);
    }

    fn charge_at(&mut self, now: Instant, tokens: u32) {
        let every = self.rate.every.min(NEVER);
        let window = every.saturating_mul(self.rate.burst);
        let Some(deepest) = now.checked_add(window.saturating_mul(2)) else { return };
        let start = self.full_at.max(now);
        let owed = start.checked_add(every.saturating_mul(tokens)).unwrap_or(deepest);
        self.full_at = owed.min(deepest).max(self.full_at);
    }

    /// Full at `now`: then it is no different from a new bucket, and need not be kept.
    pub fn is_full_at(&self, now: Instant) -> bool {
        self.full_at <= now
    }

    /// How long until it is full again, from `now`.
    pub fn full_in(&self, now: Instant) -> Duration {
        self.full_at.saturating_duration_since(now)
    }

    /// Keeps the emptier of this and a bucket that is full `wait` after `now` (another
    /// node's, read from Redis): at most a burst below empty, however long `wait` is.
    pub fn merge_full_in(&mut self, wait: Duration, now: Instant) {
        let every = self.rate.every.min(NEVER);
        let deepest = every.saturating_mul(self.rate.burst).saturating_mul(2);
        if let Some(at) = now.checked_add(wait.min(deepest)) {
            self.full_at = self.full_at.max(at);
        }
    }

    /// Keeps the emptier of the two: what one connection used counts for the next.
    pub fn merge(&mut self, other: &Bucket) {
        self.full_at = self.full_at.max(other.full_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A bucket gives its burst at once, then one token per interval, and says exactly how
    /// long until the next.
    #[test]
    fn burst_then_steady_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate { burst: 3, every: ms(500) });
        b.full_at = t0;
        for _ in 0..3 {
            assert_eq!(b.take_at(t0), Ok(()));
        }
        assert_eq!(b.take_at(t0), Err(ms(500)));
        assert_eq!(b.take_at(t0 + ms(200)), Err(ms(300)));
        assert_eq!(b.take_at(t0 + ms(500)), Ok(()));
        assert_eq!(b.take_at(t0 + ms(500)), Err(ms(500)));
        // A long pause refills up to the burst, never beyond it.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take_at(later), Ok(()));
        }
        assert!(b.take_at(later).is_err());
    }

    /// A refused request does not use a token: a client that retries too early is not pushed
    /// further back.
    #[test]
    fn refusals_cost_nothing() {
        let t0 = Instant::now();
        let mut b = Bucket::new(Rate { burst: 1, every: ms(1000) });
        b.full_at = t0;
        assert_eq!(b.take_at(t0), Ok(()));
        for i in 0..10 {
            assert_eq!(b.take_at(t0 + ms(i * 10)), Err(ms(1000 - i * 10)));
        }
        assert_eq!(b.take_at(t0 + ms(1000)), Ok(()));
    }

    /// A charge after the fact empties the bucket for as long as the work was worth, down to
    /// a burst below empty at most; merging keeps the emptier bucket.
    #[test]
    fn charges_go_below_empty_within_a_bound() {
        let t0 = Instant::now();
        let rate = Rate { burst: 4, every: ms(100) };
        let mut b = Bucket::new(rate);
        b.full_at = t0;
        assert_eq!(b.take_at(t0), Ok(()));
        b.charge_at(t0, 5);
        // 6 tokens used of 4: two below empty, so the next one is 300 ms away.
        assert_eq!(b.take_at(t0), Err(ms(300)));
        b.charge_at(t0, 1000);
        assert_eq!(b.take_at(t0), Err(ms(500)), "at most a burst below empty");
        let mut fresh = Bucket::new(rate);
        fresh.full_at = t0;
        assert!(fresh.is_full_at(t0) && !b.is_full_at(t0 + ms(799)) && b.is_full_at(t0 + ms(800)));
        fresh.merge(&b);
        assert_eq!(fresh.take_at(t0), Err(ms(500)));
        b.merge(&Bucket { rate, full_at: t0 });
        assert_eq!(b.take_at(t0), Err(ms(500)), "merging never refills");
    }

    /// Extreme rates neither overflow nor panic: zero burst refuses everything; a zero rate
    /// never refills.
    #[test]
    fn extreme_rates() {
        let mut none = Bucket::new(Rate { burst: 0, every: ms(1) });
        let mut once = Bucket::new(Rate::per_second(1, 0.0));
        let mut fast = Bucket::new(Rate::per_second(u32::MAX, 1e12));
        let now = Instant::now();
        assert!(none.take_at(now).is_err());
        assert_eq!(once.take_at(now), Ok(()));
        assert!(once.take_at(now + Duration::from_secs(3600)).is_err());
        for _ in 0..1000 {
            assert_eq!(fast.take_at(now), Ok(()));
        }
    }
}
