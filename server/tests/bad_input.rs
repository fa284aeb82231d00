//! Bad input gets a clear error naming the problem, and the connection stays usable.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{JsonClient, start_server};
use protocol::limits::{MAX_LINE_BYTES, MAX_TEXT_BYTES};
use protocol::{ByeCode, ClientMsg, ErrorCode, Label, Nick, RoomName, ServerMsg};
use serde_json::json;

/// Proves the session still works after an error: a ping is answered.
async fn assert_usable(c: &mut JsonClient) {
    c.send(ClientMsg::Ping { token: 99 }).await;
    assert_eq!(c.recv().await, ServerMsg::Pong { token: 99 });
}

/// Every kind of bad line from a registered client gets its own error code, and the session
/// goes on; a well-behaved member of the same room hears nothing of it.
#[tokio::test]
async fn each_bad_line_is_answered_with_its_error() {
    let server = start_server().await;
    let mut bad = server.join("Mallory").await;
    let mut good = server.join("Tracy").await;
    bad.recv().await;
    let long_text = "x".repeat(MAX_TEXT_BYTES + 1);
    let cases: Vec<(Vec<u8>, ErrorCode, Option<&str>)> = vec![
        (b"this is not json\n".to_vec(), ErrorCode::InvalidJson, None),
        (b"[\"array\"]\n".to_vec(), ErrorCode::InvalidJson, None),
        (b"{\"type\":\"dance\"}\n".to_vec(), ErrorCode::UnknownType, None),
        (b"{\"room\":\"lobby\"}\n".to_vec(), ErrorCode::MissingField, None),
        (b"{\"type\":\"say\",\"room\":\"lobby\"}\n".to_vec(), ErrorCode::MissingField, Some("say")),
        (
            b"{\"type\":\"join\",\"room\":\"no spaces\"}\n".to_vec(),
            ErrorCode::InvalidRoom,
            Some("join"),
        ),
        (
            b"{\"type\":\"nick\",\"nick\":\"bad\\u001bnick\"}\n".to_vec(),
            ErrorCode::InvalidNick,
            Some("nick"),
        ),
        (
            b"{\"type\":\"msg\",\"to\":\"\",\"text\":\"x\"}\n".to_vec(),
            ErrorCode::InvalidNick,
            Some("msg"),
        ),
        (
            b"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"   \"}\n".to_vec(),
            ErrorCode::InvalidText,
            Some("say"),
        ),
        (
            format!("{}\n", json!({"type":"say","room":"lobby","text":long_text})).into_bytes(),
            ErrorCode::TextTooLong,
            Some("say"),
        ),
        (
            b"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"\xff\xfe\"}\n".to_vec(),
            ErrorCode::InvalidUtf8,
            None,
        ),
        (
            b"{\"type\":\"say\",\"room\":\"elsewhere\",\"text\":\"hi\"}\n".to_vec(),
            ErrorCode::NotInRoom,
            Some("say"),
        ),
        (
            b"{\"type\":\"leave\",\"room\":\"elsewhere\"}\n".to_vec(),
            ErrorCode::NotInRoom,
            Some("leave"),
        ),
        (
            b"{\"type\":\"join\",\"room\":\"lobby\"}\n".to_vec(),
            ErrorCode::AlreadyInRoom,
            Some("join"),
        ),
        (
            b"{\"type\":\"hello\",\"nick\":\"Again\",\"protocol\":1}\n".to_vec(),
            ErrorCode::AlreadyRegistered,
            Some("hello"),
        ),
        (b"{\"type\":\"who\",\"room\":\"nowhere\"}\n".to_vec(), ErrorCode::NotInRoom, Some("who")),
    ];
    for (line, code, request) in cases {
        bad.send_raw(&line).await;
        let e = bad.recv_error().await;
        let shown = String::from_utf8_lossy(&line);
        assert_eq!(e.code, code, "{shown}: {}", e.message);
        assert_eq!(e.request.as_deref(), request, "{shown}");
        assert!(!e.message.is_empty());
        assert_usable(&mut bad).await;
    }
    good.assert_silent().await;
    good.send(ClientMsg::Say {
        room: RoomName::lobby(),
        text: protocol::Text::parse("still fine").unwrap(),
    })
    .await;
    assert!(matches!(good.recv().await, ServerMsg::Message { .. }));
    server.shutdown().await;
}

/// An over-long line is refused with `line_too_long` as soon as it passes the limit, even while
/// it is still arriving, and the next line is read normally.
#[tokio::test]
async fn over_long_lines_are_refused_and_discarded() {
    let server = start_server().await;
    let mut c = server.join("Michael").await;
    let chunk = vec![b'x'; MAX_LINE_BYTES / 4];
    // Far more than the limit, with no newline yet: the error comes before the line ends.
    for _ in 0..12 {
        c.send_raw(&chunk).await;
    }
    let e = c.recv_error().await;
    assert_eq!(e.code, ErrorCode::LineTooLong);
    // The rest of the line is discarded silently, however long it goes on.
    for _ in 0..40 {
        c.send_raw(&chunk).await;
    }
    c.send_raw(b"\n").await;
    c.assert_silent().await;
    assert_usable(&mut c).await;
    server.shutdown().await;
}

/// Only hello, ping and quit are allowed before hello.
#[tokio::test]
async fn requests_before_hello_are_refused() {
    let server = start_server().await;
    let mut c = JsonClient::connect(server.json).await;
    c.send_json(json!({"type":"say","room":"lobby","text":"hi"})).await;
    let e = c.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::NotRegistered, Some("say")));
    assert_usable(&mut c).await;
    assert!(matches!(c.hello("Michael").await, ServerMsg::Welcome { .. }));
    server.shutdown().await;
}

/// A bad nick in hello is refused and the client may try again.
#[tokio::test]
async fn bad_nick_in_hello_is_refused() {
    let server = start_server().await;
    let mut c = JsonClient::connect(server.json).await;
    c.send_json(json!({"type":"hello","nick":"two words","protocol":1})).await;
    let e = c.recv_error().await;
    assert_eq!((e.code, e.request.as_deref()), (ErrorCode::InvalidNick, Some("hello")));
    assert_eq!(e.message, "nick may not contain spaces");
    assert!(matches!(c.hello("Michael").await, ServerMsg::Welcome { .. }));
    server.shutdown().await;
}

/// A protocol version the server does not speak ends the session with a reason.
#[tokio::test]
async fn unsupported_protocol_is_refused() {
    let server = start_server().await;
    let mut c = JsonClient::connect(server.json).await;
    c.send(ClientMsg::Hello {
        password: None,
        nick: Nick::parse("Future").unwrap(),
        protocol: 99,
        client: Label::default(),
        resume: None,
    })
    .await;
    let got = c.recv_until_closed().await;
    assert!(
        matches!(&got[0], ServerMsg::Error { code: ErrorCode::UnsupportedProtocol, .. }),
        "{got:?}"
    );
    assert!(
        matches!(got.last(), Some(ServerMsg::Bye { code: ByeCode::UnsupportedProtocol, .. })),
        "{got:?}"
    );
    server.shutdown().await;
}

/// A client that sends nothing but garbage is cut off after a bounded number of errors, with a
/// final message saying why; the room sees it dropped.
#[tokio::test]
async fn endless_garbage_ends_the_session() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let mut bad = server.join("Mallory").await;
    tracy.recv().await;
    for _ in 0..chat_server::limits::MAX_ERRORS_IN_A_ROW {
        bad.send_raw(b"garbage\n").await;
    }
    let got = bad.recv_until_closed().await;
    let errors = got.iter().filter(|m| matches!(m, ServerMsg::Error { .. })).count();
    assert_eq!(errors as u32, chat_server::limits::MAX_ERRORS_IN_A_ROW);
    let Some(ServerMsg::Bye { code, message, .. }) = got.last() else { panic!("{got:?}") };
    assert_eq!(*code, ByeCode::TooManyErrors);
    assert!(message.contains("unreadable lines in a row"), "{message}");
    let ServerMsg::Presence { event, .. } = tracy.recv().await else { panic!() };
    assert!(matches!(event, protocol::PresenceEvent::Dropped { .. }));
    server.shutdown().await;
}

/// Errors do not accumulate across good requests: a typo now and then never disconnects.
#[tokio::test]
async fn occasional_errors_never_disconnect() {
    let server = start_server().await;
    let mut c = server.join("Michael").await;
    for _ in 0..(chat_server::limits::MAX_ERRORS_IN_A_ROW * 3) {
        c.send_raw(b"oops\n").await;
        assert_eq!(c.recv_error().await.code, ErrorCode::InvalidJson);
        assert_usable(&mut c).await;
    }
    server.shutdown().await;
}

/// Blank lines and CR LF endings are accepted quietly.
#[tokio::test]
async fn blank_lines_and_crlf_are_fine() {
    let server = start_server().await;
    let mut c = server.join("Michael").await;
    c.send_raw(b"\n\r\n  \n{\"type\":\"ping\",\"token\":5}\r\n").await;
    assert_eq!(c.recv().await, ServerMsg::Pong { token: 5 });
    server.shutdown().await;
}

/// A request split across many writes, a byte at a time, with a UTF-8 character cut in two, is
/// put back together exactly.
#[tokio::test]
async fn a_line_sent_byte_by_byte_is_reassembled() {
    let server = start_server().await;
    let mut c = server.join("Michael").await;
    let line = format!("{}\n", json!({"type":"say","room":"lobby","text":"小明 says héllo 👋"}));
    for b in line.as_bytes() {
        c.send_raw(&[*b]).await;
        // A pause between bytes makes each one its own TCP segment and its own read.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let ServerMsg::Message { text, .. } = c.recv().await else { panic!() };
    assert_eq!(text.as_str(), "小明 says héllo 👋");
    server.shutdown().await;
}

/// Thousands of requests in one write, from a client that reads slowly: every answer comes, in
/// order, while the server writes them out in bounded batches rather than building them all
/// in memory first.
#[tokio::test]
async fn a_burst_of_requests_is_answered_in_order() {
    let server = start_server().await;
    let mut c = server.join("Michael").await;
    let mut burst = Vec::new();
    for token in 0..20_000u64 {
        burst.extend_from_slice(
            format!(
                "{{\"type\":\"who\",\"room\":\"lobby\"}}\n{{\"type\":\"ping\",\"token\":{token}}}\n"
            )
            .as_bytes(),
        );
    }
    c.send_raw(&burst).await;
    for token in 0..20_000u64 {
        assert!(matches!(c.recv().await, ServerMsg::Members { .. }));
        assert_eq!(c.recv().await, ServerMsg::Pong { token });
    }
    server.shutdown().await;
}

/// A failed request is not a bad line: a sender whose recipient does not read gets
/// `recipient_busy`, as often as it tries, and is never cut off for it.
#[tokio::test]
async fn a_busy_recipient_never_gets_the_sender_cut_off() {
    let server = start_server().await;
    let _silent = server.join("Silent").await; // never reads again
    let mut sender = server.join("Sender").await;
    let text = "x".repeat(protocol::limits::MAX_TEXT_BYTES);
    let mut busy = 0;
    let mut sent = 0;
    while busy < (chat_server::limits::MAX_ERRORS_IN_A_ROW * 2) as usize {
        sender
            .send(ClientMsg::Msg {
                to: Nick::parse("Silent").unwrap(),
                text: protocol::Text::parse(&text).unwrap(),
            })
            .await;
        sent += 1;
        assert!(sent < 100_000, "the recipient's queue never filled");
        match sender.recv().await {
            ServerMsg::Private { .. } => {}
            ServerMsg::Error { code: ErrorCode::RecipientBusy, .. } => busy += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_usable(&mut sender).await;
    server.shutdown().await;
}
