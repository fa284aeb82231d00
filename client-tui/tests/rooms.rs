//! Rooms with owners, as the client shows them: the topic's header row, role marks in the
//! member list, being kicked (and not rejoining), a room's key kept for the rejoin and never
//! shown, and moderation events and answers in the room's window.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::collections::BTreeMap;

use chat_tui::app::App;
use chat_tui::entry::EntryKind;
use chat_tui::event::{Effect, Event, NetEvent, Security};
use chat_tui::window::{Target, Window};
use common::{app, joined, net, nick, render, row, screen};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use protocol::{
    BanInfo, ClientMsg, JoinKey, Label, Mask, Moderation, Modes, PresenceEvent, Role, RoomInfo,
    RoomName, ServerMsg, Topic,
};
use ratatui::style::Modifier;
use uuid::Uuid;

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn type_line(app: &mut App, line: &str) -> Vec<Effect> {
    type_text(app, line);
    key(app, KeyCode::Enter)
}

/// Michael at `width` x `height`, in lobby and in #rust (shown), with Tracy, Sam and Bob;
/// Michael owns #rust, Tracy is an operator, Sam is voiced.
fn in_rust(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    type_line(&mut app, "/join rust");
    joined(&mut app, "rust", "Michael");
    members(
        &mut app,
        "rust",
        &["Bob", "Michael", "Sam", "Tracy"],
        &[("Michael", Role::Owner), ("Tracy", Role::Operator), ("Sam", Role::Voiced)],
    );
    app
}

fn members(app: &mut App, r: &str, nicks: &[&str], roles: &[(&str, Role)]) {
    let roles: BTreeMap<_, _> = roles.iter().map(|(n, role)| (nick(n), *role)).collect();
    net(
        app,
        ServerMsg::Members {
            room: room(r),
            nicks: nicks.iter().map(|n| nick(n)).collect(),
            roles,
            after: None,
            more: false,
            away: Default::default(),
        },
    );
}

fn topic(app: &mut App, r: &str, text: &str) {
    let topic = Topic { text: Label::parse(text).unwrap(), by: nick("Tracy"), ts: 0 };
    net(app, ServerMsg::Topic { room: room(r), topic: Some(topic) });
}

fn moderation(app: &mut App, r: &str, by: &str, action: Moderation) {
    net(
        app,
        ServerMsg::Moderation { id: Uuid::now_v7(), ts: 0, room: room(r), by: nick(by), action },
    );
}

fn presence(app: &mut App, r: &str, who: &str, event: PresenceEvent) {
    net(
        app,
        ServerMsg::Presence { id: Uuid::now_v7(), ts: 0, room: room(r), nick: nick(who), event },
    );
}

fn kicked(app: &mut App, r: &str, who: &str, by: &str, reason: &str) {
    let reason = Some(Label::parse(reason).unwrap());
    presence(app, r, who, PresenceEvent::Kicked { by: nick(by), reason });
}

fn window<'a>(app: &'a App, r: &str) -> &'a Window {
    let index = app.windows.find(&Target::Room(room(r))).unwrap();
    &app.windows[index]
}

/// The text of the newest entry of the window shown.
fn last_line(app: &App) -> String {
    app.windows.current_window().unwrap().entries().back().unwrap().text.clone()
}

/// The connection drops and comes back: what the client sends on being welcomed again.
fn reconnect(app: &mut App) -> Vec<Effect> {
    app.update(Event::Net(NetEvent::Closed { reason: "connection reset".into() }));
    let due = app.next_deadline().unwrap();
    let effects = app.update(Event::Tick(due));
    assert_eq!(effects, vec![Effect::Connect]);
    app.update(Event::Net(NetEvent::Connected {
        server: "127.0.0.1:7878".into(),
        security: Security::Plain { loopback: true },
    }));
    let welcome = ServerMsg::Welcome {
        flood: None,
        account: false,
        session: Uuid::now_v7(),
        nick: nick("Michael"),
        server: Label::truncate("chat-server/0.1.0"),
        protocol: 1,
        greeting: "Hello, Michael!".into(),
        motd: String::new(),
        rooms: vec![RoomInfo { name: RoomName::lobby(), members: 1 }],
        resume: None,
    };
    app.update(Event::Net(NetEvent::Message(welcome)))
}

/// The joins among `effects`: each room and whether it came with a key.
fn joins(effects: &[Effect]) -> Vec<(String, Option<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(ClientMsg::Join { room, key }) => {
                Some((room.to_string(), key.as_ref().map(|k| k.expose().to_owned())))
            }
            _ => None,
        })
        .collect()
}

/// A room with a topic shows it on one row at the top of the conversation pane, above the
/// conversation; a room without one gives that row to the conversation.
#[test]
fn a_topic_is_a_header_row_above_the_conversation() {
    let mut app = in_rust(80, 24);
    let area = app.view.size;
    let without = app.panes(area);
    assert!(without.topic.is_none(), "no topic, no header row");
    topic(&mut app, "rust", "Rust 1.92 is out");
    let with = app.panes(area);
    let header = with.topic.unwrap();
    assert_eq!(header.height, 1);
    assert_eq!(with.messages_inner().y, without.messages_inner().y + 1);
    assert_eq!(with.messages_inner().height, without.messages_inner().height - 1);
    let (buf, _) = render(&app);
    assert_eq!(
        row(&buf, header.y).trim_matches(['│', ' ']),
        "Rust 1.92 is out",
        "{}",
        screen(&buf)
    );
    assert_eq!(header.y, 1, "the first row inside the pane:\n{}", screen(&buf));
    assert_eq!(last_line(&app), "topic of #rust: Rust 1.92 is out (set by Tracy)");
    // Lobby has no topic: no header there.
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT)));
    assert!(app.panes(area).topic.is_none());
    assert!(!screen(&render(&app).0).contains("Rust 1.92"));
}

/// `moderation` events set and clear the topic; an empty or absent topic leaves no row.
#[test]
fn moderation_events_set_and_clear_the_topic() {
    let mut app = in_rust(80, 24);
    let area = app.view.size;
    moderation(
        &mut app,
        "rust",
        "Tracy",
        Moderation::Topic { text: Some(Label::parse("new").unwrap()) },
    );
    assert_eq!(window(&app, "rust").room.topic(), Some("new"));
    assert_eq!(last_line(&app), "Tracy set the topic: new");
    assert!(app.panes(area).topic.is_some());
    moderation(&mut app, "rust", "Tracy", Moderation::Topic { text: None });
    assert_eq!(window(&app, "rust").room.topic(), None);
    assert_eq!(last_line(&app), "Tracy cleared the topic");
    assert!(app.panes(area).topic.is_none());
    topic(&mut app, "rust", "back again");
    net(&mut app, ServerMsg::Topic { room: room("rust"), topic: None });
    assert!(app.panes(area).topic.is_none());
    assert_eq!(last_line(&app), "#rust has no topic");
}

/// Rejoined after a reconnect, a room whose topic was cleared meanwhile (no `topic` follows
/// the join) has no header; one whose topic is still set gets it again.
#[test]
fn a_rejoin_forgets_a_topic_cleared_meanwhile() {
    let mut app = in_rust(80, 24);
    topic(&mut app, "rust", "old news");
    reconnect(&mut app);
    joined(&mut app, "rust", "Michael");
    members(&mut app, "rust", &["Michael"], &[("Michael", Role::Owner)]);
    assert_eq!(window(&app, "rust").room.topic(), None);
    assert!(app.panes(app.view.size).topic.is_none());
    reconnect(&mut app);
    joined(&mut app, "rust", "Michael");
    topic(&mut app, "rust", "still news");
    assert_eq!(window(&app, "rust").room.topic(), Some("still news"));
}

/// A hostile topic is drawn harmlessly, cut to its one row with `…`, at 80x24 and 40x12.
#[test]
fn the_topic_is_sanitised_and_cut_to_one_row() {
    for (width, height) in [(80, 24), (40, 12)] {
        let mut app = in_rust(width, height);
        let hostile = format!("\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}evil\n{}", "long ".repeat(30));
        topic(&mut app, "rust", &hostile);
        let header = app.panes(app.view.size).topic.unwrap();
        let (buf, _) = render(&app);
        let shown = row(&buf, header.y);
        assert!(
            shown.contains("␛[2J") && shown.trim_end_matches(['│', ' ']).ends_with('…'),
            "{shown}"
        );
        for cell in buf.content() {
            for c in cell.symbol().chars() {
                assert!(
                    !c.is_control() && !protocol::sanitize::is_invisible(c),
                    "{}",
                    screen(&buf)
                );
            }
        }
        // The header is one reversed row; the row below is the conversation's.
        let reversed = |y: u16| buf[(header.x, y)].modifier.contains(Modifier::REVERSED);
        assert!(reversed(header.y) && !reversed(header.y + 1), "{width}x{height}");
    }
}

/// The member list ranks the owner, operators, voiced, then members, each marked; the
/// member line printed in the window carries the marks too.
#[test]
fn roles_mark_and_rank_the_member_list() {
    let mut app = in_rust(100, 24);
    assert_eq!(last_line(&app), "members of #rust: ~Michael, @Tracy, +Sam, Bob");
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    let shown = screen(&buf);
    for (y, who) in (1..).zip(["~Michael", "@Tracy", "+Sam", "Bob"]) {
        assert!(row(&buf, y).ends_with(&format!("││ {who:<18} │")), "{shown}");
    }
}

/// Roles follow `role` and `claimed` events, renames keep a mark, leaving loses it.
#[test]
fn roles_follow_events_renames_and_leaves() {
    let mut app = in_rust(100, 24);
    let role = |app: &App, who: &str| window(app, "rust").room.role(&nick(who));
    moderation(
        &mut app,
        "rust",
        "Michael",
        Moderation::Role { nick: nick("Bob"), role: Role::Voiced },
    );
    assert_eq!(role(&app, "Bob"), Role::Voiced);
    assert_eq!(last_line(&app), "Michael gave Bob a voice");
    moderation(
        &mut app,
        "rust",
        "Michael",
        Moderation::Role { nick: nick("Tracy"), role: Role::Member },
    );
    assert_eq!(role(&app, "Tracy"), Role::Member);
    presence(&mut app, "rust", "Sam", PresenceEvent::Renamed { to: nick("Samuel") });
    assert_eq!(role(&app, "Samuel"), Role::Voiced);
    presence(&mut app, "rust", "Bob", PresenceEvent::Left { reason: None });
    presence(&mut app, "rust", "Bob", PresenceEvent::Joined);
    assert_eq!(role(&app, "Bob"), Role::Member, "the mark left with him");
    let rust = window(&app, "rust");
    assert_eq!(rust.room.marked_list(&rust.members), "~Michael, +Samuel, Bob, Tracy");
    // A guest's room has no owner until a logged-in member claims it.
    type_line(&mut app, "/join den");
    joined(&mut app, "den", "Michael");
    members(&mut app, "den", &["Michael", "Tracy"], &[]);
    moderation(&mut app, "den", "Tracy", Moderation::Claimed);
    assert_eq!(window(&app, "den").room.role(&nick("Tracy")), Role::Owner);
    assert_eq!(last_line(&app), "Tracy now owns the room");
    app.update(Event::Key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE)));
    let (buf, _) = render(&app);
    assert!(row(&buf, 1).ends_with("││ ~Tracy             │"), "{}", screen(&buf));
}

/// Kicked: the room's window closes, the line says who and why where the person is looking,
/// and a reconnect rejoins the other rooms but not that one.
#[test]
fn being_kicked_closes_the_window_and_is_not_rejoined() {
    let mut app = in_rust(80, 24);
    type_line(&mut app, "/join go");
    joined(&mut app, "go", "Michael");
    app.update(Event::Key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::ALT)));
    assert_eq!(app.windows.current_room(), Some(&room("rust")));
    kicked(&mut app, "rust", "Michael", "Tracy", "spamming \u{1b}[2J");
    assert!(app.windows.find(&Target::Room(room("rust"))).is_none(), "the window is closed");
    let shown = app.windows.current_window().unwrap().entries().back().unwrap().clone();
    assert_eq!(shown.kind, EntryKind::Error);
    assert_eq!(shown.text, "you were kicked from #rust by Tracy: spamming ␛[2J");
    assert!(screen(&render(&app).0).contains("you were kicked from #rust by Tracy: spamming"));
    let rejoined = joins(&reconnect(&mut app));
    assert_eq!(rejoined, vec![("go".to_owned(), None)], "#rust is not rejoined");
}

/// Another member kicked: their line says by whom and why, and they leave the member list
/// with their mark.
#[test]
fn another_member_kicked_reads_so_and_leaves_the_list() {
    let mut app = in_rust(80, 24);
    kicked(&mut app, "rust", "Tracy", "Michael", "spamming");
    assert_eq!(last_line(&app), "Tracy was kicked by Michael: spamming");
    let rust = window(&app, "rust");
    assert!(!rust.members.contains(&nick("Tracy")));
    assert_eq!(rust.room.role(&nick("Tracy")), Role::Member);
    assert_eq!(app.windows.current_room(), Some(&room("rust")), "our window stays");
}

/// `/join ROOM KEY` sends the key, the window keeps it, and the rejoin after a reconnect gives
/// it again; the key is drawn as asterisks while typed and is nowhere else: not on the
/// screen, in the log, in recall, nor in `Debug`.
#[test]
fn a_room_joined_with_a_key_is_rejoined_with_it_and_never_shown() {
    let mut app = app(80, 24);
    type_text(&mut app, "/join secret sesame");
    let typed = screen(&render(&app).0);
    assert!(typed.contains("/join secret ******") && !typed.contains("sesame"), "{typed}");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(joins(&effects), vec![("secret".to_owned(), Some("sesame".to_owned()))]);
    joined(&mut app, "secret", "Michael");
    assert_eq!(app.windows.current_room(), Some(&room("secret")), "shown once joined");
    assert_eq!(window(&app, "secret").room.key, Some(JoinKey::parse("sesame").unwrap()));
    key(&mut app, KeyCode::Up);
    assert!(!app.composer.input.as_str().contains("sesame"), "not kept for recall");
    let rejoined = joins(&reconnect(&mut app));
    assert_eq!(rejoined, vec![("secret".to_owned(), Some("sesame".to_owned()))]);
    let screen = screen(&render(&app).0);
    assert!(!screen.contains("sesame"), "{screen}");
    assert!(app.server_log().iter().all(|l| !l.text.contains("sesame")));
    assert!(!format!("{:?}", app.windows).contains("sesame"));
    // A room joined without a key is rejoined without one.
    type_line(&mut app, "/join open");
    joined(&mut app, "open", "Michael");
    let rejoined = joins(&reconnect(&mut app));
    assert!(rejoined.contains(&("open".to_owned(), None)), "{rejoined:?}");
}

/// Audit events and the answers to `/mode`, `/topic` and `/bans` read as sentences in the
/// room's window, what others wrote sanitised.
#[test]
fn moderation_events_and_answers_read_well() {
    let mut app = in_rust(80, 24);
    let tracy = || nick("Tracy");
    let cases = [
        (
            Moderation::Banned {
                mask: Mask::Account(tracy()),
                until: Some(3_600_000),
                reason: Some(Label::parse("spam\u{1b}[2J").unwrap()),
            },
            "account:Tracy was banned by Michael for 1h: spam␛[2J",
        ),
        (Moderation::Muted { nick: tracy(), until: None }, "Tracy was muted by Michael"),
        (Moderation::Unmuted { nick: tracy() }, "Tracy was unmuted by Michael"),
        (Moderation::Invited { nick: tracy() }, "Michael invited Tracy"),
        (
            Moderation::Modes { modes: Modes { moderated: true, ..Modes::default() } },
            "Michael set the modes to +m (moderated: only operators and voiced members speak)",
        ),
    ];
    for (action, words) in cases {
        moderation(&mut app, "rust", "Michael", action);
        assert_eq!(last_line(&app), words);
    }
    let modes = Modes { invite_only: true, key: true, ..Modes::default() };
    net(&mut app, ServerMsg::Modes { room: room("rust"), modes, owner: Some(nick("Michael")) });
    assert_eq!(
        last_line(&app),
        "modes of #rust: +ik (invite-only, a key to join); owned by Michael"
    );
    let ban = BanInfo {
        mask: Mask::Nick(tracy()),
        by: nick("Michael"),
        ts: 0,
        until: None,
        reason: Some(Label::parse("flooding\nagain").unwrap()),
    };
    net(&mut app, ServerMsg::Bans { room: Some(room("rust")), bans: vec![ban] });
    assert_eq!(last_line(&app), "1 ban in #rust:\n  nick:Tracy by Michael: flooding␤again");
    net(&mut app, ServerMsg::Bans { room: Some(room("rust")), bans: vec![] });
    assert_eq!(last_line(&app), "no bans in #rust");
}
