//! Clients behind a proxy (`--trusted-proxy`), against a real server on loopback: the PROXY
//! header's address is the one the per-address limit counts (v1 and v2, with and without
//! TLS), exactly the header is taken from the stream, a trusted connection without a header
//! and a header from an address not trusted are refused, and the binary takes the flag.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_server::limits::PROXY_HEADER_TIMEOUT;
use chat_server::proxy::TrustedProxies;
use chat_server::tls::Tls;
use chat_server::{Broker, HistoryConfig, Listeners, ServerInfo};
use common::tls::TestCa;
use common::{JsonClient, PlainClient, ServerProcess, Stream, WAIT};
use protocol::{ByeCode, ClientMsg, Label, Nick, PROTOCOL_VERSION, ServerMsg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on loopback whose listeners trust `trusted` (a CIDR) as proxies.
struct ProxiedServer {
    json: SocketAddr,
    plain: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ProxiedServer {
    async fn start(trusted: &str, info: ServerInfo, tls: Option<Arc<Tls>>) -> Self {
        let broker = Broker::local(HistoryConfig::default()).unwrap();
        let trusted = TrustedProxies::new([trusted.parse().unwrap()]);
        let mut listeners =
            Listeners::bind("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap()
                .with_trusted_proxies(trusted);
        if let Some(tls) = tls {
            listeners = listeners.with_tls(tls);
        }
        let (json, plain) = (listeners.json_addr().unwrap(), listeners.plain_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chat_server::run(listeners, info, broker, async {
            let _ = stopped.await;
        }));
        Self { json, plain, stop, task }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await.unwrap().unwrap();
    }
}

/// Two places per address, so the third from one address is refused.
fn two_per_address() -> ServerInfo {
    ServerInfo { max_connections_per_ip: 2, ..common::info() }
}

/// A PROXY v2 header (made byte by byte) for a TCP client at `client`:5555.
fn v2(client: Ipv4Addr) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x21, 0x11, 0, 12]);
    header.extend(client.octets());
    header.extend([127, 0, 0, 1]);
    header.extend(5555u16.to_be_bytes());
    header.extend(7878u16.to_be_bytes());
    header
}

/// The v2 header of the proxy's own connection (a health check): no client in it.
fn v2_local() -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x20, 0x00, 0, 0]);
    header
}

fn v1(client: Ipv4Addr) -> Vec<u8> {
    format!("PROXY TCP4 {client} 127.0.0.1 5555 7878\r\n").into_bytes()
}

fn hello_line(nick: &str) -> Vec<u8> {
    let hello = ClientMsg::Hello {
        password: None,
        nick: Nick::parse(nick).unwrap(),
        protocol: PROTOCOL_VERSION,
        client: Label::truncate("tests"),
        resume: None,
    };
    format!("{}\n", serde_json::to_string(&hello).unwrap()).into_bytes()
}

/// Connects and sends `header` followed by a hello as `nick`, in one write: whatever the
/// server reads past the header would be a hello lost.
async fn send_with_hello(addr: SocketAddr, header: &[u8], nick: &str) -> JsonClient {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&[header, &hello_line(nick)].concat()).await.unwrap();
    JsonClient::on(tcp)
}

/// The server's answer to a hello: welcome (then read up to the member list), or a `bye`.
async fn answer<S: Stream>(c: &mut JsonClient<S>) -> Result<(), ByeCode> {
    match c.recv().await {
        ServerMsg::Welcome { .. } => {
            c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
            Ok(())
        }
        ServerMsg::Bye { code, .. } => Err(code),
        other => panic!("expected welcome or bye, got {other:?}"),
    }
}

/// The connection is closed without a word.
async fn closed_silently<S: Stream>(c: &mut JsonClient<S>) {
    let got = c.recv_until_closed().await;
    assert!(got.is_empty(), "expected a close and nothing else, got {got:?}");
}

/// The per-address limit counts the address in the header, not the proxy's: two
/// connections carrying 192.0.2.7 are served, the third is refused, one carrying 192.0.2.8
/// is served; the proxy's health check counts as the proxy; a place freed comes back.
async fn the_header_address_is_counted(header: fn(Ipv4Addr) -> Vec<u8>) {
    let server = ProxiedServer::start("127.0.0.1/32", two_per_address(), None).await;
    let seven = Ipv4Addr::new(192, 0, 2, 7);
    let mut first = send_with_hello(server.json, &header(seven), "First").await;
    assert_eq!(answer(&mut first).await, Ok(()));
    let mut second = send_with_hello(server.json, &header(seven), "Second").await;
    assert_eq!(answer(&mut second).await, Ok(()));
    let mut third = send_with_hello(server.json, &header(seven), "Third").await;
    assert_eq!(answer(&mut third).await, Err(ByeCode::TooManyConnections));
    let mut other =
        send_with_hello(server.json, &header(Ipv4Addr::new(192, 0, 2, 8)), "Other").await;
    assert_eq!(answer(&mut other).await, Ok(()), "another client behind the same proxy");
    let mut check = send_with_hello(server.json, &v2_local(), "Check").await;
    assert_eq!(answer(&mut check).await, Ok(()), "the proxy's own connection");

    drop(first);
    let mut again = Err(ByeCode::TooManyConnections);
    for attempt in 0..50 {
        let mut c = send_with_hello(server.json, &header(seven), &format!("Again{attempt}")).await;
        again = answer(&mut c).await;
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(again, Ok(()), "the place of a closed connection comes back");
    server.shutdown().await;
}

#[tokio::test]
async fn a_v2_header_sets_the_address_the_limit_counts() {
    the_header_address_is_counted(v2).await;
}

#[tokio::test]
async fn a_v1_header_sets_the_address_the_limit_counts() {
    the_header_address_is_counted(v1).await;
}

/// From a trusted proxy, a connection must start with a header: one that starts with a
/// hello, with a broken header, or with nothing at all (within the deadline) is closed.
#[tokio::test]
async fn a_trusted_connection_without_a_header_is_refused() {
    let server = ProxiedServer::start("127.0.0.1/32", common::info(), None).await;
    let mut direct = send_with_hello(server.json, b"", "Direct").await;
    closed_silently(&mut direct).await;
    let broken = b"PROXY TCP4 192.0.2.7 127.0.0.1 99999 7878\r\n";
    let mut broken = send_with_hello(server.json, broken, "Broken").await;
    closed_silently(&mut broken).await;

    let started = Instant::now();
    let mut silent = TcpStream::connect(server.json).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PROXY_HEADER_TIMEOUT + WAIT, silent.read(&mut byte))
        .await
        .expect("a silent connection is closed after the header's deadline");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() >= PROXY_HEADER_TIMEOUT - Duration::from_millis(100));

    let mut proxied = send_with_hello(server.json, &v2(Ipv4Addr::new(192, 0, 2, 7)), "Fine").await;
    assert_eq!(answer(&mut proxied).await, Ok(()));
    server.shutdown().await;
}

/// A header from an address that is not a trusted proxy is a client claiming an address:
/// refused, v1 or v2, on the JSON port and on a TLS port. Clients from there without a
/// header are served as ever, and the plain-text port still greets at once.
#[tokio::test]
async fn a_header_from_an_untrusted_address_is_refused() {
    let server = ProxiedServer::start("10.0.0.0/8", common::info(), None).await;
    let forged = Ipv4Addr::new(192, 0, 2, 7);
    let mut c = send_with_hello(server.json, &v2(forged), "Forger").await;
    closed_silently(&mut c).await;
    let mut c = send_with_hello(server.json, &v1(forged), "Forger").await;
    closed_silently(&mut c).await;
    let mut direct = send_with_hello(server.json, b"", "Direct").await;
    assert_eq!(answer(&mut direct).await, Ok(()));
    let started = Instant::now();
    let _plain = PlainClient::login(server.plain, "Nc").await;
    assert!(started.elapsed() < PROXY_HEADER_TIMEOUT / 2, "the greeting is not held back");
    server.shutdown().await;

    let (ca, _dir, tls) = tls_setup();
    let server = ProxiedServer::start("10.0.0.0/8", common::info(), Some(tls)).await;
    for port in [server.json, server.plain] {
        let mut tcp = TcpStream::connect(port).await.unwrap();
        tcp.write_all(&v2(forged)).await.unwrap();
        closed_silently(&mut JsonClient::on(tcp)).await;
    }
    let mut direct = JsonClient::over(ca.connect(server.json).await);
    direct.send_raw(&hello_line("Direct")).await;
    assert_eq!(answer(&mut direct).await, Ok(()));
    server.shutdown().await;
}

/// A CA, and TLS with a certificate it signed (in the directory returned, kept while used).
fn tls_setup() -> (TestCa, tempfile::TempDir, Arc<Tls>) {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = ca.issue(dir.path(), "server");
    (ca, dir, Arc::new(Tls::load(files).unwrap()))
}

/// With TLS: the header comes in clear text, then the handshake. The header's address is
/// counted, and the refusal is told over TLS; the plain-text port works the same; a
/// handshake with no header in front is refused.
#[tokio::test]
async fn a_header_then_a_tls_handshake() {
    let (ca, _dir, tls) = tls_setup();
    let server = ProxiedServer::start("127.0.0.1/32", two_per_address(), Some(tls)).await;
    let proxied = |client: Ipv4Addr, port: SocketAddr| {
        let ca = &ca;
        async move {
            let mut tcp = TcpStream::connect(port).await.unwrap();
            tcp.write_all(&v2(client)).await.unwrap();
            ca.connect_on(tcp).await
        }
    };
    let seven = Ipv4Addr::new(192, 0, 2, 7);
    let mut clients = Vec::new();
    for nick in ["First", "Second", "Third"] {
        let mut c = JsonClient::over(proxied(seven, server.json).await);
        c.send_raw(&hello_line(nick)).await;
        clients.push((answer(&mut c).await, c));
    }
    let answers: Vec<_> = clients.iter().map(|(answer, _)| *answer).collect();
    assert_eq!(answers, [Ok(()), Ok(()), Err(ByeCode::TooManyConnections)]);
    let stream = proxied(Ipv4Addr::new(192, 0, 2, 8), server.plain).await;
    let _plain = PlainClient::over(stream).log_in("Guest").await;
    let tcp = TcpStream::connect(server.json).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let handshake = ca.connector().connect(name, tcp).await;
    assert!(handshake.is_err(), "a handshake with no header in front is refused");
    server.shutdown().await;
}

/// Without `--trusted-proxy` nothing is looked for: a header from a client is a bad line,
/// answered as any other, and the session goes on.
#[tokio::test]
async fn without_trusted_proxies_a_header_is_just_a_bad_line() {
    let server = common::start_server().await;
    let mut c = send_with_hello(server.json, &v1(Ipv4Addr::new(192, 0, 2, 7)), "Michael").await;
    assert!(matches!(c.recv().await, ServerMsg::Error { .. }));
    assert_eq!(answer(&mut c).await, Ok(()));
    server.shutdown().await;
}

/// The binary: `--trusted-proxy` repeated, of both families, and the address of a header
/// from a trusted proxy in the session's log; a bad value is refused naming the flag.
#[tokio::test]
async fn the_binary_takes_trusted_proxies() {
    let args = ["--db", ":memory:", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"];
    let process = ServerProcess::start(&args, Stdio::null());
    let mut direct = send_with_hello(process.json, b"", "Direct").await;
    assert_eq!(answer(&mut direct).await, Ok(()), "127.0.0.1 is not a proxy: served as ever");
    let mut forger = send_with_hello(process.json, &v1(Ipv4Addr::new(192, 0, 2, 7)), "F").await;
    closed_silently(&mut forger).await;
    drop(process);

    let args = ["--db", ":memory:", "--trusted-proxy", "127.0.0.1", "-v"];
    let mut process = ServerProcess::start(&args, Stdio::piped());
    let mut proxied =
        send_with_hello(process.json, &v2(Ipv4Addr::new(192, 0, 2, 7)), "Proxied").await;
    assert_eq!(answer(&mut proxied).await, Ok(()));
    process.kill();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut process.child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("peer=192.0.2.7:5555"), "the session is logged as the client's:\n{log}");

    let out = ServerProcess::command().args(["--trusted-proxy", "10.0.0.0/33"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--trusted-proxy") && stderr.contains("0 to 32"), "{stderr}");
}

/// A client at `client` (behind the trusted proxy) saying hello as `nick` with `password`;
/// the first answer.
async fn hello_from(addr: SocketAddr, client: Ipv4Addr, nick: &str, password: &str) -> ServerMsg {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let hello = ClientMsg::Hello {
        password: Some(protocol::Password::parse(password).unwrap()),
        nick: Nick::parse(nick).unwrap(),
        protocol: PROTOCOL_VERSION,
        client: Label::truncate("tests"),
        resume: None,
    };
    let line = format!("{}\n", serde_json::to_string(&hello).unwrap());
    tcp.write_all(&[v1(client), line.into_bytes()].concat()).await.unwrap();
    JsonClient::on(tcp).recv().await
}

/// A guesser's failures slow the guesser's address block, not the account: its owner, from
/// elsewhere, logs in at once (accounts throttle by the address the proxy gives).
#[tokio::test]
async fn a_guesser_elsewhere_does_not_lock_the_owner_out() {
    let server = ProxiedServer::start("127.0.0.1/32", common::info(), None).await;
    let (owner, guesser) = (Ipv4Addr::new(198, 51, 100, 1), Ipv4Addr::new(203, 0, 113, 7));
    let mut michael = JsonClient::on(TcpStream::connect(server.json).await.unwrap());
    michael.send_raw(&[v1(owner), hello_line("Michael")].concat()).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    let secret = protocol::Password::parse("the owner's secret").unwrap();
    michael.send(ClientMsg::Register { password: secret }).await;
    michael.recv_until(|m| matches!(m, ServerMsg::Account { .. })).await;
    michael.send(ClientMsg::Quit { reason: None }).await;
    michael.recv_until_closed().await;

    let mut throttled = false;
    for _ in 0..6 {
        match hello_from(server.json, guesser, "Michael", "a wrong guess").await {
            ServerMsg::Error { code: protocol::ErrorCode::WrongPassword, .. } => {}
            ServerMsg::Error { code: protocol::ErrorCode::LoginThrottled, .. } => throttled = true,
            other => panic!("{other:?}"),
        }
    }
    assert!(throttled, "the guesser was never made to wait");
    let answer = hello_from(server.json, owner, "Michael", "the owner's secret").await;
    assert!(matches!(answer, ServerMsg::Welcome { account: true, .. }), "{answer:?}");
    server.shutdown().await;
}
