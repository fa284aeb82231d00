//! The requests a session carries out: everything that changes what the client is part of
//! (registration, rooms, nick) or asks the server for.

use protocol::{
    ClientMsg, ErrorCode, FloodRate, Label, MessageKind, Nick, PROTOCOL_VERSION, Password,
    PresenceEvent, RequestError, ResumeToken, Role, RoomInfo, RoomName, ServerMsg, Text,
};

use tracing::info;
use uuid::Uuid;

use super::backlog::Completion;
use super::rooms::{JoinedRoom, Phase};
use super::{End, Flow, Session};
use crate::broker::{Answer, Delete, Hello, Say, Welcome};
use crate::dialect::Dialect;
use crate::hub::{Order, ResumeHash};
use crate::limits::{
    MAX_LOGIN_TRIES, MAX_ROOMS_LISTED, MAX_ROOMS_PER_SESSION, MAX_THROTTLE, MEMBER_SORT_BYTES,
};

impl<D: Dialect> Session<D> {
    /// Carries out one request.
    pub(super) fn handle(&mut self, request: ClientMsg) -> Result<Flow, RequestError> {
        // Requests allowed at any time.
        let request = match request {
            ClientMsg::Ping { token } => {
                self.write(&ServerMsg::Pong { token });
                return Ok(Flow::Continue);
            }
            ClientMsg::Pong { .. } => return Ok(Flow::Continue),
            ClientMsg::Quit { reason } => return Ok(Flow::Close(End::Quit(reason))),
            ClientMsg::Hello { nick, protocol, client, resume, password } => {
                if self.nick.is_some() {
                    return Err(RequestError::new(
                        ErrorCode::AlreadyRegistered,
                        "you said hello already",
                    ));
                }
                return self.hello(nick, protocol, &client, resume.map(|t| t.expose()), password);
            }
            other => other,
        };
        let Some(nick) = self.nick.clone() else {
            return Err(RequestError::new(ErrorCode::NotRegistered, "say hello first"));
        };
        match request {
            ClientMsg::Join { room, key } => self.join(&nick, room, key.as_ref())?,
            ClientMsg::Leave { room } => self.leave(&nick, &room)?,
            ClientMsg::Say { room, text } => {
                self.spoke();
                self.say(nick, room, MessageKind::Say, text)?;
            }
            ClientMsg::Action { room, text } => {
                self.spoke();
                self.say(nick, room, MessageKind::Action, text)?;
            }
            ClientMsg::Delete { room, id } => self.delete(nick, room, id)?,
            ClientMsg::Msg { to, text } => {
                self.spoke();
                self.private(nick.clone(), to.clone(), text)?;
                self.tell_away(&nick, &to);
            }
            ClientMsg::Away { text } => self.away(&nick, text.as_ref()),
            ClientMsg::Whois { nick: whom } => self.whois(&nick, &whom)?,
            ClientMsg::Search { room, text, before, limit } => {
                self.must_be_in(&room)?;
                self.start_search(room, text, before, limit)?;
            }
            ClientMsg::Register { password } => self.register(nick, password),
            ClientMsg::Passwd { old, new } => self.passwd(nick, old, new)?,
            ClientMsg::Unregister { password } => self.unregister(nick, password)?,
            ClientMsg::Nick { nick: new } if new == nick => {
                self.write(&ServerMsg::Nick { nick: new });
            }
            ClientMsg::Nick { nick: new } => {
                self.not_muted_anywhere(&nick)?;
                match self.broker.rename(&self.hub, &nick, &new, self.id) {
                    Answer::Now(result) => {
                        result?;
                        self.now_known_as(&nick, new);
                    }
                    Answer::Later(result) => {
                        // The nodes decide together; input waits meanwhile, so requests are
                        // answered in order.
                        self.awaiting = true;
                        self.queries.push(Box::pin(async move {
                            Completion::Renamed { old: nick, new, result: result.await }
                        }));
                    }
                }
            }
            ClientMsg::Rooms => self.write(&ServerMsg::Rooms { rooms: self.room_list() }),
            request @ (ClientMsg::Topic { .. }
            | ClientMsg::Mode { .. }
            | ClientMsg::Kick { .. }
            | ClientMsg::Ban { .. }
            | ClientMsg::Unban { .. }
            | ClientMsg::Bans { .. }
            | ClientMsg::Mute { .. }
            | ClientMsg::Unmute { .. }
            | ClientMsg::Role { .. }
            | ClientMsg::Invite { .. }
            | ClientMsg::Claim { .. }
            | ClientMsg::Disown { .. }
            | ClientMsg::Kill { .. }
            | ClientMsg::Gban { .. }
            | ClientMsg::Ungban { .. }
            | ClientMsg::Gbans) => self.moderate(&nick, request)?,
            // A room's conversation and its member list are its members' business.
            ClientMsg::History { room, before, limit } => {
                self.must_be_in(&room)?;
                self.start_page(room, before, limit)?;
            }
            ClientMsg::Who { room, after } => {
                self.must_be_in(&room)?;
                let (nicks, roles) = self.hub.members(&room, self.id).ok_or_else(|| {
                    RequestError::new(ErrorCode::NoSuchRoom, format!("there is no room #{room}"))
                })?;
                let first = after.is_none();
                // Every page sorts the whole room: that is paid for beside the answer.
                if let Some(flood) = &mut self.flood {
                    flood.charge_answer(nicks.len().saturating_mul(MEMBER_SORT_BYTES));
                }
                self.write_members(crate::hub::members_page(room.clone(), nicks, roles, after));
                if first {
                    self.write_topic_if_set(&room);
                }
            }
            // Handled above.
            ClientMsg::Hello { .. }
            | ClientMsg::Ping { .. }
            | ClientMsg::Pong { .. }
            | ClientMsg::Quit { .. } => {}
        }
        Ok(Flow::Continue)
    }

    fn hello(
        &mut self,
        nick: Nick,
        protocol: u32,
        client: &Label,
        claim: Option<Uuid>,
        password: Option<Password>,
    ) -> Result<Flow, RequestError> {
        if protocol != PROTOCOL_VERSION {
            self.write(
                &RequestError::new(
                    ErrorCode::UnsupportedProtocol,
                    format!("this server speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
                )
                .for_request("hello")
                .to_msg(),
            );
            return Ok(Flow::Close(End::UnsupportedProtocol));
        }
        // A server ban of this nick or address ends it before anything else is done (one of
        // the account is checked once the login is).
        if let Some(end) = self.server_ban(&nick, false) {
            return Ok(Flow::Close(end));
        }
        // Random, unlike the session id (a v7 uuid, partly a timestamp): it is a secret.
        let resume = Uuid::new_v4();
        let hello = Hello {
            nick: nick.clone(),
            session: self.id,
            resume: ResumeHash::of(resume),
            direct: self.direct.sender(),
            claim,
            password,
            peer: self.peer,
            logins: self.info.logins.clone(),
        };
        match self.broker.claim(&self.hub, hello) {
            Answer::Now(how) => self.welcome(nick, client, resume, how?),
            Answer::Later(how) => {
                // The nodes decide together who gets the nick, or the password is being
                // checked; input waits meanwhile.
                let client = client.clone();
                self.awaiting = true;
                self.queries.push(Box::pin(async move {
                    Completion::Claimed { nick, client, resume, how: how.await }
                }));
            }
        }
        Ok(Flow::Continue)
    }

    /// The rest of a `hello` once the nodes have decided the nick claim. Returns whether the
    /// connection is to close: too many wrong passwords.
    pub(super) fn claimed(
        &mut self,
        nick: Nick,
        client: &Label,
        resume: Uuid,
        how: Result<Welcome, RequestError>,
    ) -> bool {
        match how {
            Ok(how) => self.welcome(nick, client, resume, how),
            Err(error) => {
                let wrong = error.code == ErrorCode::WrongPassword;
                self.write(&error.for_request("hello").to_msg());
                if wrong {
                    self.login_failures = self.login_failures.saturating_add(1);
                    return u32::from(self.login_failures) >= MAX_LOGIN_TRIES;
                }
            }
        }
        false
    }

    /// The rest of a `nick` once the nodes have decided.
    pub(super) fn renamed(&mut self, old: &Nick, new: Nick, result: Result<(), RequestError>) {
        match result {
            Ok(()) => self.now_known_as(old, new),
            Err(error) => self.write(&error.for_request("nick").to_msg()),
        }
    }

    fn now_known_as(&mut self, old: &Nick, new: Nick) {
        info!(from = ?old.as_str(), to = ?new.as_str(), "renamed");
        if self.logged_in && old.key() != new.key() {
            // Logged in to the account of the old nick, not of this one.
            self.set_logged_in(false);
            self.notice(format!(
                "you are a guest as {new}; your account {old} is kept for you: log in as {old} to use it"
            ));
        }
        self.nick = Some(new.clone());
        // Events about whoever had this nick before ("Tracy left") were sent before the
        // rename: they must reach the client before it learns the nick is its own.
        self.take_all_room_events();
        self.write(&ServerMsg::Nick { nick: new });
    }

    /// Registered: the welcome, what waited for an account, and the lobby.
    fn welcome(&mut self, nick: Nick, client: &Label, resume: Uuid, welcome: Welcome) {
        let Welcome { claimed, notice, waiting } = welcome;
        info!(nick = ?nick.as_str(), client = ?client.as_str(), how = ?claimed.how, account = claimed.account, "registered");
        self.nick = Some(nick.clone());
        self.set_logged_in(claimed.account);
        if claimed.account
            && let Some(End::Removed { code, message }) = self.server_ban(&nick, true)
        {
            // Ended through the queue, as an admin's ban would: the hub has the session now.
            self.direct.sender().order(Order::End { code, message });
            return;
        }
        let welcome = ServerMsg::Welcome {
            session: self.id,
            nick: nick.clone(),
            server: Label::truncate(&self.info.version),
            protocol: PROTOCOL_VERSION,
            greeting: format!("Hello, {nick}! Welcome to {}.", self.info.name),
            motd: self.info.motd.clone(),
            rooms: self.room_list(),
            resume: self.dialect.resumes().then_some(ResumeToken::from(resume)),
            account: self.logged_in,
            flood: self.info.flood.map(|limits| FloodRate {
                burst: limits.messages.burst,
                every_ms: u64::try_from(limits.messages.every.as_millis()).unwrap_or(u64::MAX),
            }),
        };
        self.write(&welcome);
        if let Some(notice) = notice {
            self.notice(notice);
        }
        for message in &waiting {
            self.write(message);
        }
        // Registered either way: a full lobby is told as the failure of the join, not of the
        // hello, and the client can join other rooms.
        if let Err(error) = self.join(&nick, RoomName::lobby(), None) {
            self.write(&error.for_request("join").to_msg());
        }
    }

    fn join(
        &mut self,
        nick: &Nick,
        room: RoomName,
        key: Option<&protocol::JoinKey>,
    ) -> Result<(), RequestError> {
        if self.rooms.get(&room).is_some() {
            return Err(RequestError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already in #{room}"),
            ));
        }
        if self.rooms.len() >= MAX_ROOMS_PER_SESSION {
            return Err(RequestError::new(
                ErrorCode::TooManyRooms,
                format!("you are in {MAX_ROOMS_PER_SESSION} rooms, the most a session may be in"),
            ));
        }
        // A name that reads like a room with history (empty now) is that room; one that reads
        // like a room with members, the hub finds.
        let like = self.broker.room_like(&room).unwrap_or_else(|| room.clone());
        // A session that keeps coming and going joins quietly once its presence budget is
        // spent: announced only if it speaks.
        let quiet = self.flood.as_mut().is_some_and(|flood| !flood.announce());
        let membership = match self.hub.join(&self.who(nick), self.id, &like, key, quiet) {
            Ok(membership) => membership,
            Err(refused) => {
                if let Some(flood) = self.flood.as_mut().filter(|_| !quiet) {
                    flood.unannounce();
                }
                return Err(refused);
            }
        };
        let created = membership.created;
        if membership.room != room {
            self.notice(format!(
                "#{room} reads like #{}, which exists: you joined #{}",
                membership.room, membership.room
            ));
        }
        // The hub's copy of the name, shared, rather than the one read from the request.
        let room = membership.room.clone();
        self.rooms.add(JoinedRoom::joining(membership, self.direct.bell()));
        if created {
            self.own_new_room(nick, &room);
        }
        self.start_join(room);
        Ok(())
    }

    fn leave(&mut self, nick: &Nick, room: &RoomName) -> Result<(), RequestError> {
        let left = self.rooms.remove(room).ok_or_else(|| not_in_room(room))?;
        if matches!(left.phase, Phase::Joining(_)) {
            // Rooms joined after this one may have been waiting for it.
            self.show_joined_rooms();
        }
        let tx = left.tx.clone();
        // Its receiver goes first: the backlog the room then looks at is the others'.
        drop(left);
        tx.let_go();
        let event = self.hub.leave(nick, self.id, room, PresenceEvent::Left { reason: None });
        self.write_event(&event);
        Ok(())
    }

    fn say(
        &mut self,
        from: Nick,
        room: RoomName,
        kind: MessageKind,
        text: Text,
    ) -> Result<(), RequestError> {
        let joined = self.rooms.get(&room).ok_or_else(|| not_in_room(&room))?;
        // Most rooms restrict nobody: then a message costs one atomic load here.
        let authority = joined.authority.load();
        if authority.restricts_speech() {
            authority.may_speak(&room, &self.who(&from), protocol::now_millis())?;
        }
        if let Some(join) = joined.quiet {
            // Under the id of the join the client has seen already: told to the others, not
            // to it again.
            self.renames.get_or_insert_default().first_time(join);
            self.hub.unquiet(&from, self.id, &room, join);
            if let Some(joined) = self.rooms.get_mut(&room) {
                joined.quiet = None;
            }
        }
        let joined = self.rooms.get_mut(&room).ok_or_else(|| not_in_room(&room))?;
        let room_tx = joined.tx.clone();
        // The writer stores it, then broadcasts it: the echo that comes back is the
        // acknowledgement that it is stored.
        let speaking = self.speaking.get_or_insert_with(super::Speaking::new);
        self.broker.say(Say {
            room: joined.name.clone(),
            from,
            account: self.logged_in,
            kind,
            text,
            room_tx,
            sender: speaking.answers_tx.clone(),
            in_flight: speaking.in_flight.clone(),
        })?;
        // A room whose members are far behind makes its senders wait, rather than outrun
        // them until they are overrun.
        if self.throttle.is_none()
            && let Some(held) = joined.tx.hold_back(&mut joined.share)
        {
            let until = tokio::time::Instant::now() + MAX_THROTTLE;
            self.throttle = Some(Box::new(super::Throttle { room, held, until }));
        }
        Ok(())
    }

    /// Hands the deletion of message `id` of `room` to the broker, which decides it in order
    /// with the room's messages: whether the message is the requester's own is only known
    /// where it is stored. Operators (and the owner, and admins) may delete any message of
    /// the room, by the same role check as a kick.
    fn delete(&mut self, by: Nick, room: RoomName, id: Uuid) -> Result<(), RequestError> {
        let joined = self.rooms.get(&room).ok_or_else(|| not_in_room(&room))?;
        let any = joined.authority.load().role_of(&self.who(&by)) >= Role::Operator;
        let room_tx = joined.tx.clone();
        let speaking = self.speaking.get_or_insert_with(super::Speaking::new);
        self.broker.delete(Delete {
            room,
            id,
            by,
            account: self.logged_in,
            any,
            room_tx,
            sender: speaking.answers_tx.clone(),
            in_flight: speaking.in_flight.clone(),
        })
    }

    /// The rooms to list: those with members, then those that only have history (a restarted
    /// server's rooms), as many as fit in a list.
    fn room_list(&self) -> Vec<RoomInfo> {
        let mut rooms = self.hub.rooms(self.rooms.iter().map(|room| &room.name));
        let active: std::collections::HashSet<RoomName> =
            rooms.iter().map(|r| r.name.clone()).collect();
        // Secret rooms are few: each is found among the rooms with history by its key.
        let secret: std::collections::HashSet<RoomName> = self
            .hub
            .secret_scopes()
            .iter()
            .filter_map(|scope| self.broker.room_by_key(scope.strip_prefix('#')?))
            .collect();
        let quiet = self.broker.quiet_rooms(MAX_ROOMS_LISTED.saturating_sub(active.len()), |r| {
            active.contains(r) || secret.contains(r)
        });
        rooms.extend(quiet.into_iter().map(|name| RoomInfo { name, members: 0 }));
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }
}

impl<D: Dialect> Session<D> {
    /// Whether this session is logged in, here and where the hub matches bans.
    pub(super) fn set_logged_in(&mut self, logged_in: bool) {
        self.logged_in = logged_in;
        self.direct.set_logged_in(logged_in);
        self.hold_budget();
    }

    /// The end for a client that a server ban matches: by nick and address, or (`account`)
    /// by the account it logged in to. Admins are beyond bans.
    fn server_ban(&mut self, nick: &Nick, account: bool) -> Option<End> {
        let mut who = self.who(nick);
        who.account = account;
        who.admin = account && self.hub.is_admin(nick);
        if who.admin {
            return None;
        }
        let now = protocol::now_millis();
        let authority = self.hub.server_authority();
        let ban = authority.ban_of(&who, now)?;
        let message = crate::authority::banned("this server", ban, now).message;
        info!(nick = ?nick.as_str(), mask = %ban.mask, "refused: banned from the server");
        Some(End::Removed { code: protocol::ByeCode::Banned, message })
    }

    /// Refuses a rename to someone muted in one of its rooms: a mute is on the nick, and a new
    /// nick would shed it.
    fn not_muted_anywhere(&self, nick: &Nick) -> Result<(), RequestError> {
        let (key, now) = (nick.key(), protocol::now_millis());
        for room in self.rooms.iter() {
            if room.authority.load().muted(&key, now).is_some() {
                return Err(RequestError::new(
                    ErrorCode::Muted,
                    format!("you are muted in #{}: your nick stays until the mute ends", room.name),
                ));
            }
        }
        Ok(())
    }

    /// Refuses what only members of `room` may ask (`not_in_room`).
    pub(super) fn must_be_in(&self, room: &RoomName) -> Result<(), RequestError> {
        self.rooms.get(room).map(|_| ()).ok_or_else(|| not_in_room(room))
    }
}

fn not_in_room(room: &RoomName) -> RequestError {
    RequestError::new(ErrorCode::NotInRoom, format!("you are not in #{room}"))
}
