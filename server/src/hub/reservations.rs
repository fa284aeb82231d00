//! Nicks kept for a while for the resume token of a session that dropped (single node; with
//! several, the broker keeps them where every node sees them), so nobody else takes the nick
//! during a reconnect.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use protocol::{ErrorCode, Nick, NickKey, RequestError};
use uuid::Uuid;

use super::ResumeHash;

use crate::limits::MAX_RESERVATIONS;

struct Reservation {
    nick: Nick,
    resume: ResumeHash,
    until: Instant,
}

#[derive(Default)]
pub(super) struct Reservations {
    kept: HashMap<NickKey, Reservation>,
    /// `kept` in the order its entries expire (a constant reservation time: the order they
    /// were made), to drop the expired ones without a scan.
    expiries: VecDeque<(Instant, NickKey)>,
}

impl Reservations {
    pub(super) fn drop_expired(&mut self, now: Instant) {
        while let Some((until, _)) = self.expiries.front()
            && *until <= now
        {
            let Some((until, key)) = self.expiries.pop_front() else { break };
            self.remove_if_until(&key, until);
        }
    }

    /// Removes the reservation of `key` if it is the one that ends at `until` (the nick may
    /// have been reserved again since, until later).
    fn remove_if_until(&mut self, key: &NickKey, until: Instant) {
        if self.kept.get(key).is_some_and(|r| r.until == until) {
            self.kept.remove(key);
        }
    }

    /// Refuses `nick` if it is kept for a token other than `claim`.
    pub(super) fn check(
        &self,
        nick: &Nick,
        claim: Option<Uuid>,
        now: Instant,
    ) -> Result<(), RequestError> {
        match self.kept.get(&nick.key()) {
            Some(kept) if !kept.resume.matches(claim) => Err(RequestError::new(
                ErrorCode::NickInUse,
                format!(
                    "the nick {} is kept for {} s for the one who held it, who lost the connection",
                    kept.nick,
                    kept.until.saturating_duration_since(now).as_secs().max(1)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the nick of `key` is kept for the token `claim`.
    pub(super) fn kept_for(&self, key: &NickKey, claim: Option<Uuid>) -> bool {
        self.kept.get(key).is_some_and(|kept| kept.resume.matches(claim))
    }

    pub(super) fn contains(&self, key: &NickKey) -> bool {
        self.kept.contains_key(key)
    }

    pub(super) fn remove(&mut self, key: &NickKey) {
        self.kept.remove(key);
    }

    /// Keeps `nick` for `resume` until `until`; past [`MAX_RESERVATIONS`] the oldest goes.
    pub(super) fn keep(&mut self, nick: Nick, resume: ResumeHash, until: Instant, now: Instant) {
        self.drop_expired(now);
        while self.kept.len() >= MAX_RESERVATIONS {
            let Some((until, oldest)) = self.expiries.pop_front() else { break };
            self.remove_if_until(&oldest, until);
        }
        let key = nick.key();
        self.expiries.push_back((until, key.clone()));
        self.kept.insert(key, Reservation { nick, resume, until });
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.kept.len()
    }
}
