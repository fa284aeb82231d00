//! What a run measures, and how it is named in the tables, JSON and CSV: a server the bench
//! starts (its history mode, with `--before` its build, with `--tls` whether its clients
//! speak TLS) or one already running.

use std::net::SocketAddr;

use crate::Mode;
use crate::tls::Transport;

/// What a run measures: a server the bench starts (with `--before`, on one of two chat-server
/// binaries; with `--tls`, plain or over TLS), or one already running (`--connect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The build is `None` for the only chat-server binary, and for the bare server, which is
    /// not chat-server (and always plain).
    Started(Mode, Option<Build>, Transport),
    External(SocketAddr),
}

/// Which of the two chat-server binaries of `--before` a server runs: a change is measured by
/// the same runs on the build before it and on the build after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// `--before`.
    Before,
    /// `--server`, or the chat-server beside chat-bench.
    After,
}

impl Build {
    /// Its name in JSON, CSV, the tables and the log files.
    pub fn key(self) -> &'static str {
        match self {
            Build::Before => "before",
            Build::After => "after",
        }
    }
}

impl Subject {
    /// The short name in JSON, CSV and the plot's legend.
    pub fn key(self) -> &'static str {
        match self {
            Subject::Started(mode, ..) => mode.key(),
            Subject::External(_) => "external",
        }
    }

    /// The name of the kind of server (its build aside).
    pub fn name(self) -> &'static str {
        match self {
            Subject::Started(mode, ..) => mode.name(),
            Subject::External(_) => "external server",
        }
    }

    /// The name in the printed tables and errors: the kind of server and, with `--before`, its
    /// build; "over TLS" when its clients speak TLS.
    pub fn label(self) -> String {
        let build = self.build().map(|b| format!(" ({})", b.key())).unwrap_or_default();
        let tls = if self.transport().is_tls() { " over TLS" } else { "" };
        format!("{}{build}{tls}", self.name())
    }

    pub fn mode(self) -> Option<Mode> {
        match self {
            Subject::Started(mode, ..) => Some(mode),
            Subject::External(_) => None,
        }
    }

    pub fn build(self) -> Option<Build> {
        match self {
            Subject::Started(_, build, _) => build,
            Subject::External(_) => None,
        }
    }

    /// How its clients talk to it (an external server: plainly).
    pub fn transport(self) -> Transport {
        match self {
            Subject::Started(.., transport) => transport,
            Subject::External(_) => Transport::Plain,
        }
    }

    /// For a run after the change, the same server on the build before it: the run it is
    /// compared with.
    pub fn before(self) -> Option<Subject> {
        match self {
            Subject::Started(mode, Some(Build::After), transport) => {
                Some(Subject::Started(mode, Some(Build::Before), transport))
            }
            _ => None,
        }
    }

    /// For a run over TLS, the same server without it: the run it is compared with.
    pub fn plain(self) -> Option<Subject> {
        match self {
            Subject::Started(mode, build, Transport::Tls) => {
                Some(Subject::Started(mode, build, Transport::Plain))
            }
            _ => None,
        }
    }

    /// Whether a ratio of this run to one of `other` compares servers, not builds or TLS:
    /// `other` runs the same chat-server binary (or none: the bare server, the same on either
    /// side) and speaks TLS if this one does (or is the bare server, the yardstick of either).
    pub fn beside(self, other: Subject) -> bool {
        let same_build = other.build().is_none() || other.build() == self.build();
        let same_transport =
            other.mode() == Some(Mode::Bare) || other.transport() == self.transport();
        same_build && same_transport
    }

    /// A prefix for the run's nicks: an external server may still hold those of an earlier run
    /// (or of someone else), a fresh one holds none.
    pub fn nick_prefix(self, run: usize) -> String {
        match self {
            Subject::Started(..) => String::new(),
            Subject::External(_) => format!("b{}r{run}", std::process::id()),
        }
    }

    /// Whether this subject's nodes keep their history in the bench's redis-server.
    pub fn uses_redis(self) -> bool {
        self.mode().is_some_and(|mode| mode.nodes_on_redis() > 0)
    }
}

/// The width of the column of the servers' labels in a table: the longest of `subjects`.
pub fn label_width(subjects: impl IntoIterator<Item = Subject>) -> usize {
    subjects.into_iter().map(|s| s.label().len()).max().unwrap_or(0).max("server".len())
}
