//! The buckets of connections that ended, kept for their account (logged in) or their
//! address block (guests) until they are full again: a client that reconnects starts where
//! its last connection stopped, not with a fresh burst.
//!
//! A new connection starts from a copy of what is kept; one that ends merges its buckets in
//! (the emptier of each pair stays). Connections open side by side each spend their own
//! buckets, as before: how many there may be is `--max-connections-per-ip`'s and the
//! connection throttle's business. Each node keeps its own; with several, Redis keeps a copy
//! as well (`broker::redis::budgets`), which a connection to another node starts from.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use protocol::NickKey;
use tokio::time::Instant;

use super::{AddressBlock, Flood};
use crate::limits::MAX_KEPT_BUDGETS;
use crate::sync::lock;

/// Ends of connections between sweeps of the buckets that are full again.
const SWEEP_EVERY: u32 = 256;

/// Whose budget a connection spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A logged-in account's, wherever it connects from.
    Account(NickKey),
    /// A guest's: its address block's.
    Block(AddressBlock),
}

#[derive(Default)]
pub struct Kept {
    // std Mutex: held for one map update, never across an await.
    buckets: Mutex<HashMap<Holder, Flood>>,
    ends: AtomicU32,
}

impl fmt::Debug for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kept").field("holders", &self.len()).finish()
    }
}

impl Kept {
    /// Brings what is kept for `holder` into a connection's buckets: from now on they are at
    /// least as empty as the last connection of `holder` left them.
    pub fn resume(&self, holder: &Holder, flood: &mut Flood) {
        if let Some(kept) = lock(&self.buckets).get(holder) {
            flood.merge(kept);
        }
    }

    /// Keeps a connection's buckets for `holder`, unless they are full (then there is
    /// nothing to remember). Past [`MAX_KEPT_BUDGETS`] holders, new ones are not kept until a
    /// sweep makes room: memory stays bounded, at the price of a fresh start for them.
    pub fn keep(&self, holder: Holder, flood: &Flood) {
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        // Every so many ends, not at each one: a full table is not walked per session.
        if self.ends.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            buckets.retain(|_, kept| !kept.is_full_at(now));
        }
        if flood.is_full_at(now) {
            return;
        }
        let room = buckets.len() < MAX_KEPT_BUDGETS;
        match buckets.get_mut(&holder) {
            Some(kept) => kept.merge(flood),
            None if room => {
                buckets.insert(holder, flood.clone());
            }
            None => tracing::debug!("budget table full: a holder's use is not kept"),
        }
    }

    /// Holders with buckets kept.
    pub fn len(&self) -> usize {
        lock(&self.buckets).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::flood::{Cost, FloodLimits, Rate};

    fn limits() -> FloodLimits {
        let rate = Rate { burst: 2, every: Duration::from_secs(1) };
        FloodLimits { messages: rate, joins: rate, requests: rate, presence: rate, refusals: rate }
    }

    fn block(ip: &str) -> Holder {
        Holder::Block(AddressBlock::of(ip.parse().unwrap()))
    }

    /// A new connection of the same holder starts as empty as the last one ended; another
    /// holder starts full; full buckets are not kept at all.
    #[tokio::test(start_paused = true)]
    async fn a_reconnect_starts_where_the_last_connection_stopped() {
        let kept = Kept::default();
        let mut first = Flood::new(limits());
        first.check(Cost::Message).unwrap();
        first.check(Cost::Message).unwrap();
        kept.keep(block("192.0.2.1"), &first);
        kept.keep(block("192.0.2.2"), &Flood::new(limits()));
        assert_eq!(kept.len(), 1, "a full budget is not kept");

        let mut again = Flood::new(limits());
        kept.resume(&block("192.0.2.1"), &mut again);
        assert!(again.check(Cost::Message).is_err(), "the burst was spent before");
        assert!(again.check(Cost::Join).is_ok(), "other buckets as they were");
        let mut neighbour = Flood::new(limits());
        kept.resume(&block("192.0.2.3"), &mut neighbour);
        assert!(neighbour.check(Cost::Message).is_ok());
        let account = Holder::Account(protocol::Nick::parse("Tracy").unwrap().key());
        let mut tracy = Flood::new(limits());
        kept.resume(&account, &mut tracy);
        assert!(tracy.check(Cost::Message).is_ok(), "an account has its own budget");

        // Refilled, a budget is forgotten at the next sweep.
        tokio::time::advance(Duration::from_secs(3)).await;
        for _ in 0..SWEEP_EVERY {
            kept.keep(block("192.0.2.4"), &Flood::new(limits()));
        }
        assert!(kept.is_empty());
    }
}
