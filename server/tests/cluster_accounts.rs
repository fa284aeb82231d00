//! Accounts across two nodes sharing a real Redis: a registration on one node holds on the
//! other at once, the password logs in anywhere, messages wait wherever their recipient comes
//! back, and no log line holds a password (nodes run at trace level).

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use common::redis::{Node, RedisServer, UrlSource, member, say, wait_for_members};
use common::{JsonClient, nick};
use protocol::{AccountEvent, ByeCode, ClientMsg, ErrorCode, Password, ServerMsg, Text};

const SECRET: &str = "tr0ub4dor&3 horse";

async fn node(redis: &RedisServer, id: &str) -> Node {
    Node::start_from(redis, UrlSource::Flag(&redis.url()), id, &[], &[("RUST_LOG", "trace")]).await
}

#[tokio::test]
async fn an_account_made_on_one_node_is_owned_on_every_node() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(node(&redis, "a"), node(&redis, "b"));

    let mut michael = member(&a, "Michael").await;
    michael.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    let (answer, _) = michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    assert_eq!(
        answer,
        ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Registered }
    );

    // At once on the other node: a guest is refused the nick and its look-alikes.
    for (name, code) in
        [("michael", ErrorCode::PasswordRequired), ("Miсhael", ErrorCode::NickRegistered)]
    {
        let mut guest = JsonClient::connect(b.json).await;
        let answer = guest.hello_with_password(name, None).await;
        assert!(
            matches!(answer, ServerMsg::Error { code: c, .. } if c == code),
            "{name}: {answer:?}"
        );
    }
    let mut eve = member(&b, "Eve").await;
    eve.send(ClientMsg::Nick { nick: nick("MICHAEL") }).await;
    let (refused, _) = eve.recv_until(|m| matches!(m, ServerMsg::Error { .. })).await;
    assert!(
        matches!(refused, ServerMsg::Error { code: ErrorCode::PasswordRequired, .. }),
        "{refused:?}"
    );

    // The password logs in on the other node, taking the nick from the first session.
    let mut there = JsonClient::connect(b.json).await;
    let welcome = there.hello_with_password("Michael", Some(SECRET)).await;
    assert!(matches!(welcome, ServerMsg::Welcome { account: true, .. }), "{welcome:?}");
    let (bye, _) = michael.recv_until(|m| matches!(m, ServerMsg::Bye { .. })).await;
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::Replaced, .. }), "{bye:?}");
    there.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    // A wrong password is refused there too.
    let mut wrong = JsonClient::connect(a.json).await;
    let answer = wrong.hello_with_password("Michael", Some("wrong wrong")).await;
    assert!(
        matches!(answer, ServerMsg::Error { code: ErrorCode::WrongPassword, .. }),
        "{answer:?}"
    );

    // The account's messages are marked on both nodes.
    let mut tracy = member(&a, "Tracy").await;
    wait_for_members(&mut tracy, &["Eve", "Michael", "Tracy"]).await;
    there.send(say("lobby", "signed")).await;
    let (seen, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(seen, ServerMsg::Message { account: true, .. }), "{seen:?}");

    // Away, Michael's private messages wait for him, and reach him on the other node.
    there.send(ClientMsg::Quit { reason: None }).await;
    there.recv_until_closed().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        tracy
            .send(ClientMsg::Msg { to: nick("Michael"), text: Text::parse("later").unwrap() })
            .await;
        let (answer, _) = tracy
            .recv_until(|m| matches!(m, ServerMsg::Private { .. } | ServerMsg::Error { .. }))
            .await;
        match answer {
            ServerMsg::Private { offline: true, .. } => break,
            // Delivered live, or told it was not: the quit had not reached this node yet.
            ServerMsg::Private { offline: false, .. } => {}
            ServerMsg::Error { code: ErrorCode::NoSuchNick, message, .. }
                if message.contains("went offline") => {}
            other => panic!("{other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "never kept");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut back = JsonClient::connect(b.json).await;
    assert!(matches!(
        back.hello_with_password("Michael", Some(SECRET)).await,
        ServerMsg::Welcome { account: true, .. }
    ));
    let (waiting, _) = back.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    assert!(
        matches!(&waiting, ServerMsg::Private { offline: true, text, .. } if text.as_str() == "later"),
        "{waiting:?}"
    );

    // No log line of either node holds the password.
    for log in [a.log(), b.log()] {
        assert!(log.contains("registered") || log.contains("logged in"), "logs are written");
        assert!(!log.contains(SECRET), "a password in a log:\n{log}");
        assert!(!log.contains("tr0ub4dor"), "part of a password in a log");
    }
}

/// Resume tokens are kept as hashes: nothing in Redis holds one, and the token still brings
/// the nick back on the other node.
#[tokio::test]
async fn redis_holds_no_resume_token() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(node(&redis, "a"), node(&redis, "b"));
    let mut michael = JsonClient::connect(a.json).await;
    let ServerMsg::Welcome { resume: Some(token), .. } = michael.hello("Michael").await else {
        panic!("no resume token");
    };
    michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut conn).await.unwrap();
    assert!(keys.iter().any(|k| k.starts_with("chat:nick:")), "{keys:?}");
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        let values: Vec<String> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap()],
            "hash" => redis::cmd("HVALS").arg(&key).query_async(&mut conn).await.unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&key).query_async(&mut conn).await.unwrap(),
            _ => Vec::new(),
        };
        for value in values {
            for form in [token.expose().to_string(), token.expose().simple().to_string()] {
                assert!(!value.contains(&form), "{key} holds the resume token: {value}");
            }
        }
    }

    let mut back = JsonClient::connect(b.json).await;
    let answer = back.hello_resuming("Michael", Some(token)).await;
    assert!(matches!(answer, ServerMsg::Welcome { .. }), "{answer:?}");
    let (bye, _) = michael.recv_until(|m| matches!(m, ServerMsg::Bye { .. })).await;
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::Replaced, .. }), "{bye:?}");
}

/// A private message that reaches its recipient's node just after the recipient left (the
/// sender's node did not know yet) is kept for the account, and the sender is told so.
#[tokio::test]
async fn a_message_that_arrives_as_its_account_leaves_is_kept() {
    let redis = RedisServer::start();
    let (a, b) = tokio::join!(node(&redis, "a"), node(&redis, "b"));
    let mut michael = member(&b, "Michael").await;
    michael.send(ClientMsg::Register { password: Password::parse(SECRET).unwrap() }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    michael.send(ClientMsg::Quit { reason: None }).await;
    michael.recv_until_closed().await;
    let mut tracy = JsonClient::connect(a.json).await;
    let ServerMsg::Welcome { session, .. } = tracy.hello("Tracy").await else { panic!() };
    tracy.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;

    // What node a sends to node b for a recipient it believes is there, sent by hand.
    let note = serde_json::json!({
        "t": "private", "from_node": "a", "from_session": session,
        "id": uuid::Uuid::now_v7(), "from": "Tracy", "to": "Michael",
        "text": "caught in the door", "ts": protocol::now_millis(), "account": false,
    });
    let mut conn = redis.connection().await;
    let _: i64 = redis::cmd("PUBLISH")
        .arg("chat:to:b")
        .arg(note.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    let (told, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Notice { .. })).await;
    assert!(
        matches!(&told, ServerMsg::Notice { text, .. } if text.contains("kept and delivered")),
        "{told:?}"
    );
    let mut back = JsonClient::connect(a.json).await;
    assert!(matches!(
        back.hello_with_password("Michael", Some(SECRET)).await,
        ServerMsg::Welcome { account: true, .. }
    ));
    let (waiting, _) = back.recv_until(|m| matches!(m, ServerMsg::Private { .. })).await;
    assert!(
        matches!(&waiting, ServerMsg::Private { offline: true, text, .. } if text.as_str() == "caught in the door"),
        "{waiting:?}"
    );
}
