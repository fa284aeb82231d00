//! Room authority on the wire: roles, modes, topics, ban masks and durations, and the
//! moderation events that every member of a room sees ("Tracy was kicked by Michael:
//! spamming").
//!
//! The modes are IRC's, because terminal users know them: `+i` invite-only, `+k` a key to
//! join, `+m` moderated, `+s` secret. Words for each are in [`crate::describe`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cidr::Cidr;
use crate::limits::{MAX_DURATION_SECS, MAX_JOIN_KEY_BYTES};
use crate::names::Nick;
use crate::text::Label;

/// A member's standing in a room, lowest first (so `>=` reads "at least").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    /// May speak in a moderated (`+m`) room.
    Voiced,
    /// Sets the topic and modes, invites, kicks, bans and mutes.
    Operator,
    /// An operator who also makes and unmakes operators.
    Owner,
}

impl Role {
    /// The mark before a nick in member lists, as IRC clients show it: `~` owner, `@`
    /// operator, `+` voiced, nothing for a member.
    pub fn mark(self) -> &'static str {
        match self {
            Self::Owner => "~",
            Self::Operator => "@",
            Self::Voiced => "+",
            Self::Member => "",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Operator => "operator",
            Self::Voiced => "voiced",
            Self::Member => "member",
        }
    }
}

/// What a room's modes are. `key` says only whether there is one: the key itself is told to
/// nobody after it is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modes {
    #[serde(default, skip_serializing_if = "is_false")]
    pub invite_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub key: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub moderated: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub secret: bool,
}

impl Modes {
    /// `+ikms` as IRC writes them, or `+` when none is set.
    pub fn letters(&self) -> String {
        let mut s = String::from("+");
        for (on, letter) in
            [(self.invite_only, 'i'), (self.key, 'k'), (self.moderated, 'm'), (self.secret, 's')]
        {
            if on {
                s.push(letter);
            }
        }
        s
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One change of a room's modes. On the wire, one key per change: `{"invite_only":true}`,
/// `{"key":"sesame"}`, `{"key":null}` (no key any more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeChange {
    InviteOnly(bool),
    Moderated(bool),
    Secret(bool),
    Key(Option<JoinKey>),
}

/// Parses `/mode`'s arguments as IRC writes them: `+i`, `-m`, `+im-s`, `+k KEY`, `-k`. The
/// error is a sentence for the person who typed it.
pub fn parse_mode_changes(args: &str) -> Result<Vec<ModeChange>, String> {
    let mut words = args.split_whitespace();
    let mut changes = Vec::new();
    while let Some(word) = words.next() {
        let mut on = match word.chars().next() {
            Some('+') => true,
            Some('-') => false,
            _ => return Err(format!("{word:?} is not a mode change: write +i, -m, +k KEY")),
        };
        for c in word.chars() {
            changes.push(match c {
                '+' => {
                    on = true;
                    continue;
                }
                '-' => {
                    on = false;
                    continue;
                }
                'i' => ModeChange::InviteOnly(on),
                'm' => ModeChange::Moderated(on),
                's' => ModeChange::Secret(on),
                'k' if on => {
                    let key = words.next().ok_or("+k needs the key: /mode +k KEY")?;
                    ModeChange::Key(Some(JoinKey::parse(key)?))
                }
                'k' => ModeChange::Key(None),
                other => {
                    return Err(format!(
                        "there is no mode {:?}: the modes are i (invite-only), k (key), m (moderated), s (secret)",
                        crate::sanitize::sanitize(&other.to_string())
                    ));
                }
            });
        }
    }
    Ok(changes)
}

/// A room's key (`+k`), needed to join it: 1 to [`MAX_JOIN_KEY_BYTES`] bytes, no spaces or
/// control characters (it is typed as one word: `/join ROOM KEY`). A shared secret: `Debug`
/// hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinKey(Box<str>);

impl JoinKey {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > MAX_JOIN_KEY_BYTES {
            return Err(format!("a room key is 1 to {MAX_JOIN_KEY_BYTES} bytes"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a room key is one word, without spaces or control characters".into());
        }
        Ok(Self(s.into()))
    }

    /// The key itself, for comparing and sending; never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JoinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinKey(hidden)")
    }
}

impl Serialize for JoinKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JoinKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A room's topic: what it says, who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub text: Label,
    pub by: Nick,
    pub ts: u64,
}

/// Whom a ban names. Written `account:NAME` (an account, whatever nick it uses), `nick:NAME`
/// (a guest's nick and every nick that looks like it), `addr:CIDR` (an address or a network,
/// IPv4 or IPv6). A bare `NAME` is a nick, which the server turns into the account it is
/// logged in to, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mask {
    Nick(Nick),
    Account(Nick),
    Addr(Cidr),
}

impl FromStr for Mask {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let nick = |name: &str| Nick::parse(name).map_err(|e| e.to_string());
        match s.split_once(':') {
            Some(("account", name)) => Ok(Self::Account(nick(name)?)),
            Some(("nick", name)) => Ok(Self::Nick(nick(name)?)),
            Some(("addr", cidr)) => Ok(Self::Addr(cidr.parse()?)),
            // An IPv6 address alone has colons too.
            _ if s.parse::<std::net::IpAddr>().is_ok() => Ok(Self::Addr(s.parse()?)),
            Some((kind, _)) if Nick::parse(s).is_err() => Err(format!(
                "{:?} is not a kind of ban: write NICK, account:NAME or addr:CIDR",
                crate::sanitize::sanitize(kind)
            )),
            _ => Ok(Self::Nick(nick(s)?)),
        }
    }
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nick(nick) => write!(f, "nick:{nick}"),
            Self::Account(nick) => write!(f, "account:{nick}"),
            Self::Addr(cidr) => write!(f, "addr:{cidr}"),
        }
    }
}

impl Serialize for Mask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A ban as `bans` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInfo {
    pub mask: Mask,
    pub by: Nick,
    /// When it was set.
    pub ts: u64,
    /// When it ends (milliseconds since the epoch); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Label>,
}

/// What a moderation event says happened, in its `action` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Moderation {
    /// The topic is now `text` (absent: cleared).
    Topic {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<Label>,
    },
    /// The modes changed; these are the modes now.
    Modes {
        modes: Modes,
    },
    Banned {
        mask: Mask,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    Unbanned {
        mask: Mask,
    },
    /// `nick` stays in the room but may not speak in it.
    Muted {
        nick: Nick,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<u64>,
    },
    Unmuted {
        nick: Nick,
    },
    /// `nick`'s standing in the room is now `role`.
    Role {
        nick: Nick,
        role: Role,
    },
    /// The event's `by` now owns the room.
    Claimed,
    /// The event's `by` gave the room up: it has no owner.
    Disowned,
    /// `nick` may join the invite-only room for the next hour.
    Invited {
        nick: Nick,
    },
}

/// Parses a duration as people write one: `90s`, `10m`, `2h`, `1d`, `1w` (a bare number is
/// minutes, as in IRC's timed bans). Returns seconds, at most [`MAX_DURATION_SECS`].
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let n: u64 = digits.parse().map_err(|_| {
        format!(
            "{:?} is not a duration: write 90s, 10m, 2h, 1d or 1w",
            crate::sanitize::sanitize(s)
        )
    })?;
    let scale = match unit {
        "s" => 1,
        "" | "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{:?} is not a unit of time: use s, m, h, d or w",
                crate::sanitize::sanitize(unit)
            ));
        }
    };
    let secs = n.saturating_mul(scale);
    if secs == 0 || secs > MAX_DURATION_SECS {
        return Err(format!("a duration is 1 second to {} days", MAX_DURATION_SECS / 86_400));
    }
    Ok(secs)
}

/// A duration in the largest unit that writes it whole: `90s`, `10m`, `2h`, `3d`.
pub fn format_duration(secs: u64) -> String {
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn mode_changes_parse_as_irc_writes_them() {
        let key = JoinKey::parse("sesame").unwrap();
        assert_eq!(
            parse_mode_changes("+im-s +k sesame -k").unwrap(),
            vec![
                ModeChange::InviteOnly(true),
                ModeChange::Moderated(true),
                ModeChange::Secret(false),
                ModeChange::Key(Some(key)),
                ModeChange::Key(None),
            ]
        );
        assert_eq!(parse_mode_changes("").unwrap(), vec![]);
        assert!(parse_mode_changes("+k").unwrap_err().contains("needs the key"));
        assert!(parse_mode_changes("+x").unwrap_err().contains("no mode"));
        assert!(parse_mode_changes("i").unwrap_err().contains("not a mode change"));
        let modes = Modes { invite_only: true, secret: true, ..Modes::default() };
        assert_eq!(modes.letters(), "+is");
        assert_eq!(Modes::default().letters(), "+");
    }

    #[test]
    fn masks_parse_and_print() {
        let mask = |s: &str| s.parse::<Mask>().unwrap().to_string();
        assert_eq!(mask("Tracy"), "nick:Tracy");
        assert_eq!(mask("account:Tracy"), "account:Tracy");
        assert_eq!(mask("addr:10.0.0.0/8"), "addr:10.0.0.0/8");
        assert_eq!(mask("addr:2001:db8::/32"), "addr:2001:db8::/32");
        assert_eq!(mask("2001:db8::1"), "addr:2001:db8::1/128");
        assert_eq!(mask("192.0.2.1"), "addr:192.0.2.1/32");
        assert!("addr:10.1.2.3/8".parse::<Mask>().unwrap_err().contains("10.0.0.0/8"));
        assert!("host:x".parse::<Mask>().unwrap_err().contains("not a kind of ban"));
        let json = serde_json::to_string(&Mask::Account(Nick::parse("Tracy").unwrap())).unwrap();
        assert_eq!(json, r#""account:Tracy""#);
    }

    #[test]
    fn durations_read_and_write() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("10"), Ok(600));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("1w"), Ok(604_800));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("5y").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(format_duration(90), "90s");
        assert_eq!(format_duration(600), "10m");
        assert_eq!(format_duration(86_400), "1d");
    }

    #[test]
    fn join_keys_are_one_word_and_hidden() {
        assert!(JoinKey::parse("two words").is_err());
        assert!(JoinKey::parse("").is_err());
        assert_eq!(format!("{:?}", JoinKey::parse("sesame").unwrap()), "JoinKey(hidden)");
    }
}
