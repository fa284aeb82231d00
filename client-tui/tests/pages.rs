//! The later pages of big rooms' member lists: asked for one at a time across rooms, a page
//! refused for flooding asked for again when the server says, rooms left given up.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::{Duration, Instant};

use chat_tui::app::App;
use chat_tui::event::{Effect, Event, NetEvent};
use common::{app, joined, nick};
use protocol::{ClientMsg, ErrorCode, RoomName, ServerMsg};

fn room(s: &str) -> RoomName {
    RoomName::parse(s).unwrap()
}

fn server(app: &mut App, msg: ServerMsg) -> Vec<Effect> {
    app.update(Event::Net(NetEvent::Message(msg)))
}

/// A page of `r`'s list: `nicks`, after `after`, with more to come or not.
fn page(r: &str, nicks: &[&str], after: Option<&str>, more: bool) -> ServerMsg {
    ServerMsg::Members {
        room: room(r),
        nicks: nicks.iter().map(|n| nick(n)).collect(),
        roles: Default::default(),
        after: after.map(nick),
        more,
    }
}

fn who(r: &str, after: &str) -> Effect {
    Effect::Send(ClientMsg::Who { room: room(r), after: Some(nick(after)) })
}

fn flood(retry_after_ms: Option<u64>) -> ServerMsg {
    ServerMsg::Error {
        code: ErrorCode::Flood,
        message: "slow down".into(),
        request: Some("who".into()),
        retry_after_ms,
    }
}

/// Michael in lobby, big and small, each joined and its first page in with more to come.
fn in_three_big_rooms() -> (App, Vec<Effect>) {
    let mut app = app(80, 24);
    let mut asked = Vec::new();
    for r in ["big", "bigger", "biggest"] {
        joined(&mut app, r, "Michael");
        asked.extend(server(&mut app, page(r, &["Anna", "Bob"], None, true)));
    }
    (app, asked)
}

#[test]
fn pages_of_several_rooms_are_asked_for_one_at_a_time() {
    let (mut app, asked) = in_three_big_rooms();
    assert_eq!(asked, vec![who("big", "Bob")], "one page asked for, not three");
    let next = server(&mut app, page("big", &["Cleo"], Some("Bob"), false));
    assert_eq!(next, vec![who("bigger", "Bob")]);
    let next = server(&mut app, page("bigger", &["Cleo"], Some("Bob"), true));
    assert_eq!(next, vec![who("biggest", "Bob")], "rooms take turns");
    let next = server(&mut app, page("biggest", &["Cleo"], Some("Bob"), false));
    assert_eq!(next, vec![who("bigger", "Cleo")]);
    assert!(server(&mut app, page("bigger", &["Dan"], Some("Cleo"), false)).is_empty());
}

#[test]
fn a_page_refused_for_flooding_is_asked_again_when_the_server_says() {
    let (mut app, _) = in_three_big_rooms();
    let start = Instant::now();
    app.update(Event::Tick(start));
    assert!(server(&mut app, flood(Some(2_000))).is_empty());
    let shown = &app.windows.current_window().unwrap().entries().back().unwrap().text;
    assert!(
        !shown.contains("slow down"),
        "the client's own page is retried, not reported: {shown}"
    );
    assert_eq!(app.next_deadline(), Some(start + Duration::from_millis(2_000)));
    assert!(app.update(Event::Tick(start + Duration::from_millis(1_000))).is_empty());
    let again = app.update(Event::Tick(start + Duration::from_millis(2_000)));
    assert_eq!(again, vec![who("big", "Bob")]);
    assert_eq!(
        server(&mut app, page("big", &["Cleo"], Some("Bob"), false)),
        vec![who("bigger", "Bob")]
    );
}

#[test]
fn the_pages_of_a_room_left_are_not_asked_for() {
    let (mut app, _) = in_three_big_rooms();
    server(
        &mut app,
        ServerMsg::Presence {
            id: uuid::Uuid::now_v7(),
            ts: 0,
            room: room("bigger"),
            nick: nick("Michael"),
            event: protocol::PresenceEvent::Left { reason: None },
        },
    );
    let next = server(&mut app, page("big", &["Cleo"], Some("Bob"), false));
    assert_eq!(next, vec![who("biggest", "Bob")], "bigger is skipped");
}
