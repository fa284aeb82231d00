//! What follows a moderation request once it is checked: the act stored by the broker (input
//! waits meanwhile), its answer, and the session's side of what acts do to rooms: a room one
//! was removed from is forgotten, member lists carry roles, a joined room's topic is shown.

use protocol::{ErrorCode, Label, Moderation, Nick, RequestError, RoomName, ServerMsg, describe};
use tracing::info;

use super::Session;
use super::backlog::Completion;
use super::rooms::Phase;
use crate::authority::{Act, Setting};
use crate::dialect::Dialect;
use crate::event::SharedEvent;
use crate::limits::MAX_ROOMS_OWNED;

impl<D: Dialect> Session<D> {
    /// A logged-in session that made a room by joining it owns it, if nobody does and its
    /// account owns fewer than [`MAX_ROOMS_OWNED`] rooms. Its input waits until the claim is
    /// in force on this node: what it asks next of its new room (a mode, a topic) is the
    /// owner's.
    pub(super) fn own_new_room(&mut self, nick: &Nick, room: &RoomName) {
        if !self.logged_in || *room == RoomName::lobby() || self.hub.authority(room).owner.is_some()
        {
            return;
        }
        if self.hub.owned_by(&nick.key()) >= MAX_ROOMS_OWNED {
            self.notice(too_many_owned(room).message);
            return;
        }
        let act = Act::new(Some(room.clone()), vec![Setting::owner(nick)])
            .announce(nick, Moderation::Claimed);
        info!(room = %room, owner = ?nick.as_str(), "room made: claiming it for its maker");
        let stored = self.broker.act(&self.hub, act, Some("owner"));
        self.awaiting = true;
        let room = room.clone();
        self.queries
            .push(Box::pin(async move { Completion::Owned { room, result: stored.await } }));
    }

    /// The claim of a room this session made was stored, lost to another claim, or failed:
    /// input goes on; a failure is told, since the maker expected to own the room.
    pub(super) fn owned(&mut self, room: &RoomName, result: Result<bool, RequestError>) {
        self.awaiting = false;
        if let Err(e) = result {
            self.notice(format!(
                "#{room} could not be made yours ({}): a logged-in member can /claim it",
                e.message
            ));
        }
    }

    /// An account that is deleted owns no room and holds no role any more: whoever registers a
    /// nick like it later is someone else.
    pub(super) fn drop_roles(&mut self, account: &Nick) {
        for (scope, owns) in self.hub.held_by(&account.key()) {
            let mut settings = vec![Setting::role(account, protocol::Role::Member)];
            if owns {
                settings.push(Setting::remove("owner".to_owned()));
            }
            info!(scope = ?scope, account = ?account.as_str(), "roles of a deleted account dropped");
            let stored = self.broker.act(&self.hub, Act::at(scope, settings), None);
            self.queries.push(Box::pin(async move {
                Completion::Acted { request: None, result: stored.await, done: None }
            }));
        }
    }

    /// An operator removed this session from `room` (the hub has taken it out): the rest of
    /// the room's events up to the removal are written, then `event` if the room's channel
    /// has not brought it.
    pub(super) fn removed_from(&mut self, room: &RoomName, event: &SharedEvent) {
        self.take_all_room_events();
        if self.forget_room(room) {
            self.write_event(event);
        }
    }

    /// Drops `room` from this session's rooms without telling the hub (which did the
    /// removing). Returns whether the session was still in it.
    pub(super) fn forget_room(&mut self, room: &RoomName) -> bool {
        let Some(left) = self.rooms.remove(room) else { return false };
        if matches!(left.phase, Phase::Joining(_)) {
            self.show_joined_rooms();
        }
        let tx = left.tx.clone();
        // Its receiver goes first: the backlog the room then looks at is the others'.
        drop(left);
        tx.let_go();
        true
    }

    /// The topic of `room`, if it has one: shown on joining.
    pub(super) fn write_topic_if_set(&mut self, room: &RoomName) {
        let topic = self.hub.authority(room).topic.clone();
        if topic.is_some() {
            self.write(&ServerMsg::Topic { room: room.clone(), topic });
        }
    }

    /// [`Session::submit`], with a notice for the requester once it is stored (an act the
    /// room is not told of, or one whose requester needs to hear more).
    pub(super) fn submit_then(
        &mut self,
        request: &'static str,
        act: Act,
        if_absent: Option<&'static str>,
        done: String,
    ) {
        self.submit_with(request, act, if_absent, Some(done));
    }

    /// Stores `act` (every node applies it); input waits until it is stored, so what follows
    /// sees it done.
    pub(super) fn submit(
        &mut self,
        request: &'static str,
        act: Act,
        if_absent: Option<&'static str>,
    ) {
        self.submit_with(request, act, if_absent, None);
    }

    fn submit_with(
        &mut self,
        request: &'static str,
        act: Act,
        if_absent: Option<&'static str>,
        done: Option<String>,
    ) {
        // The audit line: what was done, in the words the room sees (`?`: escaped).
        let what = act.announce.as_ref().map(|a| describe::moderation(&a.by, &a.action, a.ts));
        let reason = act.remove.as_ref().and_then(|r| r.reason.as_ref()).map(Label::as_str);
        info!(
            request,
            room = act.room.as_ref().map(RoomName::as_str),
            by = ?self.nick.as_ref().map(Nick::as_str),
            what = ?what,
            removes = act.remove.as_ref().map(|r| r.mask.to_string()),
            reason = ?reason,
            "moderation"
        );
        let stored = self.broker.act(&self.hub, act, if_absent);
        self.awaiting = true;
        self.queries.push(Box::pin(async move {
            Completion::Acted { request: Some(request), result: stored.await, done }
        }));
    }

    /// The end of an act: its notice, or its refusal (a claim that lost a race: `has_owner`).
    pub(super) fn acted(
        &mut self,
        request: Option<&'static str>,
        result: Result<bool, RequestError>,
        done: Option<String>,
    ) {
        let Some(request) = request else { return };
        self.awaiting = false;
        let error = match result {
            Ok(true) => {
                if let Some(done) = done {
                    self.notice(done);
                }
                return;
            }
            Ok(false) => RequestError::new(ErrorCode::HasOwner, "the room has an owner already"),
            Err(e) => e,
        };
        self.write(&error.for_request(request).to_msg());
    }
}

/// The refusal of a room to an account that owns [`MAX_ROOMS_OWNED`] already.
pub(super) fn too_many_owned(room: &RoomName) -> RequestError {
    RequestError::new(
        ErrorCode::TooManyOwned,
        format!(
            "you own {MAX_ROOMS_OWNED} rooms, the most an account may: #{room} has no owner; \
             /disown one of yours to /claim it"
        ),
    )
}
