//! The broadcaster task of one node: it sends what the writer thread has stored to the rooms'
//! channels, from the runtime.
//!
//! A batch rings the session of every member of its rooms, once a room. Sent from the writer
//! thread, outside the runtime, the first wake starts a worker that may take the CPU from the
//! writer before it has woken the rest (on one core it always can), and the members woken last
//! wait for those woken first to be written to. From a task, the writer wakes one task, and the
//! members' wakes go to that worker's own queue, in order. The writer goes on meanwhile (indexing,
//! pruning, the next batch); batches reach the task, and so the rooms, in the order stored.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handoff::Handoff;
use crate::broker::Ticket;
use crate::event::SharedEvent;
use crate::hub::{BatchRooms, RoomChannel};

/// What one batch sends: its rooms' events, in order, and the tickets of its messages, which
/// count them as on their way until they are sent.
pub(super) struct Delivery {
    pub events: Vec<(RoomChannel, SharedEvent)>,
    pub tickets: Vec<Ticket>,
}

/// Starts the task; it ends once the writer drops its end of `deliveries` and the last batch
/// is sent.
pub(super) fn spawn(
    mut deliveries: mpsc::Receiver<Delivery>,
    handoff: Arc<Handoff>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(delivery) = deliveries.recv().await {
            delivery.send();
            handoff.count_sent();
            // The members woken go before the next batch: sent back to back, batches would
            // fill the rooms' channels faster than any member could read them.
            tokio::task::yield_now().await;
        }
    })
}

impl Delivery {
    /// Sends the events and rings each room's members once, then lets the batch's messages
    /// go: no longer on their way, and their rooms' waiting senders woken once.
    pub(super) fn send(self) {
        let mut sent = BatchRooms::default();
        for (room, event) in self.events {
            sent.send(&room, event);
        }
        sent.ring();
        let mut rooms = BatchRooms::default();
        for ticket in &self.tickets {
            rooms.add(ticket.room());
        }
        drop(self.tickets);
        rooms.wake_senders();
    }
}
