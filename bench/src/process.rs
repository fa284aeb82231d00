//! The servers a run measures: started by the bench (pinned to a CPU, stopped when dropped) or
//! already running, and what /proc says about them (CPU time, resident memory).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Mode;

/// What a run measures: a server the bench starts, or one already running (`--connect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Started(Mode),
    External(SocketAddr),
}

impl Subject {
    /// The short name in JSON, CSV and the plot's legend.
    pub fn key(self) -> &'static str {
        match self {
            Subject::Started(mode) => mode.key(),
            Subject::External(_) => "external",
        }
    }

    /// The name in the printed tables.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Started(mode) => mode.name(),
            Subject::External(_) => "external server",
        }
    }

    /// A prefix for the run's nicks: an external server may still hold those of an earlier run
    /// (or of someone else), a fresh one holds none.
    pub fn nick_prefix(self, run: usize) -> String {
        match self {
            Subject::Started(_) => String::new(),
            Subject::External(_) => format!("b{}r{run}", std::process::id()),
        }
    }
}

/// How the bench starts servers.
pub struct Launch {
    /// The chat-server binary.
    pub binary: PathBuf,
    /// Server on CPU 0, bench on CPU 1.
    pub pin: bool,
}

/// A server under measurement; one the bench started is stopped when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    /// Its process, when known: for CPU and memory.
    pub pid: Option<u32>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// User + system CPU seconds the server has used.
    pub fn cpu_seconds(&self) -> Option<f64> {
        self.pid.and_then(cpu_seconds)
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(rss_kib)
    }

    /// Resident memory in MB.
    pub fn rss_mb(&self) -> Option<f64> {
        self.rss_kib().map(|kib| kib as f64 * 1024.0 / 1e6)
    }

    /// Stops a server the bench started (its clients see their connections close); an external
    /// one is left alone.
    pub async fn stop(mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill().await;
        }
    }
}

/// Starts the server `subject` names, or finds the external one, with `extra` flags for
/// chat-server.
pub async fn open(launch: &Launch, subject: Subject, extra: &[&str]) -> anyhow::Result<Server> {
    match subject {
        Subject::Started(mode) => start_server(&launch.binary, mode, launch.pin, extra).await,
        Subject::External(addr) => Ok(Server {
            child: None,
            addr: addr.to_string(),
            pid: listener_pid(addr.port()),
            _dir: None,
        }),
    }
}

/// Starts `binary` on port 0 with the history `mode` and the `extra` flags.
pub async fn start_server(
    binary: &Path,
    mode: Mode,
    pin: bool,
    extra: &[&str],
) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let bench = std::env::current_exe()?;
    let program = if mode == Mode::Bare { bench.as_path() } else { binary };
    let mut cmd = if pin {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    match mode {
        Mode::Bare => cmd.arg("--baseline-server"),
        _ => cmd.args(["--listen", "127.0.0.1:0", "--no-plain"]).args(extra),
    };
    match mode {
        Mode::File => cmd.arg("--db").arg(&db),
        Mode::Memory => cmd.args(["--db", ":memory:"]),
        Mode::Off => cmd.arg("--no-history"),
        Mode::Bare => &mut cmd,
    };
    // The server's log (a warning per lagging member under this load) would drown the figures.
    cmd.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", program.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("json="))
        .with_context(|| format!("{} said {line:?}", program.display()))?
        .to_owned();
    let pid = child.id();
    Ok(Server { child: Some(child), addr, pid, _dir: Some(dir) })
}

/// Runs the bench on CPU 1 (each server it starts runs on CPU 0).
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
