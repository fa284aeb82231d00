//! The servers a run measures: started by the bench (pinned to a CPU, stopped when dropped) or
//! already running, and what /proc says about them (CPU time, resident memory). With history
//! in Redis (`redis`, `redis2`) a server is one or two chat-server nodes sharing the
//! redis-server the bench starts for the whole invocation ([`Redis`]), emptied before each run;
//! its CPU and memory are then those of the nodes and the redis-server together.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_rustls::TlsConnector;

use crate::Mode;
use crate::redis::Redis;
use crate::stream::Dial;
use crate::subject::{Build, Subject};
use crate::tls::{BenchCert, Transport};

/// How the bench starts servers.
pub struct Launch {
    /// The chat-server binary (with `--before`, the build after the change).
    pub binary: PathBuf,
    /// `--before`: the chat-server binary of the build before the change.
    pub before: Option<PathBuf>,
    /// Servers on CPU 0 (every node and the redis-server alike), bench on CPU 1.
    pub pin: bool,
    /// The redis-server the `redis` and `redis2` runs share, when one of them is to run.
    pub redis: Option<Redis>,
    /// Where each started chat-server writes its log (`--server-log`); else it is dropped.
    pub logs: Option<PathBuf>,
    /// Servers started so far: numbers their logs.
    pub started: AtomicUsize,
    /// `--tls`: the certificate the TLS runs' servers get and their clients trust.
    pub tls: Option<BenchCert>,
}

impl Launch {
    /// The pinning, for a scenario's heading.
    pub fn pinned(&self) -> &'static str {
        match (self.pin, self.redis.is_some()) {
            (false, _) => "; nothing pinned: the scheduler places servers and bench",
            (true, false) => "; server on CPU 0, bench on CPU 1",
            (true, true) => {
                "; servers on CPU 0 (with Redis: both nodes and redis-server too), bench on CPU 1"
            }
        }
    }

    /// The chat-server binary of `build`.
    fn binary(&self, build: Option<Build>) -> anyhow::Result<&Path> {
        match build {
            Some(Build::Before) => self.before.as_deref().context("no --before binary was given"),
            Some(Build::After) | None => Ok(&self.binary),
        }
    }

    /// `extra` and, for a run over TLS, the flags that give chat-server the bench's
    /// certificate, and the connector its clients need.
    fn flags<'a>(
        &'a self,
        subject: Subject,
        extra: &[&'a str],
    ) -> anyhow::Result<(Vec<&'a str>, Option<TlsConnector>)> {
        let mut flags = extra.to_vec();
        if subject.transport() == Transport::Plain {
            return Ok((flags, None));
        }
        if subject.mode() == Some(Mode::Bare) {
            bail!("the bare server speaks no TLS");
        }
        let cert = self.tls.as_ref().context("no certificate was made for --tls")?;
        flags.extend(cert.flags());
        Ok((flags, Some(cert.connector().clone())))
    }
}

/// The names of the nodes of a run on Redis, in order: member `i` is on node `i % nodes`.
const NODE_IDS: [&str; 2] = ["bench-a", "bench-b"];

/// A server under measurement: one process, or the nodes of a run on Redis; the processes the
/// bench started are stopped when dropped.
pub struct Server {
    children: Vec<Child>,
    /// Where members connect: one address per node.
    addrs: Vec<String>,
    /// Its processes, when known: for CPU and memory (the nodes and their redis-server).
    pids: Vec<u32>,
    /// The redis-server the nodes share: its CPU is also given on its own.
    redis_pid: Option<u32>,
    /// Over TLS: what its clients connect with.
    tls: Option<TlsConnector>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server of no process yet; [`Server::add`] adds them.
    fn new(dir: Option<tempfile::TempDir>, redis_pid: Option<u32>) -> Server {
        let (children, addrs, pids) = (Vec::new(), Vec::new(), Vec::new());
        Server { children, addrs, pids, redis_pid, tls: None, _dir: dir }
    }

    /// Adds a process (a node) the bench started.
    fn add(&mut self, node: Process) {
        self.children.push(node.child);
        self.addrs.push(node.addr);
        self.pids.extend(node.pid);
    }

    /// Where the `i`th member connects: the nodes in turn.
    pub fn addr(&self, i: usize) -> &str {
        // Never empty once opened; "" would fail to connect, with the address in the error.
        self.addrs.get(i % self.addrs.len().max(1)).map_or("", String::as_str)
    }

    /// How the `i`th member connects: to [`Server::addr`], over TLS if the server speaks it.
    pub fn dial(&self, i: usize) -> Dial<'_> {
        Dial { addr: self.addr(i), tls: self.tls.as_ref(), source: None }
    }

    /// The processes whose CPU and memory are counted (none found: an external server of
    /// another user).
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// User + system CPU seconds the server has used (all its processes).
    pub fn cpu_seconds(&self) -> Option<f64> {
        sum(&self.pids, cpu_seconds)
    }

    /// CPU seconds of the redis-server alone, when the server has one.
    pub fn redis_cpu_seconds(&self) -> Option<f64> {
        self.redis_pid.and_then(cpu_seconds)
    }

    /// Resident memory in KiB (all its processes).
    pub fn rss_kib(&self) -> Option<u64> {
        sum(&self.pids, rss_kib)
    }

    /// Resident memory in MB.
    pub fn rss_mb(&self) -> Option<f64> {
        self.rss_kib().map(|kib| kib as f64 * 1024.0 / 1e6)
    }

    /// Stops the processes the bench started (their clients see their connections close); an
    /// external server is left alone, and so is the redis-server (the launch's, emptied before
    /// the next run).
    pub async fn stop(mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
    }
}

/// The sum of `f` over `pids`; nothing when there are none or one is unknown.
fn sum<T: std::iter::Sum<T>>(pids: &[u32], f: impl Fn(u32) -> Option<T>) -> Option<T> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| f(pid)).sum()
}

/// Starts the server `subject` names, or finds the external one, with `extra` flags for
/// chat-server (and, over TLS, the bench's certificate).
pub async fn open(launch: &Launch, subject: Subject, extra: &[&str]) -> anyhow::Result<Server> {
    if let Subject::External(addr) = subject {
        let mut server = Server::new(None, None);
        server.addrs.push(addr.to_string());
        server.pids.extend(listener_pid(addr.port()));
        return Ok(server);
    }
    let (flags, tls) = launch.flags(subject, extra)?;
    let mut server = start(launch, subject, &flags).await?;
    server.tls = tls;
    Ok(server)
}

/// Starts the processes of `subject`, a server the bench starts, with `extra` flags.
async fn start(launch: &Launch, subject: Subject, extra: &[&str]) -> anyhow::Result<Server> {
    let mode = subject.mode().context("an external server is not started")?;
    let binary = launch.binary(subject.build())?;
    let nodes = mode.nodes_on_redis();
    if nodes == 0 {
        let log = launch.log(subject, None)?;
        return start_server(binary, mode, launch.pin, extra, log).await;
    }
    let redis = launch.redis.as_ref().context("no redis-server was started")?;
    // A clean Redis for each run: no nicks, streams or heartbeats of the last one (whose nodes
    // are gone by now).
    redis.flush().await?;
    let url = redis.url();
    let mut server = Server::new(None, Some(redis.pid));
    for id in NODE_IDS.iter().take(nodes) {
        let mut flags = vec!["--redis", url.as_str(), "--node-id", id];
        flags.extend_from_slice(extra);
        let log = launch.log(subject, Some(id))?;
        let node = spawn(binary, mode, launch.pin, &flags, log)
            .await
            .with_context(|| format!("node {id}"))?;
        server.add(node);
    }
    server.pids.push(redis.pid);
    Ok(server)
}

/// Starts `binary` on port 0 with the history `mode` (not one on Redis) and the `extra` flags;
/// its log goes to `log`, if any.
pub async fn start_server(
    binary: &Path,
    mode: Mode,
    pin: bool,
    extra: &[&str],
    log: Option<std::fs::File>,
) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let db = db.to_str().context("the temporary directory's path is not UTF-8")?;
    let mut flags = match mode {
        Mode::File => vec!["--db", db],
        Mode::Memory => vec!["--db", ":memory:"],
        Mode::Off => vec!["--no-history"],
        Mode::Bare => Vec::new(),
        Mode::Redis | Mode::Redis2 => bail!("{} starts through `open`", mode.name()),
    };
    flags.extend_from_slice(extra);
    let node = spawn(binary, mode, pin, &flags, log).await?;
    let mut server = Server::new(Some(dir), None);
    server.add(node);
    Ok(server)
}

/// One process the bench started, listening.
struct Process {
    child: Child,
    addr: String,
    pid: Option<u32>,
}

/// Starts `binary` (the bench itself for [`Mode::Bare`]) listening on port 0 with `flags`, and
/// reads back its address.
async fn spawn(
    binary: &Path,
    mode: Mode,
    pin: bool,
    flags: &[&str],
    log: Option<std::fs::File>,
) -> anyhow::Result<Process> {
    let bench = std::env::current_exe()?;
    let program = if mode == Mode::Bare { bench.as_path() } else { binary };
    let mut cmd = pinned(pin, program);
    match mode {
        Mode::Bare => cmd.arg("--baseline-server"),
        _ => cmd.args(["--listen", "127.0.0.1:0", "--no-plain"]).args(flags),
    };
    // The server's log (a warning per lagging member under this load) would drown the figures:
    // it goes to a file when asked for, else nowhere.
    let stderr = log.map_or_else(Stdio::null, Stdio::from);
    cmd.stdout(Stdio::piped()).stderr(stderr).kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", program.display()))?;
    let mut stdout = BufReader::new(child.stdout.take().context("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line).await?;
    // What it prints later (over TLS, the certificate's fingerprint) is read and dropped: with
    // the pipe closed, that print would fail and stop the server.
    tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("json="))
        .with_context(|| format!("{} said {line:?}", program.display()))?
        .to_owned();
    let pid = child.id();
    Ok(Process { child, addr, pid })
}

/// A command for `program`, on CPU 0 when pinning.
pub fn pinned(pin: bool, program: &Path) -> Command {
    if pin {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl Launch {
    /// A new log file for the next server started (`--server-log`):
    /// `NN-MODE[-BUILD][-tls][-NODE].log`.
    fn log(&self, subject: Subject, node: Option<&str>) -> anyhow::Result<Option<std::fs::File>> {
        // The bare server writes no log.
        let bare = subject.mode() == Some(Mode::Bare);
        let Some(dir) = self.logs.as_ref().filter(|_| !bare) else { return Ok(None) };
        let n = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        let tls = subject.transport().is_tls().then_some("tls");
        let parts = [Some(subject.key()), subject.build().map(Build::key), tls, node];
        let name = parts.into_iter().flatten().collect::<Vec<_>>().join("-");
        let path = dir.join(format!("{n:02}-{name}.log"));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create the server log {}", path.display()))?;
        Ok(Some(file))
    }
}

/// Runs the bench on CPU 1 (each server it starts, and the redis-server, runs on CPU 0).
pub fn pin_bench() {
    let _ = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
}

/// Whether `program` can be run.
pub fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Fails, saying what to do, when the bench may not open `needed` files and sockets. The
/// servers it starts inherit the same limit, and need as many.
pub fn check_fd_limit(needed: u64) -> anyhow::Result<()> {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else { return Ok(()) };
    let Some((soft, hard)) = open_files_limit(&limits) else { return Ok(()) };
    if soft >= needed {
        return Ok(());
    }
    let hard_too = if hard < needed {
        format!(" (its hard limit is {hard}: raise that as root first, e.g. in limits.conf)")
    } else {
        String::new()
    };
    bail!(
        "this run needs about {needed} open files (each connection is one socket in the bench and \
         one in the server) and the limit is {soft}{hard_too}; raise it in this shell and run \
         again: ulimit -n {needed}"
    )
}

/// The soft and hard "Max open files" of a /proc/PID/limits text.
fn open_files_limit(limits: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find_map(|l| l.strip_prefix("Max open files"))?;
    let mut fields = line.split_whitespace();
    let mut value = || {
        fields.next().and_then(|v| if v == "unlimited" { Some(u64::MAX) } else { v.parse().ok() })
    };
    Some((value()?, value()?))
}

/// User + system CPU seconds a process has used, from /proc.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the whole line, in USER_HZ (100 on Linux).
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// A process's resident memory in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    })
}

/// The process listening on TCP `port`, found through its socket's inode (only processes of
/// this user can be looked into).
fn listener_pid(port: u16) -> Option<u32> {
    let sockets: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .map(|inode| format!("socket:[{inode}]"))
        .collect();
    if sockets.is_empty() {
        return None;
    }
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = process.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && sockets.iter().any(|s| link.as_os_str() == s.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// The inodes of the sockets listening on `port` in a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(fields.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && *fields.get(3)? == LISTEN).then(|| fields.get(9).copied())?
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63432                63432                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(open_files_limit(limits), Some((1024, 524288)));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), Some((u64::MAX, u64::MAX)));
        assert_eq!(open_files_limit("Max processes 1 1 processes\n"), None);
    }

    #[test]
    fn finds_the_listening_socket_of_a_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1EC6 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1EC6 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1\n\
   2: 0100007F:1EC7 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(listening_inodes(table, 7878), ["4242"]);
        assert!(listening_inodes(table, 80).is_empty());
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).is_some_and(|kib| kib > 0));
    }
}
