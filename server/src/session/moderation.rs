//! What a session does for a room's operators, its owner and the server's admins: topic,
//! modes, invitations, kicks, bans, mutes, roles, claims; kills and server bans. Each request
//! is checked against the room's authority here, then stored by the broker as an act that
//! every node applies; the act's announcement to the room is the requester's answer. Every
//! act is logged at info level.

use protocol::{
    BanInfo, ClientMsg, ErrorCode, Label, Mask, ModeChange, Moderation, Nick, RequestError, Role,
    RoomName, ServerMsg, Topic, now_millis,
};

use super::Session;
use super::backlog::Completion;
use crate::authority::{Act, Authority, Removal, Setting, Who, key_hash};
use crate::dialect::Dialect;
use crate::limits::{INVITE_LASTS, MAX_BANS, MAX_INVITES, MAX_MUTES, MAX_ROOMS_OWNED};
use protocol::limits::MAX_DURATION_SECS;

impl<D: Dialect> Session<D> {
    /// Who this session is, as the room checks see it.
    pub(super) fn who<'a>(&self, nick: &'a Nick) -> Who<'a> {
        Who {
            nick,
            account: self.logged_in,
            addr: self.peer,
            admin: self.logged_in && self.hub.is_admin(nick),
        }
    }

    /// Carries out a moderation request. A ban of a bare nick, and a role given, first ask
    /// whether the nick is an account (with several nodes, Redis knows; a node knows another
    /// node's sessions by nick only): an account's ban names the account, and roles are given
    /// to accounts only (whoever holds an account's nick is logged in to it).
    pub(super) fn moderate(&mut self, nick: &Nick, request: ClientMsg) -> Result<(), RequestError> {
        // Asked only for whoever may do it: anyone else is refused without a lookup.
        let Some(named) = account_in_question(&request).filter(|_| self.may_ask(nick, &request))
        else {
            return self.moderate_now(nick, request);
        };
        match self.broker.is_account_now(&self.hub, &named.key()) {
            Some(account) => self.moderate_knowing(nick, request, account),
            None => {
                let (broker, me) = (self.broker.clone(), nick.clone());
                self.awaiting = true;
                self.queries.push(Box::pin(async move {
                    let account = matches!(broker.account(&named.key()).await, Ok(Some(_)));
                    Completion::Resolved { nick: me, request, account }
                }));
                Ok(())
            }
        }
    }

    /// The rest of a request whose nick was looked up.
    pub(super) fn resolved(&mut self, nick: &Nick, request: ClientMsg, account: bool) {
        self.awaiting = false;
        let name = request.type_name();
        if let Err(error) = self.moderate_knowing(nick, request, account) {
            self.write(&error.for_request(name).to_msg());
        }
    }

    /// A request whose nick is (`account`) or is not an account's.
    fn moderate_knowing(
        &mut self,
        nick: &Nick,
        request: ClientMsg,
        account: bool,
    ) -> Result<(), RequestError> {
        if let ClientMsg::Role { nick: target, .. } = &request
            && !account
        {
            return Err(RequestError::new(
                ErrorCode::NoAccount,
                format!("{target} is not an account: roles are given to accounts"),
            ));
        }
        self.moderate_now(nick, naming_account(request, account))
    }

    /// Whether `nick` may make `request` at all, before its details are looked at: an admin
    /// for the server's bans, an operator of a room it is in for the room's.
    fn may_ask(&self, nick: &Nick, request: &ClientMsg) -> bool {
        let who = self.who(nick);
        match request_room(request) {
            None => who.admin,
            Some(room) => {
                self.must_be_in(&room).is_ok()
                    && self.hub.authority(&room).role_of(&who) >= Role::Operator
            }
        }
    }

    fn moderate_now(&mut self, nick: &Nick, request: ClientMsg) -> Result<(), RequestError> {
        let who = self.who(nick);
        let now = now_millis();
        match request {
            ClientMsg::Kill { nick: target, reason } => {
                self.must_be_admin(&who, "kill")?;
                if !self.hub.is_online(&target) {
                    return Err(no_such_nick(&target));
                }
                if self.hub.is_admin(&target) {
                    return Err(RequestError::new(
                        ErrorCode::NotAdmin,
                        format!("{target} administers this server: admins are not disconnected"),
                    ));
                }
                let removal = Removal {
                    mask: Mask::Nick(target.clone()),
                    by: nick.clone(),
                    reason,
                    banned: false,
                };
                let act = Act::new(None, Vec::new()).remove(removal);
                self.submit_then("kill", act, None, format!("{target} is disconnected"));
            }
            ClientMsg::Gban { mask, duration, reason } => {
                self.must_be_admin(&who, "gban")?;
                let authority = self.hub.server_authority();
                let ban = self.ban_info(&authority, mask, nick, duration, reason, now)?;
                let removal = Removal {
                    mask: ban.mask.clone(),
                    by: nick.clone(),
                    reason: ban.reason.clone(),
                    banned: true,
                };
                let mut settings = authority.expired(now);
                settings.push(Setting::ban(&ban));
                let done = format!("{} is banned from the server", ban.mask);
                self.submit_then("gban", Act::new(None, settings).remove(removal), None, done);
            }
            ClientMsg::Ungban { mask } => {
                self.must_be_admin(&who, "ungban")?;
                let authority = self.hub.server_authority();
                let mask = existing_ban(&authority, mask)?;
                let mut settings = authority.expired(now);
                settings.push(Setting::unban(&mask));
                let done = format!("the server ban of {mask} is lifted");
                self.submit_then("ungban", Act::new(None, settings), None, done);
            }
            ClientMsg::Gbans => {
                self.must_be_admin(&who, "gbans")?;
                let bans = self.hub.server_authority().bans_in_force(now);
                self.write(&ServerMsg::Bans { room: None, bans });
            }
            request => self.moderate_room(&who, request, now)?,
        }
        Ok(())
    }

    /// A moderation request about one room, which the session must be in.
    fn moderate_room(
        &mut self,
        who: &Who<'_>,
        request: ClientMsg,
        now: u64,
    ) -> Result<(), RequestError> {
        let name = request.type_name();
        let Some(room) = request_room(&request) else { return Ok(()) };
        self.must_be_in(&room)?;
        let authority = self.hub.authority(&room);
        let role = authority.role_of(who);
        let by = who.nick;
        let expired = authority.expired(now);
        let act = |settings: Vec<Setting>| {
            let mut all = expired.clone();
            all.extend(settings);
            Act::new(Some(room.clone()), all)
        };
        match request {
            ClientMsg::Topic { text: None, .. } => {
                self.write(&ServerMsg::Topic {
                    room: room.clone(),
                    topic: authority.topic.clone(),
                });
            }
            ClientMsg::Topic { text: Some(text), .. } => {
                at_least(role, Role::Operator, &room, "set the topic", &authority)?;
                let topic = (!text.as_str().trim().is_empty()).then(|| Topic {
                    text: text.clone(),
                    by: by.clone(),
                    ts: now,
                });
                let action = Moderation::Topic { text: topic.as_ref().map(|t| t.text.clone()) };
                self.submit(
                    name,
                    act(vec![Setting::topic(topic.as_ref())]).announce(by, action),
                    None,
                );
            }
            ClientMsg::Mode { changes, .. } if changes.is_empty() => {
                let owner = authority.owner.clone().or_else(|| self.lobby_owner(&room));
                self.write(&ServerMsg::Modes {
                    room: room.clone(),
                    modes: authority.modes(),
                    owner,
                });
            }
            ClientMsg::Mode { changes, .. } => {
                at_least(role, Role::Operator, &room, "change its modes", &authority)?;
                let mut after = Authority::clone(&authority);
                let settings: Vec<Setting> = changes
                    .iter()
                    .map(|change| {
                        let setting = match change {
                            ModeChange::InviteOnly(on) => Setting::flag('i', *on),
                            ModeChange::Moderated(on) => Setting::flag('m', *on),
                            ModeChange::Secret(on) => Setting::flag('s', *on),
                            ModeChange::Key(key) => {
                                Setting::key(key.as_ref().map(|k| key_hash(&room, k)))
                            }
                        };
                        after.apply(&setting.field, setting.value.as_deref());
                        setting
                    })
                    .collect();
                let action = Moderation::Modes { modes: after.modes() };
                self.submit(name, act(settings).announce(by, action), None);
            }
            ClientMsg::Invite { nick, .. } => {
                at_least(role, Role::Operator, &room, "invite", &authority)?;
                room_for("invitations", authority.invites.len(), MAX_INVITES, "they last an hour")?;
                let until = now.saturating_add(INVITE_LASTS.as_millis() as u64);
                let action = Moderation::Invited { nick: nick.clone() };
                self.submit(
                    name,
                    act(vec![Setting::invite(&nick, until)]).announce(by, action),
                    None,
                );
                self.notice(format!(
                    "{nick} may join #{room} within the next hour: tell them to /join {room}"
                ));
            }
            ClientMsg::Kick { nick, reason, .. } => {
                at_least(role, Role::Operator, &room, "kick", &authority)?;
                let target = self.member(&room, &nick)?;
                self.outranks(&authority, &target, &room, "kick")?;
                let removal =
                    Removal { mask: Mask::Nick(target), by: by.clone(), reason, banned: false };
                self.submit(name, act(Vec::new()).remove(removal), None);
            }
            ClientMsg::Ban { mask, duration, reason, .. } => {
                at_least(role, Role::Operator, &room, "ban", &authority)?;
                if let Mask::Nick(target) | Mask::Account(target) = &mask {
                    self.outranks(&authority, target, &room, "ban")?;
                }
                let ban = self.ban_info(&authority, mask, by, duration, reason, now)?;
                let removal = Removal {
                    mask: ban.mask.clone(),
                    by: by.clone(),
                    reason: Some(Label::truncate(&format!(
                        "banned{}",
                        ban.reason.as_ref().map_or(String::new(), |r| format!(": {}", r.as_str()))
                    ))),
                    banned: true,
                };
                let action = Moderation::Banned {
                    mask: ban.mask.clone(),
                    until: ban.until,
                    reason: ban.reason.clone(),
                };
                self.submit(
                    name,
                    act(vec![Setting::ban(&ban)]).announce(by, action).remove(removal),
                    None,
                );
            }
            ClientMsg::Unban { mask, .. } => {
                at_least(role, Role::Operator, &room, "unban", &authority)?;
                let mask = existing_ban(&authority, mask)?;
                let action = Moderation::Unbanned { mask: mask.clone() };
                self.submit(name, act(vec![Setting::unban(&mask)]).announce(by, action), None);
            }
            ClientMsg::Bans { .. } => {
                at_least(role, Role::Operator, &room, "list its bans", &authority)?;
                self.write(&ServerMsg::Bans {
                    room: Some(room.clone()),
                    bans: authority.bans_in_force(now),
                });
            }
            ClientMsg::Mute { nick, duration, .. } => {
                at_least(role, Role::Operator, &room, "mute", &authority)?;
                let until = lasting(duration, now)?;
                room_for("mutes", authority.mutes.len(), MAX_MUTES, "lift some with /unmute")?;
                let target = self.member(&room, &nick)?;
                self.outranks(&authority, &target, &room, "mute")?;
                let action = Moderation::Muted { nick: target.clone(), until };
                self.submit(
                    name,
                    act(vec![Setting::mute(&target, by, until)]).announce(by, action),
                    None,
                );
            }
            ClientMsg::Unmute { nick, .. } => {
                at_least(role, Role::Operator, &room, "unmute", &authority)?;
                if !authority.mutes.contains_key(&nick.key()) {
                    return Err(RequestError::new(
                        ErrorCode::NoSuchNick,
                        format!("{nick} is not muted in #{room}"),
                    ));
                }
                let action = Moderation::Unmuted { nick: nick.clone() };
                self.submit(name, act(vec![Setting::unmute(&nick)]).announce(by, action), None);
            }
            ClientMsg::Role { nick, role: new, .. } => {
                // A role is taken back from someone who is not here too (a rogue operator
                // who left); it is given only to a member.
                let target = match self.member(&room, &nick) {
                    Err(_) if new == Role::Member => nick.clone(),
                    found => found?,
                };
                let current = authority.listed_role(&target);
                // Operators (un)voice; only the owner makes or unmakes operators.
                let needed = if new >= Role::Operator || current >= Role::Operator {
                    Role::Owner
                } else {
                    Role::Operator
                };
                at_least(role, needed, &room, "change that role", &authority)?;
                if new == Role::Owner || current == Role::Owner {
                    return Err(RequestError::new(
                        ErrorCode::InvalidField,
                        "a room has one owner; roles given are operator, voiced and member",
                    ));
                }
                let action = Moderation::Role { nick: target.clone(), role: new };
                self.submit(
                    name,
                    act(vec![Setting::role(&target, new)]).announce(by, action),
                    None,
                );
            }
            ClientMsg::Claim { .. } if room == RoomName::lobby() => {
                return Err(RequestError::new(
                    ErrorCode::NotAdmin,
                    "lobby belongs to the server's admins: nobody can claim it",
                ));
            }
            ClientMsg::Claim { .. } => {
                if !who.account {
                    return Err(RequestError::new(
                        ErrorCode::NoAccount,
                        "log in to an account to own a room (/register PASSWORD makes one)",
                    ));
                }
                if let Some(owner) = &authority.owner {
                    return Err(has_owner(&room, owner));
                }
                if self.hub.owned_by(&by.key()) >= MAX_ROOMS_OWNED {
                    return Err(super::acts::too_many_owned(&room));
                }
                let claim = act(vec![Setting::owner(by)]).announce(by, Moderation::Claimed);
                self.submit(name, claim, Some("owner"));
            }
            ClientMsg::Disown { .. } => {
                // An admin may take a room from its owner, as they act as owners everywhere.
                if authority.owner.is_none() {
                    return Err(RequestError::new(
                        ErrorCode::NotOwner,
                        format!("#{room} has no owner to give it up"),
                    ));
                }
                at_least(role, Role::Owner, &room, "give it up", &authority)?;
                let disown = act(vec![Setting::remove("owner".to_owned())])
                    .announce(by, Moderation::Disowned);
                self.submit(name, disown, None);
            }
            _ => {}
        }
        Ok(())
    }

    fn must_be_admin(&self, who: &Who<'_>, what: &str) -> Result<(), RequestError> {
        if who.admin {
            return Ok(());
        }
        Err(RequestError::new(ErrorCode::NotAdmin, format!("only the server's admins may {what}")))
    }

    /// The member of `room` called `nick` (or a look-alike), as the room lists them.
    fn member(&self, room: &RoomName, nick: &Nick) -> Result<Nick, RequestError> {
        let (members, _) = self.hub.members(room, self.id).unwrap_or_default();
        members.into_iter().find(|m| m.key() == nick.key()).ok_or_else(|| {
            RequestError::new(ErrorCode::NoSuchNick, format!("nobody called {nick} is in #{room}"))
        })
    }

    /// Refuses to kick, ban or mute a room's operator or owner, or an admin: bans and kicks
    /// are for members (the hub leaves operators in the room whatever a ban matches), and an
    /// operator is made a member again first, by the owner.
    fn outranks(
        &self,
        authority: &Authority,
        target: &Nick,
        room: &RoomName,
        what: &str,
    ) -> Result<(), RequestError> {
        let theirs = if self.hub.is_admin(target) {
            return Err(RequestError::new(
                ErrorCode::NotOperator,
                format!("you may not {what} {target}: they administer this server"),
            ));
        } else {
            authority.listed_role(target)
        };
        let hint = match theirs {
            Role::Owner => format!("they own #{room}"),
            Role::Operator => {
                format!("they are an operator of #{room}: its owner can /deop them first")
            }
            _ => return Ok(()),
        };
        Err(RequestError::new(
            ErrorCode::NotOperator,
            format!("you may not {what} {target}: {hint}"),
        ))
    }

    fn ban_info(
        &self,
        authority: &Authority,
        mask: Mask,
        by: &Nick,
        duration: Option<u64>,
        reason: Option<Label>,
        now: u64,
    ) -> Result<BanInfo, RequestError> {
        room_for("bans", authority.bans_in_force(now).len(), MAX_BANS, "lift some with /unban")?;
        let until = lasting(duration, now)?;
        Ok(BanInfo {
            mask,
            by: by.clone(),
            ts: now,
            until,
            reason: reason.filter(|r| !r.as_str().is_empty()),
        })
    }

    /// Lobby belongs to the server's admins: its owner, when it has none of its own, is the
    /// first admin.
    fn lobby_owner(&self, room: &RoomName) -> Option<Nick> {
        (*room == RoomName::lobby()).then(|| self.info.admins.first().cloned()).flatten()
    }
}

/// The nick whose account matters to `request`: a `ban` or `gban` of a bare nick
/// (`nick:NAME`), which may be an account's, and a role given (not taken back).
fn account_in_question(request: &ClientMsg) -> Option<Nick> {
    match request {
        ClientMsg::Role { nick, role, .. } if *role != Role::Member => Some(nick.clone()),
        ClientMsg::Ban { mask: Mask::Nick(nick), .. }
        | ClientMsg::Gban { mask: Mask::Nick(nick), .. } => Some(nick.clone()),
        _ => None,
    }
}

/// `request` with its nick mask turned into the account's, if `account`.
fn naming_account(request: ClientMsg, account: bool) -> ClientMsg {
    let to_account = |mask: Mask| match mask {
        Mask::Nick(nick) if account => Mask::Account(nick),
        mask => mask,
    };
    match request {
        ClientMsg::Ban { room, mask, duration, reason } => {
            ClientMsg::Ban { room, mask: to_account(mask), duration, reason }
        }
        ClientMsg::Gban { mask, duration, reason } => {
            ClientMsg::Gban { mask: to_account(mask), duration, reason }
        }
        request => request,
    }
}

fn request_room(request: &ClientMsg) -> Option<RoomName> {
    Some(match request {
        ClientMsg::Topic { room, .. }
        | ClientMsg::Mode { room, .. }
        | ClientMsg::Kick { room, .. }
        | ClientMsg::Ban { room, .. }
        | ClientMsg::Unban { room, .. }
        | ClientMsg::Bans { room }
        | ClientMsg::Mute { room, .. }
        | ClientMsg::Unmute { room, .. }
        | ClientMsg::Role { room, .. }
        | ClientMsg::Invite { room, .. }
        | ClientMsg::Claim { room }
        | ClientMsg::Disown { room } => room.clone(),
        _ => return None,
    })
}

/// When something that lasts `duration` seconds from `now` ends (`None`: never). A duration
/// is 1 second to [`MAX_DURATION_SECS`]: 0 would be a ban that is over as it is set (and
/// still removes whom it matches).
fn lasting(duration: Option<u64>, now: u64) -> Result<Option<u64>, RequestError> {
    match duration {
        None => Ok(None),
        Some(secs @ 1..=MAX_DURATION_SECS) => Ok(Some(now.saturating_add(secs * 1000))),
        Some(_) => Err(RequestError::new(
            ErrorCode::InvalidField,
            format!("a duration is 1 to {MAX_DURATION_SECS} seconds (a year and a day)"),
        )),
    }
}

/// Refuses one more of `what` (`bans`, `mutes`, ...) when `count` is at `most` already: each
/// is checked on every join or message, so their number bounds what those cost. Expired ones
/// still count until the room's next change removes them.
fn room_for(what: &str, count: usize, most: usize, how: &str) -> Result<(), RequestError> {
    if count < most {
        return Ok(());
    }
    Err(RequestError::new(
        ErrorCode::InvalidField,
        format!("there are {most} {what} already, the most a room keeps; {how}"),
    ))
}

/// Refuses `what` to anyone below `needed`, saying who can do it.
fn at_least(
    role: Role,
    needed: Role,
    room: &RoomName,
    what: &str,
    authority: &Authority,
) -> Result<(), RequestError> {
    if role >= needed {
        return Ok(());
    }
    let ask = authority.owner.as_ref().map_or_else(
        || format!("#{room} has no owner: a logged-in member can /claim it"),
        |owner| format!("ask its owner, {owner}"),
    );
    let (code, who) = if needed == Role::Owner {
        (ErrorCode::NotOwner, "its owner")
    } else {
        (ErrorCode::NotOperator, "operators")
    };
    Err(RequestError::new(code, format!("only {who} of #{room} may {what}; {ask}")))
}

fn has_owner(room: &RoomName, owner: &Nick) -> RequestError {
    RequestError::new(ErrorCode::HasOwner, format!("#{room} is owned by {owner} already"))
}

fn no_such_nick(nick: &Nick) -> RequestError {
    RequestError::new(ErrorCode::NoSuchNick, format!("nobody called {nick} is online"))
}

/// The ban of `mask` as the room has it (a bare nick: the account's ban, or else the
/// nick's), or `no_such_ban`.
fn existing_ban(authority: &Authority, mask: Mask) -> Result<Mask, RequestError> {
    let candidates = match &mask {
        Mask::Nick(nick) => vec![Mask::Account(nick.clone()), mask.clone()],
        _ => vec![mask.clone()],
    };
    candidates
        .into_iter()
        .find(|m| authority.bans.contains_key(&crate::authority::fields::mask_field(m)))
        .ok_or_else(|| RequestError::new(ErrorCode::NoSuchBan, format!("{mask} is not banned")))
}
