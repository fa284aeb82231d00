//! The hostile client: one test per kind of abuse, each asserting the safe outcome and that a
//! well-behaved member of the same room is unaffected.
//!
//! Rows covered elsewhere: unreadable lines, over-long lines, byte-at-a-time lines, split and
//! invalid UTF-8 (`bad_input.rs`); slow readers (`falling_behind.rs`, `chat.rs`); slowloris and
//! dead peers (`deadlines.rs`); random input in random chunks (`protocol/tests/fuzz.rs`,
//! `fuzz_plain.rs`).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::time::Duration;

use chat_server::{FloodLimits, Rate, ServerInfo};
use common::{JsonClient, PlainClient, ServerProcess, nick, start_server_with};
use protocol::{ByeCode, ClientMsg, ErrorCode, PresenceEvent, RoomName, ServerMsg, Text};

/// How often the test buckets refill: seldom enough that a test's burst (up to 100 lines) is
/// handled within one refill even on a busy machine, so the counts below are exact.
const REFILL: Duration = Duration::from_secs(2);

/// Flood limits small enough to reach in a test: 3 at once, then one every [`REFILL`]; 5
/// refusals; 6 units of requests.
fn tight_flood() -> FloodLimits {
    let every = REFILL;
    FloodLimits {
        messages: Rate { burst: 3, every },
        joins: Rate { burst: 2, every },
        requests: Rate { burst: 6, every },
        presence: Rate { burst: 100, every },
        refusals: Rate { burst: 5, every },
    }
}

fn say(text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(text).unwrap() }
}

/// The texts of the room messages in `msgs`.
fn texts(msgs: &[ServerMsg]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMsg::Message { text, .. } => Some(text.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

/// Reads for a while and returns everything that came.
async fn drain(c: &mut JsonClient) -> Vec<ServerMsg> {
    let mut got = Vec::new();
    while let Ok(Some(Ok(Ok(msg)))) =
        tokio::time::timeout(common::QUIET, futures::StreamExt::next(&mut c.frames)).await
    {
        got.push(msg);
    }
    got
}

/// Proves the session is usable and the room works: `c` speaks and `other` hears it.
async fn chat_works(c: &mut JsonClient, other: &mut JsonClient, text: &str) {
    c.send(say(text)).await;
    for who in [c, other] {
        who.recv_until(|m| texts(std::slice::from_ref(m)) == [text]).await;
    }
}

/// A burst past the flood limit: what fits is relayed, the rest is refused with `flood` and
/// the time to wait — nothing vanishes unannounced — and after that wait the sender may talk
/// again. The room hears exactly the accepted messages.
#[tokio::test]
async fn a_burst_past_the_flood_limit_is_refused_with_the_time_to_wait() {
    let server =
        start_server_with(ServerInfo { flood: Some(tight_flood()), ..common::info() }).await;
    let mut tracy = server.join("Tracy").await;
    let mut mallory = server.join("Mallory").await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    for i in 0..5 {
        mallory.send(say(&format!("spam {i}"))).await;
    }
    let got = drain(&mut mallory).await;
    assert_eq!(texts(&got), ["spam 0", "spam 1", "spam 2"]);
    let refusals: Vec<_> = got
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Error { code: ErrorCode::Flood, message, request, retry_after_ms } => {
                Some((message.clone(), request.clone(), *retry_after_ms))
            }
            _ => None,
        })
        .collect();
    assert_eq!(refusals.len(), 2, "{got:?}");
    for (message, request, wait) in &refusals {
        assert_eq!(request.as_deref(), Some("say"));
        assert!(message.starts_with("slow down: you may send again in "), "{message}");
        let wait = wait.unwrap();
        assert!(wait > 0 && wait <= REFILL.as_millis() as u64 + 1, "{wait} ms");
    }
    assert_eq!(texts(&drain(&mut tracy).await), ["spam 0", "spam 1", "spam 2"]);

    // Waiting as told is enough.
    let wait = refusals[1].2.unwrap();
    tokio::time::sleep(Duration::from_millis(wait)).await;
    chat_works(&mut mallory, &mut tracy, "patient now").await;
    server.shutdown().await;
}

/// A client that keeps flooding after being refused is disconnected with `flooding`; the room
/// sees why it went, and goes on.
#[tokio::test]
async fn sustained_flooding_ends_in_a_disconnect() {
    let server =
        start_server_with(ServerInfo { flood: Some(tight_flood()), ..common::info() }).await;
    let mut tracy = server.join("Tracy").await;
    let mut mallory = server.join("Mallory").await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    let mut lines = Vec::new();
    for i in 0..100 {
        lines.extend_from_slice(
            format!("{{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"spam {i}\"}}\n").as_bytes(),
        );
    }
    mallory.send_raw(&lines).await;
    let got = mallory.recv_until_closed().await;
    assert_eq!(texts(&got).len(), 3, "only the burst was relayed");
    let flood_errors =
        got.iter().filter(|m| matches!(m, ServerMsg::Error { code: ErrorCode::Flood, .. })).count();
    assert_eq!(flood_errors, 5, "refusals before the cut-off");
    assert!(
        matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::Flooding, .. })),
        "{:?}",
        got.last()
    );
    let (gone, before) = tracy
        .recv_until(|m| {
            matches!(m, ServerMsg::Presence { event: PresenceEvent::Dropped { .. }, .. })
        })
        .await;
    assert!(
        matches!(&gone, ServerMsg::Presence { event: PresenceEvent::Dropped { reason }, .. } if reason.as_str() == "flooding")
    );
    assert_eq!(texts(&before).len(), 3);
    let mut anna = server.join("Anna").await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    chat_works(&mut tracy, &mut anna, "calm again").await;
    server.shutdown().await;
}

/// Each kind of request has its own allowance: a client that used up its messages can still
/// join rooms and ask questions; questions (ping, who, history) have a budget of their own,
/// refused past it with the time to wait, like messages.
#[tokio::test]
async fn joins_and_questions_do_not_share_the_message_allowance() {
    let server =
        start_server_with(ServerInfo { flood: Some(tight_flood()), ..common::info() }).await;
    let mut mallory = server.join("Mallory").await;
    for i in 0..3 {
        mallory.send(say(&format!("m{i}"))).await;
    }
    assert_eq!(texts(&drain(&mut mallory).await).len(), 3);
    mallory.send(ClientMsg::Join { room: RoomName::parse("elsewhere").unwrap(), key: None }).await;
    mallory.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for token in 0..10 {
        mallory.send(ClientMsg::Ping { token }).await;
    }
    let got = drain(&mut mallory).await;
    let pongs = got.iter().filter(|m| matches!(m, ServerMsg::Pong { .. })).count();
    assert_eq!(pongs, 6, "the requests' burst: {got:?}");
    let refused = got
        .iter()
        .filter(|m| {
            matches!(m, ServerMsg::Error { code: ErrorCode::Flood, request: Some(r), retry_after_ms: Some(_), .. } if r == "ping")
        })
        .count();
    assert_eq!(refused, 4, "{got:?}");
    server.shutdown().await;
}

/// One address may hold only so many connections; the next is told why and closed, the ones
/// it has keep working, and a place that frees up can be taken again.
#[tokio::test]
async fn connections_from_one_address_are_capped() {
    let server =
        start_server_with(ServerInfo { max_connections_per_ip: 3, ..common::info() }).await;
    let mut a = server.join("Anna").await;
    let mut b = server.join("Bob").await;
    let c = server.join("Cleo").await;
    a.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    let mut refused = JsonClient::connect(server.json).await;
    let got = refused.recv_until_closed().await;
    assert!(
        matches!(got.as_slice(), [ServerMsg::Bye { code: ByeCode::TooManyConnections, .. }]),
        "{got:?}"
    );
    let mut plain = PlainClient::connect(server.plain).await;
    assert!(plain.rest().await.contains("too many connections from your address"));
    chat_works(&mut a, &mut b, "still fine").await;
    drop(c);
    // The place comes back once the server has seen the close.
    let mut again = None;
    for _ in 0..50 {
        let mut d = JsonClient::connect(server.json).await;
        let reply = d.hello("Dora").await;
        if matches!(reply, ServerMsg::Welcome { .. }) {
            again = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a freed place can be taken");
    server.shutdown().await;
}

/// A full room refuses the next member with `room_full` (a newcomer is still registered,
/// just not in the lobby); members inside notice nothing.
#[tokio::test]
async fn a_full_room_refuses_more_members() {
    let server = start_server_with(ServerInfo { max_room_members: 2, ..common::info() }).await;
    let mut a = server.join("Anna").await;
    let mut b = server.join("Bob").await;
    a.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    let mut c = JsonClient::connect(server.json).await;
    assert!(matches!(c.hello("Cleo").await, ServerMsg::Welcome { .. }));
    let e = c.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::RoomFull, Some("join")));
    assert!(e.message.contains("#lobby has 2 members"), "{}", e.message);
    c.send(ClientMsg::Join { room: RoomName::parse("overflow").unwrap(), key: None }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    a.assert_silent().await;
    chat_works(&mut a, &mut b, "cosy").await;
    server.shutdown().await;
}

/// A connection that talks without registering is closed after a bounded number of lines,
/// well before the hello timeout.
#[tokio::test]
async fn talking_without_hello_is_cut_off() {
    let server = start_server_with(common::info()).await;
    let mut tracy = server.join("Tracy").await;
    let mut chatty = JsonClient::connect(server.json).await;
    let mut lines = Vec::new();
    for token in 0..100 {
        lines.extend_from_slice(format!("{{\"type\":\"ping\",\"token\":{token}}}\n").as_bytes());
    }
    chatty.send_raw(&lines).await;
    let got = chatty.recv_until_closed().await;
    let pongs = got.iter().filter(|m| matches!(m, ServerMsg::Pong { .. })).count();
    assert_eq!(pongs, 16);
    assert!(matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::HelloTimeout, .. })));
    tracy.assert_silent().await;
    server.shutdown().await;
}

/// Nicks that look like one already online are refused — other scripts' look-alike letters,
/// fullwidth forms, digits for letters — on both ports and for renames, with a message that
/// names the nick it is too like.
#[tokio::test]
async fn look_alike_nicks_count_as_taken() {
    let server = start_server_with(common::info()).await;
    let mut michael = server.join("Michael").await;
    for fake in ["\u{41c}\u{456}chael", "\u{ff2d}ichael", "MICHAEL", "rnichael", "Mich\u{430}el"] {
        let mut c = JsonClient::connect(server.json).await;
        let e = match c.hello(fake).await {
            ServerMsg::Error { code, message, .. } => (code, message),
            other => panic!("{fake:?} was accepted: {other:?}"),
        };
        assert_eq!(e.0, ErrorCode::NickInUse, "{fake:?}");
        assert!(e.1.to_lowercase().contains("michael"), "{}", e.1);
    }
    let mut plain = PlainClient::connect(server.plain).await;
    plain.line().await;
    plain.send("\u{41c}\u{456}chael\n").await;
    let refusal = plain.line().await;
    assert!(refusal.contains("too like Michael"), "{refusal}");

    let mut tracy = server.join("Tracy").await;
    tracy.send(ClientMsg::Nick { nick: nick("M\u{456}chael") }).await;
    assert_eq!(tracy.recv_error().await.code, ErrorCode::NickInUse);
    michael.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    chat_works(&mut tracy, &mut michael, "no impostors").await;
    server.shutdown().await;
}

/// The nastiest text that passes the text rules: escape sequences, C1 controls, BEL, bidi
/// overrides, zero-width characters, a long unbroken word, a pile of combining marks.
fn hostile_texts() -> Vec<String> {
    vec![
        "clear \u{1b}[2J\u{1b}[H screen".to_owned(),
        "title \u{1b}]0;pwned\u{7}".to_owned(),
        "clipboard \u{1b}]52;c;cm0gLXJmIH4=\u{7}".to_owned(),
        "c1 \u{9b}31m \u{9d}0;x\u{9c} csi".to_owned(),
        "bell\u{7}\u{7}\u{7}".to_owned(),
        "bidi \u{202e}txt.exe\u{202c} \u{2066}x\u{2069} \u{200e}\u{200f}\u{61c}".to_owned(),
        "zero\u{200b}width\u{200d}\u{2060}\u{feff}".to_owned(),
        "w".repeat(4000),
        format!("a{}", "\u{301}".repeat(1000)),
    ]
}

/// Hostile text is relayed unchanged to JSON clients (the client is responsible for its
/// display) and made harmless for plain-text clients: no control character, escape or bidi
/// control reaches them, and their lines stay lines.
#[tokio::test]
async fn hostile_text_reaches_json_clients_unchanged_and_plain_clients_defused() {
    let server = start_server_with(common::info()).await;
    let mut tracy = server.join("Tracy").await;
    let mut plain = PlainClient::login(server.plain, "Watcher").await;
    let mut mallory = server.join("Mallory").await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    plain.line_until(|l| l.contains("Mallory joined")).await;
    for text in hostile_texts() {
        mallory.send(say(&text)).await;
        let (msg, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
        assert_eq!(texts(&[msg]), std::slice::from_ref(&text), "relayed unchanged");
        let line = plain.line_bytes().await;
        let line = String::from_utf8(line).expect("UTF-8");
        assert!(line.starts_with("[lobby] Mallory: "), "{line:?}");
        assert!(
            !line.chars().any(|c| c.is_control() || protocol::sanitize::is_invisible(c)),
            "raw control or invisible character on the plain port: {line:?}"
        );
    }
    chat_works(&mut tracy, &mut mallory, "after all that").await;
    server.shutdown().await;
}

/// The server's own log never carries a client's control characters: hostile client names,
/// nicks, messages, quit reasons and unreadable lines on both ports, logged at the most
/// verbose level, leave no escape, C1 control, BEL or bidi control in the log.
#[tokio::test]
async fn hostile_input_never_reaches_the_log_raw() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server =
        ServerProcess::start(&["--db", ":memory:", "-vv"], log.reopen().unwrap().into());
    let (json, plain) = (server.json, server.plain.unwrap());

    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}\u{2066}";
    let mut mallory = JsonClient::connect(json).await;
    mallory
        .send_json(serde_json::json!({
            "type": "hello", "nick": "Mallory", "protocol": 1, "client": evil
        }))
        .await;
    mallory.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    for text in hostile_texts() {
        mallory.send(say(&text)).await;
    }
    mallory.send_json(serde_json::json!({"type": "nick", "nick": evil})).await;
    mallory.send_json(serde_json::json!({"type": evil})).await;
    mallory.send_raw(format!("{evil}\n").as_bytes()).await;
    mallory.send_raw(b"\xff\x1b[2J\x9b\n").await;
    mallory.send_json(serde_json::json!({"type": "quit", "reason": evil})).await;
    mallory.recv_until_closed().await;

    let mut nc = PlainClient::connect(plain).await;
    nc.line().await;
    nc.send(&format!("{evil}\n")).await;
    nc.line().await;
    nc.send("Eve\n").await;
    nc.line_until(|l| l.starts_with("[lobby] Members:")).await;
    nc.send(&format!("{evil}\n/join {evil}\n/msg Mallory {evil}\n/quit {evil}\n")).await;
    nc.rest().await;

    // A clean stop: everything logged is in the file.
    server.signal("TERM");
    server.wait_exit();
    let written = std::fs::read(log.path()).unwrap();
    let text = String::from_utf8_lossy(&written);
    assert!(text.contains("registered"), "the log is verbose enough to matter: {text}");
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || protocol::sanitize::is_invisible(c))
        .collect();
    assert!(raw.is_empty(), "raw characters in the log: {raw:?}");
}

/// The operator's own words (`--name`, `--motd`) reach plain-text clients under the same rules
/// as a stranger's: a line break makes a new line, no control character gets through.
#[tokio::test]
async fn the_greeting_and_motd_are_defused_for_plain_clients() {
    let server = start_server_with(ServerInfo {
        name: "evil\nchat\u{1b}[2J".into(),
        motd: "read\u{1b}]0;pwned\u{7} this\r\nsecond\u{9b}line".into(),
        ..common::info()
    })
    .await;
    let mut c = PlainClient::connect(server.plain).await;
    c.line().await;
    c.send("Eve\n").await;
    let mut lines = Vec::new();
    loop {
        let line = c.line().await;
        if line.starts_with("Rooms:") {
            break;
        }
        lines.push(line);
    }
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines {
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
    assert!(lines[1].starts_with("chat\u{241b}[2J"), "{lines:?}");
    server.shutdown().await;
}
