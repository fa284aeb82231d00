//! The registry's unit tests: nicks, rooms, reservations, take-overs.

use super::*;
use crate::limits::{MAX_RESERVATIONS, MAX_ROOMS_LISTED};

fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

/// `nick` as a guest on loopback, as joins check it.
pub(super) fn guest(nick: &Nick) -> crate::authority::Who<'_> {
    crate::authority::Who {
        nick,
        account: false,
        addr: std::net::IpAddr::from([127, 0, 0, 1]),
        admin: false,
    }
}

/// The session of the test user first registered as `n` (the same for every spelling).
fn sid(n: &Nick) -> Uuid {
    let key = n.key();
    let hash = key.as_str().bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0100_0000_0000_0000_0000_0000_013b)
    });
    Uuid::from_u128(hash)
}

fn register(hub: &Hub, name: &str) -> (Nick, DirectReceiver) {
    let rx = DirectReceiver::default();
    let n = nick(name);
    hub.claim_nick(&n, sid(&n), ResumeHash::of(Uuid::new_v4()), rx.sender(), None, false).unwrap();
    (n, rx)
}

#[test]
fn nicks_are_unique_ignoring_case() {
    let hub = Hub::new(100, 100);
    register(&hub, "Michael");
    let rx = DirectReceiver::default();
    let err = hub
        .claim_nick(
            &nick("MICHAEL"),
            Uuid::now_v7(),
            ResumeHash::of(Uuid::new_v4()),
            rx.sender(),
            None,
            false,
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NickInUse);
}

#[test]
fn rooms_exist_while_they_have_members() {
    let hub = Hub::new(100, 100);
    let (m, _) = register(&hub, "Michael");
    let lobby = RoomName::lobby();
    let mut membership = hub.join(&guest(&m), sid(&m), &lobby, None, false).unwrap();
    let first = membership.rx.try_recv().unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &membership.announcement));
    assert_eq!(hub.rooms(&[]).len(), 1);
    hub.leave(&m, sid(&m), &lobby, PresenceEvent::Left { reason: None });
    assert!(hub.rooms(&[]).is_empty());
    assert!(hub.members(&lobby, Uuid::nil()).is_none());
}

/// The room list is kept between hellos, and built again after any change to a room's
/// members or secrecy: it is never stale.
#[test]
fn the_room_list_is_kept_until_something_changes() {
    let hub = Hub::new(100, 100);
    let (m, _) = register(&hub, "Michael");
    let (t, _) = register(&hub, "Tracy");
    let (lobby, rust) = (RoomName::lobby(), RoomName::parse("rust").unwrap());
    hub.join(&guest(&m), sid(&m), &lobby, None, false).unwrap();
    let counts = |hub: &Hub, mine: &[RoomName]| -> Vec<(String, u32)> {
        hub.rooms(mine).into_iter().map(|r| (r.name.to_string(), r.members)).collect()
    };
    assert_eq!(counts(&hub, &[]), [("lobby".into(), 1)]);
    assert!(std::sync::Arc::ptr_eq(&hub.public_rooms(), &hub.public_rooms()), "kept");
    hub.join(&guest(&t), sid(&t), &lobby, None, false).unwrap();
    hub.join(&guest(&t), sid(&t), &rust, None, false).unwrap();
    assert_eq!(counts(&hub, &[]), [("lobby".into(), 2), ("rust".into(), 1)]);
    let secret = crate::authority::Setting { field: "mode:s".into(), value: Some("1".into()) };
    hub.apply(&crate::authority::Act::new(Some(rust.clone()), vec![secret]));
    assert_eq!(counts(&hub, &[]), [("lobby".into(), 2)], "secret: hidden from others");
    assert_eq!(
        counts(&hub, &[lobby.clone(), rust.clone()]),
        [("lobby".into(), 2), ("rust".into(), 1)]
    );
    hub.leave(&t, sid(&t), &lobby, PresenceEvent::Left { reason: None });
    assert_eq!(counts(&hub, &[]), [("lobby".into(), 1)]);
}

#[test]
fn rename_moves_membership_and_frees_the_old_nick() {
    let hub = Hub::new(100, 100);
    let (m, _) = register(&hub, "Michael");
    let lobby = RoomName::lobby();
    let _membership = hub.join(&guest(&m), sid(&m), &lobby, None, false).unwrap();
    hub.rename(&m, sid(&m), &nick("Mike")).unwrap();
    assert_eq!(hub.members(&lobby, Uuid::nil()).unwrap().0, vec![nick("Mike")]);
    register(&hub, "michael");
    hub.unregister(&nick("Mike"), sid(&m), PresenceEvent::Left { reason: None }, false);
    assert!(hub.members(&lobby, Uuid::nil()).is_none());
    assert_eq!(hub.online(), 1);
}

#[test]
fn the_number_of_rooms_is_capped_and_lists_are_bounded() {
    let hub = Hub::new(MAX_ROOMS_LISTED + 1, 100);
    let (m, _) = register(&hub, "Michael");
    let mut memberships = Vec::new();
    for i in 0..=MAX_ROOMS_LISTED {
        memberships.push(
            hub.join(&guest(&m), sid(&m), &RoomName::parse(&format!("r{i}")).unwrap(), None, false)
                .unwrap(),
        );
    }
    let err = hub
        .join(&guest(&m), sid(&m), &RoomName::parse("one-more").unwrap(), None, false)
        .err()
        .unwrap();
    assert_eq!(err.code, ErrorCode::TooManyRooms);
    assert!(
        hub.join(&guest(&m), sid(&m), &RoomName::parse("r0").unwrap(), None, false).is_ok(),
        "existing rooms stay open"
    );
    assert_eq!(hub.rooms(&[]).len(), MAX_ROOMS_LISTED);
}

/// Member lists read alphabetically, whatever order the look-alike keys sort in
/// ("Michael"'s key starts "rn", after "rachel").
#[test]
fn member_lists_are_alphabetical_ignoring_case() {
    let hub = Hub::new(100, 100);
    let room = RoomName::lobby();
    let mut memberships = Vec::new();
    for name in ["rachel", "Michael", "anna", "Bob"] {
        let (n, _) = register(&hub, name);
        memberships.push(hub.join(&guest(&n), sid(&n), &room, None, false).unwrap());
    }
    let names = |nicks: Vec<Nick>| nicks.iter().map(|n| n.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(hub.members(&room, Uuid::nil()).unwrap().0),
        ["anna", "Bob", "Michael", "rachel"]
    );
    let last = memberships.pop().unwrap();
    assert_eq!(names(last.members), ["anna", "Bob", "Michael", "rachel"]);
}

/// A full room refuses the next member without half-adding it; a place that frees up
/// can be taken.
#[test]
fn a_full_room_refuses_joins_until_someone_leaves() {
    let hub = Hub::new(100, 2);
    let room = RoomName::parse("small").unwrap();
    let (a, _) = register(&hub, "Anna");
    let (b, _) = register(&hub, "Bob");
    let (c, _) = register(&hub, "Cleo");
    let _ma = hub.join(&guest(&a), sid(&a), &room, None, false).unwrap();
    let _mb = hub.join(&guest(&b), sid(&b), &room, None, false).unwrap();
    let err = hub.join(&guest(&c), sid(&c), &room, None, false).err().unwrap();
    assert_eq!(err.code, ErrorCode::RoomFull);
    assert_eq!(hub.members(&room, Uuid::nil()).unwrap().0.len(), 2);
    hub.leave(&a, sid(&a), &room, PresenceEvent::Left { reason: None });
    assert!(hub.join(&guest(&c), sid(&c), &room, None, false).is_ok());
    assert!(hub.join(&guest(&a), sid(&a), &room, None, false).is_err(), "full again");
}

#[test]
fn forgetting_a_session_frees_its_nick_and_rooms() {
    let hub = Hub::new(100, 100);
    let rx = DirectReceiver::default();
    let session = Uuid::now_v7();
    hub.claim_nick(
        &nick("Michael"),
        session,
        ResumeHash::of(Uuid::new_v4()),
        rx.sender(),
        None,
        false,
    )
    .unwrap();
    let _m = hub.join(&guest(&nick("Michael")), session, &RoomName::lobby(), None, false).unwrap();
    hub.forget(Uuid::now_v7());
    assert_eq!(hub.online(), 1, "another session's id changes nothing");
    hub.forget(session);
    assert_eq!(hub.online(), 0);
    assert!(hub.rooms(&[]).is_empty());
}

#[test]
fn a_users_rooms_are_a_sorted_set() {
    let hub = Hub::new(100, 100);
    let (m, _) = register(&hub, "Michael");
    let mut memberships = Vec::new();
    for name in ["b", "c", "a"] {
        memberships.push(
            hub.join(&guest(&m), sid(&m), &RoomName::parse(name).unwrap(), None, false).unwrap(),
        );
    }
    let rooms = |hub: &Hub| {
        let state = hub.state();
        state.users[&m.key()].rooms.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(rooms(&hub), ["a", "b", "c"]);
    hub.leave(&m, sid(&m), &RoomName::parse("b").unwrap(), PresenceEvent::Left { reason: None });
    assert_eq!(rooms(&hub), ["a", "c"]);
    // The room's name is the hub's own, shared with the member.
    let again = hub.join(&guest(&m), sid(&m), &RoomName::parse("a").unwrap(), None, false).unwrap();
    let state = hub.state();
    let (key, _) = state.rooms.get_key_value(&again.room).unwrap();
    assert!(std::ptr::eq(key.as_str(), again.room.as_str()));
}
/// A resume token takes a held nick over: the old session is out of its rooms at once and
/// told to end, and what it still asks of the hub is refused or changes nothing.
#[test]
fn the_resume_token_takes_a_nick_over() {
    let hub = Hub::new(100, 100);
    let (old_session, token) = (Uuid::now_v7(), Uuid::new_v4());
    let old = DirectReceiver::default();
    hub.claim_nick(&nick("Michael"), old_session, ResumeHash::of(token), old.sender(), None, false)
        .unwrap();
    let rust = RoomName::parse("rust").unwrap();
    let _m = hub.join(&guest(&nick("Michael")), old_session, &rust, None, false).unwrap();
    let (tracy, _) = register(&hub, "Tracy");
    let mut watch = hub.join(&guest(&tracy), sid(&tracy), &rust, None, false).unwrap();

    let wrong = DirectReceiver::default();
    let refused = hub.claim_nick(
        &nick("michael"),
        Uuid::now_v7(),
        ResumeHash::of(Uuid::new_v4()),
        wrong.sender(),
        Some(Uuid::new_v4()),
        false,
    );
    assert_eq!(refused.unwrap_err().code, ErrorCode::NickInUse);
    assert!(!old.replaced());

    let (new_session, new) = (Uuid::now_v7(), DirectReceiver::default());
    let how = hub.claim_nick(
        &nick("michael"),
        new_session,
        ResumeHash::of(Uuid::new_v4()),
        new.sender(),
        Some(token),
        false,
    );
    assert_eq!(how.unwrap().how, Registered::TookOver);
    assert!(old.replaced());
    assert_eq!(hub.members(&rust, Uuid::nil()).unwrap().0, vec![nick("Tracy")]);
    let events: Vec<_> = std::iter::from_fn(|| watch.rx.try_recv().ok()).collect();
    assert!(
        events.iter().any(|e| matches!(&e.msg, ServerMsg::Presence { nick, event: PresenceEvent::Dropped { reason }, .. }
            if nick.as_str() == "Michael" && reason.as_str() == "reconnected")),
        "{events:?}"
    );
    // The old session, ending late, touches nothing of the new one's.
    let err = hub.join(&guest(&nick("Michael")), old_session, &rust, None, false).err().unwrap();
    assert_eq!(err.code, ErrorCode::NotRegistered);
    let _n = hub.join(&guest(&nick("michael")), new_session, &rust, None, false).unwrap();
    hub.leave(&nick("Michael"), old_session, &rust, PresenceEvent::Left { reason: None });
    hub.unregister(&nick("Michael"), old_session, PresenceEvent::Left { reason: None }, true);
    assert_eq!(hub.members(&rust, Uuid::nil()).unwrap().0, vec![nick("michael"), nick("Tracy")]);
    assert_eq!(hub.online(), 2);
}

/// A session that dropped keeps its nick for its token for the reservation time; then
/// anyone may have it.
#[test]
fn a_dropped_nick_is_reserved_for_its_token_for_a_while() {
    let hub = Hub::new(100, 100).with_reservation(Duration::from_millis(100), Duration::ZERO);
    let (session, token, rx) = (Uuid::now_v7(), Uuid::new_v4(), DirectReceiver::default());
    hub.claim_nick(&nick("Michael"), session, ResumeHash::of(token), rx.sender(), None, false)
        .unwrap();
    hub.unregister(&nick("Michael"), session, PresenceEvent::Left { reason: None }, true);
    assert_eq!(hub.online(), 0);
    let other = DirectReceiver::default();
    let err = hub.claim_nick(
        &nick("MICHAEL"),
        Uuid::now_v7(),
        ResumeHash::of(Uuid::new_v4()),
        other.sender(),
        None,
        false,
    );
    assert!(err.unwrap_err().message.contains("kept for"));
    let (_tracy, _) = register(&hub, "Tracy");
    let err = hub.rename(&nick("Tracy"), sid(&nick("Tracy")), &nick("Michael")).unwrap_err();
    assert_eq!(err.code, ErrorCode::NickInUse, "nor by a rename");
    let back = DirectReceiver::default();
    let how = hub.claim_nick(
        &nick("Michael"),
        Uuid::now_v7(),
        ResumeHash::of(Uuid::new_v4()),
        back.sender(),
        Some(token),
        false,
    );
    assert_eq!(how.unwrap().how, Registered::Reclaimed);

    // Reserved again, and this time the time runs out.
    hub.unregister(&nick("Michael"), sid(&nick("x")), PresenceEvent::Left { reason: None }, true);
    assert_eq!(hub.online(), 2, "another session's id changes nothing");
    let state_session = hub.state().users[&nick("Michael").key()].session;
    hub.unregister(&nick("Michael"), state_session, PresenceEvent::Left { reason: None }, true);
    std::thread::sleep(Duration::from_millis(150));
    let how = hub.claim_nick(
        &nick("Michael"),
        Uuid::now_v7(),
        ResumeHash::of(Uuid::new_v4()),
        other.sender(),
        None,
        false,
    );
    assert_eq!(how.unwrap().how, Registered::New);
    assert_eq!(hub.state().reserved.len(), 0);
}
/// Only a session that held its nick a while is kept a reservation, and there are never
/// more than [`MAX_RESERVATIONS`]: connecting and dropping cannot lock nicks away.
#[test]
fn reservations_need_a_settled_session_and_are_capped() {
    let hub =
        Hub::new(100, 100).with_reservation(Duration::from_secs(60), Duration::from_secs(3600));
    let (session, rx) = (Uuid::now_v7(), DirectReceiver::default());
    hub.claim_nick(
        &nick("Brief"),
        session,
        ResumeHash::of(Uuid::new_v4()),
        rx.sender(),
        None,
        false,
    )
    .unwrap();
    hub.unregister(&nick("Brief"), session, PresenceEvent::Left { reason: None }, true);
    assert_eq!(hub.state().reserved.len(), 0, "a session of a moment keeps nothing");

    let hub = Hub::new(100, 100).with_reservation(Duration::from_secs(60), Duration::ZERO);
    for n in 0..=MAX_RESERVATIONS {
        let (session, rx) = (Uuid::now_v7(), DirectReceiver::default());
        let name = nick(&format!("n{n}"));
        hub.claim_nick(&name, session, ResumeHash::of(Uuid::new_v4()), rx.sender(), None, false)
            .unwrap();
        hub.unregister(&name, session, PresenceEvent::Left { reason: None }, true);
    }
    let state = hub.state();
    assert_eq!(state.reserved.len(), MAX_RESERVATIONS);
    assert!(!state.reserved.contains(&nick("n0").key()), "the oldest went");
}

impl Hub {
    /// Sessions registered now.
    fn online(&self) -> usize {
        self.state().users.len()
    }
}

/// The nicks of `nicks` that a members page marks away.
fn away_on_page(hub: &Hub, nicks: &[&Nick]) -> Vec<String> {
    let nicks = nicks.iter().map(|n| (*n).clone()).collect();
    let mut page = ServerMsg::Members {
        room: RoomName::lobby(),
        nicks,
        roles: BTreeMap::new(),
        after: None,
        more: false,
        away: BTreeMap::new(),
    };
    hub.mark_away(&mut page);
    let ServerMsg::Members { away, .. } = page else { unreachable!() };
    away.into_keys().map(|n| n.as_str().to_owned()).collect()
}

/// A members page marks who is away here, and stops once they are back or gone: the count of
/// away users that lets a page skip the look-ups follows marks, returns, renames and ends.
#[test]
fn members_pages_mark_away_users_while_they_are_away() {
    let hub = Hub::new(100, 100);
    let (m, _m_rx) = register(&hub, "Michael");
    let (t, _t_rx) = register(&hub, "Tracy");
    let text = protocol::Label::truncate("lunch");
    assert!(away_on_page(&hub, &[&m, &t]).is_empty());
    hub.set_away(&t, sid(&t), Some(text.clone()));
    hub.set_away(&t, sid(&t), Some(text.clone()));
    assert_eq!(away_on_page(&hub, &[&m, &t]), ["Tracy"]);
    hub.set_away(&m, sid(&m), Some(text.clone()));
    hub.set_away(&m, sid(&m), None);
    assert_eq!(away_on_page(&hub, &[&m, &t]), ["Tracy"], "one came back, one is still away");
    let renamed = nick("Tracy2");
    hub.rename(&t, sid(&t), &renamed).unwrap();
    assert_eq!(away_on_page(&hub, &[&m, &renamed]), ["Tracy2"], "away under the new nick");
    hub.unregister(&renamed, sid(&t), PresenceEvent::Left { reason: None }, false);
    assert_eq!(hub.away_users.load(std::sync::atomic::Ordering::Relaxed), 0);
    hub.set_away(&m, sid(&m), Some(text));
    assert_eq!(away_on_page(&hub, &[&m]), ["Michael"]);
}

/// Another node's session that goes away is marked on members pages, answered in `whois` and
/// to private messages (once per sender), and counted until it is back, gone, replaced or
/// reloaded: the count never drifts from the marks.
#[test]
fn another_nodes_away_sessions_are_marked_and_counted() {
    let hub = Hub::new(100, 100);
    let (m, _m_rx) = register(&hub, "Michael");
    let count = |hub: &Hub| hub.away_users.load(std::sync::atomic::Ordering::Relaxed);
    let (tracy, anna) = (nick("Tracy"), nick("Anna"));
    let (t_sid, a_sid) = (Uuid::now_v7(), Uuid::now_v7());
    hub.on_online("b", t_sid, &tracy);
    hub.on_online("b", a_sid, &anna);
    let text = protocol::Label::truncate("lunch");
    hub.on_away(t_sid, &tracy, Some(text.clone()));
    hub.on_away(Uuid::now_v7(), &anna, Some(text.clone()));
    assert_eq!(count(&hub), 1, "an older session's note changes nothing");

    let Some(ServerMsg::Whois { away, elsewhere: true, .. }) = hub.whois(&tracy, &m, sid(&m))
    else {
        panic!("whois of another node's session")
    };
    assert_eq!(away.as_ref(), Some(&text));
    let reply = hub.away_reply(&m, &tracy);
    assert!(matches!(reply, Some(ServerMsg::Away { .. })), "{reply:?}");
    assert!(hub.away_reply(&m, &tracy).is_none(), "once per sender per away period");
    assert_eq!(away_on_page(&hub, &[&anna, &m, &tracy]), ["Tracy"]);

    hub.on_away(t_sid, &tracy, None);
    assert_eq!(count(&hub), 0, "back");
    hub.on_away(t_sid, &tracy, Some(text.clone()));
    hub.on_offline(t_sid, &tracy);
    assert_eq!(count(&hub), 0, "gone");
    hub.on_online("b", t_sid, &tracy);
    hub.on_away(t_sid, &tracy, Some(text.clone()));
    hub.on_online("c", Uuid::now_v7(), &tracy);
    assert_eq!(count(&hub), 0, "replaced by a session of another node");
    hub.load_remote(vec![(tracy.clone(), t_sid, "b".to_owned(), Some(text.clone()))], vec![]);
    assert_eq!(count(&hub), 1, "reloaded");
    assert!(hub.away_reply(&m, &tracy).is_some());
    let reload = |text: &protocol::Label| {
        let tracy = (tracy.clone(), t_sid, "b".to_owned(), Some(text.clone()));
        hub.load_remote(vec![tracy], vec![]);
    };
    reload(&text);
    assert!(hub.away_reply(&m, &tracy).is_none(), "a reload keeps the away period's told");
    reload(&protocol::Label::truncate("dinner"));
    assert!(hub.away_reply(&m, &tracy).is_some(), "another message: another period");
    hub.load_remote(vec![], vec![]);
    assert_eq!(count(&hub), 0, "reloaded without it");

    // A rename onto a nick whose old entry is still here (its departure not heard yet).
    let t2 = Uuid::now_v7();
    hub.on_online("b", a_sid, &anna);
    hub.on_away(a_sid, &anna, Some(text.clone()));
    hub.on_online("b", t2, &tracy);
    hub.on_renamed(t2, &tracy, &anna);
    assert_eq!(count(&hub), 0, "the entry renamed over is gone, and counted out");

    // Text from another node is held to the local rules: one line, never empty.
    hub.on_away(t2, &anna, Some(protocol::Label::truncate("on\na train")));
    let Some(ServerMsg::Whois { away, .. }) = hub.whois(&anna, &m, sid(&m)) else { panic!() };
    assert_eq!(away.map(|a| a.as_str().to_owned()).as_deref(), Some("on a train"));
    hub.on_away(t2, &anna, Some(protocol::Label::truncate("  ")));
    assert_eq!(count(&hub), 0, "blank is back");
}

/// A room whose members are all on other nodes holds no broadcast buffer here: the channel is
/// made when a member of this node first joins, and a send before that reaches nobody.
#[test]
fn a_rooms_channel_is_made_by_its_first_member_here() {
    let hub = Hub::new(100, 100);
    let rust = RoomName::parse("rust").unwrap();
    let joined = PresenceEvent::Joined;
    hub.on_presence(false, Uuid::now_v7(), presence(&rust, &nick("Tracy"), joined));
    assert!(!hub.state().rooms[&rust].tx.is_made(), "another node's member only");
    assert!(!hub.deliver(&rust, presence(&rust, &nick("Tracy"), PresenceEvent::Joined)));

    let (m, _rx) = register(&hub, "Michael");
    let mut membership = hub.join(&guest(&m), sid(&m), &rust, None, false).unwrap();
    assert!(hub.state().rooms[&rust].tx.is_made());
    assert!(hub.deliver(&rust, presence(&rust, &nick("Tracy"), PresenceEvent::Joined)));
    let heard: Vec<_> = std::iter::from_fn(|| membership.rx.try_recv().ok()).collect();
    let last = heard.last().map(|e| &e.msg);
    assert!(
        matches!(last, Some(ServerMsg::Presence { nick, .. }) if nick.as_str() == "Tracy"),
        "the member here hears what comes after its join: {last:?}"
    );
}
