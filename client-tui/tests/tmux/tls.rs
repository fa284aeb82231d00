//! TLS end to end: the real `chat-tui` in tmux against a real server that speaks TLS only
//! (both ports): a CA's certificate with `--tls-ca`, a pinned fingerprint, the first-use
//! question answered yes (and not asked again, in the next run or on reconnecting) and no, a
//! changed certificate refused with a warning, a reconnect over TLS that keeps the nick and
//! catches up, and a client without `--tls` told why it cannot connect.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chat_tui::tls::{ServerAddr, TlsClient, TlsSettings};
use protocol::fingerprint;
use tokio_rustls::client::TlsStream;

use super::certs::{TestCa, self_signed, tls};
use super::harness::*;

/// Long enough for a client that would retry to have done so (the first retry is within 0.5 s).
const NO_RETRY: Duration = Duration::from_millis(1500);

/// Where the panes' `chat-tui` keeps fingerprints accepted on first use.
fn known_servers(tmux: &Tmux) -> PathBuf {
    tmux.home().join(".local/share/chat-tui/known_servers")
}

/// The two rows the certificate boxes show a fingerprint in (16 bytes each).
fn halves(fingerprint: &str) -> [&str; 2] {
    [&fingerprint[..47], &fingerprint[48..]]
}

fn deadline() -> Instant {
    Instant::now() + WAIT
}

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `--tls-ca`: a certificate the CA made out to the server's address is trusted without a
/// question; two people chat over it, each status line with a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_the_given_ca_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let files = ca.issue(dir.path(), "server", &["127.0.0.1"]);
    let (json, _, server) =
        tls_server_at(any(), any(), &dir.path().join("h.db"), Some(tls(files))).await;
    let tmux = Tmux::new();
    let ca_file = ca.write(dir.path());
    let args = |name: &str| format!("--name {name} --server {json} --tls-ca {}", ca_file.display());
    let michael = tmux.start("michael", &args("Michael"), 100, 30);
    michael.wait_for(&format!(" online  🔒 {json} · Michael · #lobby")).await;
    michael.server_window_shows("over TLS (certificate vouched for by a certificate", 2).await;
    let tracy = tmux.start("tracy", &args("Tracy"), 100, 30);
    tracy.wait_for("you joined #lobby").await;
    michael.type_line("hello over TLS");
    tracy.wait_for("<Michael> hello over TLS").await;
    assert!(!known_servers(&tmux).exists(), "nothing trusted on first use");
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// `--tls-fingerprint`: the pinned certificate connects without a question and is not
/// written down; another pin is refused and not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_fingerprint_connects_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls(self_signed(dir.path(), "server"));
    let fp = tls.fingerprint();
    let (json, _, server) = tls_server_at(any(), any(), &dir.path().join("h.db"), Some(tls)).await;
    let tmux = Tmux::new();
    let pinned = tmux.start(
        "pinned",
        &format!("--name Michael --server {json} --tls-fingerprint {fp}"),
        100,
        30,
    );
    pinned.wait_for(&format!(" online  🔒 {json} · Michael")).await;
    let screen =
        pinned.server_window_shows("(the certificate pinned with --tls-fingerprint)", 2).await;
    assert!(!screen.contains("unknown certificate"), "{screen}");

    let wrong = fingerprint::show(&fingerprint::digest(b"another certificate"));
    let args = format!("--name Tracy --server {json} --tls-fingerprint {wrong}");
    let refused = tmux.start("wrong", &args, 100, 30);
    let screen = refused.wait_for("not reconnecting: the certificate is not the pinned one").await;
    assert!(screen.contains("not the one pinned with"), "{screen}");
    tokio::time::sleep(NO_RETRY).await;
    let screen = refused.capture();
    assert!(!screen.contains("reconnecting in") && screen.contains(" offline "), "{screen}");
    assert!(!known_servers(&tmux).exists());
    pinned.key("C-c");
    refused.key("C-c");
    pinned.wait_for("EXITED 0").await;
    refused.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// First use: `--tls` to a self-signed server shows the fingerprint the server printed and
/// asks; `y` connects and writes `host:port FINGERPRINT` to known_servers (0600). The next
/// run connects without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_use_question_is_asked_once() {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls(self_signed(dir.path(), "server"));
    let fp = tls.fingerprint();
    let (json, _, server) = tls_server_at(any(), any(), &dir.path().join("h.db"), Some(tls)).await;
    let tmux = Tmux::new();
    let args = format!("--name Michael --server {json} --tls");
    let first = tmux.start("first", &args, 100, 30);
    // The whole box (a capture can catch a frame half drawn), and nothing else going on.
    first
        .wait_until("the question, with the fingerprint the server printed", deadline(), |s| {
            halves(&fp).iter().all(|half| s.contains(half))
                && s.contains("n    do not connect")
                && s.contains(" offline ")
        })
        .await;
    first.type_text("y");
    first.wait_for(&format!(" online  🔒 {json} · Michael · #lobby")).await;
    let file = known_servers(&tmux);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("\n{json} {fp}\n")), "{text}");
    first.key("C-c");
    first.wait_for("EXITED 0").await;

    let again = tmux.start("again", &args, 100, 30);
    again.wait_for(&format!(" online  🔒 {json} · Michael · #lobby")).await;
    let screen =
        again.server_window_shows("over TLS (the certificate you trusted before)", 2).await;
    assert!(!screen.contains("unknown certificate"), "{screen}");
    again.key("C-c");
    again.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// `n` to the question: not connected, nothing written, nothing retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_first_use_does_not_connect() {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls(self_signed(dir.path(), "server"));
    let (json, _, server) = tls_server_at(any(), any(), &dir.path().join("h.db"), Some(tls)).await;
    let tmux = Tmux::new();
    let pane = tmux.start("refuse", &format!("--name Michael --server {json} --tls"), 100, 30);
    pane.wait_for("unknown certificate").await;
    pane.type_text("n");
    pane.wait_for("not trusted; not connecting (/connect asks again)").await;
    tokio::time::sleep(NO_RETRY).await;
    let screen = pane.capture();
    assert!(!screen.contains("unknown certificate"), "{screen}");
    assert!(!screen.contains("reconnecting in") && screen.contains(" offline "), "{screen}");
    assert!(!known_servers(&tmux).exists());
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// A server whose certificate changed after it was trusted: the reconnecting client refuses
/// it with a warning naming known_servers, tries no more, and a new run refuses it the same
/// way; the file keeps the certificate trusted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_certificate_is_refused_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let before = tls(self_signed(dir.path(), "before"));
    let fp = before.fingerprint();
    let (json, plain, server) = tls_server_at(any(), any(), &db, Some(before)).await;
    let tmux = Tmux::new();
    let args = format!("--name Michael --server {json} --tls");
    let pane = tmux.start("changed", &args, 100, 30);
    pane.wait_for("unknown certificate").await;
    pane.type_text("y");
    pane.wait_for(&format!(" online  🔒 {json}")).await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    pane.wait_for("reconnecting in").await;
    drop(held);
    let after = tls(self_signed(dir.path(), "after"));
    let (_, _, server) = tls_server_at(json, plain, &db, Some(after.clone())).await;
    let file = known_servers(&tmux);
    let after_fp = after.fingerprint();
    pane.wait_until("the warning, both fingerprints and the file", deadline(), |s| {
        s.contains("WARNING: certificate changed")
            && s.contains(&file.display().to_string())
            && halves(&fp).iter().chain(&halves(&after_fp)).all(|half| s.contains(half))
            && s.contains("Esc  close this warning")
    })
    .await;
    pane.key("Escape");
    pane.wait_for("! not reconnecting: certificate changed").await;
    pane.server_window_shows("known_servers", 2).await;
    tokio::time::sleep(NO_RETRY).await;
    let screen = pane.capture();
    assert!(!screen.contains("reconnecting in") && screen.contains(" offline "), "{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;

    let next = tmux.start("next", &args, 100, 30);
    next.wait_for("WARNING: certificate changed").await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("{json} {fp}")) && !text.contains(&after.fingerprint()));
    next.key("C-c");
    next.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// A plain-text client at a TLS-only server: the goodbye comes through in clear, is
/// explained ("start chat-tui with --tls"), and the client does not try again in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_tls_is_told_to_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let tls = tls(self_signed(dir.path(), "server"));
    let (json, _, server) = tls_server_at(any(), any(), &dir.path().join("h.db"), Some(tls)).await;
    let tmux = Tmux::new();
    let pane = tmux.start("plain", &format!("--name Michael --server {json}"), 100, 30);
    let screen = pane
        .wait_for("not reconnecting: this server speaks TLS only: start chat-tui with --tls")
        .await;
    assert!(screen.contains("server says goodbye: this server speaks TLS only"), "{screen}");
    tokio::time::sleep(NO_RETRY).await;
    let screen = pane.capture();
    assert!(!screen.contains("reconnecting in"), "{screen}");
    assert!(screen.contains(" offline "), "{screen}");
    pane.key("C-c");
    pane.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// The server crashes and comes back (same certificate, same port) while two people who
/// accepted its certificate chat in #rust: both come back by themselves over TLS under their
/// nicks, rejoin #rust and show what was said meanwhile, once; nobody is asked again. Tracy,
/// started after Michael accepted it, is never asked: the file already knows the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_over_tls_keeps_the_nick_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let files = self_signed(dir.path(), "server");
    let (json, plain, server) = tls_server_at(any(), any(), &db, Some(tls(files.clone()))).await;
    let tmux = Tmux::new();
    let args = |name: &str| format!("--name {name} --server {json} --tls --room rust");
    let michael = tmux.start("michael", &args("Michael"), 100, 30);
    michael.wait_for("unknown certificate").await;
    michael.type_text("y");
    michael.wait_for("┌ #rust").await;
    let tracy = tmux.start("tracy", &args("Tracy"), 100, 30);
    tracy.wait_for("┌ #rust").await;
    tracy.server_window_shows("(the certificate you trusted before)", 3).await;
    michael.type_line("said before the crash");
    tracy.wait_for("said before the crash").await;

    server.shutdown_background();
    let held = HeldPorts::hold(&[json, plain]).await;
    michael.wait_for("reconnecting in").await;
    tracy.wait_for("reconnecting in").await;
    drop(held);
    let tls = tls(files);
    let pin = fingerprint::parse(&tls.fingerprint());
    let (_, _, server) = tls_server_at(json, plain, &db, Some(tls)).await;
    let mut guest = tls_login(plain, pin, "Guest").await;
    guest.send("/join rust").await;
    guest.wait_for("[rust] --> Guest joined").await;
    guest.send("said during the outage").await;

    for (pane, me) in [(&michael, "Michael"), (&tracy, "Tracy")] {
        let screen = pane.wait_for("said during the outage").await;
        assert_eq!(count(&screen, "said during the outage"), 1, "{screen}");
        assert!(screen.contains(&format!(" online  🔒 {json} · {me} · #rust")), "{screen}");
        assert!(!screen.contains("unknown certificate"), "{screen}");
        let screen = pane.server_window_shows("back; rejoining #lobby, #rust", 3).await;
        assert!(!screen.contains("unknown certificate"), "{screen}");
    }
    tracy.type_line("and after it");
    michael.wait_for("<Tracy> and after it").await;
    guest.wait_for("Tracy: and after it").await;
    let text = std::fs::read_to_string(known_servers(&tmux)).unwrap();
    assert_eq!(count(&text, &json.to_string()), 1, "{text}");
    michael.key("C-c");
    tracy.key("C-c");
    michael.wait_for("EXITED 0").await;
    tracy.wait_for("EXITED 0").await;
    server.shutdown_background();
}

/// A plain-text client over TLS (the plain port of a TLS server), trusting the pinned
/// certificate: `nc` for a server that speaks TLS only.
type TlsNc = Lines<TlsStream<tokio::net::TcpStream>>;

/// A plain-text client over TLS, trusting `pin` only.
async fn tls_login(addr: SocketAddr, pin: Option<fingerprint::Sha256Digest>, name: &str) -> TlsNc {
    let settings = TlsSettings { ca_files: Vec::new(), pin };
    let client = TlsClient::with_roots(rustls::RootCertStore::empty(), &settings, None).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server = ServerAddr::parse(&addr.to_string()).unwrap();
    let (stream, _) = client.connect(tcp, &server).await.unwrap();
    let mut nc = Lines::new(stream);
    nc.log_in(name).await;
    nc
}
