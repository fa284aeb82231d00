//! A room's authority as `(field, value)` pairs: a row each in SQLite's `room_settings`, a
//! field each of a Redis hash. One field per thing that changes on its own (the topic, each
//! mode, each role, ban, mute and invitation), so two operators changing different things at
//! once on two nodes never overwrite each other, and a change is one field set or removed.
//!
//! | field | value |
//! |---|---|
//! | `owner` | the owner's nick |
//! | `topic` | JSON [`Topic`] |
//! | `mode:i`, `mode:m`, `mode:s` | `1` |
//! | `mode:k` | the key's hash ([`super::key_hash`]) |
//! | `role:KEY` | JSON `{"nick","role"}` |
//! | `ban:MASK` | JSON [`BanInfo`] |
//! | `mute:KEY` | JSON `{"nick","by","until"}` |
//! | `invite:KEY` | JSON `{"nick","until"}` |

use protocol::{BanInfo, Mask, Nick, NickKey, Role, Topic};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{Authority, Granted, Mute};

/// One field set (`Some`) or removed (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub field: String,
    pub value: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RoleValue {
    nick: Nick,
    role: Role,
}

#[derive(Serialize, Deserialize)]
struct MuteValue {
    nick: Nick,
    by: Nick,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct InviteValue {
    nick: Nick,
    until: u64,
}

fn json<T: Serialize>(value: &T) -> String {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// The field of a ban of `mask`: by its kind and look-alike key, so `nick:Tracy` and
/// `nick:TRACY` are one ban.
pub fn mask_field(mask: &Mask) -> String {
    match mask {
        Mask::Nick(nick) => format!("ban:nick:{}", nick.key().as_str()),
        Mask::Account(nick) => format!("ban:account:{}", nick.key().as_str()),
        Mask::Addr(cidr) => format!("ban:addr:{cidr}"),
    }
}

pub fn mute_field(key: &NickKey) -> String {
    format!("mute:{}", key.as_str())
}

pub fn invite_field(key: &NickKey) -> String {
    format!("invite:{}", key.as_str())
}

fn role_field(key: &NickKey) -> String {
    format!("role:{}", key.as_str())
}

impl Setting {
    pub fn remove(field: String) -> Self {
        Self { field, value: None }
    }

    fn set(field: impl Into<String>, value: String) -> Self {
        Self { field: field.into(), value: Some(value) }
    }

    pub fn owner(nick: &Nick) -> Self {
        Self::set("owner", nick.to_string())
    }

    pub fn topic(topic: Option<&Topic>) -> Self {
        match topic {
            Some(topic) => Self::set("topic", json(topic)),
            None => Self::remove("topic".into()),
        }
    }

    /// `letter` one of `i`, `m`, `s`.
    pub fn flag(letter: char, on: bool) -> Self {
        let field = format!("mode:{letter}");
        if on { Self::set(field, "1".into()) } else { Self::remove(field) }
    }

    pub fn key(hash: Option<String>) -> Self {
        match hash {
            Some(hash) => Self::set("mode:k", hash),
            None => Self::remove("mode:k".into()),
        }
    }

    /// `Role::Member` removes the role.
    pub fn role(nick: &Nick, role: Role) -> Self {
        let field = role_field(&nick.key());
        match role {
            Role::Member => Self::remove(field),
            role => Self::set(field, json(&RoleValue { nick: nick.clone(), role })),
        }
    }

    pub fn ban(ban: &BanInfo) -> Self {
        Self::set(mask_field(&ban.mask), json(ban))
    }

    pub fn unban(mask: &Mask) -> Self {
        Self::remove(mask_field(mask))
    }

    pub fn mute(nick: &Nick, by: &Nick, until: Option<u64>) -> Self {
        let value = MuteValue { nick: nick.clone(), by: by.clone(), until };
        Self::set(mute_field(&nick.key()), json(&value))
    }

    pub fn unmute(nick: &Nick) -> Self {
        Self::remove(mute_field(&nick.key()))
    }

    pub fn invite(nick: &Nick, until: u64) -> Self {
        Self::set(invite_field(&nick.key()), json(&InviteValue { nick: nick.clone(), until }))
    }
}

impl Authority {
    /// Builds a room's authority from its stored fields.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut authority = Self::default();
        for (field, value) in fields {
            authority.apply(field, Some(value));
        }
        authority
    }

    /// Applies one stored change. A field this program does not know, or a value it cannot
    /// read, is logged and left out: it came from the database or another node, and one bad
    /// field must not lose the room's others.
    pub fn apply(&mut self, field: &str, value: Option<&str>) {
        if self.try_apply(field, value).is_none() {
            warn!(field, "unreadable room setting ignored");
        }
    }

    fn try_apply(&mut self, field: &str, value: Option<&str>) -> Option<()> {
        let (kind, rest) = field.split_once(':').unwrap_or((field, ""));
        match (kind, value) {
            ("owner", Some(v)) => self.owner = Some(Nick::parse(v).ok()?),
            ("owner", None) => self.owner = None,
            ("topic", Some(v)) => self.topic = Some(serde_json::from_str(v).ok()?),
            ("topic", None) => self.topic = None,
            ("mode", v) => match rest {
                "i" => self.invite_only = v.is_some(),
                "m" => self.moderated = v.is_some(),
                "s" => self.secret = v.is_some(),
                "k" => self.key = v.map(str::to_owned),
                _ => return None,
            },
            ("role", Some(v)) => {
                let RoleValue { nick, role } = serde_json::from_str(v).ok()?;
                self.roles.insert(nick.key(), Granted { nick, role });
            }
            ("role", None) => {
                self.roles.retain(|key, _| key.as_str() != rest);
            }
            ("ban", Some(v)) => {
                let ban: BanInfo = serde_json::from_str(v).ok()?;
                self.bans.insert(field.to_owned(), ban);
            }
            ("ban", None) => {
                self.bans.remove(field);
            }
            ("mute", Some(v)) => {
                let MuteValue { nick, by, until } = serde_json::from_str(v).ok()?;
                self.mutes.insert(nick.key(), Mute { nick, by, until });
            }
            ("mute", None) => self.mutes.retain(|key, _| key.as_str() != rest),
            ("invite", Some(v)) => {
                let InviteValue { nick, until } = serde_json::from_str(v).ok()?;
                self.invites.insert(nick.key(), until);
            }
            ("invite", None) => self.invites.retain(|key, _| key.as_str() != rest),
            _ => return None,
        }
        Some(())
    }
}
