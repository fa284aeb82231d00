//! Accounts on one node: a registered nick and its look-alikes are its owner's alone, on both
//! ports and by `nick`; the password logs in, a wrong one is refused and throttled; messages
//! say who was logged in; private messages wait for an account that is away; the account and
//! its hash survive a restart. (Several nodes: `cluster_accounts.rs`.)

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::Path;
use std::time::Duration;

use chat_server::HistoryConfig;
use chat_server::broker::Location;
use common::{JsonClient, PlainClient, TestServer, nick, start_server, start_server_with_history};
use protocol::{AccountEvent, ByeCode, ClientMsg, ErrorCode, Password, RoomName, ServerMsg, Text};

const SECRET: &str = "correct horse battery";

fn password(s: &str) -> Password {
    Password::parse(s).unwrap()
}

/// A session of `name` that has registered it with `secret`.
async fn registered(server: &TestServer, name: &str, secret: &str) -> JsonClient {
    let mut c = server.join(name).await;
    c.send(ClientMsg::Register { password: password(secret) }).await;
    let (answer, _) =
        c.recv_until(|m| matches!(m, ServerMsg::Account { .. } | ServerMsg::Error { .. })).await;
    assert_eq!(
        answer,
        ServerMsg::Account { nick: nick(name), event: AccountEvent::Registered },
        "register"
    );
    c
}

async fn quit(mut c: JsonClient) {
    c.send(ClientMsg::Quit { reason: None }).await;
    c.recv_until_closed().await;
}

/// A client logged in to `name`'s account, past its lobby member list.
async fn logged_in(server: &TestServer, name: &str, secret: &str) -> (JsonClient, Vec<ServerMsg>) {
    let mut c = JsonClient::connect(server.json).await;
    let welcome = c.hello_with_password(name, Some(secret)).await;
    assert!(matches!(welcome, ServerMsg::Welcome { account: true, .. }), "{welcome:?}");
    let (_, before) = c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    (c, before)
}

fn error_code(msg: &ServerMsg) -> ErrorCode {
    match msg {
        ServerMsg::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_registered_nick_and_its_look_alikes_are_refused_to_guests_everywhere() {
    let server = start_server().await;
    quit(registered(&server, "Michael", SECRET).await).await;

    for (name, code) in [
        ("Michael", ErrorCode::PasswordRequired),
        ("MICHAEL", ErrorCode::PasswordRequired),
        ("Miсhael", ErrorCode::NickRegistered), // Cyrillic с
        ("Mlchael", ErrorCode::NickRegistered),
    ] {
        let mut guest = JsonClient::connect(server.json).await;
        let answer = guest.hello_with_password(name, None).await;
        assert_eq!(error_code(&answer), code, "hello as {name}: {answer:?}");
        if let ServerMsg::Error { message, .. } = &answer {
            assert!(message.contains("Michael") && message.contains("password"), "{message}");
        }
    }

    // By `nick`, from a guest session with another name.
    let mut eve = server.join("Eve").await;
    eve.send(ClientMsg::Nick { nick: nick("michael") }).await;
    assert_eq!(eve.recv_error().await.code, ErrorCode::PasswordRequired);
    eve.send(ClientMsg::Nick { nick: nick("Miсhael") }).await;
    assert_eq!(eve.recv_error().await.code, ErrorCode::NickRegistered);

    // On the plain port: the password is asked for, and not given.
    let mut plain = PlainClient::connect(server.plain).await;
    assert_eq!(plain.line().await, "Welcome! What's your name?");
    plain.send("Michael\n").await;
    assert_eq!(plain.line().await, "Password for Michael:");
    let mut plain = PlainClient::connect(server.plain).await;
    plain.line().await;
    plain.send("Miсhael\n").await;
    let line = plain.line().await;
    assert!(line.starts_with("Sorry, the nick Miсhael is too like Michael"), "{line}");

    // Guests on free nicks are as welcome as ever.
    let mut guest = JsonClient::connect(server.json).await;
    assert!(matches!(
        guest.hello_with_password("Tracy", None).await,
        ServerMsg::Welcome { account: false, .. }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn the_password_logs_in_and_takes_the_nick_from_another_connection() {
    let server = start_server().await;
    let mut first = registered(&server, "Michael", SECRET).await;

    // A second login replaces the first connection, as a resume token does.
    let (_second, _) = logged_in(&server, "michael", SECRET).await;
    let (bye, _) = first.recv_until(|m| matches!(m, ServerMsg::Bye { .. })).await;
    assert!(matches!(bye, ServerMsg::Bye { code: ByeCode::Replaced, .. }), "{bye:?}");

    // A password for a nick that is no account is not used, and said so.
    let mut tracy = JsonClient::connect(server.json).await;
    assert!(matches!(
        tracy.hello_with_password("Tracy", Some(SECRET)).await,
        ServerMsg::Welcome { account: false, .. }
    ));
    let (notice, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Notice { .. })).await;
    assert!(
        matches!(&notice, ServerMsg::Notice { text, .. } if text.contains("not a registered account")),
        "{notice:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_are_refused_counted_throttled_and_told_to_the_owner() {
    let server = start_server().await;
    quit(registered(&server, "Michael", SECRET).await).await;

    // Three wrong ones close the connection.
    let mut c = JsonClient::connect(server.json).await;
    for _ in 0..3 {
        let answer = c.hello_with_password("Michael", Some("not the password")).await;
        assert_eq!(error_code(&answer), ErrorCode::WrongPassword, "{answer:?}");
    }
    let rest = c.recv_until_closed().await;
    assert!(
        matches!(rest.last(), Some(ServerMsg::Bye { code: ByeCode::LoginFailed, .. })),
        "{rest:?}"
    );

    // The fourth failure makes the account wait before the next try, whoever tries.
    let mut c = JsonClient::connect(server.json).await;
    assert_eq!(
        error_code(&c.hello_with_password("Michael", Some("still wrong")).await),
        ErrorCode::WrongPassword
    );
    let answer = c.hello_with_password("Michael", Some(SECRET)).await;
    let ServerMsg::Error { code: ErrorCode::LoginThrottled, retry_after_ms: Some(wait), .. } =
        answer
    else {
        panic!("expected login_throttled, got {answer:?}");
    };
    assert!((1..=1001).contains(&wait), "{wait}");
    tokio::time::sleep(Duration::from_millis(wait)).await;

    // The owner gets in, and is told of the failures and where they came from.
    let welcome = c.hello_with_password("Michael", Some(SECRET)).await;
    assert!(matches!(welcome, ServerMsg::Welcome { account: true, .. }), "{welcome:?}");
    let (notice, _) = c.recv_until(|m| matches!(m, ServerMsg::Notice { .. })).await;
    let ServerMsg::Notice { text, .. } = notice else { unreachable!() };
    assert_eq!(text, "4 failed logins since you last logged in, from IPv4 127.0.0.0/24 (4)");
    quit(c).await;

    // Told once: the next login says nothing of them.
    let (c, before) = logged_in(&server, "Michael", SECRET).await;
    assert!(!before.iter().any(|m| matches!(m, ServerMsg::Notice { .. })), "{before:?}");
    quit(c).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_address_that_fails_often_or_registers_often_waits() {
    let server = start_server().await;
    let names: Vec<String> = (0..3).map(|i| format!("owner{i}")).collect();
    for name in &names {
        quit(registered(&server, name, SECRET).await).await;
    }
    // New accounts from one address are few: the fourth waits.
    let mut fourth = server.join("owner3").await;
    fourth.send(ClientMsg::Register { password: password(SECRET) }).await;
    let refused = fourth.recv_error().await;
    assert_eq!(refused.code, ErrorCode::Flood, "{refused:?}");
    assert!(refused.retry_after_ms.is_some_and(|ms| ms > 60_000), "{refused:?}");
    // Ten failures from one address, spread so that no account reaches its own wait...
    let mut failures = 0;
    'out: for name in names.iter().cycle() {
        let mut c = JsonClient::connect(server.json).await;
        for _ in 0..2 {
            let answer = c.hello_with_password(name, Some("guess guess")).await;
            assert_eq!(error_code(&answer), ErrorCode::WrongPassword, "{answer:?}");
            failures += 1;
            if failures == chat_server::limits::ADDRESS_LOGIN_BURST {
                break 'out;
            }
        }
    }
    // ...and the address waits, even with the right password.
    let mut c = JsonClient::connect(server.json).await;
    let answer = c.hello_with_password(&names[2], Some(SECRET)).await;
    assert!(
        matches!(answer, ServerMsg::Error { code: ErrorCode::LoginThrottled, retry_after_ms: Some(_), ref message, .. } if message.contains("your address")),
        "{answer:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn messages_say_whether_their_sender_was_logged_in() {
    let server = start_server().await;
    let mut tracy = server.join("Tracy").await;
    let lobby = RoomName::lobby();
    let say = |t: &str| ClientMsg::Say { room: RoomName::lobby(), text: Text::parse(t).unwrap() };
    tracy.send(say("as a guest")).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    tracy.send(ClientMsg::Register { password: password(SECRET) }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    tracy.send(say("as the account")).await;
    let (echo, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(echo, ServerMsg::Message { account: true, .. }), "{echo:?}");

    let mut reader = server.join("Reader").await;
    reader.send(ClientMsg::History { room: lobby, before: None, limit: 10 }).await;
    let (page, _) = reader.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
    let ServerMsg::History { messages, .. } = page else { unreachable!() };
    let marks: Vec<(&str, bool)> = messages.iter().map(|m| (m.text(), m.account)).collect();
    assert_eq!(marks, [("as a guest", false), ("as the account", true)]);

    // Renamed away from the account's nick, the session is a guest again.
    tracy.send(ClientMsg::Nick { nick: nick("Trace") }).await;
    tracy.recv_until(|m| matches!(m, ServerMsg::Nick { .. })).await;
    tracy.send(say("renamed")).await;
    let (echo, _) = tracy.recv_until(|m| matches!(m, ServerMsg::Message { .. })).await;
    assert!(matches!(echo, ServerMsg::Message { account: false, .. }), "{echo:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn private_messages_wait_for_an_account_that_is_away_and_arrive_once() {
    let server = start_server().await;
    quit(registered(&server, "Michael", SECRET).await).await;
    let mut tracy = server.join("Tracy").await;
    for text in ["first", "second"] {
        tracy.send(ClientMsg::Msg { to: nick("Michael"), text: Text::parse(text).unwrap() }).await;
        let (echo, _) = tracy
            .recv_until(|m| matches!(m, ServerMsg::Private { .. } | ServerMsg::Error { .. }))
            .await;
        assert!(matches!(echo, ServerMsg::Private { offline: true, .. }), "{echo:?}");
    }
    // A guest who is away is not waited for.
    tracy.send(ClientMsg::Msg { to: nick("Nobody"), text: Text::parse("hi").unwrap() }).await;
    assert_eq!(tracy.recv_error().await.code, ErrorCode::NoSuchNick);

    let (michael, before) = logged_in(&server, "Michael", SECRET).await;
    let waiting: Vec<(&str, bool)> = before
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Private { text, offline, .. } => Some((text.as_str(), *offline)),
            _ => None,
        })
        .collect();
    assert_eq!(waiting, [("first", true), ("second", true)]);
    quit(michael).await;
    let (_michael, before) = logged_in(&server, "Michael", SECRET).await;
    assert!(
        !before.iter().any(|m| matches!(m, ServerMsg::Private { .. })),
        "delivered twice: {before:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn passwd_and_unregister_need_the_password() {
    let server = start_server().await;
    let mut michael = registered(&server, "Michael", SECRET).await;
    michael.send(ClientMsg::Register { password: password(SECRET) }).await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::AccountExists);
    michael
        .send(ClientMsg::Passwd { old: password("wrong one"), new: password("new secret") })
        .await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::WrongPassword);
    michael.send(ClientMsg::Passwd { old: password(SECRET), new: password("short") }).await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::WeakPassword);
    michael.send(ClientMsg::Passwd { old: password(SECRET), new: password("new secret") }).await;
    assert_eq!(
        michael.recv().await,
        ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::PasswordChanged }
    );
    quit(michael).await;
    let mut old = JsonClient::connect(server.json).await;
    assert_eq!(
        error_code(&old.hello_with_password("Michael", Some(SECRET)).await),
        ErrorCode::WrongPassword
    );
    let (mut michael, _) = logged_in(&server, "Michael", "new secret").await;
    michael.send(ClientMsg::Unregister { password: password("new secret") }).await;
    assert_eq!(
        michael.recv().await,
        ServerMsg::Account { nick: nick("Michael"), event: AccountEvent::Unregistered }
    );
    michael.send(ClientMsg::Unregister { password: password("new secret") }).await;
    assert_eq!(michael.recv_error().await.code, ErrorCode::NoAccount);
    quit(michael).await;
    // A guest may have the nick again.
    let mut guest = JsonClient::connect(server.json).await;
    assert!(matches!(
        guest.hello_with_password("Michael", None).await,
        ServerMsg::Welcome { account: false, .. }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn the_plain_port_asks_for_the_password_three_times() {
    let server = start_server().await;
    quit(registered(&server, "Michael", SECRET).await).await;

    let mut plain = PlainClient::connect(server.plain).await;
    plain.line().await;
    plain.send("Michael\n").await;
    assert_eq!(plain.line().await, "Password for Michael:");
    plain.send("nope nope\n").await;
    assert_eq!(plain.line().await, "Wrong password.");
    assert_eq!(plain.line().await, "Password for Michael:");
    plain.send(&format!("{SECRET}\r\n")).await;
    assert_eq!(plain.line().await, "Hello, Michael! Welcome to chat.");
    plain.line_until(|l| l == "You are logged in to your account Michael.").await;
    plain.line_until(|l| l.starts_with("[lobby] Members:")).await;
    plain.send("hello from nc\n").await;
    assert_eq!(plain.line().await, "[lobby] Michael \u{2713}: hello from nc");

    let mut plain = PlainClient::connect(server.plain).await;
    plain.line().await;
    plain.send("Michael\n").await;
    for _ in 0..3 {
        plain.line_until(|l| l == "Password for Michael:").await;
        plain.send("guessing\n").await;
    }
    let rest = plain.rest().await;
    assert!(rest.contains("Bye: 3 wrong passwords; closing the connection."), "{rest}");
    server.shutdown().await;
}

fn file_history(path: &Path) -> HistoryConfig {
    HistoryConfig { location: Some(Location::File(path.to_owned())), ..HistoryConfig::default() }
}

#[tokio::test]
async fn accounts_survive_a_restart_as_argon2id_hashes_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let server = start_server_with_history(common::info(), file_history(&db)).await;
    quit(registered(&server, "Michael", SECRET).await).await;
    server.shutdown().await;

    let server = start_server_with_history(common::info(), file_history(&db)).await;
    let mut guest = JsonClient::connect(server.json).await;
    assert_eq!(
        error_code(&guest.hello_with_password("Michael", None).await),
        ErrorCode::PasswordRequired
    );
    let (michael, _) = logged_in(&server, "Michael", SECRET).await;
    quit(michael).await;
    server.shutdown().await;

    let conn = rusqlite::Connection::open(&db).unwrap();
    let hash: String = conn
        .query_row("SELECT hash FROM accounts WHERE nick = 'Michael'", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    drop(conn);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the password is in a file"
        );
    }
}

/// The real binary at `-vv`, with a database file: registering, logging in (right and wrong),
/// changing and deleting the password leave it in no log line and no file.
#[tokio::test]
async fn no_log_line_of_the_binary_holds_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let db = dir.path().join("chat.db");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = common::ServerProcess::start(
        &["-vv", "--db", db.to_str().unwrap(), "--no-flood-control"],
        std::process::Stdio::from(log),
    );
    let mut c = JsonClient::connect(server.json).await;
    c.hello_with_password("Michael", None).await;
    c.send(ClientMsg::Register { password: password(SECRET) }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    quit(c).await;
    let mut c = JsonClient::connect(server.json).await;
    c.hello_with_password("Michael", Some("wrong guess here")).await;
    assert!(matches!(
        c.hello_with_password("Michael", Some(SECRET)).await,
        ServerMsg::Welcome { .. }
    ));
    c.send(ClientMsg::Passwd { old: password(SECRET), new: password("second secret") }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    c.send(ClientMsg::Unregister { password: password("second secret") }).await;
    c.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    quit(c).await;
    server.signal("TERM");
    server.wait_exit();

    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database holds password hashes: {mode:o}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("failed login") && log.contains("unregistered"), "{log}");
    for secret in [SECRET, "wrong guess here", "second secret"] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} in {}",
                path.display()
            );
        }
    }
}

/// Wrong passwords sent at once on several connections are each counted: none overwrites
/// another's failure.
#[tokio::test]
async fn parallel_wrong_passwords_are_all_counted() {
    let server = start_server().await;
    quit(registered(&server, "Michael", SECRET).await).await;
    let guesses = (0..3).map(|i| {
        let addr = server.json;
        tokio::spawn(async move {
            let mut c = JsonClient::connect(addr).await;
            let answer = c.hello_with_password("Michael", Some(&format!("guess number {i}"))).await;
            assert_eq!(error_code(&answer), ErrorCode::WrongPassword, "{answer:?}");
        })
    });
    for guess in futures::future::join_all(guesses).await {
        guess.unwrap();
    }
    let (_michael, before) = logged_in(&server, "Michael", SECRET).await;
    let told: Vec<&str> = before
        .iter()
        .filter_map(|m| match m {
            ServerMsg::Notice { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(told, ["3 failed logins since you last logged in, from IPv4 127.0.0.0/24 (3)"]);
    server.shutdown().await;
}
