//! The hub's sessions: registering a nick (new, taken over with a resume token, reclaimed),
//! renaming, private messages between sessions, and a session's end.

use std::time::{Duration, Instant};

use protocol::{ErrorCode, Nick, NickKey, PresenceEvent, RequestError, RoomName, Text};
use uuid::Uuid;

use super::{
    Change, Claimed, Direct, Hub, Member, Registered, ResumeHash, RoomChannel, State, User,
    nick_in_use, nick_registered, presence, presence_as, private, recipient_busy, taken_over,
};
use crate::event::SharedEvent;

impl Hub {
    /// Claims `nick` for a new session, whose own resume token is `resume`. With `claim`,
    /// the resume token of an earlier session of this nick, the nick is taken over even while
    /// that session still holds it (its connection is dead but not yet noticed, or it is
    /// another device of the same person): the old session leaves its rooms as dropped and is
    /// told to end. A nick kept for a dropped session is given only to its token.
    ///
    /// A registered nick (or a look-alike) goes to a session that `logged_in` to its account
    /// (taking it from whoever holds it), or to the token of a session that held it (which
    /// was logged in: only its owner can hold an account's nick), and to nobody else.
    pub fn claim_nick(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: ResumeHash,
        direct: Direct,
        claim: Option<Uuid>,
        logged_in: bool,
    ) -> Result<Claimed, RequestError> {
        let mut state = self.state();
        let now = Instant::now();
        state.reserved.drop_expired(now);
        let key = nick.key();
        let account = state.accounts.get(&key).cloned();
        let how = if let Some(holder) = state.users.get(&key) {
            let shown = holder.resume.matches(claim);
            match &account {
                Some(_) if logged_in => {}
                Some(owner) if !shown => return Err(nick_registered(nick, owner.as_str())),
                _ if !shown => return Err(nick_in_use(nick, holder.nick.as_str())),
                _ => {}
            }
            self.take_over(&mut state, &key);
            Registered::TookOver
        } else {
            match &account {
                Some(_) if logged_in => {}
                Some(owner) if !state.reserved.kept_for(&key, claim) => {
                    return Err(nick_registered(nick, owner.as_str()));
                }
                _ => state.check_free(nick, claim, now)?,
            }
            if state.reserved.contains(&key) { Registered::Reclaimed } else { Registered::New }
        };
        self.insert_user(&mut state, nick, session, resume, direct, now);
        Ok(Claimed { how, account: account.is_some() })
    }

    /// Whether the nick of `key` is a registered account's (single node).
    pub fn is_account(&self, key: &NickKey) -> bool {
        self.state().accounts.contains_key(key)
    }

    /// The accounts, at start-up (single node).
    pub fn load_accounts(&self, accounts: impl IntoIterator<Item = Nick>) {
        let mut state = self.state();
        state.accounts.extend(accounts.into_iter().map(|nick| (nick.key(), nick)));
    }

    /// `nick` is now an account (single node), or no longer one.
    pub fn set_account(&self, nick: &Nick, registered: bool) {
        let mut state = self.state();
        if registered {
            state.accounts.insert(nick.key(), nick.clone());
        } else {
            state.accounts.remove(&nick.key());
        }
    }

    /// Registers a nick that the broker has given this session across the nodes. A session of
    /// this node that holds it is taken over only if the broker says so (the token was shown);
    /// if it says the nick was free while a session here still has it (a rename on its way,
    /// the shared store lost data), the nick is refused and let go again there.
    pub fn claim_granted(
        &self,
        nick: &Nick,
        session: Uuid,
        resume: ResumeHash,
        direct: Direct,
        how: Registered,
    ) -> Result<(), RequestError> {
        let mut state = self.state();
        let key = nick.key();
        if let Some(holder) = state.users.get(&key) {
            if how != Registered::TookOver {
                let error = nick_in_use(nick, holder.nick.as_str());
                self.elsewhere.release(nick, session, resume, Duration::ZERO);
                return Err(error);
            }
            self.take_over(&mut state, &key);
        }
        // Another node's holder (taken over, or gone): its own departure, when it comes, is
        // recognised by its session and changes nothing.
        if let Some(gone) = state.remote.remove(&key) {
            self.remote_gone(&gone);
        }
        self.insert_user(&mut state, nick, session, resume, direct, Instant::now());
        Ok(())
    }

    /// Whether someone by `nick` (or a look-alike) is online, on any node.
    pub fn is_online(&self, nick: &Nick) -> bool {
        let state = self.state();
        let key = nick.key();
        state.users.contains_key(&key) || state.remote.contains_key(&key)
    }

    /// Whether `session` is registered on this node.
    pub fn is_local(&self, session: Uuid) -> bool {
        self.state().users.values().any(|u| u.session == session)
    }

    /// Whether `session` of this node is in `room`.
    pub fn is_local_member(&self, room: &RoomName, session: Uuid) -> bool {
        let state = self.state();
        state.users.values().any(|u| u.session == session && u.rooms.binary_search(room).is_ok())
    }

    fn insert_user(
        &self,
        state: &mut State,
        nick: &Nick,
        session: Uuid,
        resume: ResumeHash,
        direct: Direct,
        now: Instant,
    ) {
        let key = nick.key();
        state.reserved.remove(&key);
        let replaced = state.users.insert(
            key,
            User {
                nick: nick.clone(),
                session,
                resume,
                since: now,
                direct,
                rooms: Vec::new(),
                away: None,
            },
        );
        if let Some(replaced) = replaced {
            self.user_gone(&replaced);
        }
        crate::metrics::registered(state.users.len());
        self.elsewhere.online(session, nick);
    }

    /// Ends the session holding `key` for a new connection that showed its token: it leaves
    /// its rooms as dropped ("reconnected") and is told to end.
    fn take_over(&self, state: &mut State, key: &NickKey) {
        let Some(old) = state.users.remove(key) else { return };
        self.user_gone(&old);
        crate::metrics::registered(state.users.len());
        let reason = protocol::Label::truncate("reconnected");
        for room in &old.rooms {
            let event = PresenceEvent::Dropped { reason: reason.clone() };
            self.remove_member(state, key, old.session, room, &presence(room, &old.nick, event));
        }
        old.direct.replace();
    }

    /// Another node's session took over `nick` from `session` of this node (several nodes).
    pub fn replaced(&self, nick: &Nick, session: Uuid) {
        let mut state = self.state();
        let key = nick.key();
        if state.holds(&key, session) {
            self.take_over(&mut state, &key);
        }
    }

    /// Ends `session`'s presence on the server: leaves every room with `event` and frees its
    /// nick, or keeps the nick for the session's resume token for a while if `reserve`.
    /// Nothing happens if the nick is no longer the session's (it was taken over).
    pub fn unregister(&self, nick: &Nick, session: Uuid, event: PresenceEvent, reserve: bool) {
        let mut state = self.state();
        let key = nick.key();
        if !state.holds(&key, session) {
            return;
        }
        let Some(user) = state.users.remove(&key) else { return };
        self.user_gone(&user);
        crate::metrics::registered(state.users.len());
        for room in &user.rooms {
            let announcement = presence(room, &user.nick, event.clone());
            self.remove_member(&mut state, &key, session, room, &announcement);
        }
        let now = Instant::now();
        let keep = reserve
            && !self.reservation.is_zero()
            && now.duration_since(user.since) >= self.reserve_after;
        // With several nodes the broker frees or keeps it, for every node.
        let kept_for = if keep { self.reservation } else { Duration::ZERO };
        if self.elsewhere.release(&user.nick, session, user.resume, kept_for) {
            return;
        }
        if keep && let Some(until) = now.checked_add(self.reservation) {
            state.reserved.keep(user.nick, user.resume, until, now);
        }
    }

    /// Ends whatever `session` holds, for a session that could not end normally (its task
    /// panicked): no ghost nick or membership stays behind.
    pub fn forget(&self, session: Uuid) {
        let (nick, channels) = {
            let state = self.state();
            let Some(user) = state.users.values().find(|u| u.session == session) else { return };
            let channels: Vec<RoomChannel> = user
                .rooms
                .iter()
                .filter_map(|r| state.rooms.get(r))
                .map(|r| r.tx.clone())
                .collect();
            (user.nick.clone(), channels)
        };
        self.unregister(
            &nick,
            session,
            PresenceEvent::Dropped { reason: protocol::Label::truncate("server error") },
            false,
        );
        // Its receivers went with its task: senders waiting for its rooms look again.
        for channel in channels {
            channel.let_go();
        }
    }

    /// Renames `old` to `new` everywhere and tells each of its rooms.
    pub fn rename(&self, old: &Nick, session: Uuid, new: &Nick) -> Result<(), RequestError> {
        self.rename_checked(old, session, new, true)
    }

    /// A rename the broker has allowed across the nodes: `new` is this session's everywhere.
    pub fn rename_granted(
        &self,
        old: &Nick,
        session: Uuid,
        new: &Nick,
    ) -> Result<(), RequestError> {
        self.rename_checked(old, session, new, false)
    }

    fn rename_checked(
        &self,
        old: &Nick,
        session: Uuid,
        new: &Nick,
        check: bool,
    ) -> Result<(), RequestError> {
        let mut state = self.state();
        let (old_key, new_key) = (old.key(), new.key());
        if !state.holds(&old_key, session) {
            return Err(taken_over());
        }
        if old_key != new_key {
            if check && let Some(owner) = state.accounts.get(&new_key) {
                return Err(nick_registered(new, owner.as_str()));
            }
            if check {
                let now = Instant::now();
                state.reserved.drop_expired(now);
                state.check_free(new, None, now)?;
            } else if let Some(gone) = state.remote.remove(&new_key) {
                self.remote_gone(&gone);
            }
        }
        let Some(mut user) = state.users.remove(&old_key) else {
            return Err(RequestError::new(ErrorCode::NotRegistered, "you are not registered"));
        };
        user.nick = new.clone();
        let id = Uuid::now_v7();
        for room in &user.rooms {
            if let Some(entry) = state.rooms.get_mut(room) {
                let quiet = entry.members.remove(&old_key).is_some_and(|m| m.quiet);
                let member = Member { quiet, ..Member::new(new.clone(), session) };
                entry.members.insert(new_key.clone(), member);
                if quiet {
                    continue;
                }
                let event = presence_as(id, room, old, PresenceEvent::Renamed { to: new.clone() });
                let change =
                    Change::Move { from: old_key.clone(), key: new_key.clone(), nick: new.clone() };
                self.announce(&entry.tx, session, &event, change);
            }
        }
        // The user keeps its away message under its new nick.
        if let Some(replaced) = state.users.insert(new_key, user) {
            self.user_gone(&replaced);
        }
        self.elsewhere.renamed(session, old, new);
        Ok(())
    }

    /// Delivers a private message and returns it, for the sender's acknowledgement. With
    /// several nodes, a recipient on another node is sent it through the broker; if it cannot
    /// take it there, the sender hears so in an error.
    /// `account`: the sender is logged in to the account `from`.
    pub fn send_private(
        &self,
        from: &Nick,
        account: bool,
        to: &Nick,
        text: Text,
    ) -> Result<SharedEvent, RequestError> {
        let state = self.state();
        let key = to.key();
        let Some(user) = state.users.get(&key) else {
            if let Some(remote) = state.remote.get(&key) {
                let event = private(from, account, &remote.nick, text);
                let sender = state.users.get(&from.key()).map(|u| u.session).unwrap_or_default();
                if !self.elsewhere.private(&remote.node, sender, &event) {
                    return Err(RequestError::new(
                        ErrorCode::ServerBusy,
                        "the server is busy; try again in a moment",
                    ));
                }
                return Ok(event);
            }
            return Err(RequestError::new(
                ErrorCode::NoSuchNick,
                format!("nobody called {to} is online"),
            ));
        };
        let event = private(from, account, &user.nick, text);
        if from.key() != to.key() {
            user.direct.try_send(event.clone()).map_err(|_| recipient_busy(&user.nick))?;
        }
        Ok(event)
    }
}
