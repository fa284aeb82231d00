//! The client's TLS against a real `chat-server` serving TLS on a loopback port: the network
//! task's handshake with each kind of trust (a CA for the host, a pin, a fingerprint accepted
//! on first use and remembered), and each refusal (another host's certificate, an unknown
//! one, a changed one, a certificate shown without its key), with what the app is told.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod certs;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_server::tls::{Tls, TlsFiles};
use chat_server::{Listeners, ServerInfo};
use chat_tui::event::{NetEvent, Security};
use chat_tui::link::Link;
use chat_tui::tls::{Refusal, TlsClient, TlsSettings, Trusted, known};
use protocol::fingerprint::{self, Sha256Digest};
use protocol::{ByeCode, Nick, ServerMsg};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::mpsc;

use certs::{TestCa, self_signed, tls};

/// How long a connection may take to end one way or another.
const WAIT: Duration = Duration::from_secs(15);

/// A server on a loopback port, TLS only with `tls`; returns its address.
async fn server(tls: Option<Arc<Tls>>) -> SocketAddr {
    let mut listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    if let Some(tls) = tls {
        listeners = listeners.with_tls(tls);
    }
    let addr = listeners.json_addr().unwrap();
    let history = chat_server::Broker::local(Default::default()).unwrap();
    let info = ServerInfo::default();
    tokio::spawn(chat_server::run(listeners, info, history, std::future::pending()));
    addr
}

/// What the network task reports connecting to `server`, up to the welcome or the end.
async fn connect(server: &str, tls: Option<&TlsClient>) -> Vec<NetEvent> {
    let hello = Link::new(Nick::parse("Michael").unwrap(), None).hello();
    let (events, mut from_net) = mpsc::channel(16);
    let (_outbox, task) = chat_tui::net::spawn(server.to_owned(), tls.cloned(), hello, events);
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, from_net.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing more after {seen:?}"))
            .unwrap();
        let end = matches!(
            &event,
            NetEvent::Message(ServerMsg::Welcome { .. } | ServerMsg::Bye { .. })
                | NetEvent::Failed { .. }
                | NetEvent::Certificate(_)
                | NetEvent::Closed { .. }
        );
        seen.push(event);
        if end {
            task.abort();
            return seen;
        }
    }
}

/// How the connection was protected, and whether the server welcomed us over it.
fn welcomed_over(events: &[NetEvent]) -> Security {
    assert!(
        matches!(events.last(), Some(NetEvent::Message(ServerMsg::Welcome { .. }))),
        "{events:?}"
    );
    events
        .iter()
        .find_map(|e| match e {
            NetEvent::Connected { security, .. } => Some(*security),
            _ => None,
        })
        .unwrap()
}

/// The refusal the connection ended with.
fn refusal(events: &[NetEvent]) -> Refusal {
    match events.last() {
        Some(NetEvent::Certificate(refusal)) => refusal.clone(),
        other => panic!("no certificate refusal: {other:?} after {events:?}"),
    }
}

fn fingerprint_of(tls: &Tls) -> Sha256Digest {
    fingerprint::parse(&tls.fingerprint()).unwrap()
}

fn client(settings: TlsSettings, known: Option<PathBuf>) -> TlsClient {
    TlsClient::load(&settings, known).unwrap()
}

/// `--tls-ca`: a certificate the CA made out to the host of `--server` (an address here, so
/// the address is what is checked) is trusted; the same CA's certificate for another host is
/// refused without a question, and with the CA only among the roots (no `--tls-ca`) it is
/// not trusted either: the person is asked, told why.
#[tokio::test]
async fn a_ca_vouches_only_for_the_host_it_made_the_certificate_for() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let settings = TlsSettings { ca_files: vec![ca.write(dir.path())], pin: None };
    let good = server(Some(tls(ca.issue(dir.path(), "good", &["127.0.0.1"])))).await;
    let c = client(settings.clone(), Some(dir.path().join("known_servers")));
    let events = connect(&good.to_string(), Some(&c)).await;
    assert_eq!(welcomed_over(&events), Security::Tls(Trusted::Authority));

    let other = server(Some(tls(ca.issue(dir.path(), "other", &["chat.example.org"])))).await;
    let refused = refusal(&connect(&other.to_string(), Some(&c)).await);
    assert!(
        matches!(&refused, Refusal::Untrusted { reason, .. } if reason.contains("not made out to this host")),
        "{refused:?}"
    );
    let mut roots = rustls::RootCertStore::empty();
    let ca_cert = CertificateDer::from_pem_file(dir.path().join("ca.pem")).unwrap();
    roots.add(ca_cert).unwrap();
    let lenient = TlsClient::with_roots(roots, &TlsSettings::default(), None).unwrap();
    let asked = refusal(&connect(&other.to_string(), Some(&lenient)).await);
    assert!(
        matches!(&asked, Refusal::Unknown { reason, .. } if reason.contains("not made out to this host")),
        "{asked:?}"
    );
    assert!(!dir.path().join("known_servers").exists(), "nothing to remember");
}

/// Trust on first use: a self-signed server's certificate is refused as unknown with its
/// fingerprint (the one the server prints); once remembered it is trusted, in this run and
/// the next (the file, 0600); a different certificate for the same `host:port` is refused as
/// changed, naming the file.
#[tokio::test]
async fn first_use_is_remembered_and_a_change_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data/chat-tui/known_servers");
    let first = tls(self_signed(dir.path(), "first"));
    let addr = server(Some(first.clone())).await;
    let server_name = addr.to_string();
    let c = client(TlsSettings::default(), Some(file.clone()));
    let unknown = refusal(&connect(&server_name, Some(&c)).await);
    let Refusal::Unknown { server: key, fingerprint, reason } = unknown else {
        panic!("{unknown:?}")
    };
    assert_eq!((key.as_str(), fingerprint), (server_name.as_str(), fingerprint_of(&first)));
    assert!(reason.contains("no certificate authority"), "{reason}");

    assert_eq!(c.remember(&key, &fingerprint).unwrap(), Some(file.clone()));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let events = connect(&server_name, Some(&c)).await;
    assert_eq!(welcomed_over(&events), Security::Tls(Trusted::Known));
    let next_run = client(TlsSettings::default(), Some(file.clone()));
    let events = connect(&server_name, Some(&next_run)).await;
    assert_eq!(welcomed_over(&events), Security::Tls(Trusted::Known));

    // Another certificate where the first one was trusted: a second server, and the file
    // saying its host:port had the first one.
    let second = tls(self_signed(dir.path(), "second"));
    let moved = server(Some(second.clone())).await;
    known::append(&file, &moved.to_string(), &fingerprint_of(&first)).unwrap();
    let changed = refusal(&connect(&moved.to_string(), Some(&next_run)).await);
    assert_eq!(
        changed,
        Refusal::Changed {
            server: moved.to_string(),
            known: vec![fingerprint_of(&first)],
            fingerprint: fingerprint_of(&second),
            file: Some(file),
        }
    );
}

/// `--tls-fingerprint`: that certificate is trusted, and no other: not another self-signed
/// one, not even one a CA vouches for; nothing is written to `known_servers`.
#[tokio::test]
async fn a_pin_admits_its_certificate_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_servers");
    let pinned = tls(self_signed(dir.path(), "pinned"));
    let pin = Some(fingerprint_of(&pinned));
    let addr = server(Some(pinned)).await;
    let ca = TestCa::new();
    let settings = TlsSettings { ca_files: vec![ca.write(dir.path())], pin };
    let c = client(settings, Some(file.clone()));
    let events = connect(&addr.to_string(), Some(&c)).await;
    assert_eq!(welcomed_over(&events), Security::Tls(Trusted::Pinned));

    let other = server(Some(tls(self_signed(dir.path(), "other")))).await;
    let vouched = server(Some(tls(ca.issue(dir.path(), "vouched", &["127.0.0.1"])))).await;
    for addr in [other, vouched] {
        let refused = refusal(&connect(&addr.to_string(), Some(&c)).await);
        assert!(matches!(refused, Refusal::NotPinned { pinned, .. } if Some(pinned) == pin));
    }
    assert!(!file.exists());
}

/// Impersonation: a server that shows the trusted certificate but does not hold its key
/// cannot sign the handshake; the connection fails and nothing is said over it.
#[tokio::test]
async fn a_trusted_certificate_shown_without_its_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = self_signed(dir.path(), "real");
    let pin = Some(fingerprint_of(&tls(real.clone())));
    let impostor = impostor(&real, &self_signed(dir.path(), "impostor")).await;
    let c = client(TlsSettings { ca_files: Vec::new(), pin }, None);
    let events = connect(&impostor.to_string(), Some(&c)).await;
    assert!(
        matches!(events.last(), Some(NetEvent::Failed { reason }) if reason.contains("no TLS with")),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, NetEvent::Connected { .. })), "{events:?}");
}

/// A TLS server showing `shown`'s certificate, signing with `key_of`'s key.
async fn impostor(shown: &TlsFiles, key_of: &TlsFiles) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = CertificateDer::from_pem_file(&shown.cert).unwrap();
    let key = PrivateKeyDer::from_pem_file(&key_of.key).unwrap();
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(vec![cert], signing));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certified)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    addr
}

#[derive(Debug)]
struct Always(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Always {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Without `--tls`, a TLS-only server's goodbye comes through (in clear): `tls_required`.
/// With `--tls`, a plain-text server is a failed handshake, said in words.
#[tokio::test]
async fn a_mismatch_of_tls_and_plain_text_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let tls_only = server(Some(tls(self_signed(dir.path(), "tls")))).await;
    let events = connect(&tls_only.to_string(), None).await;
    assert!(
        matches!(
            events.last(),
            Some(NetEvent::Message(ServerMsg::Bye { code: ByeCode::TlsRequired, .. }))
        ),
        "{events:?}"
    );
    let plain = server(None).await;
    let c = client(TlsSettings::default(), None);
    let events = connect(&plain.to_string(), Some(&c)).await;
    assert!(
        matches!(events.last(), Some(NetEvent::Failed { reason }) if reason.starts_with("no TLS with")),
        "{events:?}"
    );
}
