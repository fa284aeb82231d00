//! A room's back-pressure: how far its slowest member is behind (the events it has not read,
//! and the messages on their way through the broker), the senders it holds back meanwhile,
//! and how it lets them go, together and each with a fair share of the room.

use std::sync::atomic::Ordering;

use super::RoomChannel;
use crate::limits::{ROOM_BACKLOG_HIGH, ROOM_BACKLOG_LOW};

impl RoomChannel {
    /// A message for this room was handed to the broker.
    pub fn queue(&self) {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// A queued message was broadcast or refused. Whoever dequeues a batch wakes the waiting
    /// senders once after it ([`RoomChannel::wake_senders`]): a refused message lowers the
    /// backlog with no member reading.
    pub fn dequeue(&self) {
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// How far behind the room's slowest member is: the events it has not read yet, and the
    /// messages that will reach it once stored.
    pub fn backlog(&self) -> usize {
        let unread = self.shared.tx.get().map_or(0, tokio::sync::broadcast::Sender::len);
        unread + self.shared.queued.load(Ordering::Relaxed)
    }

    /// Holds back a sender that just handed the room a message: at the high mark
    /// ([`ROOM_BACKLOG_HIGH`]), and while other senders are held, once its `share` of the
    /// round is spent (a sender the round's release did not let go has one message of it).
    /// The sender waits for [`HeldBack::caught_up`] before reading on. The room releases its
    /// held senders together once the backlog is below [`ROOM_BACKLOG_LOW`], and gives each
    /// an equal share of the room up to the high mark.
    ///
    /// So senders that outrun the room share it fairly. Held only at the high mark, a sender
    /// released at the low one would wait out its deadline while those not held yet kept the
    /// backlog between the marks. And the runtime runs the released senders one after
    /// another: without shares, the first to run would take the room up to the high mark,
    /// and the last say one message a release.
    pub fn hold_back(&self, share: &mut Share) -> Option<HeldBack> {
        let backlog = self.backlog();
        let held = backlog >= ROOM_BACKLOG_HIGH
            || (self.shared.waiting.load(Ordering::SeqCst) > 0
                && !share.spend(self.shared.releases.load(Ordering::Acquire)));
        held.then(|| {
            self.shared.waiting.fetch_add(1, Ordering::SeqCst);
            let held_at = self.shared.releases.load(Ordering::Acquire);
            // After `held_at`: a release that did not count this sender is one it saw.
            self.shared.held_since.fetch_add(1, Ordering::SeqCst);
            HeldBack { room: self.clone(), held_at }
        })
    }

    /// Lets the held senders go if the room has caught up, and says whether it did: called by
    /// a member after a batch of the room's events and by the broker after a batch of its
    /// messages. One fence and one atomic load when nobody is held.
    pub fn wake_senders(&self) -> bool {
        // Orders this member's reads before the look at `waiting`, against the held sender's
        // count in it before its look at the backlog (`HeldBack::caught_up`): one of the two
        // sees the other.
        std::sync::atomic::fence(Ordering::SeqCst);
        // Once a round: the members reading after a release, while those it let go have not
        // run yet, would otherwise each release again and void the shares just given. Both
        // counts are looked at before the backlog, which locks the room's channel, and
        // `held_since` before it is taken, which every member would otherwise contend.
        let held_since = &self.shared.held_since;
        if self.shared.waiting.load(Ordering::SeqCst) == 0 || held_since.load(Ordering::SeqCst) == 0
        {
            return false;
        }
        let backlog = self.backlog();
        if backlog >= ROOM_BACKLOG_LOW || held_since.swap(0, Ordering::SeqCst) == 0 {
            return false;
        }
        self.shared.share.store(self.share_at(backlog), Ordering::Relaxed);
        self.shared.releases.fetch_add(1, Ordering::Release);
        self.shared.drained.notify_waiters();
        true
    }

    /// Each held sender's share of the room up to the high mark, its backlog being `backlog`.
    fn share_at(&self, backlog: usize) -> u16 {
        let held = self.shared.waiting.load(Ordering::SeqCst).max(1);
        let share = (ROOM_BACKLOG_HIGH.saturating_sub(backlog) / held).max(1);
        u16::try_from(share).unwrap_or(u16::MAX)
    }

    /// A member let go of the room (left, stopped reading, ended), its receiver gone: the
    /// backlog may have been its alone, so the room releases its held senders if it has caught
    /// up, as after a member's read. A sender held too late for this look is released by the
    /// next reader's, or by itself if nothing is left ([`HeldBack::caught_up`]).
    pub fn let_go(&self) {
        self.wake_senders();
    }
}

/// The messages a sender may say in a round (from one release of the room to the next) before
/// it is held back while others are ([`RoomChannel::hold_back`]): the share of the room its
/// release gave it, or, for a sender the round's release did not let go (one that speaks at a
/// human pace, say), one message. A share of an older round is void.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Share {
    left: u16,
    /// The round it is of ([`Share::round`]); 0 for none.
    round: u32,
}

impl Share {
    fn new(left: u16, release: u64) -> Self {
        Self { left, round: Self::round(release) }
    }

    /// The round that `release` ([`RoomState::releases`]) begins, as a share keeps it: its low
    /// bits (a share is only ever compared with the latest), never 0.
    fn round(release: u64) -> u32 {
        (release as u32).wrapping_add(1).max(1)
    }

    /// Spends one message of it, the room's latest release being `release`; whether one was
    /// left.
    fn spend(&mut self, release: u64) -> bool {
        let round = Self::round(release);
        if self.round != round {
            *self = Self { left: 0, round };
            return true;
        }
        let left = self.left > 0;
        self.left = self.left.saturating_sub(1);
        left
    }
}

/// A sender the room holds back ([`RoomChannel::hold_back`]), counted among the room's held
/// senders for as long as it lasts: while it waits, and while its session is busy between
/// waits, so that the others are held back too.
pub struct HeldBack {
    room: RoomChannel,
    /// [`RoomState::releases`] when it was held.
    held_at: u64,
}

impl HeldBack {
    /// Completes once the room has let its held senders go ([`RoomChannel::wake_senders`],
    /// at a backlog below [`ROOM_BACKLOG_LOW`]), with the sender's share of the room: the
    /// messages it may say before it is held back again while others are
    /// ([`RoomChannel::hold_back`]). Members release it as they read; it polls nothing.
    ///
    /// A session drops this future whenever another of its wake-ups wins (a room's event, say)
    /// and makes it anew at its next wait: a release while it was not registered still lets
    /// the sender go, with the share it gave, though those released with it may have filled
    /// the backlog again since.
    pub async fn caught_up(&self) -> Share {
        let shared = &self.room.shared;
        loop {
            let notified = shared.drained.notified();
            tokio::pin!(notified);
            // Registered before the look, so a release in between still wakes it.
            notified.as_mut().enable();
            let release = shared.releases.load(Ordering::Acquire);
            if release != self.held_at {
                return Share::new(shared.share.load(Ordering::Relaxed), release);
            }
            // Whatever is left, a member or the broker releases the room's senders once it is
            // through: a sender held just after the last of them looked at `waiting`, with
            // nothing left, releases them itself. Releasing sooner would give a sender that
            // runs first a share per look, ahead of those released with it.
            std::sync::atomic::fence(Ordering::SeqCst);
            // A release another thread is making wakes it all the same.
            if self.room.backlog() == 0 && self.room.wake_senders() {
                continue;
            }
            notified.await;
        }
    }
}

impl Drop for HeldBack {
    fn drop(&mut self) {
        self.room.shared.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::FutureExt as _;
    use protocol::ServerMsg;

    use super::*;
    use crate::event::Event;

    /// `n` messages for the room handed to the broker.
    fn queue(room: &RoomChannel, n: usize) {
        (0..n).for_each(|_| room.queue());
    }

    /// `n` of the room's messages broadcast.
    fn dequeue(room: &RoomChannel, n: usize) {
        (0..n).for_each(|_| room.dequeue());
    }

    /// A sender that waits for the room goes on before those still sending have outrun it:
    /// each says at most its one message of the round and the one that found it held. Here the broker
    /// takes a batch of messages a round and the other senders together say as many, so a
    /// wait that ended only at the low mark, with the others held back only at the high one,
    /// would never end.
    #[tokio::test]
    async fn a_waiting_sender_is_not_kept_waiting_by_those_still_sending() {
        const OTHERS: usize = 8;
        const BATCH: usize = 64;
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH);
        let held = room.hold_back(&mut Share::default()).expect("held back at the high mark");
        let mut first = tokio::spawn(async move { held.caught_up().await });
        tokio::task::yield_now().await;
        // The others: whether each is held back, and its share.
        let mut others: Vec<(Option<HeldBack>, Share)> =
            (0..OTHERS).map(|_| (None, Share::default())).collect();
        let mut said_meanwhile = 0;
        for _round in 0..100 {
            dequeue(&room, BATCH);
            room.wake_senders();
            tokio::task::yield_now().await;
            if tokio::time::timeout(Duration::ZERO, &mut first).await.is_ok() {
                assert!(said_meanwhile <= 2 * OTHERS, "the others said {said_meanwhile}");
                return;
            }
            for (held, share) in &mut others {
                // A session looks at its wait between its other wake-ups.
                if let Some(given) = held.as_ref().and_then(|h| h.caught_up().now_or_never()) {
                    (*held, *share) = (None, given);
                }
                for _ in 0..BATCH / OTHERS {
                    if held.is_some() {
                        break;
                    }
                    room.queue();
                    said_meanwhile += 1;
                    *held = room.hold_back(share);
                }
            }
        }
        panic!("still waiting; the others said {said_meanwhile} meanwhile");
    }

    /// A sender counts as held back from the moment it is until it lets go, not only while it
    /// waits (a session busy writing between waits still counts); and while any sender is
    /// held, the others are held too once their share is spent, whatever the backlog.
    #[test]
    fn while_a_sender_is_held_the_others_are_held_once_their_share_is_spent() {
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH - 1);
        assert!(room.hold_back(&mut Share::default()).is_none(), "below the high mark");
        room.queue();
        let held = room.hold_back(&mut Share::default()).expect("held back at the high mark");
        dequeue(&room, ROOM_BACKLOG_HIGH - 1);
        let mut share = Share::new(2, 0);
        assert!(room.hold_back(&mut share).is_none(), "two messages of its share left");
        assert!(room.hold_back(&mut share).is_none(), "one message of its share left");
        let other = room.hold_back(&mut share).expect("held: another is, and its share is spent");
        drop((held, other));
        assert!(room.hold_back(&mut share).is_none(), "nobody held, below the high mark");
    }

    /// A release lets every held sender go, and the runtime runs them one after another: each
    /// says its share of the room up to the high mark, the first to run not all of it, the
    /// last not one message.
    #[tokio::test]
    async fn a_release_shares_the_room_between_the_senders_it_lets_go() {
        const SENDERS: usize = 8;
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH);
        let held: Vec<HeldBack> =
            (0..SENDERS).map(|_| room.hold_back(&mut Share::default()).unwrap()).collect();
        // Released well below the low mark, as when the members read a batch at once.
        const LEFT: usize = 100;
        dequeue(&room, ROOM_BACKLOG_HIGH - LEFT);
        room.wake_senders();
        let mut said = Vec::new();
        let mut again = Vec::new();
        for held in held {
            let mut share = held.caught_up().await;
            drop(held);
            let mut n = 0;
            let held_again = loop {
                room.queue();
                n += 1;
                if let Some(held) = room.hold_back(&mut share) {
                    break held;
                }
            };
            // Below the low mark still, but the others have not had their share yet.
            if again.is_empty() {
                assert!(held_again.caught_up().now_or_never().is_none(), "a second share");
            }
            said.push(n);
            again.push(held_again);
        }
        let fair = (ROOM_BACKLOG_HIGH - LEFT) / SENDERS;
        assert!(said.iter().all(|&n| n >= fair * 3 / 4 && n <= fair + 1), "said {said:?}");
    }

    /// The last member to read may look at the held senders just before a sender is counted
    /// among them: that sender, finding nothing left to read, releases the room itself.
    #[tokio::test]
    async fn a_sender_held_after_the_last_release_releases_the_room_itself() {
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH);
        let held = room.hold_back(&mut Share::default()).expect("held back at the high mark");
        dequeue(&room, ROOM_BACKLOG_HIGH);
        let share = tokio::time::timeout(Duration::from_secs(5), held.caught_up())
            .await
            .expect("still held with nothing left to read");
        assert_eq!(share, Share::new(u16::try_from(ROOM_BACKLOG_HIGH).unwrap(), 1));
    }

    /// A round has one release: members reading after it, while the senders it let go have not
    /// run yet, do not release again. A share left from an older round is void: a sender the
    /// latest release did not let go says one message of the round (as one speaking at a
    /// human pace does), then takes its turn after those it let go.
    #[tokio::test]
    async fn a_round_has_one_release_and_its_shares_last_until_the_next() {
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH);
        let first = room.hold_back(&mut Share::default()).unwrap();
        let second = room.hold_back(&mut Share::default()).unwrap();
        dequeue(&room, ROOM_BACKLOG_HIGH);
        room.wake_senders();
        let mut share = first.caught_up().await;
        drop(first);
        // A member reads while the second's session has not run yet: no second release.
        room.wake_senders();
        assert!(room.hold_back(&mut share).is_none(), "its share is good this round");
        let given = second.caught_up().await;
        assert_eq!((given.left, given.round), (share.left + 1, share.round));
        // The next round: the first, not held, has some of its share left, and it is void.
        drop(second);
        queue(&room, ROOM_BACKLOG_HIGH);
        let third = room.hold_back(&mut Share::default()).expect("held at the high mark");
        dequeue(&room, ROOM_BACKLOG_HIGH);
        room.wake_senders();
        let _ = third.caught_up().await;
        assert!(room.hold_back(&mut share).is_none(), "one message of the new round");
        assert!(room.hold_back(&mut share).is_some(), "none of the older round's share");
    }

    /// A sender's session waits for its room only between its other wake-ups: a release while
    /// it was busy lets it go all the same, though the senders released with it have filled
    /// the backlog again by the time it looks.
    #[tokio::test]
    async fn a_release_while_the_sender_was_busy_lets_it_go() {
        let room = RoomChannel::new();
        queue(&room, ROOM_BACKLOG_HIGH);
        let held = room.hold_back(&mut Share::default()).expect("held back at the high mark");
        dequeue(&room, ROOM_BACKLOG_HIGH - ROOM_BACKLOG_LOW + 1);
        room.wake_senders();
        queue(&room, ROOM_BACKLOG_HIGH - ROOM_BACKLOG_LOW);
        tokio::time::timeout(Duration::from_secs(5), held.caught_up())
            .await
            .expect("still held after the room let its senders go");
    }

    #[tokio::test]
    async fn a_waiting_sender_goes_on_when_the_slow_member_lets_go() {
        let channel = RoomChannel::new();
        let rx = channel.subscribe();
        for token in 0..ROOM_BACKLOG_HIGH as u64 {
            channel.send(Event::new(ServerMsg::Pong { token }));
        }
        let held = channel.hold_back(&mut Share::default()).expect("held back at the high mark");
        let sender = tokio::spawn(async move { held.caught_up().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished());
        drop(rx);
        channel.let_go();
        tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
    }
}
