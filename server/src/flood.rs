//! Flood control: a token bucket per connection for each kind of request that costs other
//! people something (a message fans out to a room; a join or a nick change announces itself).
//!
//! We refuse rather than delay (ergo's "fakelag" holds the client's next line back instead). A
//! refused request gets `flood` with the time after which it may be sent again, so nothing
//! disappears without the sender knowing, and the session keeps reading: a ping, `who` or
//! `quit` behind a burst of messages is answered at once rather than after the burst has
//! dripped through. A client that keeps sending while refused — more than the refusal
//! bucket allows — is disconnected with `flooding`.

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

/// The limits of one connection. `None` in [`crate::ServerInfo::flood`] turns them all off
/// (for benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Messages to rooms and people (`say`, `me`, `msg`) and nick changes.
    pub messages: Rate,
    /// Rooms joined. Its own bucket, with a burst of a whole session's rooms, so a client that
    /// reconnects can rejoin all its rooms at once.
    pub joins: Rate,
    /// Requests refused for flooding. Past this, the session ends with `flooding`.
    pub refusals: Rate,
}

impl Default for FloodLimits {
    fn default() -> Self {
        use crate::limits::{
            FLOOD_BURST, FLOOD_PER_SECOND, FLOOD_REFUSALS, JOIN_BURST, JOIN_PER_SECOND,
        };
        Self {
            messages: Rate::per_second(FLOOD_BURST, FLOOD_PER_SECOND),
            joins: Rate::per_second(JOIN_BURST, JOIN_PER_SECOND),
            refusals: Rate::per_second(FLOOD_REFUSALS, FLOOD_PER_SECOND),
        }
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
}

/// A connection's buckets.
#[derive(Debug)]
pub struct Flood {
    messages: Bucket,
    joins: Bucket,
    refusals: Bucket,
}

/// What kind of request, for the bucket it takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Message,
    Join,
}

/// The answer to a request over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Refused; it may be sent again after this long.
    RetryAfter(Duration),
    /// Refused once too often: the session ends.
    Disconnect,
}

impl Flood {
    pub fn new(limits: FloodLimits) -> Self {
        Self {
            messages: Bucket::new(limits.messages),
            joins: Bucket::new(limits.joins),
            refusals: Bucket::new(limits.refusals),
        }
    }

    /// Takes a token for a request of the given cost.
    pub fn check(&mut self, cost: Cost) -> Result<(), Refusal> {
        let bucket = match cost {
            Cost::Message => &mut self.messages,
            Cost::Join => &mut self.joins,
        };
        bucket.take().map_err(|wait| match self.refusals.take() {
            Ok(()) => Refusal::RetryAfter(wait),
            Err(_) => Refusal::Disconnect,
        })
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

    /// Flooding is refused with a wait while the refusal bucket lasts, then ends the session.
    #[test]
    fn sustained_flooding_disconnects() {
        let limits = FloodLimits {
            messages: Rate { burst: 2, every: Duration::from_secs(10) },
            joins: Rate { burst: 1, every: Duration::from_secs(10) },
            refusals: Rate { burst: 3, every: Duration::from_secs(10) },
        };
        let mut f = Flood::new(limits);
        assert_eq!(f.check(Cost::Message), Ok(()));
        assert_eq!(f.check(Cost::Message), Ok(()));
        assert_eq!(f.check(Cost::Join), Ok(()));
        for _ in 0..3 {
            assert!(matches!(f.check(Cost::Message), Err(Refusal::RetryAfter(_))));
        }
        assert_eq!(f.check(Cost::Join), Err(Refusal::Disconnect));
    }
}
