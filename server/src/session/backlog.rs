//! A room's earlier messages, sent on joining and on request, in order with the live ones.
//!
//! Joining subscribes to the room's channel first and reads the history after, so nothing
//! falls between the two. Messages that arrive both ways (stored while the page was being
//! read) are recognised by their sequence number and sent once. While the page is being read
//! the receiver is held back, so the client gets: earlier messages, its own join, the members,
//! then everything live.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use protocol::{ErrorCode, RequestError, RoomName, ServerMsg};
use tokio_stream::wrappers::BroadcastStream;

use super::Session;
use crate::dialect::Dialect;
use crate::event::SharedEvent;
use crate::history::Page;
use crate::hub::Membership;
use crate::limits::MAX_QUERIES_PER_SESSION;

/// A history read that has finished.
pub(super) enum Completion {
    /// The backlog of a room being joined.
    Join { room: RoomName, page: Result<Page, RequestError> },
    /// The answer to a `history` request.
    Page { room: RoomName, page: Result<Page, RequestError> },
}

pub(super) type Query = BoxFuture<'static, Completion>;

impl<D: Dialect> Session<D> {
    /// Continues a join once the hub has the session in the room: reads the backlog first when
    /// there is history, otherwise shows the room at once.
    pub(super) fn start_join(&mut self, room: RoomName, joining: Membership) {
        let on_join = self.history.config().on_join;
        if !self.history.enabled() || on_join == 0 {
            self.show_room(room, joining, None);
            return;
        }
        let history = self.history.clone();
        let query_room = room.clone();
        self.queries.push(
            async move {
                Completion::Join {
                    page: history.page(query_room.clone(), None, on_join).await,
                    room: query_room,
                }
            }
            .boxed(),
        );
        self.joining.insert(room, joining);
    }

    /// Starts reading a page for a `history` request.
    pub(super) fn start_page(
        &mut self,
        room: RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(), RequestError> {
        if self.queries.len() >= MAX_QUERIES_PER_SESSION {
            return Err(RequestError::new(
                ErrorCode::ServerBusy,
                format!(
                    "{MAX_QUERIES_PER_SESSION} history requests are already running; wait for them"
                ),
            ));
        }
        let history = self.history.clone();
        let limit = limit.clamp(1, protocol::limits::MAX_HISTORY_PAGE);
        self.queries.push(
            async move {
                Completion::Page { page: history.page(room.clone(), before, limit).await, room }
            }
            .boxed(),
        );
        Ok(())
    }

    pub(super) fn on_completion(&mut self, done: Completion) {
        match done {
            Completion::Join { room, page } => {
                // Left again before the backlog came: nothing to show.
                let Some(joining) = self.joining.remove(&room) else { return };
                let page = page.map_err(|e| self.write(&e.for_request("join").to_msg())).ok();
                self.show_room(room, joining, page);
            }
            Completion::Page { room, page } => match page {
                Ok(page) => self.write(&ServerMsg::History {
                    room,
                    messages: page.messages,
                    beginning: page.beginning,
                }),
                Err(e) => self.write(&e.for_request("history").to_msg()),
            },
        }
    }

    /// Sends the backlog, the join, the members, and from then on the room's live events.
    fn show_room(&mut self, room: RoomName, mut joining: Membership, page: Option<Page>) {
        if let Some(page) = page {
            if let Some(last) = page.messages.last() {
                self.skip_upto.insert(room.clone(), last.seq);
            }
            self.write(&ServerMsg::History {
                room: room.clone(),
                messages: page.messages,
                beginning: page.beginning,
            });
        }
        // Take the receiver's events up to our own announcement now, so the join shows before
        // the member list.
        while let Ok(event) = joining.rx.try_recv() {
            if !self.already_sent(&event) {
                self.write_event(&event);
            }
            if Arc::ptr_eq(&event, &joining.announcement) {
                break;
            }
        }
        self.write(&ServerMsg::Members { room: room.clone(), nicks: joining.members });
        self.receivers.insert(room, BroadcastStream::new(joining.rx));
    }

    /// Whether `event` is a message the client already has from the backlog.
    pub(super) fn already_sent(&mut self, event: &SharedEvent) -> bool {
        if self.skip_upto.is_empty() {
            return false;
        }
        let ServerMsg::Message { room, seq, .. } = &event.msg else { return false };
        match self.skip_upto.get(room) {
            Some(upto) if seq <= upto => true,
            Some(_) => {
                self.skip_upto.remove(room);
                false
            }
            None => false,
        }
    }

    /// Forgets a join still waiting for its backlog.
    pub(super) fn cancel_join(&mut self, room: &RoomName) {
        self.joining.remove(room);
        self.skip_upto.remove(room);
    }
}
