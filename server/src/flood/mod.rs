//! Flood control: token buckets for each kind of request, by what it costs other people or
//! the server (a message fans out to a room; a join or a nick change announces itself; a
//! `who` or a history page is work and bytes for the server).
//!
//! We refuse rather than delay (ergo's "fakelag" holds the client's next line back instead). A
//! refused request gets `flood` with the time after which it may be sent again, so nothing
//! disappears without the sender knowing, and the session keeps reading: a ping, `who` or
//! `quit` behind a burst of messages is answered at once rather than after the burst has
//! dripped through. A client that keeps sending while refused — more than the refusal
//! bucket allows — is disconnected with `flooding`.
//!
//! The buckets outlive the connection: they are kept for its account, or its address block,
//! until they are full again ([`Kept`]), so reconnecting does not refill them; and new
//! connections from one address block are limited over time ([`Connects`]).
//!
//! - `bucket.rs`: [`Rate`] and [`Bucket`], the arithmetic.
//! - `block.rs`: [`AddressBlock`], what per-address limits count by, and [`Exempt`].
//! - `connects.rs`: [`Connects`], connections per address block, at once and over time.
//! - `kept.rs`: [`Kept`], the buckets of connections that ended.
//! - `shared.rs`: [`Shared`], the buckets as another node reads them (kept in Redis).

mod block;
mod bucket;
mod connects;
mod kept;
mod shared;

pub use block::{AddressBlock, Exempt};
pub use bucket::{Bucket, Rate};
pub use connects::{AddressSlot, Connects, TurnedAway};
pub use kept::{Holder, Kept};
pub use shared::Shared;

use std::time::Duration;

use crate::limits::REQUEST_UNIT_BYTES;

/// The limits of one connection. `None` in [`crate::ServerInfo::flood`] turns them all off
/// (for benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Messages to rooms and people (`say`, `me`, `msg`) and nick changes.
    pub messages: Rate,
    /// Rooms joined. Its own bucket, with a burst of a whole session's rooms, so a client that
    /// reconnects can rejoin all its rooms at once.
    pub joins: Rate,
    /// Requests that answer only the client (`who`, `rooms`, `history`, `ping`, ...) and
    /// requests refused for any reason, in units of work: one per request, one more per
    /// [`REQUEST_UNIT_BYTES`] of answer.
    pub requests: Rate,
    /// Joins announced to the room. Past this a session joins quietly: announced only if
    /// it speaks (IRC's delayed join), so coming and going in a loop costs the room nothing.
    pub presence: Rate,
    /// Requests refused for flooding. Past this, the session ends with `flooding`.
    pub refusals: Rate,
}

impl Default for FloodLimits {
    fn default() -> Self {
        use crate::limits::{
            FLOOD_BURST, FLOOD_PER_SECOND, FLOOD_REFUSALS, JOIN_BURST, JOIN_PER_SECOND,
            PRESENCE_BURST, PRESENCE_PER_SECOND, REQUEST_BURST, REQUEST_PER_SECOND,
        };
        Self {
            messages: Rate::per_second(FLOOD_BURST, FLOOD_PER_SECOND),
            joins: Rate::per_second(JOIN_BURST, JOIN_PER_SECOND),
            requests: Rate::per_second(REQUEST_BURST, REQUEST_PER_SECOND),
            presence: Rate::per_second(PRESENCE_BURST, PRESENCE_PER_SECOND),
            refusals: Rate::per_second(FLOOD_REFUSALS, FLOOD_PER_SECOND),
        }
    }
}

/// A connection's buckets.
#[derive(Debug, Clone)]
pub struct Flood {
    messages: Bucket,
    joins: Bucket,
    requests: Bucket,
    presence: Bucket,
    refusals: Bucket,
}

/// What kind of request, for the bucket it takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    Message,
    Join,
    /// One unit of [`FloodLimits::requests`]; the answer's size is charged after
    /// ([`Flood::charge_answer`]).
    Request,
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
            requests: Bucket::new(limits.requests),
            presence: Bucket::new(limits.presence),
            refusals: Bucket::new(limits.refusals),
        }
    }

    /// Takes a token for a request of the given cost.
    pub fn check(&mut self, cost: Cost) -> Result<(), Refusal> {
        let bucket = match cost {
            Cost::Message => &mut self.messages,
            Cost::Join => &mut self.joins,
            Cost::Request => &mut self.requests,
        };
        bucket.take().map_err(|wait| match self.refusals.take() {
            Ok(()) => Refusal::RetryAfter(wait),
            Err(_) => Refusal::Disconnect,
        })
    }

    /// Charges an answer of `bytes` (beyond the unit its request took): a big `who` or history
    /// page costs more than a small one, and the next requests wait for it.
    pub fn charge_answer(&mut self, bytes: usize) {
        let units = u32::try_from(bytes / REQUEST_UNIT_BYTES).unwrap_or(u32::MAX);
        if units > 0 {
            self.requests.charge(units);
        }
    }

    /// Takes one announced join from the presence budget; `false`: the join is to be quiet.
    pub fn announce(&mut self) -> bool {
        self.presence.take().is_ok()
    }

    /// Puts back the announcement [`Flood::announce`] took for a join that was refused: only
    /// joins that happen use the budget of the members told of them.
    pub fn unannounce(&mut self) {
        self.presence.give_back();
    }

    /// Keeps the emptier of each pair of buckets: a connection's use counts for the next
    /// one of the same account or address.
    pub fn merge(&mut self, other: &Flood) {
        self.messages.merge(&other.messages);
        self.joins.merge(&other.joins);
        self.requests.merge(&other.requests);
        self.presence.merge(&other.presence);
        self.refusals.merge(&other.refusals);
    }

    /// All full at `now`: no different from new ones.
    pub fn is_full_at(&self, now: tokio::time::Instant) -> bool {
        [&self.messages, &self.joins, &self.requests, &self.presence, &self.refusals]
            .iter()
            .all(|bucket| bucket.is_full_at(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flooding is refused with a wait while the refusal bucket lasts, then ends the session.
    #[test]
    fn sustained_flooding_disconnects() {
        let limits = FloodLimits {
            messages: Rate { burst: 2, every: Duration::from_secs(10) },
            joins: Rate { burst: 1, every: Duration::from_secs(10) },
            requests: Rate { burst: 1, every: Duration::from_secs(10) },
            presence: Rate { burst: 1, every: Duration::from_secs(10) },
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
