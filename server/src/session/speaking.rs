//! What a session that has spoken waits for: its messages' way through the broker (their
//! answers when they cannot be stored), and, when its room is far behind, the room.

use std::sync::Arc;
use std::task::{Context, Poll};

use protocol::RoomName;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::broker::InFlight;
use crate::event::SharedEvent;
use crate::hub::{DirectEvent, DirectReceiver, HeldBack, Share};
use crate::limits::DIRECT_QUEUE;

/// What a session that has spoken needs until its messages are through the broker
/// (stored and broadcast, or refused). Made by the first `say` after a quiet spell and
/// dropped at the end of it: the answer queue is a `tokio::sync::mpsc` channel, 800 bytes
/// that a session which only listens should not hold.
pub(super) struct Speaking {
    /// This session's messages on their way; each holds a clone.
    pub(super) in_flight: Arc<InFlight>,
    /// Given with each message to the broker, for its answer if it cannot store it.
    pub(super) answers_tx: mpsc::Sender<SharedEvent>,
    pub(super) answers: mpsc::Receiver<SharedEvent>,
}

impl Speaking {
    pub(super) fn new() -> Self {
        let (answers_tx, answers) = mpsc::channel(DIRECT_QUEUE);
        Self { in_flight: Arc::new(InFlight::default()), answers_tx, answers }
    }

    /// Nothing of this session's is on its way and no answer is waiting.
    pub(super) fn is_done(&self) -> bool {
        // Each message holds a clone of `in_flight` until the writer is done with it, and the
        // writer answers before letting go. The fence makes whatever the writer did before
        // dropping its last clone (the answer) visible here.
        Arc::strong_count(&self.in_flight) == 1 && {
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            self.answers.is_empty()
        }
    }
}

/// The next direct event (a private message, the broker's answer, or the news that
/// the session was replaced): one small future for both queues.
pub(super) fn poll_direct(
    direct: &DirectReceiver,
    speaking: &mut Option<Speaking>,
    cx: &mut Context<'_>,
) -> Poll<DirectEvent> {
    if let Poll::Ready(event) = direct.poll_recv(cx) {
        return Poll::Ready(event);
    }
    match speaking {
        // Never closed: `Speaking` holds a sender.
        Some(speaking) => match speaking.answers.poll_recv(cx) {
            Poll::Ready(Some(event)) => Poll::Ready(DirectEvent::Event(event)),
            _ => Poll::Pending,
        },
        None => Poll::Pending,
    }
}

/// A room a sender waits for.
pub(super) struct Throttle {
    pub(super) room: RoomName,
    pub(super) held: HeldBack,
    pub(super) until: Instant,
}

impl Throttle {
    /// Until the room has caught up, with the sender's share of it; or the deadline, with none.
    pub(super) async fn wait(&self) -> Share {
        tokio::time::timeout_at(self.until, self.held.caught_up()).await.unwrap_or_default()
    }
}
