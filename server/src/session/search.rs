//! `search`: a room's stored messages that hold a text, read like a page of history (members
//! only, one of the session's bounded reads, its answer paid for by its bytes).

use futures::FutureExt;
use protocol::limits::MAX_SEARCH_PAGE;
use protocol::{ErrorCode, Label, RequestError, RoomName, ServerMsg};

use super::Session;
use super::backlog::Completion;
use crate::broker::Found;
use crate::dialect::Dialect;
use crate::flood::Cost;
use crate::limits::MAX_QUERIES_PER_SESSION;

impl<D: Dialect> Session<D> {
    /// Starts a search of `room` (which the session is in) for `text`.
    pub(super) fn start_search(
        &mut self,
        room: RoomName,
        text: Label,
        before: Option<u64>,
        limit: u32,
    ) -> Result<(), RequestError> {
        if text.as_str().trim().is_empty() {
            return Err(RequestError::new(ErrorCode::InvalidText, "say what to search for"));
        }
        if self.queries.len() >= MAX_QUERIES_PER_SESSION {
            return Err(RequestError::new(
                ErrorCode::ServerBusy,
                format!("{MAX_QUERIES_PER_SESSION} reads are already running; wait for them"),
            ));
        }
        let broker = self.broker.clone();
        let limit = limit.clamp(1, MAX_SEARCH_PAGE);
        self.queries.push(
            async move {
                let found = broker.search(room.clone(), text.clone(), before, limit).await;
                Completion::Found { room, text, found }
            }
            .boxed(),
        );
        Ok(())
    }

    /// A search finished: its matches, or why there are none; paid for by the answer's bytes.
    pub(super) fn found(
        &mut self,
        room: RoomName,
        text: Label,
        found: Result<Found, RequestError>,
    ) {
        let since = self.out.len();
        match found {
            Ok(Found { messages, more }) => {
                self.write(&ServerMsg::Found { room, text, messages, more });
            }
            Err(e) => self.write(&e.for_request("search").to_msg()),
        }
        self.pay_for_answer(Some(Cost::Request), since);
    }
}
