//! The decisions of one room's authority, on values alone.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use protocol::{BanInfo, JoinKey, Mask, Nick, Role, RoomName};

use super::{Authority, Setting, Who, key_hash};

fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

fn who<'a>(nick: &'a Nick, account: bool, addr: &str) -> Who<'a> {
    Who { nick, account, addr: addr.parse::<IpAddr>().unwrap(), admin: false }
}

fn with(settings: &[Setting]) -> Authority {
    let mut a = Authority::default();
    for s in settings {
        a.apply(&s.field, s.value.as_deref());
    }
    a
}

fn ban(mask: &str, until: Option<u64>) -> Setting {
    Setting::ban(&BanInfo {
        mask: mask.parse().unwrap(),
        by: nick("Michael"),
        ts: 1,
        until,
        reason: None,
    })
}

#[test]
fn roles_belong_to_logged_in_accounts() {
    let (michael, tracy) = (nick("Michael"), nick("Tracy"));
    let a = with(&[Setting::owner(&michael), Setting::role(&tracy, Role::Operator)]);
    assert_eq!(a.role_of(&who(&michael, true, "::1")), Role::Owner);
    assert_eq!(a.role_of(&who(&michael, false, "::1")), Role::Member, "a guest is no owner");
    assert_eq!(a.role_of(&who(&nick("TRACY"), true, "::1")), Role::Operator);
    let mut admin = who(&tracy, true, "::1");
    admin.admin = true;
    assert_eq!(a.role_of(&admin), Role::Owner);
    let a = with(&[Setting::role(&tracy, Role::Operator), Setting::role(&tracy, Role::Member)]);
    assert!(a.is_empty(), "deop leaves nothing behind");
}

#[test]
fn bans_match_nicks_accounts_and_networks_until_they_expire() {
    let rust = RoomName::parse("rust").unwrap();
    let tracy = nick("Tracy");
    let a = with(&[ban("nick:Tracy", None)]);
    assert!(
        a.may_join(&rust, &who(&nick("Trасy"), false, "::1"), None, 5).is_err(),
        "a look-alike"
    );
    let a = with(&[ban("account:Tracy", None)]);
    assert!(
        a.may_join(&rust, &who(&tracy, false, "::1"), None, 5).is_ok(),
        "a guest is no account"
    );
    assert!(a.may_join(&rust, &who(&tracy, true, "::1"), None, 5).is_err());
    let a = with(&[ban("addr:203.0.113.0/24", Some(100)), ban("addr:2001:db8::/32", None)]);
    let error = a.may_join(&rust, &who(&tracy, false, "203.0.113.9"), None, 50).unwrap_err();
    assert!(error.message.contains("banned from #rust"), "{}", error.message);
    assert!(a.may_join(&rust, &who(&tracy, false, "203.0.113.9"), None, 100).is_ok(), "expired");
    assert!(a.may_join(&rust, &who(&tracy, false, "2001:db8:1::7"), None, 50).is_err());
    assert!(a.may_join(&rust, &who(&tracy, false, "198.51.100.1"), None, 50).is_ok());
    assert_eq!(a.expired(100).len(), 1);
    assert_eq!(a.bans_in_force(100).len(), 1);
    let a = with(&[ban("nick:Tracy", None), Setting::unban(&Mask::Nick(nick("TRACY")))]);
    assert!(a.bans.is_empty(), "unban by any spelling of the nick");
}

#[test]
fn invite_only_and_keys_let_in_whom_they_should() {
    let secret = RoomName::parse("secret").unwrap();
    let (tracy, michael) = (nick("Tracy"), nick("Michael"));
    let sesame = JoinKey::parse("sesame").unwrap();
    let a = with(&[
        Setting::owner(&michael),
        Setting::flag('i', true),
        Setting::key(Some(key_hash(&secret, &sesame))),
        Setting::invite(&tracy, 1_000),
    ]);
    assert_eq!(a.modes().letters(), "+ik");
    let sam = nick("Sam");
    let refused = a.may_join(&secret, &who(&sam, false, "::1"), Some(&sesame), 5).unwrap_err();
    assert_eq!(refused.code, protocol::ErrorCode::InviteOnly);
    let refused = a.may_join(&secret, &who(&tracy, false, "::1"), None, 5).unwrap_err();
    assert_eq!(refused.code, protocol::ErrorCode::WrongKey);
    let wrong = JoinKey::parse("open").unwrap();
    assert!(a.may_join(&secret, &who(&tracy, false, "::1"), Some(&wrong), 5).is_err());
    assert!(a.may_join(&secret, &who(&tracy, false, "::1"), Some(&sesame), 5).is_ok());
    assert!(
        a.may_join(&secret, &who(&tracy, false, "::1"), Some(&sesame), 1_000).is_err(),
        "the invitation ran out"
    );
    assert!(a.may_join(&secret, &who(&michael, true, "::1"), None, 5).is_ok(), "the owner passes");
    let other = RoomName::parse("other").unwrap();
    assert_ne!(key_hash(&secret, &sesame), key_hash(&other, &sesame), "salted by room");
}

#[test]
fn mutes_and_moderation_keep_people_quiet() {
    let rust = RoomName::parse("rust").unwrap();
    let (tracy, sam, michael) = (nick("Tracy"), nick("Sam"), nick("Michael"));
    let a = with(&[Setting::mute(&tracy, &michael, Some(60_000))]);
    let muted = a.may_speak(&rust, &who(&tracy, false, "::1"), 0).unwrap_err();
    assert_eq!(muted.code, protocol::ErrorCode::Muted);
    assert!(muted.message.contains("for 1m more"), "{}", muted.message);
    assert!(a.may_speak(&rust, &who(&tracy, false, "::1"), 60_000).is_ok());
    let a = with(&[
        Setting::flag('m', true),
        Setting::role(&sam, Role::Voiced),
        Setting::owner(&michael),
    ]);
    assert_eq!(
        a.may_speak(&rust, &who(&tracy, true, "::1"), 0).unwrap_err().code,
        protocol::ErrorCode::Moderated
    );
    assert!(a.may_speak(&rust, &who(&sam, true, "::1"), 0).is_ok());
    assert!(a.may_speak(&rust, &who(&michael, true, "::1"), 0).is_ok());
}

#[test]
fn bad_fields_are_skipped_and_the_rest_kept() {
    let a = Authority::from_fields([
        ("owner", "Michael"),
        ("topic", "{not json"),
        ("mode:q", "1"),
        ("mode:s", "1"),
    ]);
    assert_eq!(a.owner, Some(nick("Michael")));
    assert!(a.topic.is_none() && a.secret);
}
