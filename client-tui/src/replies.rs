//! Where the answer to a question typed in one window goes: back to the window it was typed
//! in, even when it asks about another room (`/who lobby` typed in #rust is answered in
//! #rust, not in #lobby where nobody is looking). The server answers in order, so the oldest
//! question of a kind about a room is the one an answer answers.
//!
//! Questions are the requests that only read: `who` (its first page), `topic` and `mode`
//! without changes, `bans`. A refusal (`error` naming the request) answers the oldest
//! question of its kind. A request that changes the topic or modes is answered by an event
//! for the whole room, which goes to the room's window; its refusal, sharing the question's
//! request type, answers a question asked meanwhile, an order the server makes unlikely.

use std::collections::VecDeque;

use protocol::{ClientMsg, RoomKey, RoomName};

use crate::window::Target;

/// Questions waiting for their answers: a person types a handful at a time; past this the
/// oldest is forgotten (its answer then goes to the room's window).
pub const MAX_QUESTIONS: usize = 32;

/// What a question asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    Who,
    Topic,
    Modes,
    Bans,
}

impl Question {
    /// The question `request` asks, and about which room; `None` for requests that act.
    fn of(request: &ClientMsg) -> Option<(Self, &RoomName)> {
        match request {
            ClientMsg::Who { room, after: None } => Some((Self::Who, room)),
            ClientMsg::Topic { room, text: None } => Some((Self::Topic, room)),
            ClientMsg::Mode { room, changes } if changes.is_empty() => Some((Self::Modes, room)),
            ClientMsg::Bans { room } => Some((Self::Bans, room)),
            _ => None,
        }
    }

    /// The `type` of the request that asks it, as an `error` names it.
    fn request_type(self) -> &'static str {
        match self {
            Self::Who => "who",
            Self::Topic => "topic",
            Self::Modes => "mode",
            Self::Bans => "bans",
        }
    }
}

#[derive(Debug, Default)]
pub struct Replies {
    /// Questions sent, oldest first: what, about which room (by look-alike key, as the
    /// server reads it), typed in which window. At most [`MAX_QUESTIONS`].
    asked: VecDeque<(Question, RoomKey, Target)>,
    /// Where the last member list's first page went: the pages after it, and the topic the
    /// server sends after a member list, go there too. Set by every first page.
    list: Option<(RoomKey, Target)>,
}

impl Replies {
    /// `request` is sent from the window for `from`: if it is a question, its answer goes
    /// there.
    pub fn sent(&mut self, request: &ClientMsg, from: Target) {
        let Some((question, room)) = Question::of(request) else { return };
        if self.asked.len() == MAX_QUESTIONS {
            self.asked.pop_front();
        }
        self.asked.push_back((question, room.key(), from));
    }

    /// Where the answer to `question` about `room` goes, if it was typed; the question is
    /// answered.
    pub fn answer(&mut self, question: Question, room: &RoomName) -> Option<Target> {
        let key = room.key();
        let at = self.asked.iter().position(|(q, r, _)| *q == question && *r == key)?;
        self.asked.remove(at).map(|(_, _, from)| from)
    }

    /// A member list's first page about `room` arrived: where it goes (if it was typed),
    /// remembered for the pages and the topic after it.
    pub fn first_page(&mut self, room: &RoomName) -> Option<Target> {
        let to = self.answer(Question::Who, room);
        self.list = to.clone().map(|to| (room.key(), to));
        to
    }

    /// Where a later page of `room`'s member list, or the topic after it, goes.
    pub fn with_list(&self, room: &RoomName) -> Option<Target> {
        let key = room.key();
        self.list.as_ref().filter(|(r, _)| *r == key).map(|(_, to)| to.clone())
    }

    /// The server refused a request of type `request`: the oldest question of that kind is
    /// answered by the refusal.
    pub fn refused(&mut self, request: Option<&str>) {
        let Some(request) = request else { return };
        if let Some(at) = self.asked.iter().position(|(q, _, _)| q.request_type() == request) {
            self.asked.remove(at);
        }
    }

    /// The connection is gone: no question on it will be answered.
    pub fn clear(&mut self) {
        self.asked.clear();
        self.list = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap_or_else(|_| RoomName::lobby())
    }

    #[test]
    fn answers_go_where_their_questions_were_typed_in_order() {
        let mut replies = Replies::default();
        let rust = Target::Room(room("rust"));
        let server = Target::Server;
        replies.sent(&ClientMsg::Who { room: room("lobby"), after: None }, rust.clone());
        replies.sent(&ClientMsg::Who { room: room("lobby"), after: None }, server.clone());
        replies.sent(&ClientMsg::Topic { room: room("lobby"), text: None }, rust.clone());
        assert_eq!(replies.answer(Question::Topic, &room("lobby")), Some(rust.clone()));
        assert_eq!(replies.first_page(&room("lobby")), Some(rust.clone()));
        assert_eq!(replies.with_list(&room("lobby")), Some(rust));
        replies.refused(Some("who"));
        assert_eq!(replies.first_page(&room("lobby")), None, "answered by the refusal");
        assert_eq!(replies.with_list(&room("lobby")), None);
    }
}
