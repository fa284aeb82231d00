//! The rooms a session is in, each one value with the phase it is in: being joined (its
//! backlog read), live, being filled in after falling behind, or let go while the client is
//! not reading. The live rooms' broadcast receivers are read here.
//!
//! Events are taken with `try_recv`, which costs a slot lock and a reference-count increment
//! each and allocates nothing per event, and only from a room whose count of events sent says
//! there may be one ([`Drained`]). When every live room is read to its end, the session waits
//! on its bell ([`crate::hub::Listener`]): every room it listens to rings it, so one
//! registration covers them all, however many. The rooms are taken in turn, so one busy room
//! does not keep the others' events waiting.

use std::task::{Context, Poll};

use protocol::{Nick, RoomName};
use tokio::sync::broadcast::error::TryRecvError;

use crate::broker::Page;
use crate::dialect::JoinedRooms;
use crate::event::SharedEvent;
use crate::hub::{
    AuthorityCell, Bell, DirectReceiver, Drained, Listener, Membership, RoomChannel, Share,
};

/// What a live room's receiver gave.
pub(super) enum Received {
    Event(SharedEvent),
    /// The receiver fell this many events behind; it goes on from the oldest one it still has.
    Lagged(u64),
}

/// A room the session is in.
pub(super) struct JoinedRoom {
    /// The hub's copy of the name, shared.
    pub(super) name: RoomName,
    /// To speak in the room, and to tell its waiting senders this member has read.
    pub(super) tx: RoomChannel,
    /// The room's authority as it changes: who may speak, its topic.
    pub(super) authority: AuthorityCell,
    /// The sequence number of the room's last message the client has been sent, once known:
    /// copies up to it are not sent again, and a member that falls behind is filled in from
    /// after it.
    pub(super) delivered: Option<u64>,
    pub(super) phase: Phase,
    /// Joined without an announcement (the session's presence budget was spent): the id of
    /// the join, which is announced to the room under it when the session first speaks here.
    pub(super) quiet: Option<uuid::Uuid>,
    /// The session's share of the room's current round of senders ([`Share`]).
    pub(super) share: Share,
}

pub(super) enum Phase {
    /// Its backlog is being read. Boxed: most rooms are past it, and an idle session should
    /// not carry its size.
    Joining(Box<Joining>),
    /// Its events are taken as they come. `took`: some were since the last
    /// [`Rooms::done_reading`]; `drained`: whether a look for more can find any.
    Live { rx: Listener, took: bool, drained: Drained },
    /// It fell behind: its receiver is held back while the messages after `delivered` are
    /// read from history, by the `chain`th such read of the session (answers to an older one
    /// are recognised and dropped).
    Refilling { rx: Listener, chain: u64 },
    /// The client stopped reading: no receiver, so the room's senders do not wait for it; it
    /// subscribes again once the client reads, and is filled in.
    LetGo,
}

impl Phase {
    /// Taking events as they come, from `rx`.
    pub(super) fn live(rx: Listener) -> Self {
        Self::Live { rx, took: false, drained: Drained::default() }
    }
}

/// A room being joined: its receiver waits here, and its backlog too once read, until the
/// rooms joined before it are shown.
pub(super) struct Joining {
    pub(super) rx: Listener,
    /// The join announcement: the first event of `rx` that is shown after the backlog.
    pub(super) announcement: SharedEvent,
    pub(super) members: Vec<Nick>,
    /// The members with a role, when it joined.
    pub(super) roles: std::collections::BTreeMap<Nick, protocol::Role>,
    /// The announcement was not sent to the room: the session shows it itself.
    pub(super) quiet: bool,
    /// `Some` once the read is done; `Some(None)` if there is no backlog to show (no history,
    /// or the read failed and the client was told).
    pub(super) backlog: Option<Option<Page>>,
}

impl JoinedRoom {
    /// A room just joined, its backlog not read yet; the room rings `bell` from now on.
    pub(super) fn joining(membership: Membership, bell: Bell) -> Self {
        let Membership { room, tx, rx, announcement, members, roles, authority, created: _, quiet } =
            membership;
        let rx = tx.listen(rx, bell);
        let quiet_id = match &announcement.msg {
            protocol::ServerMsg::Presence { id, .. } if quiet => Some(*id),
            _ => None,
        };
        let joining = Joining { rx, announcement, members, roles, backlog: None, quiet };
        let phase = Phase::Joining(Box::new(joining));
        let share = Share::default();
        Self { name: room, tx, authority, delivered: None, phase, quiet: quiet_id, share }
    }
}

/// The session's rooms, in the order they were joined.
#[derive(Default)]
pub(super) struct Rooms {
    list: Vec<JoinedRoom>,
    /// Where the next look for a waiting event starts.
    next: usize,
    /// Chains of refill reads started, numbering each.
    chains: u64,
    /// Rooms were let go and not subscribed to again yet.
    let_go: bool,
    /// Events [`Rooms::poll_next`] returned since it last found none or yielded.
    in_a_row: u8,
}

/// Events a session takes from its rooms in a row, without finding them empty, before it
/// yields the worker: tokio's coop budget, which its channels' `recv` spends.
const EVENTS_BEFORE_YIELD: u8 = 128;

impl Rooms {
    pub(super) fn add(&mut self, room: JoinedRoom) {
        // Exactly as long as needed (a `Vec` grows to four at its first push).
        self.list.reserve_exact(1);
        self.list.push(room);
    }

    /// Takes the room out; the others keep their order.
    pub(super) fn remove(&mut self, name: &RoomName) -> Option<JoinedRoom> {
        let index = self.list.iter().position(|r| r.name == *name)?;
        if self.next > index {
            self.next -= 1;
        }
        let room = self.list.remove(index);
        if self.list.is_empty() {
            self.list = Vec::new();
        }
        Some(room)
    }

    pub(super) fn get(&self, name: &RoomName) -> Option<&JoinedRoom> {
        self.list.iter().find(|r| r.name == *name)
    }

    pub(super) fn get_mut(&mut self, name: &RoomName) -> Option<&mut JoinedRoom> {
        self.list.iter_mut().find(|r| r.name == *name)
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// The rooms in the order they were joined.
    /// The rooms in the order they were joined.
    pub(super) fn iter(&self) -> impl Iterator<Item = &JoinedRoom> {
        self.list.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut JoinedRoom> {
        self.list.iter_mut()
    }

    /// The name of the room at `index` (as returned with an event).
    pub(super) fn name(&self, index: usize) -> Option<&RoomName> {
        self.list.get(index).map(|r| &r.name)
    }

    /// The number of a new chain of refill reads.
    pub(super) fn next_chain(&mut self) -> u64 {
        self.chains += 1;
        self.chains
    }

    /// The client stopped reading: drops the receivers of the live rooms and of those being
    /// filled in, and tells every room's waiting senders (the backlog they waited for may have
    /// been this member's alone). A room being joined keeps its receiver. Returns how many
    /// rooms were let go.
    pub(super) fn let_go(&mut self) -> usize {
        let mut count = 0;
        for room in &mut self.list {
            if matches!(room.phase, Phase::Live { .. } | Phase::Refilling { .. }) {
                room.phase = Phase::LetGo;
                count += 1;
            }
        }
        if count > 0 {
            self.let_go = true;
            for room in &self.list {
                room.tx.let_go();
            }
        }
        count
    }

    /// Whether rooms were let go since the last call: they are to be taken up again.
    pub(super) fn take_let_go(&mut self) -> bool {
        std::mem::take(&mut self.let_go)
    }

    /// The session ends: every receiver goes, and every room's waiting senders look again.
    pub(super) fn leave_all(&mut self) {
        for room in &mut self.list {
            room.phase = Phase::LetGo;
            room.tx.let_go();
        }
    }

    /// After a batch of events is taken: rooms whose senders wait for their members to catch
    /// up learn that this one has read.
    pub(super) fn done_reading(&mut self) {
        for room in &mut self.list {
            if let Phase::Live { took, .. } = &mut room.phase
                && std::mem::take(took)
            {
                room.tx.wake_senders();
            }
        }
    }

    /// An event of a live room that is already waiting, with the index of its room.
    pub(super) fn try_next(&mut self) -> Option<(usize, Received)> {
        let count = self.list.len();
        for step in 0..count {
            let at = (self.next + step) % count;
            let room = &mut self.list[at];
            let Phase::Live { rx, took, drained } = &mut room.phase else { continue };
            let sent = room.tx.sent();
            if !drained.may_hold_more(sent) {
                continue;
            }
            let received = match rx.try_recv() {
                Ok(event) => {
                    drained.took();
                    Received::Event(event)
                }
                // The events skipped were counted, not taken: looks go on until one finds it
                // empty again.
                Err(TryRecvError::Lagged(missed)) => Received::Lagged(missed),
                Err(TryRecvError::Empty) => {
                    drained.found_empty(sent);
                    continue;
                }
                // Cannot happen while the room's own `tx` keeps a sender alive; handled rather
                // than assumed: the room is taken up afresh once the client has read.
                Err(TryRecvError::Closed) => {
                    room.phase = Phase::LetGo;
                    self.let_go = true;
                    continue;
                }
            };
            *took = true;
            self.next = (at + 1) % count;
            return Some((at, received));
        }
        None
    }

    /// The next event of any live room, or a wait for the rooms' bell (`bell`, the session's
    /// direct queue). Never ready while no room is live. Takes nothing it does not return.
    ///
    /// The bell is registered only when a look finds nothing, and then looked again, so a room
    /// that sends after the registration wakes the session: a session that found an event
    /// leaves no waker behind, and the rooms' rings while it writes wake nobody.
    ///
    /// A session whose rooms never run dry still yields the worker after
    /// [`EVENTS_BEFORE_YIELD`] events, as a `recv` on one of tokio's channels does once the
    /// task's coop budget is spent, so the broadcaster that fills them and the other members
    /// get it. Counted here rather than with tokio's budget, whose thread-local look, at every
    /// wake-up and again when it finds nothing, costs a paced delivery more than the count.
    pub(super) fn poll_next(
        &mut self,
        bell: &DirectReceiver,
        cx: &mut Context<'_>,
    ) -> Poll<(usize, Received)> {
        if self.in_a_row >= EVENTS_BEFORE_YIELD {
            self.in_a_row = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = self.try_next().or_else(|| {
            bell.register(cx);
            self.try_next()
        });
        match next {
            Some(next) => {
                self.in_a_row += 1;
                Poll::Ready(next)
            }
            None => {
                self.in_a_row = 0;
                Poll::Pending
            }
        }
    }
}

impl JoinedRooms for Rooms {
    fn contains(&self, room: &RoomName) -> bool {
        self.get(room).is_some()
    }

    fn last(&self) -> Option<&RoomName> {
        self.list.last().map(|r| &r.name)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use protocol::ServerMsg;

    use super::*;
    use crate::event::Event;
    use crate::limits::{ROOM_BACKLOG_HIGH, ROOM_BACKLOG_LOW, ROOM_CHANNEL_CAPACITY};

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

    /// Puts `rooms` in the room `channel` is of, live, ringing `bell`.
    fn listen(rooms: &mut Rooms, name: &str, channel: &RoomChannel, bell: &DirectReceiver) {
        let rx = channel.listen(channel.subscribe(), bell.bell());
        rooms.add(JoinedRoom {
            name: room(name),
            tx: channel.clone(),
            authority: crate::hub::AuthorityCell::default(),
            delivered: None,
            phase: Phase::live(rx),
            quiet: None,
            share: Share::default(),
        });
    }

    /// The next event of any live room, once there is one.
    async fn next(rooms: &mut Rooms, bell: &DirectReceiver) -> (usize, Received) {
        std::future::poll_fn(|cx| rooms.poll_next(bell, cx)).await
    }

    #[test]
    fn waiting_events_are_taken_from_the_rooms_in_turn() {
        let (a, b) = (RoomChannel::new(), RoomChannel::new());
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &a, &bell);
        listen(&mut rooms, "b", &b, &bell);
        for n in 0..3 {
            a.send(event(n));
            b.send(event(10 + n));
        }
        let mut taken = Vec::new();
        while let Some((index, received)) = rooms.try_next() {
            taken.push((rooms.name(index).unwrap().as_str().to_owned(), token(received)));
        }
        let taken: Vec<(&str, u64)> = taken.iter().map(|(r, t)| (r.as_str(), *t)).collect();
        assert_eq!(taken, [("a", 0), ("b", 10), ("a", 1), ("b", 11), ("a", 2), ("b", 12)]);
    }

    /// A room read to its end is not looked at again (a look locks its channel) until more is
    /// sent than was taken since: after a paced message, the look that would follow its
    /// delivery is skipped, and the next message is taken all the same.
    #[tokio::test]
    async fn a_room_read_to_its_end_is_not_looked_at_again() {
        let a = RoomChannel::new();
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &a, &bell);
        let worth_a_look = |rooms: &Rooms| match &rooms.list[0].phase {
            Phase::Live { drained, .. } => drained.may_hold_more(a.sent()),
            _ => panic!("not live"),
        };
        assert!(worth_a_look(&rooms), "never looked at");
        assert!(rooms.try_next().is_none());
        assert!(!worth_a_look(&rooms), "found empty");
        a.send(event(1));
        assert!(worth_a_look(&rooms));
        let (_, got) =
            tokio::time::timeout(Duration::from_secs(5), next(&mut rooms, &bell)).await.unwrap();
        assert_eq!(token(got), 1);
        assert!(!worth_a_look(&rooms), "the one event sent since was taken");
        a.send(event(2));
        a.send(event(3));
        assert_eq!(token(rooms.try_next().unwrap().1), 2);
        assert!(worth_a_look(&rooms), "one more waits");
        assert_eq!(token(rooms.try_next().unwrap().1), 3);
        assert!(rooms.try_next().is_none());
    }

    #[test]
    fn a_receiver_that_fell_behind_says_by_how_much_then_goes_on() {
        let channel = RoomChannel::new();
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &channel, &bell);
        let sent = ROOM_CHANNEL_CAPACITY as u64 + 3;
        for n in 0..sent {
            channel.send(event(n));
        }
        assert!(matches!(rooms.try_next(), Some((0, Received::Lagged(3)))));
        for n in 3..sent {
            assert_eq!(token(rooms.try_next().unwrap().1), n);
        }
        assert!(rooms.try_next().is_none());
    }

    /// Only live rooms are read: a room let go, or held back, gives nothing.
    #[test]
    fn rooms_that_are_not_live_are_not_read() {
        let (a, b) = (RoomChannel::new(), RoomChannel::new());
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &a, &bell);
        listen(&mut rooms, "b", &b, &bell);
        a.send(event(1));
        b.send(event(2));
        if let Some(room) = rooms.get_mut(&room("a")) {
            room.phase = Phase::LetGo;
        }
        assert_eq!(token(rooms.try_next().unwrap().1), 2);
        assert!(rooms.try_next().is_none());
        assert_eq!(rooms.let_go(), 1, "b was live");
        assert!(rooms.take_let_go());
        assert!(!rooms.take_let_go());
    }

    #[tokio::test]
    async fn waiting_wakes_for_whichever_room_speaks() {
        let (a, b) = (RoomChannel::new(), RoomChannel::new());
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &a, &bell);
        listen(&mut rooms, "b", &b, &bell);
        let speaker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            b.send(event(7));
        });
        let (index, received) =
            tokio::time::timeout(Duration::from_secs(5), next(&mut rooms, &bell)).await.unwrap();
        assert_eq!(rooms.name(index).unwrap().as_str(), "b");
        assert_eq!(token(received), 7);
        speaker.await.unwrap();
        // Removed rooms are not waited on.
        assert!(rooms.remove(&room("b")).is_some());
        assert!(rooms.remove(&room("a")).is_some());
        assert_eq!(rooms.len(), 0);
        assert!(!rooms.contains(&room("a")));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), next(&mut rooms, &bell)).await.is_err(),
            "no rooms: waits for ever"
        );
    }

    /// A room rings the bell of each member listening, once per event, after counting it; a
    /// member whose listener is gone (it left, or let the room go) is not rung.
    #[test]
    fn a_room_rings_its_listeners_bells_while_they_listen() {
        struct Rings(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for Rings {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let rings = std::sync::Arc::new(Rings(0.into()));
        let waker = std::task::Waker::from(rings.clone());
        let rung = || rings.0.load(std::sync::atomic::Ordering::SeqCst);
        let channel = RoomChannel::new();
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &channel, &bell);
        let mut cx = Context::from_waker(&waker);
        assert!(rooms.poll_next(&bell, &mut cx).is_pending());
        channel.send(event(1));
        assert_eq!(rung(), 1);
        channel.send(event(2));
        assert_eq!(rung(), 1, "woken and not waiting again yet: nothing to ring");
        assert!(matches!(rooms.poll_next(&bell, &mut cx), Poll::Ready((0, Received::Event(_)))));
        assert!(matches!(rooms.poll_next(&bell, &mut cx), Poll::Ready((0, Received::Event(_)))));
        channel.send(event(3));
        assert_eq!(rung(), 1, "an event found leaves no waker behind");
        assert!(matches!(rooms.poll_next(&bell, &mut cx), Poll::Ready((0, Received::Event(_)))));
        assert!(rooms.poll_next(&bell, &mut cx).is_pending());
        assert_eq!(rooms.let_go(), 1);
        channel.send(event(4));
        assert_eq!(rung(), 1, "let go: its listener is gone, and its bell with it");
        assert!(rooms.poll_next(&bell, &mut cx).is_pending());
    }

    /// A session whose rooms hold more than [`EVENTS_BEFORE_YIELD`] events yields before it has
    /// taken them all, as a `recv` on a tokio channel does once the task's coop budget is spent.
    #[tokio::test]
    async fn a_session_whose_rooms_never_run_dry_still_yields() {
        let channel = RoomChannel::new();
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &channel, &bell);
        let sent = 300;
        for n in 0..sent {
            channel.send(event(n));
        }
        let in_one_poll = std::future::poll_fn(|cx| {
            let mut taken = 0;
            while rooms.poll_next(&bell, cx).is_ready() {
                taken += 1;
            }
            Poll::Ready(taken)
        })
        .await;
        assert!((1..sent).contains(&in_one_poll), "took {in_one_poll} of {sent} in one poll");
    }

    /// A sender waiting for the room is woken by the member's reading, not by polling.
    #[tokio::test]
    async fn a_waiting_sender_goes_on_once_the_members_have_read() {
        let channel = RoomChannel::new();
        let (mut rooms, bell) = (Rooms::default(), DirectReceiver::default());
        listen(&mut rooms, "a", &channel, &bell);
        let behind = ROOM_BACKLOG_HIGH as u64;
        for n in 0..behind {
            channel.send(event(n));
        }
        let held = channel.hold_back(&mut Share::default()).expect("held back at the high mark");
        let mut sender = tokio::spawn(async move { held.caught_up().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sender.is_finished(), "the member is {behind} events behind");
        // Reading without saying so wakes nobody...
        for _ in 0..=ROOM_BACKLOG_HIGH - ROOM_BACKLOG_LOW {
            rooms.try_next().unwrap();
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut sender).await.is_err(),
            "woken before the member said it read"
        );
        // ...the end of the batch does.
        rooms.done_reading();
        tokio::time::timeout(Duration::from_secs(5), sender).await.unwrap().unwrap();
    }
}
