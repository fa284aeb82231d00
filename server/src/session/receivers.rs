//! The session's live rooms: their broadcast receivers, read directly.
//!
//! Events are taken with `try_recv` while any are waiting, which costs a slot lock and a
//! reference-count increment each and allocates nothing per event; only when every room is
//! empty does the session wait, on all of its rooms at once (boxing one wait per room when it
//! is in several). (`tokio-stream`'s `StreamMap` of
//! `BroadcastStream`s, used before, rebuilt a boxed future and cloned the room's name for every
//! event, and shuffled its polling order with a random number each time: 15% of the server's
//! time under a busy room.)

use futures::future::select_all;
use protocol::RoomName;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::event::SharedEvent;
use crate::hub::RoomChannel;

/// What a room's receiver gave.
pub(super) enum Received {
    Event(SharedEvent),
    /// The receiver fell this many events behind; it goes on from the oldest one it still has.
    Lagged(u64),
}

/// The receivers of the rooms whose live events the session takes now (not those being joined
/// or filled in from history).
#[derive(Default)]
pub(super) struct Receivers {
    rooms: Vec<Room>,
    /// Where the next look for a waiting event starts, so one busy room does not keep the
    /// others' events waiting.
    next: usize,
}

struct Room {
    name: RoomName,
    rx: Receiver<SharedEvent>,
    /// To wake the room's waiting senders once this member has read.
    channel: RoomChannel,
    /// Events were taken since the last [`Receivers::done_reading`].
    took: bool,
}

impl Receivers {
    pub(super) fn insert(
        &mut self,
        name: RoomName,
        rx: Receiver<SharedEvent>,
        channel: RoomChannel,
    ) {
        let room = Room { name, rx, channel, took: false };
        match self.rooms.iter_mut().find(|r| r.name == room.name) {
            Some(entry) => *entry = room,
            None => {
                // Exactly as long as needed (a `Vec` grows to four at its first push).
                self.rooms.reserve_exact(1);
                self.rooms.push(room);
            }
        }
    }

    /// Takes the room's receiver out (to be held back, or dropped).
    pub(super) fn remove(&mut self, room: &RoomName) -> Option<Receiver<SharedEvent>> {
        let index = self.rooms.iter().position(|r| r.name == *room)?;
        Some(self.rooms.swap_remove(index).rx)
    }

    pub(super) fn contains(&self, room: &RoomName) -> bool {
        self.rooms.iter().any(|r| r.name == *room)
    }

    pub(super) fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Lets go of every receiver.
    pub(super) fn clear(&mut self) {
        self.rooms.clear();
    }

    /// The name of the room at `index` (as returned with an event).
    pub(super) fn room(&self, index: usize) -> Option<&RoomName> {
        self.rooms.get(index).map(|r| &r.name)
    }

    /// After a batch of events is taken: rooms whose senders wait for their members to catch
    /// up learn that this one has read.
    pub(super) fn done_reading(&mut self) {
        for room in &mut self.rooms {
            if std::mem::take(&mut room.took) {
                room.channel.wake_senders();
            }
        }
    }

    /// An event that is already waiting, with the index of its room; the rooms are taken in
    /// turn.
    pub(super) fn try_next(&mut self) -> Option<(usize, Received)> {
        let count = self.rooms.len();
        let mut index = 0;
        while index < count {
            let at = (self.next + index) % count;
            let room = &mut self.rooms[at];
            match room.rx.try_recv() {
                Ok(event) => {
                    room.took = true;
                    self.next = (at + 1) % count;
                    return Some((at, Received::Event(event)));
                }
                Err(TryRecvError::Lagged(missed)) => {
                    room.took = true;
                    self.next = (at + 1) % count;
                    return Some((at, Received::Lagged(missed)));
                }
                Err(TryRecvError::Empty) => index += 1,
                // Cannot happen while the entry's own `channel` keeps a sender alive; handled
                // rather than assumed: nothing more will come from this room.
                Err(TryRecvError::Closed) => {
                    self.rooms.swap_remove(at);
                    return self.try_next();
                }
            }
        }
        None
    }

    /// Waits for the next event of any room; never finishes while there are no rooms.
    /// Cancel-safe: dropping it loses no event.
    pub(super) async fn next(&mut self) -> (usize, Received) {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            let waited = match self.rooms.as_mut_slice() {
                [] => std::future::pending().await,
                [room] => (0, room.rx.recv().await),
                rooms => {
                    let waits = rooms.iter_mut().enumerate().map(|(index, room)| {
                        Box::pin(async move { (index, room.rx.recv().await) })
                    });
                    select_all(waits).await.0
                }
            };
            match waited {
                (index, Ok(event)) => {
                    self.rooms[index].took = true;
                    return (index, Received::Event(event));
                }
                (index, Err(RecvError::Lagged(missed))) => {
                    self.rooms[index].took = true;
                    return (index, Received::Lagged(missed));
                }
                (index, Err(RecvError::Closed)) => {
                    self.rooms.swap_remove(index);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use protocol::ServerMsg;

    use super::*;
    use crate::event::Event;
    use crate::limits::{ROOM_BACKLOG_LOW, ROOM_CHANNEL_CAPACITY};

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    fn event(token: u64) -> SharedEvent {
        Event::new(ServerMsg::Pong { token })
    }

    fn token(received: Received) -> u64 {
        match received {
            Received::Event(event) => match event.msg {
                ServerMsg::Pong { token } => token,
                _ => panic!("not a pong"),
            },
            Received::Lagged(missed) => panic!("lagged by {missed}"),
        }
    }

    fn listen(receivers: &mut Receivers, name: &str, channel: &RoomChannel) {
        receivers.insert(room(name), channel.subscribe(), channel.clone());
    }

    #[test]
    fn waiting_events_are_taken_from_the_rooms_in_turn() {
        let (a, b) = (RoomChannel::new(), RoomChannel::new());
        let mut receivers = Receivers::default();
        listen(&mut receivers, "a", &a);
        listen(&mut receivers, "b", &b);
        for n in 0..3 {
            a.send(event(n));
            b.send(event(10 + n));
        }
        let mut taken = Vec::new();
        while let Some((index, received)) = receivers.try_next() {
            taken.push((receivers.room(index).unwrap().as_str().to_owned(), token(received)));
        }
        let taken: Vec<(&str, u64)> = taken.iter().map(|(r, t)| (r.as_str(), *t)).collect();
        assert_eq!(taken, [("a", 0), ("b", 10), ("a", 1), ("b", 11), ("a", 2), ("b", 12)]);
    }

    #[test]
    fn a_receiver_that_fell_behind_says_by_how_much_then_goes_on() {
        let channel = RoomChannel::new();
        let mut receivers = Receivers::default();
        listen(&mut receivers, "a", &channel);
        let sent = ROOM_CHANNEL_CAPACITY as u64 + 3;
        for n in 0..sent {
            channel.send(event(n));
        }
        assert!(matches!(receivers.try_next(), Some((0, Received::Lagged(3)))));
        for n in 3..sent {
            assert_eq!(token(receivers.try_next().unwrap().1), n);
        }
        assert!(receivers.try_next().is_none());
    }

    #[tokio::test]
    async fn waiting_wakes_for_whichever_room_speaks() {
        let (a, b) = (RoomChannel::new(), RoomChannel::new());
        let mut receivers = Receivers::default();
        listen(&mut receivers, "a", &a);
        listen(&mut receivers, "b", &b);
        let speaker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            b.send(event(7));
        });
        let (index, received) =
            tokio::time::timeout(Duration::from_secs(5), receivers.next()).await.unwrap();
        assert_eq!(receivers.room(index).unwrap().as_str(), "b");
        assert_eq!(token(received), 7);
        speaker.await.unwrap();
        // Removed rooms are not waited on.
        assert!(receivers.remove(&room("b")).is_some());
        assert!(receivers.remove(&room("a")).is_some());
        assert_eq!(receivers.len(), 0);
        assert!(!receivers.contains(&room("a")));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), receivers.next()).await.is_err(),
            "no rooms: waits for ever"
        );
    }

    /// A sender waiting for the room is woken by the member's reading, not by polling.
    #[tokio::test]
    async fn a_waiting_sender_goes_on_once_the_members_have_read() {
        let channel = RoomChannel::new();
        let mut receivers = Receivers::default();
        listen(&mut receivers, "a", &channel);
        let behind = ROOM_BACKLOG_LOW as u64 + 10;
        for n in 0..behind {
            channel.send(event(n));
        }
        let waiter = channel.clone();
        let mut sender = tokio::spawn(async move { waiter.caught_up().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished(), "the member is {behind} events behind");
        // Reading without saying so wakes nobody...
        for _ in 0..20 {
            receivers.try_next().unwrap();
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut sender).await.is_err(),
            "woken before the member said it read"
        );
        // ...the end of the batch does.
        receivers.done_reading();
        tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_waiting_sender_goes_on_when_the_slow_member_lets_go() {
        let channel = RoomChannel::new();
        let rx = channel.subscribe();
        for n in 0..ROOM_BACKLOG_LOW as u64 + 10 {
            channel.send(event(n));
        }
        let waiter = channel.clone();
        let sender = tokio::spawn(async move { waiter.caught_up().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished());
        drop(rx);
        channel.let_go();
        tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
    }
}
