//! The node's one ordered queue of writes to Redis, and the hub's side of it ([`Relay`]):
//! presence, notes, private messages and nick releases go the same way as messages, so what a
//! session does reaches the other nodes in the order it did it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use protocol::{Label, Nick, NickKey, RoomName, ServerMsg};
use tokio::sync::mpsc;
use tracing::warn;
use uuid::Uuid;

use super::wire::{Note, Owner, keys};
use crate::broker::{Delete, Say, Ticket};
use crate::event::SharedEvent;
use crate::hub::{Change, Elsewhere, ResumeHash};
use crate::limits::OUTBOX_LIMIT;

/// What the node writes to Redis, in this order. A message goes with the id it is stored
/// under; its ticket awaits the echo ([`super::echoes`]).
pub(crate) enum Outgoing {
    Say(Say, Uuid),
    Delete(Delete, Ticket),
    Presence {
        room: RoomName,
        payload: String,
        change: Change,
        session: Uuid,
    },
    Publish {
        channel: String,
        payload: String,
    },
    Private {
        channel: String,
        payload: String,
        from: (Uuid, Nick),
        to: Nick,
    },
    Release {
        key: NickKey,
        owner: String,
        keep: Duration,
        kept: String,
    },
    /// A session's away message (none: back, or gone) into its node's hash, and the note
    /// that tells the other nodes, if any.
    Away {
        session: Uuid,
        text: Option<Label>,
        payload: Option<String>,
    },
    /// The node's away messages, whole, in place of its hash.
    AwayAll(Vec<(Uuid, Label)>),
    Stop,
}

/// The hub's side of the cluster: where it sends presence, private messages and nick
/// releases. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    pub(super) node: Arc<str>,
    pub(super) outbox: mpsc::UnboundedSender<Outgoing>,
    pub(super) queued: Arc<Queued>,
}

/// What the hub has queued for Redis and not yet written: bounded by [`OUTBOX_LIMIT`].
#[derive(Default)]
pub(crate) struct Queued {
    pub(super) count: AtomicUsize,
    /// Something was dropped at the limit: the node shares its state again afterwards.
    pub(super) overflowed: AtomicBool,
}

impl Relay {
    /// Queues `outgoing` unless [`OUTBOX_LIMIT`] writes wait already (Redis is that slow):
    /// then it is dropped, and the node shares its whole state again once the queue drains.
    pub(super) fn send(&self, outgoing: Outgoing) -> bool {
        if self.queued.count.fetch_add(1, Ordering::AcqRel) >= OUTBOX_LIMIT {
            self.queued.count.fetch_sub(1, Ordering::AcqRel);
            if !self.queued.overflowed.swap(true, Ordering::AcqRel) {
                warn!("too many writes waiting for Redis; dropping presence until it catches up");
            }
            return false;
        }
        // Closed only once the server has stopped.
        self.outbox.send(outgoing).is_ok()
    }
}

/// What the hub tells the other nodes goes through Redis, in this node's one ordered queue.
impl Elsewhere for Relay {
    fn presence(&self, session: Uuid, event: &SharedEvent, change: Change) -> bool {
        let ServerMsg::Presence { id, ts, room, nick, event } = &event.msg else { return false };
        let note = Note::Presence {
            node: self.node.to_string(),
            session,
            id: *id,
            ts: *ts,
            room: room.clone(),
            nick: nick.clone(),
            event: event.clone(),
        };
        self.send(Outgoing::Presence {
            room: room.clone(),
            payload: note.encode(),
            change,
            session,
        });
        // Lost with the queue if it could not be queued: this node's members get the room's
        // member list again once it has shared its state.
        true
    }

    fn online(&self, session: Uuid, nick: &Nick) {
        let note = Note::Online { node: self.node.to_string(), session, nick: nick.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
    }

    fn renamed(&self, session: Uuid, nick: &Nick, to: &Nick) {
        let note = Note::Renamed { session, nick: nick.clone(), to: to.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
    }

    fn away(&self, session: Uuid, nick: &Nick, text: Option<&Label>) {
        let note = Note::Away { session, nick: nick.clone(), text: text.cloned() };
        self.send(Outgoing::Away { session, text: text.cloned(), payload: Some(note.encode()) });
    }

    /// Frees `nick` (or keeps it for `resume` for `keep`) if it is still `session`'s.
    fn release(&self, nick: &Nick, session: Uuid, resume: ResumeHash, keep: Duration) -> bool {
        let owner = Owner::Live {
            node: self.node.to_string(),
            session,
            token: resume,
            nick: nick.to_string(),
        };
        let kept = Owner::Kept { token: resume, nick: nick.to_string() };
        self.send(Outgoing::Release {
            key: nick.key(),
            owner: owner.encode(),
            keep,
            kept: kept.encode(),
        });
        let note = Note::Offline { session, nick: nick.clone() };
        self.send(Outgoing::Publish { channel: keys::EVENTS.to_owned(), payload: note.encode() });
        true
    }

    fn away_gone(&self, session: Uuid) {
        self.send(Outgoing::Away { session, text: None, payload: None });
    }

    fn away_all(&self, away: Vec<(Uuid, Label)>) {
        self.send(Outgoing::AwayAll(away));
    }

    /// Sends a private message to a session of `node`; `false` if it could not be queued.
    fn private(&self, node: &str, from_session: Uuid, event: &SharedEvent) -> bool {
        let ServerMsg::Private { id, from, to, text, ts, account, .. } = &event.msg else {
            return false;
        };
        let note = Note::Private {
            from_node: self.node.to_string(),
            from_session,
            id: *id,
            from: from.clone(),
            to: to.clone(),
            text: text.clone(),
            ts: *ts,
            account: *account,
        };
        self.send(Outgoing::Private {
            channel: keys::to_node(node),
            payload: note.encode(),
            from: (from_session, from.clone()),
            to: to.clone(),
        })
    }
}
