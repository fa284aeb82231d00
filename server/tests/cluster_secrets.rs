//! The Redis password and TLS (issue 18), against a real `redis-server` and real `chat-server`
//! processes: the password given by a file or the environment rather than on the command
//! line, shown in no log line and no error (every crate logging at debug), and `rediss://`
//! with a private CA.

#![allow(clippy::unwrap_used)] // a panic is a test failure

mod common;

use std::path::{Path, PathBuf};

use common::redis::{
    Node, RedisOptions, RedisServer, TlsFiles, UrlSource, member, messages, say, wait_for_members,
};

/// The Redis password: distinctive, so that any copy of it in a log is found.
const PASSWORD: &str = "Quokka-Lantern-8842-secret";
/// A wrong one, which must not show either.
const WRONG: &str = "Wombat-Kettle-1973-wrong";
/// Every crate at debug level (the redis crate, rustls, ...), not only the server's.
const LOUD: &[(&str, &str)] = &[("RUST_LOG", "debug")];

/// Fails if `text` (a node's log or error output) holds either password.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [PASSWORD, WRONG] {
        assert!(!text.contains(secret), "{what} shows a password:\n{text}");
    }
}

fn with_password() -> RedisServer {
    RedisServer::start_with(RedisOptions { password: Some(PASSWORD.into()), tls: None })
}

/// Writes `url` as the first line of a file with permission bits `mode`.
fn url_file(dir: &Path, name: &str, url: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("{url}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Michael on `a` and Tracy on `b` see each other and each other's messages.
async fn one_chat(a: &Node, b: &Node) {
    let mut michael = member(a, "Michael").await;
    let mut tracy = member(b, "Tracy").await;
    wait_for_members(&mut michael, &["Michael", "Tracy"]).await;
    michael.send(say("lobby", "hello from a")).await;
    assert_eq!(messages(&mut tracy, 1).await[0].1, "hello from a");
    tracy.send(say("lobby", "hello from b")).await;
    let seen = messages(&mut michael, 2).await;
    assert_eq!(
        seen.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>(),
        ["hello from a", "hello from b"]
    );
}

/// A node given the password in a file and one given it in CHAT_REDIS_URL make one chat;
/// their logs show the URL with `***` in place of the password, and a private file is not
/// warned of.
#[tokio::test]
async fn password_from_a_file_and_from_the_environment() {
    let redis = with_password();
    let file = url_file(redis.dir(), "redis-url", &redis.url(), 0o600);
    let a = Node::start_from(&redis, UrlSource::File(&file), "a", &[], LOUD).await;
    let b = Node::start_from(&redis, UrlSource::Env(&redis.url()), "b", &[], LOUD).await;
    one_chat(&a, &b).await;

    let shown = format!("redis://:***@127.0.0.1:{}", redis.port);
    let (log_a, log_b) = (a.log.clone(), b.log.clone());
    a.stop().await;
    b.stop().await;
    for log in [log_a, log_b] {
        let log = std::fs::read_to_string(&log).unwrap();
        assert_no_secret("a node's log", &log);
        assert!(log.contains("joined the cluster") && log.contains(&shown), "{log}");
        assert!(!log.contains("chmod"), "a private URL file is not warned of: {log}");
    }
}

/// A URL file others can read works, with a warning naming the file and the fix.
#[tokio::test]
async fn a_url_file_others_can_read_is_warned_of() {
    let redis = with_password();
    let file = url_file(redis.dir(), "redis-url", &redis.url(), 0o644);
    let node = Node::start_from(&redis, UrlSource::File(&file), "a", &[], LOUD).await;
    let log = node.log();
    let fix = format!("chmod 600 {}", file.display());
    assert!(log.contains("WARN") && log.contains(&fix), "{log}");
    assert!(log.contains("mode 0644"), "{log}");
    assert_no_secret("the log", &log);
}

/// A wrong password, or none, stops the node at start with one clear line naming the URL
/// (redacted) and Redis's refusal.
#[tokio::test]
async fn a_wrong_password_stops_the_node() {
    let redis = with_password();
    let shown = |auth: &str| format!("cannot use Redis at redis://{auth}127.0.0.1:{}", redis.port);
    let wrong = redis.url_with(Some(WRONG));
    let cases = [
        (UrlSource::Flag(&wrong), shown(":***@"), "refused the password"),
        (UrlSource::Env(&wrong), shown(":***@"), "refused the password"),
        (UrlSource::Flag(&redis.url_with(None)), shown(""), "NOAUTH"),
    ];
    for (source, shown, reason) in cases {
        let refused = Node::try_start_from(&redis, source, "a", &[], LOUD)
            .await
            .map(|_| ())
            .expect_err("a node with a wrong password does not start");
        assert!(!refused.status.success());
        let stderr = refused.stderr;
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("chat-server: ") && last.contains(&shown), "{source:?}: {stderr}");
        assert!(last.contains(reason), "{source:?}: {stderr}");
        assert_eq!(last.matches(reason).count(), 1, "said once: {last}");
        assert_no_secret("a refused node's output", &stderr);
    }
}

/// The URL comes from one place; two are refused. A malformed URL is refused without being
/// quoted.
#[tokio::test]
async fn the_url_is_given_one_way_only() {
    let redis = with_password();
    let url = redis.url();
    let file = url_file(redis.dir(), "redis-url", &url, 0o600);
    let bad = format!("redis://:{PASSWORD}@127.0.0.1:port");
    let file_arg = file.to_str().unwrap();
    type Case<'a> = (UrlSource<'a>, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 4] = [
        (UrlSource::Flag(&url), &[], &[("CHAT_REDIS_URL", &url)], "--redis and CHAT_REDIS_URL"),
        (UrlSource::File(&file), &[], &[("CHAT_REDIS_URL", &url)], "--redis-url-file and"),
        (UrlSource::Flag(&url), &["--redis-url-file", file_arg], &[], "cannot be used with"),
        (UrlSource::Flag(&bad), &[], &[], "--redis: not a Redis URL"),
    ];
    for (source, extra, env, reason) in cases {
        let env: Vec<(&str, &str)> = LOUD.iter().chain(env).copied().collect();
        let refused = Node::try_start_from(&redis, source, "a", extra, &env)
            .await
            .map(|_| ())
            .expect_err("refused");
        assert!(refused.stderr.contains(reason), "{source:?} {extra:?}: {}", refused.stderr);
        assert_no_secret("a refused node's output", &refused.stderr);
    }
}

/// A CA, and a certificate for 127.0.0.1 it signs, as PEM files in `dir`.
fn make_certificates(dir: &Path, name: &str) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
        ca: dir.join(format!("{name}-ca.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca.pem()).unwrap();
    files
}

/// Over `rediss://` (a redis-server with no plain port at all) two nodes trusting the test CA
/// by `--redis-tls-ca` make one chat. A node trusting only the system's CAs, or another CA,
/// is refused: the certificate is checked.
#[tokio::test]
async fn rediss_with_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let tls = make_certificates(certs.path(), "redis");
    let other = make_certificates(certs.path(), "other");
    let redis = RedisServer::start_with(RedisOptions {
        password: Some(PASSWORD.into()),
        tls: Some(tls.clone()),
    });
    let url = redis.url();
    assert!(url.starts_with("rediss://"));
    let file = url_file(redis.dir(), "redis-url", &url, 0o600);
    let ca = tls.ca.to_str().unwrap();
    let trust = ["--redis-tls-ca", ca];
    let a = Node::start_from(&redis, UrlSource::File(&file), "a", &trust, LOUD).await;
    let b = Node::start_from(&redis, UrlSource::Env(&url), "b", &trust, LOUD).await;
    one_chat(&a, &b).await;

    let other_ca = ["--redis-tls-ca", other.ca.to_str().unwrap()];
    for extra in [&[][..], &other_ca[..]] {
        let refused = Node::try_start_from(&redis, UrlSource::Env(&url), "c", extra, LOUD)
            .await
            .map(|_| ())
            .expect_err("an untrusted certificate is refused");
        let shown = format!("cannot use Redis at rediss://:***@127.0.0.1:{}", redis.port);
        assert!(refused.stderr.contains(&shown), "{extra:?}: {}", refused.stderr);
        assert!(refused.stderr.contains("certificate"), "{extra:?}: {}", refused.stderr);
        assert_no_secret("a refused node's output", &refused.stderr);
    }

    let (log_a, log_b) = (a.log.clone(), b.log.clone());
    a.stop().await;
    b.stop().await;
    for log in [log_a, log_b] {
        let log = std::fs::read_to_string(&log).unwrap();
        assert_no_secret("a node's log", &log);
        assert!(log.contains("joined the cluster") && log.contains("rediss://:***@"), "{log}");
    }
}
