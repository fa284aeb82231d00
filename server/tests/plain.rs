//! The plain-text port: nc, telnet and ten-line scripts chat with JSON clients.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{PlainClient, start_server};
use encoding_rs::GBK;
use protocol::{ClientMsg, MessageKind, RoomName, ServerMsg, Text};

fn say(room: &str, text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::parse(room).unwrap(), text: Text::parse(text).unwrap() }
}

/// The classic exchange: the server greets first, takes the first line as the name, answers
/// "Hello, NAME!" with the motd, and the client is in lobby.
#[tokio::test]
async fn greeting_name_hello() {
    let server = start_server().await;
    let mut c = PlainClient::connect(server.plain).await;
    assert_eq!(c.line().await, "Welcome! What's your name?");
    c.send("Michael\n").await;
    assert_eq!(c.line().await, "Hello, Michael! Welcome to chat.");
    assert_eq!(c.line().await, "Be kind.");
    assert_eq!(c.line().await, "Rooms: no rooms");
    assert_eq!(c.line().await, "Type a line to chat, /help for commands, exit to leave.");
    assert_eq!(c.line().await, "[lobby] --> Michael joined");
    assert_eq!(c.line().await, "[lobby] Members: Michael");
    server.shutdown().await;
}

/// A plain client and a JSON client see each other's messages, presence and actions.
#[tokio::test]
async fn plain_and_json_clients_talk() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut michael = PlainClient::login(server.plain, "Michael").await;
    let ServerMsg::Presence { nick, .. } = tracy.recv().await else { panic!() };
    assert_eq!(nick.as_str(), "Michael");

    michael.send("hi Tracy\n").await;
    assert_eq!(michael.line().await, "[lobby] Michael: hi Tracy", "the sender's echo");
    let ServerMsg::Message { from, text, kind, .. } = tracy.recv().await else { panic!() };
    assert_eq!((from.as_str(), text.as_str(), kind), ("Michael", "hi Tracy", MessageKind::Say));

    tracy.send(say("lobby", "hi Michael")).await;
    assert_eq!(michael.line().await, "[lobby] Tracy: hi Michael");
    tracy
        .send(ClientMsg::Action { room: RoomName::lobby(), text: Text::parse("waves").unwrap() })
        .await;
    assert_eq!(michael.line().await, "[lobby] * Tracy waves");
    server.shutdown().await;
}

/// The same slash commands work on the plain port: join switches the current room, msg sends a
/// private message (and private action), who and rooms list, nick renames, leave falls back to another room.
#[tokio::test]
async fn slash_commands_work_on_the_plain_port() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut m = PlainClient::login(server.plain, "Michael").await;
    tracy.recv().await;

    m.send("/join rust\n").await;
    assert_eq!(m.line().await, "[rust] --> Michael joined");
    assert_eq!(m.line().await, "[rust] Members: Michael");
    m.send("now in rust\n").await;
    assert_eq!(m.line().await, "[rust] Michael: now in rust");
    tracy.assert_silent().await;

    m.send("/msg Tracy psst\n").await;
    assert_eq!(m.line().await, "[private to Tracy] Michael: psst");
    let ServerMsg::Private { from, text, .. } = tracy.recv().await else { panic!() };
    assert_eq!((from.as_str(), text.as_str()), ("Michael", "psst"));
    tracy
        .send(ClientMsg::Msg {
            to: protocol::Nick::parse("Michael").unwrap(),
            text: Text::parse("hey").unwrap(),
        })
        .await;
    assert_eq!(m.line().await, "[private] Tracy: hey");
    tracy.recv().await; // Tracy's own echo
    // A private action (chat-tui's `/me` in a private window) reads as one, both ways.
    tracy
        .send(ClientMsg::Msg {
            to: protocol::Nick::parse("Michael").unwrap(),
            text: Text::parse("/me waves back").unwrap(),
        })
        .await;
    assert_eq!(m.line().await, "[private] * Tracy waves back");
    tracy.recv().await;
    m.send("/msg Tracy /me nods\n").await;
    assert_eq!(m.line().await, "[private to Tracy] * Michael nods");
    let ServerMsg::Private { text, .. } = tracy.recv().await else { panic!() };
    assert_eq!(text.as_str(), "/me nods", "the protocol's private action");

    m.send("/who lobby\n").await;
    assert_eq!(m.line().await, "[lobby] Members: Michael, Tracy");
    m.send("/rooms\n").await;
    assert_eq!(m.line().await, "Rooms: #lobby (2), #rust (1)");
    m.send("/me waves\n").await;
    assert_eq!(m.line().await, "[rust] * Michael waves");

    m.send("/join lobby\n").await;
    assert_eq!(m.line().await, "* You are now talking in [lobby].");
    m.send("back in lobby\n").await;
    assert_eq!(m.line().await, "[lobby] Michael: back in lobby");
    assert!(matches!(tracy.recv().await, ServerMsg::Message { .. }));

    m.send("/leave\n").await;
    assert_eq!(m.line().await, "[lobby] <-- Michael left");
    assert_eq!(m.line().await, "* You are now talking in [rust].");

    m.send("/nick Mike\n").await;
    assert_eq!(m.line().await, "* You are now known as Mike.");

    m.send("/dance\n").await;
    assert_eq!(m.line().await, "! Unknown command /dance; type /help for the list.");
    m.send("/help\n").await;
    assert_eq!(m.line().await, "Type a line to say it in the current room. Commands:");
    m.line_until(|l| l.trim_start().starts_with("exit")).await;
    server.shutdown().await;
}

/// `exit` and `/exit` end the session cleanly with a goodbye; the room sees the leave.
#[tokio::test]
async fn exit_disconnects_cleanly() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    for (i, word) in ["exit", "/exit"].iter().enumerate() {
        let mut m = PlainClient::login(server.plain, &format!("Michael{i}")).await;
        tracy.recv().await;
        m.send(&format!("{word}\n")).await;
        assert_eq!(m.rest().await, format!("Bye, Michael{i}!\r\n"));
        let ServerMsg::Presence { event, .. } = tracy.recv().await else { panic!() };
        assert_eq!(event, protocol::PresenceEvent::Left { reason: None });
    }
    server.shutdown().await;
}

/// A script that sends its name without a newline and waits for the answer gets it after a
/// short pause; so do its messages.
#[tokio::test]
async fn lines_without_newline_end_after_a_pause() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut s = PlainClient::connect(server.plain).await;
    s.line().await;
    s.send("Michael").await;
    assert_eq!(s.line().await, "Hello, Michael! Welcome to chat.");
    s.line_until(|l| l.starts_with("[lobby] Members")).await;
    tracy.recv().await;
    s.send("no newline here").await;
    assert_eq!(s.line().await, "[lobby] Michael: no newline here");
    let ServerMsg::Message { text, .. } = tracy.recv().await else { panic!() };
    assert_eq!(text.as_str(), "no newline here");
    server.shutdown().await;
}

/// A client writing GBK (the classic Chinese socket examples) is understood, and answered in
/// GBK from then on; a JSON client sees proper UTF-8 text.
#[tokio::test]
async fn a_gbk_client_is_understood_and_answered_in_gbk() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let gbk = |s: &str| GBK.encode(s).0.into_owned();
    let from_gbk =
        |b: &[u8]| GBK.decode_without_bom_handling_and_without_replacement(b).unwrap().into_owned();

    let mut c = PlainClient::connect(server.plain).await;
    c.line().await;
    c.send_bytes(&gbk("小明\n")).await;
    assert_eq!(from_gbk(&c.line_bytes().await), "Hello, 小明! Welcome to chat.");
    loop {
        let line = from_gbk(&c.line_bytes().await);
        if line.starts_with("[lobby] Members") {
            assert_eq!(line, "[lobby] Members: Tracy, 小明");
            break;
        }
    }
    tracy.recv().await;
    c.send_bytes(&gbk("大家好\n")).await;
    assert_eq!(from_gbk(&c.line_bytes().await), "[lobby] 小明: 大家好");
    let ServerMsg::Message { from, text, .. } = tracy.recv().await else { panic!() };
    assert_eq!((from.as_str(), text.as_str()), ("小明", "大家好"));

    tracy.send(say("lobby", "你好，小明")).await;
    assert_eq!(from_gbk(&c.line_bytes().await), "[lobby] Tracy: 你好，小明");
    server.shutdown().await;
}

/// Bytes that are neither UTF-8 nor GBK are an error; nothing is relayed and the session goes on.
#[tokio::test]
async fn invalid_text_is_an_error_and_nothing_is_relayed() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut m = PlainClient::login(server.plain, "Michael").await;
    tracy.recv().await;
    m.send_bytes(b"\xff\xfe\xff\n").await;
    assert_eq!(m.line().await, "! That line is not UTF-8 (or GBK) text.");
    tracy.assert_silent().await;
    m.send("still here\n").await;
    assert_eq!(m.line().await, "[lobby] Michael: still here");
    server.shutdown().await;
}

/// Text from others reaches a plain client with escape sequences and controls made visible.
#[tokio::test]
async fn hostile_text_is_sanitised_for_plain_clients() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut m = PlainClient::login(server.plain, "Michael").await;
    tracy.recv().await;
    tracy.send(say("lobby", "\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}evil\u{9b}")).await;
    let line = m.line_bytes().await;
    assert!(
        !line.iter().any(|&b| b < 0x20 || b == 0x7f),
        "raw control bytes reached the client: {line:?}"
    );
    let line = String::from_utf8(line).unwrap();
    assert_eq!(line, "[lobby] Tracy: ␛[2J␛]0;pwned␇\u{FFFD}evil\u{FFFD}");
    server.shutdown().await;
}

/// A bad or taken name is refused with the reason and the question is asked again.
#[tokio::test]
async fn a_bad_or_taken_name_is_asked_again() {
    let server = start_server().await;
    let _tracy = server.join("Tracy").await;
    let mut c = PlainClient::connect(server.plain).await;
    c.line().await;
    c.send("two words\n").await;
    assert_eq!(c.line().await, "Sorry, nick may not contain spaces. What's your name?");
    c.send("tracy\n").await;
    assert_eq!(c.line().await, "Sorry, the nick tracy is already in use. What's your name?");
    c.send("Michael\n").await;
    assert_eq!(c.line().await, "Hello, Michael! Welcome to chat.");
    server.shutdown().await;
}

/// `printf 'Michael\nhi there\n' | nc HOST 7879`: the client sends and half-closes at once;
/// its lines are still carried out and the answers still reach it.
#[tokio::test]
async fn a_client_that_half_closes_still_gets_its_answers() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut c = PlainClient::connect(server.plain).await;
    c.send("Michael\nhi there").await;
    c.finish_sending().await;
    let rest = c.rest().await;
    assert!(rest.contains("Hello, Michael! Welcome to chat."), "{rest}");
    assert!(rest.contains("[lobby] Michael: hi there"), "{rest}");
    let (said, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(said, ServerMsg::Message { text, .. } if text.as_str() == "hi there"));
    let (dropped, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Presence { .. })).await;
    assert!(matches!(
        dropped,
        ServerMsg::Presence { event: protocol::PresenceEvent::Dropped { .. }, .. }
    ));
    server.shutdown().await;
}

/// A message of many lines reaches plain clients cut to a few lines and a count of the rest,
/// so one short message cannot swell into a large write to every plain reader.
#[tokio::test]
async fn many_line_messages_are_cut_for_plain_clients() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut m = PlainClient::login(server.plain, "Michael").await;
    tracy.recv().await;
    let text: String = (0..50).map(|i| format!("line {i}\n")).collect();
    tracy.send(say("lobby", &text)).await;
    for i in 0..chat_server::limits::MAX_PLAIN_LINES_PER_MESSAGE {
        assert_eq!(m.line().await, format!("[lobby] Tracy: line {i}"));
    }
    let more = 50 - chat_server::limits::MAX_PLAIN_LINES_PER_MESSAGE;
    assert_eq!(m.line().await, format!("[lobby] Tracy: [... {more} more lines]"));
    server.shutdown().await;
}

/// Plain-text clients get the recent history on join too, as readable lines between markers.
#[tokio::test]
async fn plain_clients_get_the_backlog_on_join() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    for t in ["first", "second"] {
        tracy.send(say("lobby", t)).await;
        tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    }
    tracy
        .send(ClientMsg::Action { room: RoomName::lobby(), text: Text::parse("waves").unwrap() })
        .await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    let mut m = PlainClient::connect(server.plain).await;
    m.line().await;
    m.send("Michael\n").await;
    m.line_until(|l| l.starts_with("Type a line")).await;
    assert_eq!(m.line().await, "[lobby] -- earlier messages --");
    assert_eq!(m.line().await, "[lobby] Tracy: first");
    assert_eq!(m.line().await, "[lobby] Tracy: second");
    assert_eq!(m.line().await, "[lobby] * Tracy waves");
    assert_eq!(m.line().await, "[lobby] -- end of earlier messages --");
    assert_eq!(m.line().await, "[lobby] --> Michael joined");
    server.shutdown().await;
}
