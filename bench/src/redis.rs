//! The redis-server of the runs on Redis (`redis`, `redis2`): one for the whole invocation,
//! on a free loopback port, its nodes' history and nothing on disk; emptied before each run so
//! that no run sees the nicks, streams or heartbeats of the last one.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Child;

use crate::process::pinned;

/// The redis-server that the nodes of the `redis` and `redis2` runs share: started once on a
/// free loopback port, with nothing saved to disk, emptied before each run, stopped (by its
/// process id) at the end.
pub struct Redis {
    child: Child,
    pub port: u16,
    pub pid: u32,
    _dir: tempfile::TempDir,
}

/// Ports to try: another program may take the free one between the look and the start.
const REDIS_ATTEMPTS: usize = 20;

/// Longest a redis-server may take to answer its first PING.
const REDIS_START: Duration = Duration::from_secs(10);

/// Longest one command to it may take.
const REDIS_REPLY: Duration = Duration::from_secs(10);

impl Redis {
    /// Starts `redis-server` on a free port of 127.0.0.1 (on CPU 0 when pinning), and waits
    /// until it answers.
    pub async fn start(pin: bool) -> anyhow::Result<Redis> {
        let dir = tempfile::tempdir()?;
        for _ in 0..REDIS_ATTEMPTS {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut cmd = pinned(pin, Path::new("redis-server"));
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true);
            let mut child = cmd.spawn().context(
                "cannot start redis-server, which the redis and redis2 runs need (Debian: apt-get \
                 install redis-server)",
            )?;
            let pid = child.id().context("redis-server exited at once")?;
            let deadline = Instant::now() + REDIS_START;
            loop {
                if child.try_wait()?.is_some() {
                    // Most likely the port was taken: another one.
                    break;
                }
                if command(port, "PING", "+PONG").await.is_ok() {
                    return Ok(Redis { child, port, pid, _dir: dir });
                }
                if Instant::now() > deadline {
                    let _ = child.kill().await;
                    bail!(
                        "redis-server on port {port} did not answer within {} s",
                        REDIS_START.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        bail!("redis-server did not start on any of {REDIS_ATTEMPTS} free ports")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Empties it.
    pub async fn flush(&self) -> anyhow::Result<()> {
        command(self.port, "FLUSHALL SYNC", "+OK").await.context("cannot empty redis-server")
    }

    /// Stops it: SIGKILL to its process (nothing is kept on disk), then waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Sends one inline command to the Redis on `port` and checks that its reply starts with
/// `expected`.
async fn command(port: u16, command: &str, expected: &str) -> anyhow::Result<()> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(format!("{command}\r\n").as_bytes()).await?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).await?;
        if !reply.starts_with(expected) {
            bail!("{command}: redis-server said {:?}", reply.trim_end());
        }
        Ok(())
    };
    tokio::time::timeout(REDIS_REPLY, exchange)
        .await
        .with_context(|| format!("{command}: no reply within {} s", REDIS_REPLY.as_secs()))?
}
