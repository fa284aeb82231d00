//! A real `redis-server` on a free loopback port, and real `chat-server` processes using it.
//! A missing `redis-server` fails the test (CI installs it): these tests never skip.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one, with an append-only file in a fresh directory, so a restart keeps its data.
    pub fn start() -> Self {
        let mut server = Self { port: 0, dir: tempfile::tempdir().unwrap(), child: None };
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
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
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
            if ping(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
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

/// Whether a Redis answers PING on `port`.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// A `chat-server` process: one node.
pub struct Node {
    pub json: SocketAddr,
    pub plain: SocketAddr,
    child: tokio::process::Child,
    pub log: PathBuf,
}

impl Node {
    /// Starts `chat-server --redis URL --node-id ID` on loopback port 0 and reads the ports
    /// back from what it prints.
    pub async fn start(redis: &RedisServer, id: &str) -> Self {
        Self::start_with(redis, id, &[]).await
    }

    pub async fn start_with(redis: &RedisServer, id: &str, extra: &[&str]) -> Self {
        let log = redis.dir.path().join(format!("{id}-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .args(["--redis", &redis.url(), "--node-id", id])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--plain-listen",
                "127.0.0.1:0",
                "--no-flood-control",
            ])
            .args(extra)
            .env("RUST_LOG", "chat_server=debug")
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
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "node {id} exited; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        // "chat-server listening: json=ADDR plain=ADDR"
        let addr = |name: &str| -> SocketAddr {
            let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            line[at..].split_whitespace().next().unwrap().parse().unwrap()
        };
        let (json, plain) = (addr("json"), addr("plain"));
        // Whatever else it prints is not read: keep the pipe open so its writes do not fail.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { json, plain, child, log }
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
