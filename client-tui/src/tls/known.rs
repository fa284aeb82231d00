//! `known_servers`: the certificates the person trusted on first use, one line per server,
//! `host:port SHA-256` (`localhost:7878 AB:CD:...`), as ssh's `known_hosts` keeps host keys.
//! Read at every connection (so an edited file counts at the next `/connect`), appended to
//! when a certificate is accepted, and readable by its owner alone.
//!
//! A server with lines here is expected to show one of their certificates: any other is
//! refused, never offered again. A line that cannot be read for the server being connected
//! to refuses the connection too, rather than quietly counting the server as unknown.

use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use protocol::fingerprint::{self, Sha256Digest};

/// The file's name, in `$XDG_DATA_HOME/chat-tui/` (else `~/.local/share/chat-tui/`).
pub const FILE_NAME: &str = "known_servers";
/// Longest file read, in bytes: a line is about a hundred bytes, so this is thousands of
/// servers; anything bigger is not a file this client wrote.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The first line of a new file.
const HEADER: &str = "# chat-tui: server certificates accepted on first use (host:port SHA-256).\n\
                      # Delete a server's line to be asked about its certificate again.\n";

/// The default file: `$XDG_DATA_HOME/chat-tui/known_servers`, else
/// `~/.local/share/chat-tui/known_servers`; `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    crate::config::data_dir().map(|dir| dir.join(FILE_NAME))
}

/// The fingerprints `text` holds for `server` (`host:port`). Comments (`#`) and blank lines
/// are skipped, and so are other servers' lines whatever they hold; a line for `server` that
/// is not `host:port FINGERPRINT` is an error naming its line number.
pub fn parse(text: &str, server: &str) -> Result<Vec<Sha256Digest>, String> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        if fields.next() != Some(server) {
            continue;
        }
        match (fields.next().and_then(fingerprint::parse), fields.next()) {
            (Some(digest), None) => found.push(digest),
            _ => {
                return Err(format!(
                    "line {} is not `{server} FINGERPRINT` (SHA-256, as AB:CD:...)",
                    number + 1
                ));
            }
        }
    }
    Ok(found)
}

/// The line that remembers `digest` for `server`.
pub fn line(server: &str, digest: &Sha256Digest) -> String {
    format!("{server} {}\n", fingerprint::show(digest))
}

/// Adds `server`'s `digest` to the file at `path`: the directory made if need be (owner
/// only), the file created readable and writable by its owner alone (0600), and put back to
/// that if it was wider. Appended, so two clients accepting at once both keep their line.
pub fn append(path: &Path, server: &str, digest: &Sha256Digest) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let existing = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path)?;
    if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let mut text = String::new();
    if existing.is_empty() {
        text.push_str(HEADER);
    } else if !existing.ends_with(b"\n") {
        text.push('\n');
    }
    text.push_str(&line(server, digest));
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// The file, and what was accepted in this run: kept also when the file cannot be written,
/// so a reconnect does not ask again.
#[derive(Debug, Default)]
pub struct KnownServers {
    path: Option<PathBuf>,
    /// std Mutex: held for a push or a copy, never across an await.
    accepted: Mutex<Vec<(String, Sha256Digest)>>,
}

/// Why the known fingerprints of a server could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {path}: {reason}; not connecting without it")]
pub struct Unreadable {
    pub path: PathBuf,
    pub reason: String,
}

impl KnownServers {
    /// The fingerprints remembered in `path` (none remembered across runs without one).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path, accepted: Mutex::default() }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The fingerprints accepted for `server` (`host:port`): the file's and this run's.
    pub async fn lookup(&self, server: &str) -> Result<Vec<Sha256Digest>, Unreadable> {
        let mut found = match &self.path {
            Some(path) => {
                let unreadable = |reason: String| Unreadable { path: path.clone(), reason };
                let file = path.clone();
                let read = tokio::task::spawn_blocking(move || read_limited(&file)).await;
                match read.unwrap_or_else(|e| Err(io::Error::other(e))) {
                    Ok(Some(text)) => parse(&text, server).map_err(unreadable)?,
                    Ok(None) => Vec::new(),
                    Err(e) => return Err(unreadable(e.to_string())),
                }
            }
            None => Vec::new(),
        };
        let accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        found.extend(accepted.iter().filter(|(s, _)| s == server).map(|(_, d)| *d));
        Ok(found)
    }

    /// The person accepted `digest` for `server`: trusted from now on in this run, and in
    /// the file if there is one. Returns the file written, if any.
    pub fn remember(
        &self,
        server: &str,
        digest: &Sha256Digest,
    ) -> Result<Option<&Path>, (&Path, io::Error)> {
        self.accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((server.to_owned(), *digest));
        match &self.path {
            Some(path) => append(path, server, digest)
                .map(|()| Some(path.as_path()))
                .map_err(|e| (path.as_path(), e)),
            None => Ok(None),
        }
    }
}

/// The file's text; `None` if there is no file.
fn read_limited(path: &Path) -> io::Result<Option<String>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(io::Error::other(format!(
            "it is {} bytes; at most {MAX_FILE_BYTES} are read",
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn lines_for_the_server_are_read_and_others_skipped() {
        let (a, b) = (fingerprint::digest(b"a"), fingerprint::digest(b"b"));
        let text = format!(
            "# comment\n\n{}other:1 not-a-fingerprint\n  {}[::1]:7878 {}\n",
            line("localhost:7878", &a),
            line("localhost:7878", &b).replace(' ', "\t"),
            fingerprint::show(&a).to_lowercase().replace(':', ""),
        );
        assert_eq!(parse(&text, "localhost:7878").unwrap(), vec![a, b]);
        assert_eq!(parse(&text, "[::1]:7878").unwrap(), vec![a]);
        assert_eq!(parse(&text, "localhost:7879").unwrap(), Vec::<Sha256Digest>::new());
        // A server's own broken line is an error, not "unknown" (which would ask again).
        let err = parse(&text, "other:1").unwrap_err();
        assert!(err.contains("line 4"), "{err}");
        assert!(parse("localhost:7878 AB:CD extra\n", "localhost:7878").is_err());
        assert!(parse("localhost:7878\n", "localhost:7878").is_err());
    }

    #[test]
    fn the_file_is_made_owner_only_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/chat-tui/known_servers");
        let (a, b) = (fingerprint::digest(b"a"), fingerprint::digest(b"b"));
        append(&path, "localhost:7878", &a).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // A line without its newline (an editor), and a file made readable by all.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("x:1 00");
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        append(&path, "[::1]:7878", &b).unwrap();
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# chat-tui"), "{text}");
        assert!(text.ends_with(&format!("x:1 00\n{}", line("[::1]:7878", &b))), "{text}");
        assert_eq!(parse(&text, "localhost:7878").unwrap(), vec![a]);
        assert_eq!(parse(&text, "[::1]:7878").unwrap(), vec![b]);
    }

    #[tokio::test]
    async fn what_is_accepted_is_known_in_this_run_and_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_servers");
        let digest = fingerprint::digest(b"cert");
        let known = KnownServers::new(Some(path.clone()));
        assert_eq!(known.lookup("localhost:7878").await.unwrap(), Vec::<Sha256Digest>::new());
        assert_eq!(known.remember("localhost:7878", &digest).unwrap(), Some(path.as_path()));
        let next_run = KnownServers::new(Some(path.clone()));
        assert_eq!(next_run.lookup("localhost:7878").await.unwrap(), vec![digest]);
        assert_eq!(next_run.lookup("localhost:7879").await.unwrap(), Vec::<Sha256Digest>::new());

        // Without a file, only this run knows it.
        let memory = KnownServers::new(None);
        assert_eq!(memory.remember("localhost:7878", &digest).unwrap(), None);
        assert_eq!(memory.lookup("localhost:7878").await.unwrap(), vec![digest]);

        // A file that cannot be read is not taken for an empty one.
        std::fs::write(&path, "localhost:7878 garbage\n").unwrap();
        let err = next_run.lookup("localhost:7878").await.unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::read(&path).is_err() {
            // (root reads it anyway)
            assert!(next_run.lookup("x:1").await.is_err());
        }
    }
}
