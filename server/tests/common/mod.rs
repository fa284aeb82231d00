//! Test harness: a real server on loopback port 0, and real TCP clients for both ports.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses a different part; panics are failures

pub mod redis;
pub mod relay;
pub mod scrape;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use chat_server::{Broker, HistoryConfig, Listeners, ServerInfo};
use futures::{SinkExt, StreamExt};
use protocol::limits::MAX_SERVER_LINE_BYTES;
use protocol::{
    ClientCodec, ClientMsg, Label, Nick, PROTOCOL_VERSION, RequestError, RoomName, ServerMsg,
    Stored,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

/// How long a test waits for something that should happen at once on loopback.
pub const WAIT: Duration = Duration::from_secs(5);
/// Longest a test reads on while waiting for one particular message among others.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// How long a test waits to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

pub struct TestServer {
    pub json: SocketAddr,
    pub plain: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The settings tests start from: the defaults, except flood control, which is off because
/// most tests send in bursts no person would (the flood tests turn it on).
pub fn info() -> ServerInfo {
    ServerInfo { motd: "Be kind.".into(), flood: None, ..ServerInfo::default() }
}

/// Starts a server on `127.0.0.1:0` for both ports.
pub async fn start_server() -> TestServer {
    start_server_with(info()).await
}

pub async fn start_server_with(info: ServerInfo) -> TestServer {
    start_server_with_history(info, HistoryConfig::default()).await
}

/// A server with the given history settings (the default keeps it in memory).
pub async fn start_server_with_history(info: ServerInfo, history: HistoryConfig) -> TestServer {
    start_server_on(info, history, None).await
}

/// A server whose ports speak TLS only, with `tls`'s certificate.
pub async fn start_tls_server(tls: std::sync::Arc<chat_server::tls::Tls>) -> TestServer {
    start_server_on(info(), HistoryConfig::default(), Some(tls)).await
}

async fn start_server_on(
    info: ServerInfo,
    history: HistoryConfig,
    tls: Option<std::sync::Arc<chat_server::tls::Tls>>,
) -> TestServer {
    let broker = Broker::local(history).expect("the history opens");
    let mut listeners =
        Listeners::bind("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    if let Some(tls) = tls {
        listeners = listeners.with_tls(tls);
    }
    let json = listeners.json_addr().unwrap();
    let plain = listeners.plain_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(chat_server::run(listeners, info, broker, async {
        let _ = stopped.await;
    }));
    TestServer { json, plain, stop: Some(stop), task: Some(task) }
}

impl TestServer {
    /// Sends the shutdown signal and waits for `run` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops")
                .unwrap();
        }
    }

    /// A JSON client that has said hello as `nick` and read everything up to its lobby member list.
    pub async fn join(&self, nick: &str) -> JsonClient {
        let mut c = JsonClient::connect(self.json).await;
        c.hello(nick).await;
        c.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
        c
    }
}

/// Pages back through `room` from the newest message to the first, 100 at a time.
pub async fn page_all(c: &mut JsonClient, room: &str) -> Vec<Stored> {
    let room = RoomName::parse(room).unwrap();
    let mut all: Vec<Stored> = Vec::new();
    let mut before = None;
    loop {
        c.send(ClientMsg::History { room: room.clone(), before, limit: 100 }).await;
        let (page, _) = c.recv_until(|m| matches!(m, ServerMsg::History { .. })).await;
        let ServerMsg::History { messages, beginning, .. } = page else { unreachable!() };
        assert!(messages.len() <= 100);
        before = messages.first().map(|m| m.seq);
        all.splice(0..0, messages);
        if beginning {
            return all;
        }
    }
}

/// Asserts that `messages` are numbered `first`, `first + 1`, ... with no gap or duplicate.
pub fn assert_contiguous(messages: &[Stored], first: u64) {
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.seq, first + i as u64, "sequence numbers have a gap or a duplicate at {i}");
    }
}

/// Closes `stream` with a reset (SO_LINGER 0), as a network failure does, not a clean close.
pub fn reset(stream: TcpStream) {
    #[allow(deprecated)] // SO_LINGER 0 is the point: it makes close() send a reset
    stream.set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

/// A TCP connection to `addr` from the loopback address `source` (any of 127.0.0.0/8).
pub async fn connect_from(addr: SocketAddr, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source.parse().unwrap(), 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

pub fn nick(s: &str) -> Nick {
    Nick::parse(s).unwrap()
}

/// What a test client talks over: plain TCP, or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

pub struct JsonClient<S = TcpStream> {
    pub frames: Framed<S, ClientCodec>,
}

impl JsonClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::on(TcpStream::connect(addr).await.unwrap())
    }

    /// A client connecting from `source`, a loopback address of the test's choosing
    /// (127.0.0.2, ...), as a client elsewhere on the internet would have its own.
    pub async fn connect_from(addr: SocketAddr, source: &str) -> Self {
        Self::on(connect_from(addr, source).await)
    }

    /// A client on a socket the test set up itself.
    pub fn on(stream: TcpStream) -> Self {
        Self::over(stream)
    }
}

impl<S: Stream> JsonClient<S> {
    /// A client over any stream (a TLS one, say).
    pub fn over(stream: S) -> Self {
        Self { frames: Framed::new(stream, ClientCodec::new(MAX_SERVER_LINE_BYTES)) }
    }

    pub async fn send(&mut self, msg: ClientMsg) {
        self.frames.send(&msg).await.unwrap();
    }

    /// Sends a JSON line as written, without checking it.
    pub async fn send_json(&mut self, line: serde_json::Value) {
        self.send_raw(format!("{line}\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.frames.get_mut();
        stream.write_all(bytes).await.unwrap();
    }

    pub async fn hello(&mut self, nick: &str) -> ServerMsg {
        self.hello_resuming(nick, None).await
    }

    /// Says hello as `nick` with the account's password (or none) and returns the first answer.
    pub async fn hello_with_password(&mut self, nick: &str, password: Option<&str>) -> ServerMsg {
        self.send(ClientMsg::Hello {
            password: password.map(|p| protocol::Password::parse(p).unwrap()),
            nick: Nick::parse(nick).unwrap(),
            protocol: PROTOCOL_VERSION,
            client: Label::truncate("tests"),
            resume: None,
        })
        .await;
        self.recv().await
    }

    /// Says hello showing the resume token of an earlier session.
    pub async fn hello_resuming(
        &mut self,
        nick: &str,
        resume: Option<protocol::ResumeToken>,
    ) -> ServerMsg {
        self.send(ClientMsg::Hello {
            password: None,
            nick: Nick::parse(nick).unwrap(),
            protocol: PROTOCOL_VERSION,
            client: Label::truncate("tests"),
            resume,
        })
        .await;
        self.recv().await
    }

    /// The next `deleted` event, with what came before it.
    pub async fn recv_deleted(&mut self) -> (ServerMsg, Vec<ServerMsg>) {
        self.recv_until(|m| matches!(m, ServerMsg::Deleted { .. })).await
    }

    /// The code of the error that answers the next `request` (a `type`, e.g. "delete").
    pub async fn refusal_of(&mut self, request: &str) -> protocol::ErrorCode {
        let (error, _) = self
            .recv_until(|m| matches!(m, ServerMsg::Error { request: Some(r), .. } if r == request))
            .await;
        let ServerMsg::Error { code, .. } = error else { unreachable!() };
        code
    }

    /// The next message; fails the test if none comes within [`WAIT`].
    pub async fn recv(&mut self) -> ServerMsg {
        self.recv_within(WAIT).await
    }

    /// The next message; fails the test if none comes within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> ServerMsg {
        match tokio::time::timeout(wait, self.frames.next()).await {
            Ok(Some(Ok(Ok(msg)))) => msg,
            Ok(Some(Ok(Err(e)))) => panic!("unreadable line from server: {e}"),
            Ok(Some(Err(e))) => panic!("socket error: {e}"),
            Ok(None) => panic!("server closed the connection"),
            Err(_) => panic!("no message from the server within {wait:?}"),
        }
    }

    /// Reads until a message matches, returning it; the ones before are returned too. Fails
    /// if nothing matches within [`PATIENCE`], however much else keeps coming.
    pub async fn recv_until(
        &mut self,
        wanted: impl Fn(&ServerMsg) -> bool,
    ) -> (ServerMsg, Vec<ServerMsg>) {
        let mut skipped = Vec::new();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "nothing wanted came within {PATIENCE:?}; {} others did",
                skipped.len()
            );
            let msg = self.recv_within(left.min(WAIT)).await;
            if wanted(&msg) {
                return (msg, skipped);
            }
            skipped.push(msg);
        }
    }

    /// The next `error`, failing if something else comes first.
    pub async fn recv_error(&mut self) -> RequestError {
        match self.recv().await {
            ServerMsg::Error { code, message, request, retry_after_ms } => {
                RequestError { code, message, request, retry_after_ms }
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives for [`QUIET`] and the connection stays open: a closed
    /// connection is not silence.
    pub async fn assert_silent(&mut self) {
        match tokio::time::timeout(QUIET, self.frames.next()).await {
            Err(_) => {}
            Ok(None) => panic!("expected silence, but the server closed the connection"),
            Ok(Some(msg)) => panic!("expected silence, got {msg:?}"),
        }
    }

    /// Waits for the server to close the connection, returning what came before.
    pub async fn recv_until_closed(&mut self) -> Vec<ServerMsg> {
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.frames.next()).await {
                Ok(Some(Ok(Ok(msg)))) => got.push(msg),
                Ok(Some(Ok(Err(e)))) => panic!("unreadable line from server: {e}"),
                Ok(Some(Err(e))) => {
                    eprintln!("recv_until_closed: {e}");
                    return got;
                }
                Ok(None) => return got,
                Err(_) => panic!("connection still open after {WAIT:?}; got {got:?}"),
            }
        }
    }
}

/// A client of the plain-text port, reading lines as bytes.
pub struct PlainClient<S = TcpStream> {
    reader: BufReader<tokio::io::ReadHalf<S>>,
    writer: tokio::io::WriteHalf<S>,
}

impl PlainClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::over(TcpStream::connect(addr).await.unwrap())
    }

    /// Drops the connection with a reset, as a network failure does.
    pub fn reset(self) {
        reset(self.reader.into_inner().unsplit(self.writer));
    }

    /// Connects, reads the greeting, gives `nick` and reads up to the member list of lobby.
    pub async fn login(addr: SocketAddr, nick: &str) -> Self {
        Self::connect(addr).await.log_in(nick).await
    }
}

impl<S: Stream> PlainClient<S> {
    /// A client over any stream (a TLS one, say).
    pub fn over(stream: S) -> Self {
        let (r, w) = tokio::io::split(stream);
        Self { reader: BufReader::new(r), writer: w }
    }

    /// Reads the greeting, gives `nick` and reads up to the member list of lobby.
    pub async fn log_in(mut self, nick: &str) -> Self {
        let c = &mut self;
        assert_eq!(c.line().await, "Welcome! What's your name?");
        c.send(&format!("{nick}\n")).await;
        assert_eq!(c.line().await, format!("Hello, {nick}! Welcome to chat."));
        c.line_until(|l| l.starts_with("[lobby] Members:")).await;
        self
    }

    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Half-closes: no more from us, but we keep reading (`printf ... | nc`).
    pub async fn finish_sending(&mut self) {
        self.writer.shutdown().await.unwrap();
    }

    /// The next line as bytes, without CR LF.
    pub async fn line_bytes(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        match tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) => panic!("server closed the connection"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("socket error: {e}"),
            Err(_) => {
                panic!("no line within {WAIT:?}; partial: {:?}", String::from_utf8_lossy(&line))
            }
        }
        assert!(line.ends_with(b"\r\n"), "plain lines end with CR LF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    pub async fn line(&mut self) -> String {
        String::from_utf8(self.line_bytes().await).expect("UTF-8 line")
    }

    /// Reads lines until one matches; fails if none does within [`PATIENCE`].
    pub async fn line_until(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no wanted line within {PATIENCE:?}");
            let line = self.line().await;
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Reads to the end of the connection.
    pub async fn rest(&mut self) -> String {
        let mut rest = Vec::new();
        tokio::time::timeout(WAIT, self.reader.read_to_end(&mut rest))
            .await
            .expect("connection closes")
            .unwrap();
        String::from_utf8_lossy(&rest).into_owned()
    }

    pub async fn assert_silent(&mut self) {
        let mut line = Vec::new();
        if let Ok(r) = tokio::time::timeout(QUIET, self.reader.read_until(b'\n', &mut line)).await {
            panic!("expected silence, got {r:?}: {:?}", String::from_utf8_lossy(&line));
        }
    }
}

/// The real `chat-server` binary, started on loopback port 0 with a clean environment (no
/// `RUST_LOG`, no XDG directories of the developer's); killed when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub json: SocketAddr,
    pub plain: Option<SocketAddr>,
    /// What it prints after its "listening" line, a line at a time.
    stdout: std::sync::mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `chat-server --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 ARGS` with its
    /// stderr going to `stderr`, and reads the addresses it prints.
    pub fn start(args: &[&str], stderr: std::process::Stdio) -> Self {
        let mut cmd = Self::command();
        cmd.args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"]).args(args);
        Self::spawn(&mut cmd, stderr)
    }

    /// The binary with an empty environment; the caller adds what the test needs.
    pub fn command() -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chat-server"));
        cmd.env_clear();
        cmd
    }

    /// Spawns `cmd` and waits (at most 20 s) for its "listening" line.
    pub fn spawn(cmd: &mut std::process::Command, stderr: std::process::Stdio) -> Self {
        use std::io::BufRead;
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(stderr).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        // A thread, so that a server that never prints fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Every line is handed on (and the pipe kept drained, so prints never fail).
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            panic!("chat-server printed no listening line within 20 s");
        };
        // "chat-server listening: json=ADDR plain=ADDR"
        let field = |name: &str| -> Option<SocketAddr> {
            line.split_whitespace().find_map(|w| w.strip_prefix(name)).map(|a| a.parse().unwrap())
        };
        let Some(json) = field("json=") else {
            let _ = child.kill();
            panic!("no address in {line:?}");
        };
        let plain = field("plain=");
        Self { child, json, plain, stdout: rx }
    }

    /// The next line it prints on stdout (after the "listening" one), within 10 s.
    pub fn stdout_line(&self) -> String {
        self.stdout.recv_timeout(Duration::from_secs(10)).expect("a line on stdout")
    }

    /// Sends a signal by name (`TERM`, `INT`, `STOP`, ...).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (at most 10 s) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "chat-server did not exit within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process dies with no goodbye and nothing written after.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
