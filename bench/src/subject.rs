//! What a run measures, and how it is named in the tables, JSON and CSV: a server the bench
//! starts (its history mode and, with `--before`, its build) or one already running.

use std::net::SocketAddr;

use crate::Mode;

/// What a run measures: a server the bench starts (with `--before`, on one of two chat-server
/// binaries), or one already running (`--connect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The build is `None` for the only chat-server binary, and for the bare server, which is
    /// not chat-server.
    Started(Mode, Option<Build>),
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
            Subject::Started(mode, _) => mode.key(),
            Subject::External(_) => "external",
        }
    }

    /// The name of the kind of server (its build aside).
    pub fn name(self) -> &'static str {
        match self {
            Subject::Started(mode, _) => mode.name(),
            Subject::External(_) => "external server",
        }
    }

    /// The name in the printed tables and errors: the kind of server and, with `--before`, its
    /// build.
    pub fn label(self) -> String {
        match self.build() {
            Some(build) => format!("{} ({})", self.name(), build.key()),
            None => self.name().to_owned(),
        }
    }

    pub fn mode(self) -> Option<Mode> {
        match self {
            Subject::Started(mode, _) => Some(mode),
            Subject::External(_) => None,
        }
    }

    pub fn build(self) -> Option<Build> {
        match self {
            Subject::Started(_, build) => build,
            Subject::External(_) => None,
        }
    }

    /// For a run after the change, the same server on the build before it: the run it is
    /// compared with.
    pub fn before(self) -> Option<Subject> {
        match self {
            Subject::Started(mode, Some(Build::After)) => {
                Some(Subject::Started(mode, Some(Build::Before)))
            }
            _ => None,
        }
    }

    /// Whether a ratio of this run to one of `other` compares servers, not builds: `other` runs
    /// the same chat-server binary, or none (the bare server, the same on either side).
    pub fn beside(self, other: Subject) -> bool {
        other.build().is_none() || other.build() == self.build()
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
