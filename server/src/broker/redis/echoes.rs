//! The messages this node sent to Redis that its subscription has not brought back to the
//! node's members yet: each keeps its [`Ticket`] until then.
//!
//! A message's echo reaches this node's members through the subscription, after Redis has
//! confirmed the publish to the publisher. Kept until the echo is in the room's channel, the
//! ticket counts the message in its room's backlog the whole way, so the throttle never hands
//! out a share of the room that the echoes still on their way already took; and in its
//! sender's messages in flight, so a session ending after its last message waits for that
//! message's echo, as on one node.
//!
//! A room's messages come back in the order the node sent them (one ordered queue, one
//! subscription), so hearing one lets go of those sent before it too: a message whose echo
//! is lost costs nothing past the next one heard. A lost subscription lets go of them all,
//! and one awaited past [`ECHO_GIVEN_UP_AFTER`] is let go of by the liveness task's sweep.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use protocol::RoomName;
use tokio::time::Instant;
use tracing::warn;
use uuid::Uuid;

use crate::broker::Ticket;
use crate::limits::ECHO_GIVEN_UP_AFTER;
use crate::sync::lock;

/// The tickets of the messages awaiting their echo.
#[derive(Default)]
pub(super) struct Echoes {
    awaited: Mutex<Awaited>,
    /// How many tickets `awaited` holds: looked at without the lock, for every message heard.
    count: AtomicUsize,
}

#[derive(Default)]
struct Awaited {
    /// Per room, in the order sent, each with when it was.
    rooms: HashMap<RoomName, VecDeque<(Uuid, Ticket, Instant)>>,
    /// Their ids: another node's message is passed over without a look through its room's.
    ids: HashSet<Uuid>,
}

impl Echoes {
    /// Queues message `id` of `room` with `send` and keeps its `ticket` until the message is
    /// heard ([`Echoes::heard`]) or refused ([`Echoes::refused`]); if `send` fails, keeps
    /// nothing and says so. Sent under the lock, so the node's messages of a room are queued in
    /// the order their tickets are kept in, which is the order their echoes come back in.
    pub(super) fn expect(
        &self,
        room: &RoomName,
        id: Uuid,
        ticket: Ticket,
        send: impl FnOnce() -> bool,
    ) -> bool {
        let mut awaited = lock(&self.awaited);
        if !send() {
            return false;
        }
        awaited.rooms.entry(room.clone()).or_default().push_back((id, ticket, Instant::now()));
        awaited.ids.insert(id);
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// How many messages await their echo (those still queued for Redis among them).
    pub(super) fn awaited(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Message `id` of `room` is in the room's channel here (or nobody here is in the room):
    /// lets go of its ticket and of those of the room's messages sent before it, then of the
    /// room's held senders if it has caught up. Called for every message heard, of any node.
    pub(super) fn heard(&self, room: &RoomName, id: Uuid) {
        if self.awaited() != 0 {
            self.let_go(self.take(room, id, true));
        }
    }

    /// Message `id` of `room` was not stored (or not sent): no echo comes for it.
    pub(super) fn refused(&self, room: &RoomName, id: Uuid) {
        self.let_go(self.take(room, id, false));
    }

    /// Takes the ticket of message `id` of `room` out, with those of the room's messages sent
    /// before it if `and_before`; nothing if it is not awaited (another node's message).
    fn take(&self, room: &RoomName, id: Uuid, and_before: bool) -> Vec<Ticket> {
        let mut awaited = lock(&self.awaited);
        if !awaited.ids.contains(&id) {
            return Vec::new();
        }
        let Awaited { rooms, ids } = &mut *awaited;
        let Some(queue) = rooms.get_mut(room) else { return Vec::new() };
        // The front when heard, unless a refusal has not reached the publisher yet.
        let Some(at) = queue.iter().position(|(awaited, ..)| *awaited == id) else {
            return Vec::new();
        };
        let from = if and_before { 0 } else { at };
        let taken: Vec<Ticket> = queue
            .drain(from..=at)
            .map(|(id, ticket, _)| {
                ids.remove(&id);
                ticket
            })
            .collect();
        if queue.is_empty() {
            rooms.remove(room);
        }
        taken
    }

    /// Lets go of every ticket: the subscription ended (what it was to bring back is filled in
    /// from the rooms' streams once it is back, or not at all), or the publisher did (what was
    /// still queued is never sent). A message still queued is refused later, when the
    /// publisher reaches it; a session ending meanwhile does not wait for that refusal.
    pub(super) fn lost(&self) {
        let rooms = {
            let mut awaited = lock(&self.awaited);
            awaited.ids.clear();
            std::mem::take(&mut awaited.rooms)
        };
        for (_, queue) in rooms {
            self.let_go(queue.into_iter().map(|(_, ticket, _)| ticket).collect());
        }
    }

    /// Lets go of the tickets awaited for longer than [`ECHO_GIVEN_UP_AFTER`] at `now`: an
    /// echo that never came (its payload could not be read, and nothing later of its room
    /// was heard). Each room's oldest are at its front.
    pub(super) fn sweep(&self, now: Instant) {
        if self.awaited() == 0 {
            return;
        }
        let stranded: Vec<Vec<Ticket>> = {
            let mut awaited = lock(&self.awaited);
            let Awaited { rooms, ids } = &mut *awaited;
            let mut stranded = Vec::new();
            rooms.retain(|_, queue| {
                let old = queue
                    .iter()
                    .take_while(|(.., at)| now.duration_since(*at) >= ECHO_GIVEN_UP_AFTER)
                    .count();
                if old > 0 {
                    let tickets = queue.drain(..old).map(|(id, ticket, _)| {
                        ids.remove(&id);
                        ticket
                    });
                    stranded.push(tickets.collect());
                }
                !queue.is_empty()
            });
            stranded
        };
        let count: usize = stranded.iter().map(Vec::len).sum();
        if count > 0 {
            warn!(count, "messages whose echo never came back from Redis; no longer awaited");
        }
        for tickets in stranded {
            self.let_go(tickets);
        }
    }

    /// Drops `tickets` (all of one room), outside the lock, then wakes the room's held senders
    /// if it has caught up: the echoes no longer count in its backlog.
    fn let_go(&self, tickets: Vec<Ticket>) {
        let Some(room) = tickets.first().map(|ticket| ticket.room().clone()) else { return };
        self.count.fetch_sub(tickets.len(), Ordering::AcqRel);
        drop(tickets);
        room.wake_senders();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::broker::InFlight;
    use crate::hub::RoomChannel;

    fn ticket(room: &RoomChannel, in_flight: &Arc<InFlight>) -> Ticket {
        Ticket::for_room(room, in_flight)
    }

    /// Three messages of one room awaited, one of another: the backlog counts each until it
    /// or a later one of its room is heard; a refused one goes alone.
    #[test]
    fn a_message_counts_until_it_or_a_later_one_is_heard() {
        let echoes = Echoes::default();
        let (lobby, rust) = (RoomChannel::new(), RoomChannel::new());
        let in_flight = Arc::new(InFlight::default());
        let (l, r): (RoomName, RoomName) = ("lobby".parse().unwrap(), "rust".parse().unwrap());
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        for id in &ids[..3] {
            assert!(echoes.expect(&l, *id, ticket(&lobby, &in_flight), || true));
        }
        assert!(echoes.expect(&r, ids[3], ticket(&rust, &in_flight), || true));
        let unsent = Uuid::now_v7();
        assert!(!echoes.expect(&r, unsent, ticket(&rust, &in_flight), || false));
        assert_eq!((lobby.backlog(), rust.backlog(), echoes.awaited()), (3, 1, 4));

        // Another node's message, and one of another room's id: nothing goes.
        echoes.heard(&l, Uuid::now_v7());
        echoes.heard(&l, ids[3]);
        assert_eq!((lobby.backlog(), rust.backlog()), (3, 1));

        echoes.refused(&l, ids[1]);
        assert_eq!(lobby.backlog(), 2, "a refused message no longer counts");
        echoes.heard(&l, ids[2]);
        assert_eq!(lobby.backlog(), 0, "hearing the last lets go of the one before it");
        assert_eq!((rust.backlog(), echoes.awaited()), (1, 1));

        echoes.lost();
        assert_eq!((rust.backlog(), echoes.awaited()), (0, 0));
        assert_eq!(Arc::strong_count(&in_flight), 1, "every ticket dropped");
    }

    /// A message awaited past [`ECHO_GIVEN_UP_AFTER`] is let go of by the sweep, and those
    /// sent after it are kept; until then the sweep keeps it.
    #[tokio::test(start_paused = true)]
    async fn an_echo_that_never_comes_is_given_up() {
        let echoes = Echoes::default();
        let lobby = RoomChannel::new();
        let in_flight = Arc::new(InFlight::default());
        let l: RoomName = "lobby".parse().unwrap();
        assert!(echoes.expect(&l, Uuid::now_v7(), ticket(&lobby, &in_flight), || true));
        tokio::time::advance(ECHO_GIVEN_UP_AFTER / 2).await;
        let later = Uuid::now_v7();
        assert!(echoes.expect(&l, later, ticket(&lobby, &in_flight), || true));
        echoes.sweep(Instant::now());
        assert_eq!((lobby.backlog(), echoes.awaited()), (2, 2), "not given up early");
        tokio::time::advance(ECHO_GIVEN_UP_AFTER / 2).await;
        echoes.sweep(Instant::now());
        assert_eq!((lobby.backlog(), echoes.awaited()), (1, 1), "the first given up");
        echoes.heard(&l, later);
        assert_eq!((lobby.backlog(), echoes.awaited()), (0, 0));
        assert_eq!(Arc::strong_count(&in_flight), 1, "every ticket dropped");
    }
}
