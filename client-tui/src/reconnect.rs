//! When to try connecting again after the connection is lost: exponential backoff with jitter,
//! one attempt at a time. Pure state over instants the caller passes in, so it is tested with a
//! fake clock.
//!
//! The delay before attempt n (counting from 0) is drawn uniformly from the upper half of
//! `min(BACKOFF_MAX, BACKOFF_FIRST * 2^n)`: a server that comes back is not hit by every client
//! at the same instant, and one that keeps refusing is asked at most every `BACKOFF_MAX`. A
//! connection only counts as a success once it has stayed up for [`STABLE_AFTER`]: a server
//! that welcomes and then drops every client at once still gets a growing delay.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Delay before the first attempt after a loss (before jitter).
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest delay between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A session that stayed registered this long resets the backoff.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

/// A source of jitter: a fraction in `[0, 1)` per call.
pub trait Jitter {
    fn fraction(&mut self) -> f64;
}

/// Jitter from the standard library's per-process random hash keys, which the OS seeds: no
/// random-number crate needed for spreading out a few reconnects.
#[derive(Debug, Default)]
pub struct OsJitter {
    counter: u64,
}

impl Jitter for OsJitter {
    fn fraction(&mut self) -> f64 {
        self.counter += 1;
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(self.counter);
        // The top 53 bits, as a fraction: exactly representable.
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
pub struct Backoff<J = OsJitter> {
    /// Attempts since the last stable session.
    failures: u32,
    /// When the current session registered, while it has not yet proved stable.
    registered_at: Option<Instant>,
    /// When the next attempt is due, while waiting for one.
    next: Option<Instant>,
    jitter: J,
}

impl Default for Backoff<OsJitter> {
    fn default() -> Self {
        Self::with_jitter(OsJitter::default())
    }
}

impl<J: Jitter> Backoff<J> {
    pub fn with_jitter(jitter: J) -> Self {
        Self { failures: 0, registered_at: None, next: None, jitter }
    }

    /// The session was welcomed at `now`.
    pub fn registered(&mut self, now: Instant) {
        self.registered_at = Some(now);
    }

    /// The connection ended (or could not be made) at `now`: schedules the next attempt and
    /// returns how long until it.
    pub fn lost(&mut self, now: Instant) -> Duration {
        if self.registered_at.take().is_some_and(|at| now.duration_since(at) >= STABLE_AFTER) {
            self.failures = 0;
        }
        let ceiling = BACKOFF_FIRST
            .checked_mul(1u32 << self.failures.min(16))
            .map_or(BACKOFF_MAX, |d| d.min(BACKOFF_MAX));
        self.failures = self.failures.saturating_add(1);
        let delay = ceiling.mul_f64(0.5 + 0.5 * self.jitter.fraction().clamp(0.0, 1.0));
        self.next = Some(now + delay);
        delay
    }

    /// When the next attempt is due, if one is waiting.
    pub fn deadline(&self) -> Option<Instant> {
        self.next
    }

    /// Whether an attempt is due at `now`; if so it is taken: the next one waits for another
    /// [`Backoff::lost`], so attempts never overlap.
    pub fn take_due(&mut self, now: Instant) -> bool {
        match self.next {
            Some(at) if now >= at => {
                self.next = None;
                true
            }
            _ => false,
        }
    }

    /// Moves the waiting attempt to `at` if that is later.
    pub fn postpone(&mut self, at: Instant) {
        if let Some(next) = self.next.as_mut() {
            *next = (*next).max(at);
        }
    }

    /// Stops waiting: no attempt is due until the next loss.
    pub fn cancel(&mut self) {
        self.next = None;
    }

    /// Attempts since the last stable session.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Always the same fraction.
    struct Fixed(f64);
    impl Jitter for Fixed {
        fn fraction(&mut self) -> f64 {
            self.0
        }
    }

    #[test]
    fn delays_double_up_to_the_ceiling() {
        let mut b = Backoff::with_jitter(Fixed(1.0));
        let t = Instant::now();
        let delays: Vec<u128> = (0..10).map(|_| b.lost(t).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    }

    #[test]
    fn jitter_spreads_over_the_upper_half() {
        let mut low = Backoff::with_jitter(Fixed(0.0));
        assert_eq!(low.lost(Instant::now()), BACKOFF_FIRST / 2);
        let mut os = Backoff::default();
        let t = Instant::now();
        let first: Vec<Duration> = (0..50)
            .map(|_| {
                let d = os.lost(t);
                os.failures = 0;
                d
            })
            .collect();
        assert!(first.iter().all(|d| *d >= BACKOFF_FIRST / 2 && *d <= BACKOFF_FIRST));
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert!(distinct.len() > 40, "jitter barely varies: {distinct:?}");
    }

    #[test]
    fn one_attempt_at_a_time() {
        let mut b = Backoff::with_jitter(Fixed(1.0));
        let t = Instant::now();
        assert!(!b.take_due(t), "nothing is due before a loss");
        b.lost(t);
        assert!(!b.take_due(t + Duration::from_millis(499)));
        assert!(b.take_due(t + Duration::from_millis(500)));
        assert!(!b.take_due(t + Duration::from_secs(60)), "taken once");
        assert_eq!(b.deadline(), None);
    }

    #[test]
    fn only_a_stable_session_resets_the_backoff() {
        let mut b = Backoff::with_jitter(Fixed(1.0));
        let t = Instant::now();
        b.lost(t);
        b.lost(t);
        // Welcomed, then dropped at once: still backing off.
        b.registered(t);
        assert_eq!(b.lost(t + Duration::from_secs(1)), Duration::from_secs(2));
        // Welcomed and up for a while: back to the first delay.
        b.registered(t);
        assert_eq!(b.lost(t + STABLE_AFTER), BACKOFF_FIRST);
    }
}
