//! `/ignore NICK`: people whose messages and private messages this client does not show. The
//! list is the person's own (the server knows nothing of it) and is kept in
//! `$XDG_DATA_HOME/chat-tui/ignored` (else `~/.local/share/chat-tui/`), one nick a line,
//! readable by its owner alone, replaced whole on each change (written beside it, then
//! renamed), so a crash leaves the old list or the new, never half of one.
//!
//! Nicks are matched by look-alike key ([`NickKey`]), as the server makes nicks unique: ignoring
//! `Tracy` also ignores `tracy` and `Trасy` with a Cyrillic `а`. Within a session the list
//! follows an ignored person's nick changes; the file keeps the nicks the person typed.

use std::collections::VecDeque;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use protocol::{Nick, NickKey};

/// The file's name, in the client's data directory ([`crate::config::data_dir`]).
pub const FILE_NAME: &str = "ignored";

/// Most nicks ignored: every message is checked against the list, and the file stays small.
pub const MAX_IGNORED: usize = 256;

/// Most new nicks of ignored people followed in one session (oldest forgotten first): a
/// person renaming in a loop cannot grow the list.
pub const MAX_FOLLOWED: usize = 64;

/// Longest file read, in bytes: [`MAX_IGNORED`] nicks with room to spare; anything bigger is
/// not a file this client wrote.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The first lines of the file.
const HEADER: &str = "# chat-tui: nicks whose messages are not shown (/ignore, /unignore).\n";

/// Who is ignored: the nicks the person named (kept on disk), and the new nicks those people
/// took in this session (not kept).
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    named: Vec<Nick>,
    /// A new nick, and the key of the nick named that it comes from.
    followed: VecDeque<(Nick, NickKey)>,
}

/// Why `/ignore NICK` did not add anybody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("{0} is already ignored")]
    Already(Nick),
    #[error("at most {MAX_IGNORED} nicks can be ignored; /unignore one first")]
    Full,
}

impl IgnoreList {
    /// The list read from the file.
    pub fn new(named: Vec<Nick>) -> Self {
        Self { named, followed: VecDeque::new() }
    }

    /// The nicks named, in the order they were added: what the file keeps.
    pub fn named(&self) -> &[Nick] {
        &self.named
    }

    /// Whether `nick` is ignored, or a look-alike of an ignored nick.
    pub fn contains(&self, nick: &Nick) -> bool {
        let key = nick.key();
        self.named.iter().any(|n| n.key() == key)
            || self.followed.iter().any(|(n, _)| n.key() == key)
    }

    /// Ignores `nick`.
    pub fn add(&mut self, nick: Nick) -> Result<(), IgnoreError> {
        if self.named.iter().any(|n| n.key() == nick.key()) {
            return Err(IgnoreError::Already(nick));
        }
        if self.named.len() >= MAX_IGNORED {
            return Err(IgnoreError::Full);
        }
        self.named.push(nick);
        Ok(())
    }

    /// Stops ignoring `nick` (named, or a new nick followed) and every nick followed from it.
    /// Whether anything was removed.
    pub fn remove(&mut self, nick: &Nick) -> bool {
        let key = nick.key();
        // A followed nick stands for the nick named it came from.
        let origin = self.followed.iter().find(|(n, _)| n.key() == key).map(|(_, o)| o.clone());
        let origin = origin.unwrap_or(key);
        let before = self.named.len() + self.followed.len();
        self.named.retain(|n| n.key() != origin);
        self.followed.retain(|(n, o)| *o != origin && n.key() != origin);
        before != self.named.len() + self.followed.len()
    }

    /// `nick` is now `to`: if `nick` was ignored, `to` is too, for this session.
    pub fn renamed(&mut self, nick: &Nick, to: &Nick) {
        let key = nick.key();
        let origin = match self.named.iter().find(|n| n.key() == key) {
            Some(named) => named.key(),
            None => match self.followed.iter().find(|(n, _)| n.key() == key) {
                Some((_, origin)) => origin.clone(),
                None => return,
            },
        };
        if self.contains(to) {
            return;
        }
        if self.followed.len() == MAX_FOLLOWED {
            self.followed.pop_front();
        }
        self.followed.push_back((to.clone(), origin));
    }
}

/// The default file: `ignored` in the client's data directory; `None` without one.
pub fn default_path() -> Option<PathBuf> {
    crate::config::data_dir().map(|dir| dir.join(FILE_NAME))
}

/// The nicks in the file's `text`, and the lines that are not a nick (their numbers).
/// Comments (`#`) and blank lines are skipped; past [`MAX_IGNORED`] nicks the rest are
/// counted as not read.
pub fn parse(text: &str) -> (Vec<Nick>, Vec<usize>) {
    let mut list = IgnoreList::default();
    let mut bad = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match Nick::parse(line) {
            Ok(nick) => match list.add(nick) {
                Ok(()) | Err(IgnoreError::Already(_)) => {}
                Err(IgnoreError::Full) => bad.push(number + 1),
            },
            Err(_) => bad.push(number + 1),
        }
    }
    (list.named, bad)
}

/// Reads the file: the nicks, and the numbers of lines that are not one. No file: nobody.
pub fn load(path: &Path) -> io::Result<(Vec<Nick>, Vec<usize>)> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(io::Error::other(format!(
            "it is {} bytes; at most {MAX_FILE_BYTES} are read",
            meta.len()
        )));
    }
    Ok(parse(&std::fs::read_to_string(path)?))
}

/// Replaces the file with `nicks`: written to a file beside it (owner-only from its
/// creation), synced, then renamed over it. The directory is made owner-only if new.
pub fn save(path: &Path, nicks: &[Nick]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("the file has no directory"))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut text = HEADER.to_owned();
    for nick in nicks {
        text.push_str(nick.as_str());
        text.push('\n');
    }
    let temporary = path.with_extension("new");
    let _ = std::fs::remove_file(&temporary);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn nick(s: &str) -> Nick {
        Nick::parse(s).unwrap()
    }

    /// Look-alikes are the same person; renames are followed, and unignoring the person
    /// forgets every nick they took.
    #[test]
    fn look_alikes_and_new_nicks_are_the_same_person() {
        let mut list = IgnoreList::default();
        list.add(nick("Tracy")).unwrap();
        assert!(list.contains(&nick("tracy")));
        assert!(list.contains(&nick("Tr\u{0430}cy")), "a Cyrillic a");
        assert_eq!(list.add(nick("TRACY")), Err(IgnoreError::Already(nick("TRACY"))));
        list.renamed(&nick("Tracy"), &nick("T2"));
        list.renamed(&nick("T2"), &nick("T3"));
        list.renamed(&nick("Sam"), &nick("Sammy"));
        assert!(list.contains(&nick("T3")) && !list.contains(&nick("Sammy")));
        assert_eq!(list.named(), [nick("Tracy")], "renames are not kept on disk");
        assert!(list.remove(&nick("t3")));
        assert!(!list.contains(&nick("Tracy")) && !list.contains(&nick("T2")));
        assert!(!list.remove(&nick("Tracy")));
    }

    /// Both the list and the nicks followed are bounded.
    #[test]
    fn the_list_is_bounded() {
        let mut list = IgnoreList::default();
        for i in 0..MAX_IGNORED {
            list.add(nick(&format!("n{i}"))).unwrap();
        }
        assert_eq!(list.add(nick("one_more")), Err(IgnoreError::Full));
        for i in 0..MAX_FOLLOWED * 2 {
            list.renamed(&nick("n0"), &nick(&format!("r{i}")));
        }
        assert_eq!(list.followed.len(), MAX_FOLLOWED);
        let text: String = (0..MAX_IGNORED + 3).map(|i| format!("n{i}\n")).collect();
        let (nicks, bad) = parse(&text);
        assert_eq!((nicks.len(), bad.len()), (MAX_IGNORED, 3));
    }

    /// Saved owner-only, read back the same; bad lines are named, not fatal; a file too big
    /// is refused.
    #[test]
    fn the_file_is_owner_only_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat-tui").join(FILE_NAME);
        assert_eq!(load(&path).unwrap(), (vec![], vec![]), "no file: nobody");
        save(&path, &[nick("Tracy"), nick("小明")]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        assert_eq!(load(&path).unwrap().0, [nick("Tracy"), nick("小明")]);
        assert!(!path.with_extension("new").exists());
        std::fs::write(&path, "# c\nTracy\nnot a nick\n\nSam\n").unwrap();
        assert_eq!(load(&path).unwrap(), (vec![nick("Tracy"), nick("Sam")], vec![3]));
        std::fs::write(&path, "x".repeat(MAX_FILE_BYTES as usize + 1)).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("at most"));
    }
}
