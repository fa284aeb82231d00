//! Pacing: the client's copy of the server's flood control for messages, so that lines sent in
//! a row (a paste line by line, lines typed while offline) go out at the rate the server takes
//! them instead of being refused with "slow down".
//!
//! The server advertises its rate in the welcome (`flood`); a server that advertises none gets
//! [`FALLBACK_RATE`]. The arithmetic is the server's (a token bucket kept as the instant it is
//! full again), so both agree on when the next message is allowed.

use std::time::{Duration, Instant};

/// The rate assumed of a server that does not advertise its own: slower than any default a
/// server ships with, so an old server never refuses a paced line.
pub const FALLBACK_RATE: Rate = Rate { burst: 4, every: Duration::from_secs(1) };

/// Slowest rate taken from a server: one message a minute. A server advertising slower (or
/// zero) is paced at this, and its refusals are waited out as they come.
pub const SLOWEST_EVERY: Duration = Duration::from_secs(60);

/// How much later than the bucket allows a paced message goes once the burst is spent. The
/// server counts a message when it arrives, the client when it sends it: a line that reaches
/// the server sooner than the one before it did (the first of a connection is often the
/// slowest) would otherwise arrive a little before the server has a token for it.
pub const JITTER_MARGIN: Duration = Duration::from_millis(50);

/// Most messages taken as a burst from a server's advertisement.
pub const MAX_BURST: u32 = 100;

/// `burst` messages at once, then one more every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    /// The rate a welcome advertises, within [`MAX_BURST`] and [`SLOWEST_EVERY`]; the
    /// [`FALLBACK_RATE`] when it advertises none.
    pub fn advertised(flood: Option<protocol::FloodRate>) -> Self {
        let Some(flood) = flood else { return FALLBACK_RATE };
        Self {
            burst: flood.burst.clamp(1, MAX_BURST),
            every: Duration::from_millis(flood.every_ms).min(SLOWEST_EVERY),
        }
    }
}

/// Messages sent against a [`Rate`].
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Rate,
    /// When the bucket is full again; `None`: full now.
    full_at: Option<Instant>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(FALLBACK_RATE)
    }
}

impl Pacer {
    pub fn new(rate: Rate) -> Self {
        Self { rate, full_at: None }
    }

    /// The server's rate from now on; what was sent already still counts.
    pub fn set_rate(&mut self, rate: Rate) {
        self.rate = rate;
    }

    /// Whether a message may go at `now`: `Ok` (and it is counted), or the time it may.
    pub fn take(&mut self, now: Instant) -> Result<(), Instant> {
        let full_at = self.full_at.filter(|at| *at > now).unwrap_or(now) + self.rate.every;
        let window = self.rate.every * self.rate.burst;
        match full_at.checked_sub(window) {
            Some(allowed) if allowed > now => Err(allowed + JITTER_MARGIN),
            _ => {
                self.full_at = Some(full_at);
                Ok(())
            }
        }
    }

    /// A message sent at `now` without asking (typed by hand): counted all the same.
    pub fn charge(&mut self, now: Instant) {
        let full_at = self.full_at.filter(|at| *at > now).unwrap_or(now) + self.rate.every;
        self.full_at = Some(full_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst goes at once; the next waits one interval, as the server's bucket does, and
    /// the margin for the way to the server.
    #[test]
    fn a_burst_then_one_per_interval() {
        let rate = Rate { burst: 3, every: Duration::from_millis(500) };
        let mut pacer = Pacer::new(rate);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(pacer.take(t0), Ok(()));
        }
        let next = t0 + Duration::from_millis(500);
        assert_eq!(pacer.take(t0), Err(next + JITTER_MARGIN));
        assert_eq!(pacer.take(t0 + Duration::from_millis(499)), Err(next + JITTER_MARGIN));
        assert_eq!(pacer.take(next), Ok(()));
        // Typed lines count too.
        pacer.charge(next);
        let after_both = t0 + Duration::from_millis(1500);
        assert_eq!(pacer.take(next), Err(after_both + JITTER_MARGIN));
    }

    #[test]
    fn an_advertised_rate_is_kept_within_bounds() {
        assert_eq!(Rate::advertised(None), FALLBACK_RATE);
        let wild = protocol::FloodRate { burst: 0, every_ms: u64::MAX };
        assert_eq!(Rate::advertised(Some(wild)), Rate { burst: 1, every: SLOWEST_EVERY });
    }
}
