//! A plain-text session's own last messages in each room, by id, so that `/delete` can name
//! one: a person at `nc` has no id to type. Learnt from the echoes the session writes, and
//! forgotten when a message is deleted or the room left.

use std::collections::{HashMap, VecDeque};

use protocol::{ClientMsg, ErrorCode, Nick, PresenceEvent, RequestError, RoomName, ServerMsg};
use uuid::Uuid;

use crate::limits::PLAIN_OWN_KEPT;

#[derive(Debug, Default)]
pub(super) struct OwnMessages {
    /// Oldest first, at most [`PLAIN_OWN_KEPT`] a room.
    rooms: HashMap<RoomName, VecDeque<Uuid>>,
}

impl OwnMessages {
    /// Notes what the session is told: `me`'s messages, deletions, leaving a room.
    pub(super) fn hear(&mut self, msg: &ServerMsg, me: Option<&Nick>) {
        match msg {
            ServerMsg::Message { id, room, from, .. } if Some(from) == me => {
                let ids = self.rooms.entry(room.clone()).or_default();
                if ids.len() == PLAIN_OWN_KEPT {
                    ids.pop_front();
                }
                ids.push_back(*id);
            }
            ServerMsg::Deleted { room, id, .. } => {
                if let Some(ids) = self.rooms.get_mut(room) {
                    ids.retain(|own| own != id);
                }
            }
            ServerMsg::Presence {
                room,
                nick,
                event: PresenceEvent::Left { .. } | PresenceEvent::Kicked { .. },
                ..
            } if Some(nick) == me => {
                self.rooms.remove(room);
            }
            _ => {}
        }
    }

    /// The request that deletes the session's last message in `room`, or why there is none.
    pub(super) fn delete_last(&self, room: &RoomName) -> Result<ClientMsg, RequestError> {
        match self.rooms.get(room).and_then(|ids| ids.back()) {
            Some(id) => Ok(ClientMsg::Delete { room: room.clone(), id: *id }),
            None => Err(RequestError::new(
                ErrorCode::NoSuchMessage,
                format!("you have said nothing in #{room} that /delete can delete"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use protocol::{MessageKind, Text};

    use super::*;

    fn said(id: Uuid, from: &Nick) -> ServerMsg {
        ServerMsg::Message {
            id,
            room: RoomName::lobby(),
            seq: 1,
            from: from.clone(),
            account: false,
            kind: MessageKind::Say,
            text: Text::parse("hi").unwrap(),
            ts: 0,
        }
    }

    /// `/delete` names the last own message not yet deleted; others' are not one's own, and
    /// only the last few are kept.
    #[test]
    fn the_last_own_message_is_the_one_deleted() {
        let (me, tracy) = (Nick::parse("Michael").unwrap(), Nick::parse("Tracy").unwrap());
        let lobby = RoomName::lobby();
        let mut own = OwnMessages::default();
        assert!(own.delete_last(&lobby).is_err(), "nothing said");
        let ids: Vec<Uuid> = (0..PLAIN_OWN_KEPT + 2).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            own.hear(&said(*id, &me), Some(&me));
        }
        own.hear(&said(Uuid::now_v7(), &tracy), Some(&me));
        let last = |own: &OwnMessages| match own.delete_last(&lobby) {
            Ok(ClientMsg::Delete { id, .. }) => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(last(&own), ids[ids.len() - 1]);
        let deleted = ServerMsg::Deleted {
            room: lobby.clone(),
            id: ids[ids.len() - 1],
            seq: 1,
            by: me.clone(),
            ts: 0,
        };
        own.hear(&deleted, Some(&me));
        assert_eq!(last(&own), ids[ids.len() - 2]);
        assert_eq!(own.rooms[&lobby].len(), PLAIN_OWN_KEPT - 1);
    }
}
