//! A room's earlier messages, sent on joining, on request, and to a member that fell behind,
//! in order with the live ones.
//!
//! Joining subscribes to the room's channel first and reads the history after, so nothing
//! falls between the two. Messages that arrive both ways (stored while the page was being
//! read) are recognised by their sequence number and sent once. While the page is being read
//! the receiver is held back, so the client gets: earlier messages, its own join, the members,
//! then everything live.
//!
//! A member whose receiver falls more than a channel's worth behind (a client that stopped
//! reading for a while) is not left with a hole: its receiver is held back again, the
//! messages after the last one it was sent are read from history, a page at a time, and then
//! the live ones resume, each sent once. Presence events cannot be read back, so the member
//! list is sent afresh. Without history, the client is told how many events it missed.

use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use protocol::{ErrorCode, PresenceEvent, RequestError, RoomName, ServerMsg, Stored};
use tokio::sync::broadcast::error::TryRecvError;
use tracing::{debug, warn};
use uuid::Uuid;

use super::rooms::{Joining, Phase};
use super::{End, Flow, Session};
use crate::broker::Page;
use crate::dialect::Dialect;
use crate::event::SharedEvent;
use crate::flood::Cost;
use crate::hub::{Listener, RoomChannel, members_page};
use crate::limits::{MAX_QUERIES_PER_SESSION, REFILL_PAGE};

/// Whether two events are the same presence event.
fn same_presence(a: &SharedEvent, b: &SharedEvent) -> bool {
    matches!((&a.msg, &b.msg), (ServerMsg::Presence { id: x, .. }, ServerMsg::Presence { id: y, .. }) if x == y)
}

/// A history read that has finished.
pub(super) enum Completion {
    /// The backlog of a room being joined.
    Join { room: RoomName, page: Result<Page, RequestError> },
    /// The answer to a `history` request.
    Page { room: RoomName, page: Result<Page, RequestError> },
    /// The answer to a `search` request.
    Found {
        room: RoomName,
        text: protocol::Label,
        found: Result<crate::broker::Found, RequestError>,
    },
    /// Messages a member that fell behind missed.
    Refill { room: RoomName, chain: u64, messages: Result<Vec<Stored>, RequestError> },
    /// The nodes decided a nick claim, or the password was checked: the rest of a `hello`.
    Claimed {
        nick: protocol::Nick,
        client: protocol::Label,
        resume: uuid::Uuid,
        how: Result<crate::broker::Welcome, RequestError>,
    },
    /// An account was made, changed or deleted: the rest of `register`, `passwd` or
    /// `unregister`.
    Account {
        nick: protocol::Nick,
        event: protocol::AccountEvent,
        result: Result<(), RequestError>,
    },
    /// A private message for an account that is away was kept (its acknowledgement), or not.
    Kept { result: Result<ServerMsg, RequestError> },
    /// What other nodes kept of this session's budget (several nodes only).
    Budget { kept: Vec<crate::flood::Shared> },
    /// The nodes decided a rename.
    Renamed { old: protocol::Nick, new: protocol::Nick, result: Result<(), RequestError> },
    /// Whether a banned bare nick is an account was looked up: the rest of the ban.
    Resolved { nick: protocol::Nick, request: protocol::ClientMsg, account: bool },
    /// The claim of a room the session made was stored (`Ok(false)`: someone else's came first).
    Owned { room: RoomName, result: Result<bool, RequestError> },
    /// A moderation act was stored (`Ok(false)`: its guard refused it), for `request`
    /// (`None`: the session's own, told to nobody).
    Acted {
        request: Option<&'static str>,
        result: Result<bool, RequestError>,
        /// A notice for the requester once it is stored.
        done: Option<String>,
    },
}

pub(super) type Query = BoxFuture<'static, Completion>;

/// History reads under way. Holds no memory while there are none: a `FuturesUnordered`
/// allocates its queue when it is made, and most sessions read nothing after their join.
#[derive(Default)]
pub(super) struct Queries(Option<FuturesUnordered<Query>>);

impl Queries {
    pub(super) fn push(&mut self, query: Query) {
        self.0.get_or_insert_with(FuturesUnordered::new).push(query);
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, FuturesUnordered::len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next read to finish; `None` at once when none is under way. Cancel-safe.
    pub(super) async fn next(&mut self) -> Option<Completion> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`Self::next`], polled.
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Completion>> {
        let Some(reads) = self.0.as_mut() else { return Poll::Ready(None) };
        let done = ready!(reads.poll_next_unpin(cx));
        if reads.is_empty() {
            self.0 = None;
        }
        Poll::Ready(done)
    }
}

impl<D: Dialect> Session<D> {
    /// Continues a join once the hub has the session in the room (and the session has the
    /// room, being joined): reads the backlog first when there is history, otherwise shows the
    /// room at once.
    pub(super) fn start_join(&mut self, room: RoomName) {
        let on_join = self.broker.config().on_join;
        if !self.broker.keeps_history() || on_join == 0 {
            self.joined_backlog(&room, None);
            return;
        }
        let broker = self.broker.clone();
        let query_room = room.clone();
        self.queries.push(
            async move {
                Completion::Join {
                    page: broker.page(query_room.clone(), None, on_join).await,
                    room: query_room,
                }
            }
            .boxed(),
        );
    }

    /// The backlog of a room being joined is read (`None`: there is none to show); shows it
    /// once the rooms joined before it are shown.
    fn joined_backlog(&mut self, room: &RoomName, page: Option<Page>) {
        // Left again before the backlog came: nothing to show.
        let Some(Phase::Joining(joining)) = self.rooms.get_mut(room).map(|r| &mut r.phase) else {
            return;
        };
        joining.backlog = Some(page);
        self.show_joined_rooms();
    }

    /// Shows the rooms whose backlog has been read, in the order they were joined: a client
    /// that joins #a then #b sees #a first (and a plain-text client talks in #b after), however
    /// the two reads finish.
    pub(super) fn show_joined_rooms(&mut self) {
        let mut ready = Vec::new();
        for room in self.rooms.iter_mut() {
            let Phase::Joining(joining) = &mut room.phase else { continue };
            if joining.backlog.is_none() {
                break;
            }
            let Phase::Joining(joining) = std::mem::replace(&mut room.phase, Phase::LetGo) else {
                unreachable!("matched above")
            };
            ready.push((room.name.clone(), joining));
        }
        for (room, joining) in ready {
            self.show_room(room, *joining);
        }
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
        let broker = self.broker.clone();
        let limit = limit.clamp(1, protocol::limits::MAX_HISTORY_PAGE);
        self.queries.push(
            async move {
                Completion::Page { page: broker.page(room.clone(), before, limit).await, room }
            }
            .boxed(),
        );
        Ok(())
    }

    /// Carries on with what a finished read or decision was for; a `hello` that failed once
    /// too often closes the session.
    pub(super) fn on_completion(&mut self, done: Completion) -> Flow {
        match done {
            Completion::Join { room, page } => {
                let page = page.map_err(|e| self.write(&e.for_request("join").to_msg())).ok();
                self.joined_backlog(&room, page);
            }
            Completion::Page { room, page } => {
                let since = self.out.len();
                match page {
                    Ok(page) => self.write(&ServerMsg::History {
                        room,
                        messages: page.messages,
                        beginning: page.beginning,
                    }),
                    Err(e) => self.write(&e.for_request("history").to_msg()),
                }
                self.pay_for_answer(Some(Cost::Request), since);
            }
            Completion::Found { room, text, found } => self.found(room, text, found),
            Completion::Refill { room, chain, messages } => self.refilled(room, chain, messages),
            Completion::Claimed { nick, client, resume, how } => {
                self.awaiting = false;
                if self.claimed(nick, &client, resume, how) {
                    return Flow::Close(End::LoginFailed);
                }
            }
            Completion::Budget { kept } => self.resumed_budget(kept),
            Completion::Renamed { old, new, result } => {
                self.awaiting = false;
                self.renamed(&old, new, result);
            }
            Completion::Account { nick, event, result } => {
                self.awaiting = false;
                self.account_changed(nick, event, result);
            }
            Completion::Kept { result } => {
                self.awaiting = false;
                self.kept(result);
            }
            Completion::Resolved { nick, request, account } => {
                self.resolved(&nick, request, account);
            }
            Completion::Owned { room, result } => self.owned(&room, result),
            Completion::Acted { request, result, done } => self.acted(request, result, done),
        }
        Flow::Continue
    }

    /// Sends the backlog, the join, the members, and from then on the room's live events.
    fn show_room(&mut self, room: RoomName, mut joining: Joining) {
        if let Some(page) = joining.backlog.take().flatten() {
            // What the client has from now on: the page's last message, or, for a room with
            // no history at all, nothing before the first live one.
            let delivered = match page.messages.last() {
                Some(last) => Some(last.seq),
                None if page.beginning => Some(0),
                None => None,
            };
            if let Some(joined) = self.rooms.get_mut(&room) {
                joined.delivered = delivered;
            }
            self.write(&ServerMsg::History {
                room: room.clone(),
                messages: page.messages,
                beginning: page.beginning,
            });
        }
        // Take the receiver's events up to our own announcement now, so the join shows before
        // the member list.
        // A room busy enough to overrun the channel while the backlog was read: the receiver
        // reports it once, here, and the member is filled in as one that fell behind.
        let mut lagged = None;
        if joining.quiet {
            // Not in the room's channel: everything there came after it.
            self.write_event(&joining.announcement);
        }
        while !joining.quiet {
            match joining.rx.try_recv() {
                Ok(event) => {
                    if self.is_new(&event) {
                        self.write_event(&event);
                    }
                    // By id: with several nodes the announcement comes back through the broker.
                    if Arc::ptr_eq(&event, &joining.announcement)
                        || same_presence(&event, &joining.announcement)
                    {
                        break;
                    }
                }
                Err(TryRecvError::Lagged(missed)) => {
                    lagged = Some(missed);
                    break;
                }
                Err(_) => break,
            }
        }
        self.write_members(members_page(room.clone(), joining.members, joining.roles, None));
        self.write_topic_if_set(&room);
        match lagged {
            None => self.listen(&room, joining.rx),
            Some(missed) => self.catch_up(
                &room,
                joining.rx,
                &format!("#{room} was too busy while you joined; you missed {missed} events"),
            ),
        }
    }

    /// Whether the client should get `event`: every event but a message it already has (from
    /// the backlog or a refill). Notes the message as delivered; a message that comes after a
    /// gap (events missed without history to fill them in) is preceded by how many it missed.
    pub(super) fn is_new(&mut self, event: &SharedEvent) -> bool {
        match &event.msg {
            ServerMsg::Presence { id, event: PresenceEvent::Renamed { .. }, .. } => {
                return self.renames.get_or_insert_default().first_time(*id);
            }
            ServerMsg::Presence { id, event: PresenceEvent::Joined, .. } => {
                return !self.renames.as_ref().is_some_and(|told| told.has(*id));
            }
            _ => {}
        }
        if let ServerMsg::Deleted { room, seq, .. } = &event.msg {
            // Told in place of a message this session never had (a node filling in what it
            // missed finds it deleted): the numbering goes on after it, without a gap.
            if let Some(joined) = self.rooms.get_mut(room)
                && joined.delivered.is_some_and(|delivered| delivered + 1 == *seq)
            {
                joined.delivered = Some(*seq);
            }
            return true;
        }
        let ServerMsg::Message { room, seq, .. } = &event.msg else { return true };
        let Some(joined) = self.rooms.get_mut(room) else { return true };
        let missed = match joined.delivered {
            Some(delivered) if *seq <= delivered => return false,
            Some(delivered) => *seq - delivered - 1,
            None => 0,
        };
        joined.delivered = Some(*seq);
        if missed > 0 {
            warn!(parent: &self.span, room = %room, missed, "session missed messages");
            self.write_lagged(format!(
                    "you fell behind and missed {missed} messages in #{room}; page them back with history"
                ));
        }
        true
    }

    /// Takes the room's live events from `rx` from now on (if the session is still in it).
    fn listen(&mut self, room: &RoomName, rx: Listener) {
        if let Some(joined) = self.rooms.get_mut(room) {
            joined.phase = Phase::live(rx);
        }
    }

    /// The room's receiver skipped `missed` events: fills the client in from history when it
    /// can, otherwise tells it.
    pub(super) fn on_lag(&mut self, room: &RoomName, missed: u64) {
        let Some(joined) =
            self.rooms.get_mut(room).filter(|r| matches!(r.phase, Phase::Live { .. }))
        else {
            return;
        };
        let Phase::Live { rx, .. } = std::mem::replace(&mut joined.phase, Phase::LetGo) else {
            return;
        };
        self.catch_up(
            room,
            rx,
            &format!("you fell behind and missed {missed} events in #{room}; page the messages back with history"),
        );
    }

    /// Takes up the rooms' channels again after the client stopped reading for a while, and
    /// fills it in on what it missed meanwhile.
    pub(super) fn resubscribe(&mut self) {
        let let_go: Vec<(RoomName, RoomChannel)> = self
            .rooms
            .iter_mut()
            .filter(|r| matches!(r.phase, Phase::LetGo))
            .map(|r| (r.name.clone(), r.tx.clone()))
            .collect();
        for (room, tx) in let_go {
            self.catch_up(
                &room,
                tx.listen(tx.subscribe(), self.direct.bell()),
                &format!("you stopped reading for a while and missed events in #{room}; page the messages back with history"),
            );
        }
    }

    /// Holds `rx` back while the messages after the last one delivered are read from
    /// history. Without history, lets it go on at once: the next message tells the client how
    /// many it missed (or, if it has had none yet, `otherwise` does now).
    fn catch_up(&mut self, room: &RoomName, rx: Listener, otherwise: &str) {
        let Some(joined) = self.rooms.get_mut(room) else { return };
        match joined.delivered {
            Some(after) if self.broker.keeps_history() => {
                debug!(parent: &self.span, room = %room, after, "filling in from history");
                // A new chain of reads: answers to an older one (its receiver was let go while
                // it ran) are recognised by their number and dropped.
                let chain = self.rooms.next_chain();
                if let Some(joined) = self.rooms.get_mut(room) {
                    joined.phase = Phase::Refilling { rx, chain };
                }
                self.start_refill(room.clone(), after, chain);
            }
            Some(_) => self.listen(room, rx),
            None => {
                self.listen(room, rx);
                warn!(parent: &self.span, room = %room, "session missed events");
                self.write_lagged(otherwise.to_owned());
            }
        }
    }

    fn start_refill(&mut self, room: RoomName, after: u64, chain: u64) {
        let broker = self.broker.clone();
        self.queries.push(
            async move {
                Completion::Refill {
                    messages: broker.after(room.clone(), after, REFILL_PAGE).await,
                    room,
                    chain,
                }
            }
            .boxed(),
        );
    }

    /// Sends a page of missed messages; reads the next one, or lets the live ones resume.
    fn refilled(
        &mut self,
        room: RoomName,
        chain: u64,
        messages: Result<Vec<Stored>, RequestError>,
    ) {
        // Left the room meanwhile, or a newer chain of reads took over: nothing to do.
        let Some(joined) = self.rooms.get(&room) else { return };
        if !matches!(joined.phase, Phase::Refilling { chain: current, .. } if current == chain) {
            return;
        }
        let delivered = joined.delivered.unwrap_or(0);
        match messages {
            Ok(messages) => {
                let full = messages.len() >= REFILL_PAGE as usize;
                let mut last = delivered;
                let first = messages.first().map(|m| m.seq);
                if let Some(first) = first.filter(|first| *first > delivered + 1) {
                    // Pruned before this member could be given them.
                    self.write_lagged(format!(
                        "you fell behind in #{room}; {} messages were too old to fill in",
                        first - delivered - 1
                    ));
                }
                // A refill that was overtaken (the client stalled again and a new one started)
                // may repeat what the client has. A tombstone is no message to send, but counts
                // as delivered: the next one follows it without a gap.
                for stored in messages.into_iter().filter(|m| m.seq > delivered) {
                    last = stored.seq;
                    if let Some(message) = stored.into_message(room.clone()) {
                        self.write(&message);
                    }
                }
                if let Some(joined) = self.rooms.get_mut(&room) {
                    joined.delivered = Some(last);
                }
                if full {
                    self.start_refill(room, last, chain);
                    return;
                }
            }
            Err(e) => {
                warn!(room = %room, message = %e.message, "cannot fill in a member that fell behind");
                self.write_lagged(format!(
                    "you fell behind in #{room} and the missed messages cannot be read: {}",
                    e.message
                ));
            }
        }
        // Caught up with what is stored: the live messages resume (copies of what was just
        // sent are skipped), and the member list replaces whatever presence was missed.
        if let Some(joined) = self.rooms.get_mut(&room)
            && matches!(joined.phase, Phase::Refilling { .. })
            && let Phase::Refilling { rx, .. } = std::mem::replace(&mut joined.phase, Phase::LetGo)
        {
            joined.phase = Phase::live(rx);
        }
        if let Some((nicks, roles)) = self.hub.members(&room, self.id) {
            self.write_members(members_page(room, nicks, roles, None));
        }
    }

    /// Tells the client it missed events (`lagged`): what and what to do about it.
    fn write_lagged(&mut self, message: String) {
        self.write(&ServerMsg::Error {
            code: ErrorCode::Lagged,
            message,
            request: None,
            retry_after_ms: None,
        });
    }
}

/// The ids of the last nick changes told to the client (one change comes through every room
/// the nick shares with this session, under one id, and is told once), and of a quiet join
/// the session showed its client itself, announced to the room later under the same id. A
/// few suffice: the copies of one change arrive within one pass over the session's rooms.
#[derive(Debug, Default)]
pub(super) struct RecentRenames {
    ids: [Uuid; 8],
    next: usize,
}

impl RecentRenames {
    pub(super) fn has(&self, id: Uuid) -> bool {
        self.ids.contains(&id)
    }

    /// Whether `id` is new; remembers it.
    pub(super) fn first_time(&mut self, id: Uuid) -> bool {
        if self.ids.contains(&id) {
            return false;
        }
        self.ids[self.next] = id;
        self.next = (self.next + 1) % self.ids.len();
        true
    }
}
