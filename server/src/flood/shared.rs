//! A connection's buckets as another node reads them ([`Shared`]): when each is full again,
//! in milliseconds since the Unix epoch. Nodes share a wall clock (NTP), not tokio's
//! `Instant`; a few milliseconds of skew between them shift a budget by as much.

use std::time::Duration;

use tokio::time::Instant;

use super::Flood;

/// When each of a [`Flood`]'s buckets is full again (Unix milliseconds), in its order:
/// messages, joins, requests, presence, refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared(pub [u64; 5]);

impl Shared {
    /// As Redis keeps it: the five times, comma-separated.
    pub fn encode(&self) -> String {
        self.0.map(|ms| ms.to_string()).join(",")
    }

    /// `None` unless `text` is five times, as [`Shared::encode`] writes them.
    pub fn decode(text: &str) -> Option<Self> {
        let mut times = [0; 5];
        let mut parts = text.split(',');
        for time in &mut times {
            *time = parts.next()?.parse().ok()?;
        }
        parts.next().is_none().then_some(Self(times))
    }

    /// When the last of the buckets is full again: nothing is worth keeping after it.
    pub fn full_at(&self) -> u64 {
        self.0.iter().copied().max().unwrap_or(0)
    }
}

impl Flood {
    /// These buckets for another node, at `now`, which is `wall` on the wall clock.
    pub fn shared(&self, now: Instant, wall: u64) -> Shared {
        let at = |wait: Duration| {
            wall.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
        };
        Shared(
            [&self.messages, &self.joins, &self.requests, &self.presence, &self.refusals]
                .map(|bucket| at(bucket.full_in(now))),
        )
    }

    /// Keeps the emptier of each pair of these buckets and another node's.
    pub fn merge_shared(&mut self, shared: &Shared, now: Instant, wall: u64) {
        let buckets = [
            &mut self.messages,
            &mut self.joins,
            &mut self.requests,
            &mut self.presence,
            &mut self.refusals,
        ];
        for (bucket, full_at) in buckets.into_iter().zip(shared.0) {
            bucket.merge_full_in(Duration::from_millis(full_at.saturating_sub(wall)), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flood::{Cost, FloodLimits, Rate};

    fn limits() -> FloodLimits {
        let rate = Rate { burst: 4, every: Duration::from_secs(1) };
        FloodLimits { messages: rate, joins: rate, requests: rate, presence: rate, refusals: rate }
    }

    #[test]
    fn encoding_reads_back_and_refuses_anything_else() {
        let shared = Shared([1, 2, 3, 4, 1_796_000_000_000]);
        assert_eq!(Shared::decode(&shared.encode()), Some(shared));
        for bad in ["", "1,2,3,4", "1,2,3,4,5,6", "1,2,x,4,5", "-1,2,3,4,5"] {
            assert_eq!(Shared::decode(bad), None, "{bad:?}");
        }
    }

    /// What one node's connection spent, another node's next connection finds spent.
    #[tokio::test(start_paused = true)]
    async fn a_budget_spent_on_one_node_is_spent_on_another() {
        let wall = 1_000_000;
        let mut spent = Flood::new(limits());
        for _ in 0..4 {
            assert!(spent.check(Cost::Message).is_ok());
        }
        let shared = spent.shared(Instant::now(), wall);
        assert_eq!(shared.0[0], wall + 4_000, "full again in four seconds");
        assert_eq!(shared.0[1], wall, "joins untouched: full now");

        let mut fresh = Flood::new(limits());
        fresh.merge_shared(&shared, Instant::now(), wall);
        assert!(fresh.check(Cost::Message).is_err());
        // Read a second later than written: a token is back.
        let mut later = Flood::new(limits());
        later.merge_shared(&shared, Instant::now(), wall + 1_000);
        assert!(later.check(Cost::Message).is_ok());
        assert!(later.check(Cost::Message).is_err());
    }
}
