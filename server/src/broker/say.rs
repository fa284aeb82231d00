//! A room message on its way to the broker, and the counts that follow it (and a deletion,
//! [`super::Delete`]) there: its sender's requests in flight, and its room's backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use protocol::{ErrorCode, MessageKind, Nick, RequestError, RoomName, Text};
use tokio::sync::{Notify, mpsc};

use crate::event::{Event, SharedEvent};
use crate::hub::RoomChannel;

/// Messages a session has handed to the writer that are not yet stored and broadcast (or
/// refused). A session whose client has closed its side waits for these before it ends, so a
/// `printf 'hi' | nc` still gets its echo.
#[derive(Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn is_idle(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Completes when nothing is in flight.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.is_idle() {
                return;
            }
            notified.await;
        }
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// A room message on its way to the writer.
pub struct Say {
    pub room: RoomName,
    pub from: Nick,
    /// The sender is logged in to the account `from`.
    pub account: bool,
    pub kind: MessageKind,
    pub text: Text,
    /// The room's channel: the message counts in its backlog until it is stored (senders
    /// wait for a room that is far behind), and the local writer broadcasts it there.
    pub room_tx: RoomChannel,
    /// The sender's direct queue, for an error if the message cannot be stored.
    pub sender: mpsc::Sender<SharedEvent>,
    /// The sender's count of messages in flight.
    pub in_flight: Arc<InFlight>,
}

impl Say {
    /// Tells the sender its message was not stored (`why`) and so not sent.
    pub(crate) fn refuse(&self, why: &str) {
        let error = RequestError::new(
            ErrorCode::StorageFailed,
            format!("your message to #{} could not be stored ({why}); it was not sent", self.room),
        )
        .for_request(match self.kind {
            MessageKind::Action => "action",
            MessageKind::Say | MessageKind::Deleted => "say",
        });
        let _ = self.sender.try_send(Event::new(error.to_msg()));
    }
}

/// Counts a message as on its way (in its room's `queued`, in its sender's [`InFlight`]) for
/// as long as it lives: however the message ends (broadcast, refused, or dropped with the
/// writer's queue), the counts come back down.
pub(crate) struct Ticket {
    room: RoomChannel,
    in_flight: Arc<InFlight>,
}

impl Ticket {
    /// The room the message is for.
    pub(crate) fn room(&self) -> &RoomChannel {
        &self.room
    }

    pub(crate) fn new(say: &Say) -> Self {
        Self::for_room(&say.room_tx, &say.in_flight)
    }

    /// A ticket for anything else that reaches `room` through the broker (a deletion).
    pub(crate) fn for_room(room: &RoomChannel, in_flight: &Arc<InFlight>) -> Self {
        in_flight.count.fetch_add(1, Ordering::AcqRel);
        room.queue();
        Self { room: room.clone(), in_flight: in_flight.clone() }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.room.dequeue();
        self.in_flight.done();
    }
}
