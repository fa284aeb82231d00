//! A deletion on its way to the broker: which message, who asks, and what they may delete.
//! Both backends decide it in the same step that stores it (the local writer thread, the
//! Redis script), so a message is deleted once, and its `deleted` event follows it on the
//! room's channel like a message.

use std::sync::Arc;

use protocol::{ErrorCode, Nick, RequestError, RoomName, ServerMsg};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::InFlight;
use crate::event::{Event, SharedEvent};
use crate::hub::RoomChannel;

/// A request to delete one message of a room.
pub struct Delete {
    pub room: RoomName,
    /// The message's id.
    pub id: Uuid,
    /// Who asks.
    pub by: Nick,
    /// The requester is logged in to the account `by`.
    pub account: bool,
    /// The requester may delete anyone's message in the room: an operator or the owner of
    /// it, or a server admin.
    pub any: bool,
    /// The room's channel: the `deleted` event goes there, and counts in its backlog until
    /// then.
    pub room_tx: RoomChannel,
    /// The requester's answer queue, for a refusal.
    pub sender: mpsc::Sender<SharedEvent>,
    /// The requester's count of requests in flight.
    pub in_flight: Arc<InFlight>,
}

impl Delete {
    /// Whether the requester may delete a message that `from` sent (`account`: logged in to
    /// it). One's own message is one sent under a nick with the same look-alike key; one sent
    /// logged in is only the account owner's, logged in, to delete.
    pub fn may_delete(&self, from: &Nick, account: bool) -> bool {
        self.any || (from.key() == self.by.key() && (self.account || !account))
    }

    /// The room's news that message `seq` is deleted.
    pub fn event(&self, seq: u64, ts: u64) -> SharedEvent {
        Event::new(ServerMsg::Deleted {
            room: self.room.clone(),
            id: self.id,
            seq,
            by: self.by.clone(),
            ts,
        })
    }

    /// Tells the requester why nothing was deleted.
    pub(crate) fn refuse(&self, error: RequestError) {
        let _ = self.sender.try_send(Event::new(error.for_request("delete").to_msg()));
    }

    /// The message is not one of the room's, or is deleted already.
    pub(crate) fn no_such_message(&self) -> RequestError {
        RequestError::new(
            ErrorCode::NoSuchMessage,
            format!("#{} has no message {} (or it is deleted already)", self.room, self.id),
        )
    }

    /// Someone else's message, and the requester is no operator of the room.
    pub(crate) fn not_operator(&self) -> RequestError {
        RequestError::new(
            ErrorCode::NotOperator,
            format!("that is not your message: only operators of #{} may delete it", self.room),
        )
    }

    /// The store failed (`why`): nothing was deleted.
    pub(crate) fn failed(&self, why: &str) -> RequestError {
        RequestError::new(
            ErrorCode::StorageFailed,
            format!("the message in #{} could not be deleted ({why}); try again", self.room),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn delete(by: &str, account: bool, any: bool) -> Delete {
        let (sender, _) = mpsc::channel(1);
        Delete {
            room: RoomName::lobby(),
            id: Uuid::now_v7(),
            by: Nick::parse(by).unwrap(),
            account,
            any,
            room_tx: RoomChannel::new(),
            sender,
            in_flight: Arc::default(),
        }
    }

    /// One's own is by look-alike key; an account's message needs its owner logged in; an
    /// operator may delete anything.
    #[test]
    fn who_may_delete_what() {
        let tracy = Nick::parse("Tracy").unwrap();
        assert!(delete("tracy", false, false).may_delete(&tracy, false), "the same key");
        assert!(!delete("Michael", false, false).may_delete(&tracy, false));
        assert!(!delete("Tracy", false, false).may_delete(&tracy, true), "a guest of the nick");
        assert!(delete("Tracy", true, false).may_delete(&tracy, true));
        assert!(delete("Tracy", true, false).may_delete(&tracy, false), "her guest days'");
        assert!(delete("Michael", true, true).may_delete(&tracy, true), "an operator");
    }
}
