//! The acts this node's hub applied lately, by id. With several nodes an act is applied when
//! the node's subscriber hears it back from Redis, which may be after its asker was answered;
//! the broker waits here, so that an act is in force on its asker's node once answered (a
//! room's maker sets its modes right behind its join, a topic set is read back).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;
use uuid::Uuid;

use crate::limits::ACTS_REMEMBERED;
use crate::sync::lock;

#[derive(Default)]
pub(super) struct Applied {
    recent: Mutex<VecDeque<Uuid>>,
    /// Wakes the waiters at each act applied.
    applied: Notify,
}

impl Applied {
    pub(super) fn record(&self, id: Uuid) {
        let mut recent = lock(&self.recent);
        if recent.len() >= ACTS_REMEMBERED {
            recent.pop_front();
        }
        recent.push_back(id);
        drop(recent);
        self.applied.notify_waiters();
    }

    /// Completes once the act `id` has been applied here (at once if it was lately).
    pub(super) async fn wait_for(&self, id: Uuid) {
        loop {
            let notified = self.applied.notified();
            tokio::pin!(notified);
            // Registered before the look, so an act applied in between still wakes it.
            notified.as_mut().enable();
            if lock(&self.recent).contains(&id) {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_wait_ends_when_its_act_is_applied_and_not_before() {
        let applied = std::sync::Arc::new(Applied::default());
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        let waiting = applied.clone();
        let mut wait = tokio::spawn(async move { waiting.wait_for(mine).await });
        applied.record(other);
        assert!(tokio::time::timeout(Duration::from_millis(100), &mut wait).await.is_err());
        applied.record(mine);
        tokio::time::timeout(Duration::from_secs(5), wait).await.unwrap().unwrap();
        // Applied before anyone waited: at once.
        tokio::time::timeout(Duration::from_secs(5), applied.wait_for(other)).await.unwrap();
    }
}
