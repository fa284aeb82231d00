//! Room authority: who owns a room, its roles, topic, modes, bans, mutes and invitations; and
//! the server's own bans (the same structure, under [`SERVER`]). Plain state and decisions,
//! no I/O: the broker stores it as fields ([`fields`]) on either backend, every node's hub
//! keeps the current value of every room and applies changes ([`Act`]) in the order the
//! broker stored them, and sessions ask it before acting.
//!
//! - this file: one room's authority and its decisions.
//! - [`fields`]: the authority as `(field, value)` pairs, as SQLite and Redis keep it.
//! - [`act`]: one moderation act: what it changes, whom it removes, what the room is told.

pub mod act;
pub mod fields;

use std::collections::HashMap;
use std::net::IpAddr;

use protocol::{
    BanInfo, ErrorCode, JoinKey, Mask, Modes, Nick, NickKey, RequestError, Role, RoomName, Topic,
    format_duration,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use act::{Act, Removal};
pub use fields::Setting;

/// The scope under which the server's own bans are kept, beside the rooms' scopes, which all
/// start with `#` ([`scope`]): no room, whatever its name reads like, can be the server.
pub const SERVER: &str = "*";

/// The scope a room's authority is kept under: `#` and its look-alike key, so look-alikes
/// share it and no room's is [`SERVER`] (a letter's skeleton can be `*`: U+1031F's is).
pub fn scope(room: &RoomName) -> String {
    format!("#{}", room.key().as_str())
}

/// Who is asking: what the checks look at.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub nick: &'a Nick,
    /// Logged in to the account `nick`.
    pub account: bool,
    pub addr: IpAddr,
    /// A server admin (`--admin`), logged in.
    pub admin: bool,
}

impl Who<'_> {
    /// Whether `mask` names this person.
    pub fn matches(&self, mask: &Mask) -> bool {
        match mask {
            Mask::Nick(nick) => nick.key() == self.nick.key(),
            Mask::Account(name) => self.account && name.key() == self.nick.key(),
            Mask::Addr(cidr) => cidr.contains(self.addr),
        }
    }
}

/// A role given to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub nick: Nick,
    pub role: Role,
}

/// A mute: who, by whom, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mute {
    pub nick: Nick,
    pub by: Nick,
    pub until: Option<u64>,
}

/// One room's authority (or the server's). Everything a room has never been given is absent,
/// so a room nobody configured costs nothing to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authority {
    /// The owner's account, as its nick.
    pub owner: Option<Nick>,
    /// Operators and voiced members, by account key.
    pub roles: HashMap<NickKey, Granted>,
    pub topic: Option<Topic>,
    pub invite_only: bool,
    pub moderated: bool,
    pub secret: bool,
    /// The key's hash ([`key_hash`]): the key itself is not kept.
    pub key: Option<String>,
    /// By [`fields::mask_field`] of their mask.
    pub bans: HashMap<String, BanInfo>,
    pub mutes: HashMap<NickKey, Mute>,
    /// Invitations to an invite-only room: until when each lasts.
    pub invites: HashMap<NickKey, u64>,
}

/// A room key's hash as it is kept: SHA-256 of the room's look-alike key and the key, so the
/// database does not hold the key and one room's hash says nothing of another's.
pub fn key_hash(room: &RoomName, key: &JoinKey) -> String {
    let mut hash = Sha256::new();
    hash.update(room.key().as_str().as_bytes());
    hash.update([0]);
    hash.update(key.expose().as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn live(until: Option<u64>, now: u64) -> bool {
    until.is_none_or(|until| now < until)
}

impl Authority {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn modes(&self) -> Modes {
        Modes {
            invite_only: self.invite_only,
            key: self.key.is_some(),
            moderated: self.moderated,
            secret: self.secret,
        }
    }

    /// The standing of `who` in this room.
    pub fn role_of(&self, who: &Who<'_>) -> Role {
        if who.admin {
            return Role::Owner;
        }
        if !who.account {
            return Role::Member;
        }
        let key = who.nick.key();
        if self.owner.as_ref().is_some_and(|owner| owner.key() == key) {
            return Role::Owner;
        }
        self.roles.get(&key).map_or(Role::Member, |g| g.role)
    }

    /// The role an account's nick holds here, as member lists show it (the holder of an
    /// account's nick is logged in to it; a deleted account's roles are dropped with it).
    pub fn listed_role(&self, nick: &Nick) -> Role {
        let key = nick.key();
        if self.owner.as_ref().is_some_and(|owner| owner.key() == key) {
            return Role::Owner;
        }
        self.roles.get(&key).map_or(Role::Member, |g| g.role)
    }

    /// The ban that keeps `who` out, if any is in force.
    pub fn ban_of(&self, who: &Who<'_>, now: u64) -> Option<&BanInfo> {
        self.bans.values().find(|ban| live(ban.until, now) && who.matches(&ban.mask))
    }

    /// Whether `who` may join, given the key it showed. The owner, operators and admins pass
    /// every gate, bans too: an address ban that covers an operator's network does not lock
    /// the room's own moderators out (deop first, to ban one).
    pub fn may_join(
        &self,
        room: &RoomName,
        who: &Who<'_>,
        key: Option<&JoinKey>,
        now: u64,
    ) -> Result<(), RequestError> {
        if self.role_of(who) >= Role::Operator {
            return Ok(());
        }
        if let Some(ban) = self.ban_of(who, now) {
            return Err(banned(&format!("#{room}"), ban, now));
        }
        let invited = self.invites.get(&who.nick.key()).is_some_and(|until| now < *until);
        if self.invite_only && !invited {
            return Err(RequestError::new(
                ErrorCode::InviteOnly,
                format!("#{room} is invite-only: ask one of its operators to /invite you"),
            ));
        }
        if let Some(hash) = &self.key {
            let shown = key.map(|k| key_hash(room, k)).unwrap_or_default();
            if !bool::from(shown.as_bytes().ct_eq(hash.as_bytes())) {
                let message = if key.is_some() {
                    format!("that is not the key of #{room}")
                } else {
                    format!("#{room} has a key: join with /join {room} KEY")
                };
                return Err(RequestError::new(ErrorCode::WrongKey, message));
            }
        }
        Ok(())
    }

    /// The mute in force on the nick of `key`, if any.
    pub fn muted(&self, key: &protocol::NickKey, now: u64) -> Option<&Mute> {
        self.mutes.get(key).filter(|m| live(m.until, now))
    }

    /// Whether anyone may be kept from speaking here (a mute, `+m`): a room with neither
    /// lets every member speak, and a `say` checks nothing more.
    pub fn restricts_speech(&self) -> bool {
        self.moderated || !self.mutes.is_empty()
    }

    /// Whether `who` may speak in the room now.
    pub fn may_speak(&self, room: &RoomName, who: &Who<'_>, now: u64) -> Result<(), RequestError> {
        let role = self.role_of(who);
        if role >= Role::Operator {
            return Ok(());
        }
        if let Some(mute) = self.muted(&who.nick.key(), now) {
            let until = mute.until.map_or(String::new(), |u| {
                format!(" for {} more", format_duration(u.saturating_sub(now).div_ceil(1000)))
            });
            return Err(RequestError::new(
                ErrorCode::Muted,
                format!("you are muted in #{room}{until}"),
            ));
        }
        if self.moderated && role < Role::Voiced {
            return Err(RequestError::new(
                ErrorCode::Moderated,
                format!("#{room} is moderated: only its operators and voiced members speak"),
            ));
        }
        Ok(())
    }

    /// The bans in force, oldest first.
    pub fn bans_in_force(&self, now: u64) -> Vec<BanInfo> {
        let mut bans: Vec<BanInfo> =
            self.bans.values().filter(|b| live(b.until, now)).cloned().collect();
        bans.sort_by_key(|b| b.ts);
        bans
    }

    /// Fields of entries that have expired: removed with the room's next change.
    pub fn expired(&self, now: u64) -> Vec<Setting> {
        let bans = self.bans.iter().filter(|(_, b)| !live(b.until, now)).map(|(f, _)| f.clone());
        let mutes = self
            .mutes
            .iter()
            .filter(|(_, m)| !live(m.until, now))
            .map(|(k, _)| fields::mute_field(k));
        let invites =
            self.invites.iter().filter(|(_, u)| now >= **u).map(|(k, _)| fields::invite_field(k));
        bans.chain(mutes).chain(invites).map(Setting::remove).collect()
    }
}

/// The refusal for someone a ban keeps out of `place` ("#rust", "this server").
pub fn banned(place: &str, ban: &BanInfo, now: u64) -> RequestError {
    let until = ban.until.map_or(String::new(), |u| {
        format!(" for {} more", format_duration(u.saturating_sub(now).div_ceil(1000)))
    });
    let reason = ban.reason.as_ref().map_or(String::new(), |r| format!(": {}", r.as_str()));
    RequestError::new(
        ErrorCode::Banned,
        format!("you are banned from {place}{until} (by {}{reason})", ban.by),
    )
}

#[cfg(test)]
mod tests;
