//! A real `redis-server` on a free loopback port, real `chat-server` processes using it, and
//! the client steps the cluster tests share (the relay that cuts one node off: `relay.rs`).
//! A missing `redis-server` fails the test (CI installs it): these tests never skip.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use protocol::{ClientMsg, RoomName, ServerMsg, Stored, Text};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{JsonClient, WAIT};

pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    options: RedisOptions,
}

/// How a test's `redis-server` differs from the plain one.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// `--requirepass`: every client must give this password.
    pub password: Option<String>,
    /// TLS only (no plain port: `--port 0 --tls-port`), with these files.
    pub tls: Option<TlsFiles>,
}

/// The server side of TLS: its certificate and key, and the CA (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl RedisServer {
    /// Starts one, with an append-only file in a fresh directory, so a restart keeps its data.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    /// Starts one with a password or TLS.
    pub fn start_with(options: RedisOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self { port: 0, dir, child: None, options };
        // Another program may take the free port between the look and the start: try again.
        for _ in 0..20 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on any port");
    }

    /// Starts `redis-server` on `self.port`; whether it answers.
    fn spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        match &self.options.tls {
            None => command.args(["--port", &port]),
            Some(tls) => command
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca),
        };
        if let Some(password) = &self.options.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false;
            }
            // A TLS port is only checked for listening.
            let up = match self.options.tls {
                None => ping(self.port),
                Some(_) => std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
            };
            if up {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Its URL, with its password if it has one; `rediss://` for TLS.
    pub fn url(&self) -> String {
        self.url_with(self.options.password.as_deref())
    }

    /// Its URL with `password` (a wrong one, or none).
    pub fn url_with(&self, password: Option<&str>) -> String {
        let scheme = if self.options.tls.is_some() { "rediss" } else { "redis" };
        let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }

    /// Its data directory, where the nodes' logs go too.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection of the test's own, for what an operator would do by hand (`CONFIG SET`);
    /// not over TLS.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        tokio::time::timeout(WAIT, client.get_multiplexed_async_connection())
            .await
            .expect("Redis answers")
            .unwrap()
    }

    /// Stops it the way an operator would (SIGTERM: it writes its data and exits).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        assert!(self.spawn(), "redis-server restarts");
    }

    /// Starts it again on the same port with nothing: its data was lost.
    pub fn restart_empty(&mut self) {
        self.stop();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                continue;
            }
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
        assert!(self.spawn(), "redis-server restarts");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Whether a Redis answers PING on `port` (or asks for its password first).
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf),
        Ok(n) if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
}

/// How a node is given the Redis URL.
#[derive(Debug, Clone, Copy)]
pub enum UrlSource<'a> {
    /// `--redis URL`.
    Flag(&'a str),
    /// `--redis-url-file PATH`.
    File(&'a Path),
    /// The `CHAT_REDIS_URL` environment variable.
    Env(&'a str),
}

/// A `chat-server` process: one node.
pub struct Node {
    pub json: SocketAddr,
    pub plain: SocketAddr,
    child: tokio::process::Child,
    pub log: PathBuf,
}

/// A node that would not start: how it exited, and what it wrote on stderr.
#[derive(Debug)]
pub struct Refused {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Node {
    /// Starts `chat-server --redis URL --node-id ID` on loopback port 0 and reads the ports
    /// back from what it prints.
    pub async fn start(redis: &RedisServer, id: &str) -> Self {
        Self::start_with(redis, id, &[]).await
    }

    pub async fn start_with(redis: &RedisServer, id: &str, extra: &[&str]) -> Self {
        Self::start_via(redis, &redis.url(), id, extra).await
    }

    /// A node reaching `redis` at `url` (a [`Relay`]'s).
    pub async fn start_via(redis: &RedisServer, url: &str, id: &str, extra: &[&str]) -> Self {
        match Self::try_start(redis, url, id, extra).await {
            Ok(node) => node,
            Err(refused) => panic!("node {id} exited ({}): {}", refused.status, refused.stderr),
        }
    }

    /// Starts a node that may refuse to start (its stderr then says why).
    pub async fn try_start(
        redis: &RedisServer,
        url: &str,
        id: &str,
        extra: &[&str],
    ) -> Result<Self, Refused> {
        Self::try_start_from(redis, UrlSource::Flag(url), id, extra, &[]).await
    }

    /// [`Node::start_via`], with the URL given by `source` and `env` added to the node's
    /// environment (which may replace `RUST_LOG`).
    pub async fn start_from(
        redis: &RedisServer,
        source: UrlSource<'_>,
        id: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        match Self::try_start_from(redis, source, id, extra, env).await {
            Ok(node) => node,
            Err(refused) => panic!("node {id} exited ({}): {}", refused.status, refused.stderr),
        }
    }

    /// [`Node::try_start`], with the URL given by `source` and `env` added to the node's
    /// environment.
    pub async fn try_start_from(
        redis: &RedisServer,
        source: UrlSource<'_>,
        id: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, Refused> {
        // One log per process, also for a node id started again.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let run = STARTED.fetch_add(1, Ordering::Relaxed);
        let log = redis.dir.path().join(format!("{id}-{}-{run}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-server"));
        // Nothing of the environment of whoever runs the tests: only the log level.
        command.env_clear().env("RUST_LOG", "chat_server=debug");
        match source {
            UrlSource::Flag(url) => command.args(["--redis", url]),
            UrlSource::File(path) => command.arg("--redis-url-file").arg(path),
            UrlSource::Env(url) => command.env("CHAT_REDIS_URL", url),
        };
        let mut child = command
            .args(["--node-id", id])
            .args(["--listen", "127.0.0.1:0", "--plain-listen", "127.0.0.1:0"])
            // Flood control off, unless the test tunes it.
            .args(
                (!extra.iter().any(|a| a.starts_with("--flood-"))).then_some("--no-flood-control"),
            )
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("node {id} did not start; log: {}", log.display()))
            .unwrap();
        let Some(line) = line else {
            let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .expect("a node that closed its stdout exits")
                .unwrap();
            return Err(Refused { status, stderr: std::fs::read_to_string(&log).unwrap() });
        };
        // "chat-server listening: json=ADDR plain=ADDR"
        let addr = |name: &str| -> SocketAddr {
            let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            line[at..].split_whitespace().next().unwrap().parse().unwrap()
        };
        let (json, plain) = (addr("json"), addr("plain"));
        // Whatever else it prints is not read: keep the pipe open so its writes do not fail.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { json, plain, child, log })
    }

    /// SIGKILL: the node dies with no goodbye and nothing written after.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Sends a signal by name (STOP, CONT, ...).
    pub fn signal(&self, name: &str) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
        }
    }

    /// SIGTERM, and waits for it to exit.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await;
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A client of `node` that has said hello as `name` and seen its lobby.
pub async fn member(node: &Node, name: &str) -> JsonClient {
    let mut client = JsonClient::connect(node.json).await;
    match client.hello(name).await {
        ServerMsg::Welcome { .. } => {}
        other => panic!("{name} on {}: {other:?}", node.json),
    }
    client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
    client
}

/// [`member`], once `name` is free: asked again every 100 ms while it is in use, failing at
/// `deadline`.
pub async fn member_once_free(
    node: &Node,
    name: &str,
    deadline: tokio::time::Instant,
) -> JsonClient {
    loop {
        let mut client = JsonClient::connect(node.json).await;
        match client.hello(name).await {
            ServerMsg::Welcome { .. } => {
                client.recv_until(|m| matches!(m, ServerMsg::Members { .. })).await;
                return client;
            }
            ServerMsg::Error { code: protocol::ErrorCode::NickInUse, message, .. } => {
                assert!(tokio::time::Instant::now() < deadline, "{name} still in use: {message}");
            }
            other => panic!("{name} on {}: {other:?}", node.json),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

pub fn say(room: &str, text: &str) -> ClientMsg {
    ClientMsg::Say { room: RoomName::parse(room).unwrap(), text: Text::parse(text).unwrap() }
}

/// Joins `name` and reads up to its member list.
pub async fn join(client: &mut JsonClient, name: &str) {
    client.send(ClientMsg::Join { room: room(name), key: None }).await;
    client
        .recv_until(|m| matches!(m, ServerMsg::Members { room, .. } if room.as_str() == name))
        .await;
}

/// The messages a client receives until it has `count`, as (seq, text).
pub async fn messages(client: &mut JsonClient, count: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < count {
        if let ServerMsg::Message { seq, text, .. } = client.recv().await {
            got.push((seq, text.as_str().to_owned()));
        }
    }
    got
}

/// The next message from the server before `deadline`; `None` if none came by then.
pub async fn recv_by(client: &mut JsonClient, deadline: tokio::time::Instant) -> Option<ServerMsg> {
    match tokio::time::timeout_at(deadline, client.frames.next()).await {
        Ok(Some(Ok(Ok(msg)))) => Some(msg),
        Ok(other) => panic!("the connection failed: {other:?}"),
        Err(_) => None,
    }
}

/// Waits until `who` in the lobby, asked of `client`, lists exactly `names`.
pub async fn wait_for_members(client: &mut JsonClient, names: &[&str]) {
    wait_for_members_of(client, "lobby", names).await;
}

/// Waits until `who ROOM`, asked of `client`, lists exactly `names`.
pub async fn wait_for_members_of(client: &mut JsonClient, name: &str, names: &[&str]) {
    let want: HashSet<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    loop {
        client.send(ClientMsg::Who { room: room(name), after: None }).await;
        let (msg, _) = client
            .recv_until(|m| {
                matches!(m, ServerMsg::Members { room, .. } if room.as_str() == name)
                    || matches!(m, ServerMsg::Error { request: Some(r), .. } if r == "who")
            })
            .await;
        let have: HashSet<String> = match msg {
            ServerMsg::Members { nicks, .. } => {
                nicks.iter().map(|n| n.as_str().to_owned()).collect()
            }
            _ => HashSet::new(), // no such room (yet, or any more)
        };
        if have == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "#{name}: {have:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (asking every 100 ms, for at most [`PATIENCE`]) until the room list that `client` gets
/// shows `name` with `members` members: what a node knows of a room it has no member in.
pub async fn wait_for_room(client: &mut JsonClient, name: &str, members: u32) {
    let deadline = tokio::time::Instant::now() + super::PATIENCE;
    loop {
        client.send(ClientMsg::Rooms).await;
        let (msg, _) = client.recv_until(|m| matches!(m, ServerMsg::Rooms { .. })).await;
        let ServerMsg::Rooms { rooms } = msg else { unreachable!() };
        let have = rooms.iter().find(|r| r.name.as_str() == name).map(|r| r.members);
        if have == Some(members) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "#{name}: {have:?}, wanted {members}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole history of `name`, oldest first, read page by page by `client`.
pub async fn whole_history(client: &mut JsonClient, name: &str) -> Vec<Stored> {
    let mut all: Vec<Stored> = Vec::new();
    let mut before = None;
    // Each page is at least one message older, or the last.
    for _ in 0..100_000 {
        client.send(ClientMsg::History { room: room(name), before, limit: 100 }).await;
        let (page, _) = client
            .recv_until(|m| matches!(m, ServerMsg::History { room, .. } if room.as_str() == name))
            .await;
        let ServerMsg::History { mut messages, beginning, .. } = page else { unreachable!() };
        let done = beginning || messages.is_empty();
        before = messages.first().map(|m| m.seq);
        messages.append(&mut all);
        all = messages;
        if done {
            return all;
        }
    }
    panic!("the history of #{name} never reached its beginning");
}
