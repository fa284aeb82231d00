//! Chat logs on disk (`logs = true`): one file per window per day,
//! `$XDG_DATA_HOME/chat-tui/logs/<server>/<window>/YYYY-MM-DD.log`, a line per message,
//! `HH:MM:SS <nick> text` (`HH:MM:SS * nick text` for `/me`), in local time.
//!
//! The app asks for a line with a [`Record`] effect; the terminal layer hands it to
//! [`Writer`], whose thread does the writing, so a slow disk never holds up the screen. The
//! queue between them is bounded ([`LOG_QUEUE`]): past it lines are dropped and that is said.
//! Names from the server (a room, a nick, the server's address) become file names through
//! [`file_name`], which no name can turn into a path elsewhere. Directories are owner-only
//! (0700), files readable by their owner alone (0600).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

/// The logs' directory under the client's data directory.
pub const DIR_NAME: &str = "logs";

/// Lines waiting for the writer thread at most; a disk slower than the chat loses lines past
/// this rather than the client's memory growing.
pub const LOG_QUEUE: usize = 4096;

/// Files kept open at once by the writer: the windows being talked in. Past it all are
/// closed and opened again as lines come.
pub const MAX_OPEN_FILES: usize = 64;

/// Longest file name made from a name, in bytes: file systems take 255; a longer name is cut
/// and ends in a hash of the whole, so two long names stay two files.
pub const MAX_FILE_NAME_BYTES: usize = 120;

/// How long quitting waits for the writer to write what is queued.
pub const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// One line of a window's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The window's title (`#rust`, `@Tracy`), not yet a file name.
    pub window: String,
    /// The local day the message was sent: its file.
    pub day: NaiveDate,
    /// `HH:MM:SS <nick> text`, sanitised; a message of several lines is as many lines, each
    /// with the time and nick, joined by `\n`.
    pub line: String,
}

/// `name` as one file name that stays in its directory: letters, digits and `-_.#@+` as
/// they are, anything else (`/`, NUL, spaces, controls) as `%XX` of its UTF-8 bytes, a
/// leading `.` too (so neither `.`, `..` nor a hidden file), never empty, at most
/// [`MAX_FILE_NAME_BYTES`].
pub fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let keep = (c.is_alphanumeric() && !c.is_control())
            || matches!(c, '-' | '_' | '#' | '@' | '+')
            || (c == '.' && i > 0);
        if keep {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() {
        return "%00".to_owned();
    }
    if out.len() <= MAX_FILE_NAME_BYTES {
        return out;
    }
    // FNV-1a of the whole name: stable across runs, unlike the std hasher.
    let hash = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut end = MAX_FILE_NAME_BYTES - 17;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}~{hash:016x}", &out[..end])
}

/// Where `record` goes under `root` (the logs' directory) for `server`.
pub fn path_of(root: &Path, server: &str, record: &Record) -> PathBuf {
    root.join(file_name(server))
        .join(file_name(&record.window))
        .join(format!("{}.log", record.day.format("%Y-%m-%d")))
}

/// The default directory: `logs` in the client's data directory; `None` without one.
pub fn default_dir() -> Option<PathBuf> {
    crate::config::data_dir().map(|dir| dir.join(DIR_NAME))
}

/// The writer thread and the queue to it.
pub struct Writer {
    queue: Option<SyncSender<Record>>,
    /// The first failure the thread met, told once.
    failures: Receiver<String>,
    thread: Option<JoinHandle<()>>,
    /// Lines dropped because the queue was full, since last told.
    dropped: u64,
    /// Whether a full queue has been told already.
    told_full: bool,
}

impl Writer {
    /// Starts the writer for the logs of `server` under `root`.
    pub fn start(root: PathBuf, server: String) -> io::Result<Self> {
        let (queue, lines) = mpsc::sync_channel(LOG_QUEUE);
        let (fail, failures) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("chat-log".into())
            .spawn(move || write_all(&root, &server, &lines, &fail))?;
        Ok(Self {
            queue: Some(queue),
            failures,
            thread: Some(thread),
            dropped: 0,
            told_full: false,
        })
    }

    /// Queues `record`; a full queue drops it. Returns what to tell the person, once: the
    /// first line dropped.
    pub fn send(&mut self, record: Record) -> Option<String> {
        let queue = self.queue.as_ref()?;
        match queue.try_send(record) {
            Ok(()) => None,
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                (!std::mem::replace(&mut self.told_full, true)).then(|| {
                    format!("chat log: the disk is behind; lines are dropped (more than {LOG_QUEUE} waiting)")
                })
            }
            Err(TrySendError::Disconnected(_)) => None,
        }
    }

    /// What the thread failed at, if it has and has not said so yet.
    pub fn failure(&self) -> Option<String> {
        self.failures.try_recv().ok()
    }

    /// Lets the thread write what is queued, waiting at most [`FLUSH_WAIT`].
    pub fn finish(mut self) {
        drop(self.queue.take());
        let Some(thread) = self.thread.take() else { return };
        let deadline = Instant::now() + FLUSH_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

/// The thread: each line appended to its file, until the queue closes. The first failure is
/// reported; later ones are not (the person has been told the logs are not being kept).
fn write_all(root: &Path, server: &str, lines: &Receiver<Record>, fail: &mpsc::Sender<String>) {
    let mut open: HashMap<PathBuf, File> = HashMap::new();
    let mut failed = false;
    while let Ok(record) = lines.recv() {
        let path = path_of(root, server, &record);
        if let Err(e) = append(&mut open, &path, &record.line) {
            open.remove(&path);
            if !std::mem::replace(&mut failed, true) {
                let _ = fail.send(format!("chat log: cannot write {}: {e}", path.display()));
            }
        }
    }
}

/// Appends `line` to the file at `path`, opened (and its directories made) if need be.
fn append(open: &mut HashMap<PathBuf, File>, path: &Path, line: &str) -> io::Result<()> {
    if !open.contains_key(path) {
        if open.len() >= MAX_OPEN_FILES {
            open.clear();
        }
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let file = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path)?;
        open.insert(path.to_owned(), file);
    }
    let file = open.get_mut(path).ok_or_else(|| io::Error::other("not open"))?;
    // One write per line: what is on disk is whole lines, readable while the client runs.
    file.write_all(format!("{line}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// No name leaves its directory or hides: separators, dots, NUL and controls are encoded,
    /// and long names are cut but stay apart.
    #[test]
    fn names_never_escape_the_directory() {
        assert_eq!(file_name("#rust"), "#rust");
        assert_eq!(file_name("@小明"), "@小明");
        assert_eq!(file_name("127.0.0.1:7878"), "127.0.0.1%3A7878");
        for evil in ["..", ".", "../../etc", "a/b", "/abs", "x\0y", "\u{1b}[2J", "", ".hidden"] {
            let name = file_name(evil);
            assert!(!name.contains(['/', '\0', '\u{1b}']), "{evil:?} -> {name:?}");
            assert!(!name.starts_with('.') && !name.is_empty(), "{evil:?} -> {name:?}");
            let root = Path::new("/logs");
            let path = root.join(&name);
            assert_eq!(path.parent(), Some(root), "{evil:?} -> {name:?}");
            assert_eq!(path.components().count(), 3, "{evil:?} -> {name:?}");
        }
        let long_a = format!("#{}a", "龍".repeat(60));
        let long_b = format!("#{}b", "龍".repeat(60));
        assert!(file_name(&long_a).len() <= MAX_FILE_NAME_BYTES);
        assert_ne!(file_name(&long_a), file_name(&long_b));
    }
}
