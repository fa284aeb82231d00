//! Files and directories only the server's own user may open: the history database (password
//! hashes, private messages waiting for their accounts, every room's words) with its `-wal`
//! and `-shm` files, the directories made for it, and the self-signed TLS key. They are
//! made that way from the start, never made wider and narrowed after; a database found open
//! to others is warned of once, at start-up, with the command that closes it.

use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A private file's mode: its owner reads and writes it, nobody else opens it.
pub const FILE_MODE: u32 = 0o600;

/// A private directory's mode: its owner alone lists it and opens what is in it.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and whichever of its parents are missing, each [`DIR_MODE`]; those already
/// there are left as they are.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options that create a file [`FILE_MODE`] (an existing file keeps its mode).
pub fn options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Writes a new file, [`FILE_MODE`] from the start; fails if there is one already.
pub fn create_with(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = options().write(true).create_new(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The files of `paths` that exist and that others than their owner may open, with their
/// modes.
pub fn open_to_others(paths: &[PathBuf]) -> Vec<(&Path, u32)> {
    paths
        .iter()
        .filter_map(|path| {
            let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then_some((path.as_path(), mode))
        })
        .collect()
}

/// The warning for `open` (from [`open_to_others`]), which hold `what`: which files, their
/// modes, and the `chmod` that closes them; `None` if there are none.
pub fn warning(open: &[(&Path, u32)], what: &str) -> Option<String> {
    if open.is_empty() {
        return None;
    }
    let files: Vec<String> = open.iter().map(|(path, _)| path.display().to_string()).collect();
    let modes: Vec<String> = open.iter().map(|(_, mode)| format!("{mode:04o}")).collect();
    let files = files.join(" ");
    Some(format!(
        "{files} can be opened by other users (mode {}), and {what}: chmod {FILE_MODE:o} {files}",
        modes.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Made private, whatever the umask; wider files are named in the warning with the
    /// command to run; private ones are not.
    #[test]
    fn private_from_the_start_and_wider_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_dir(&deep).unwrap();
        for made in [dir.path().join("a"), deep.clone()] {
            let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, DIR_MODE, "{}", made.display());
        }
        let (private, open) = (deep.join("private"), deep.join("open"));
        create_with(&private, b"x").unwrap();
        assert!(create_with(&private, b"y").is_err(), "never over an existing file");
        std::fs::write(&open, b"x").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o640)).unwrap();
        let files = [private.clone(), open.clone(), deep.join("absent")];
        let found = open_to_others(&files);
        assert_eq!(found, [(open.as_path(), 0o640)]);
        let warning = warning(&found, "it holds secrets").unwrap();
        let shown = open.display();
        assert_eq!(
            warning,
            format!(
                "{shown} can be opened by other users (mode 0640), and it holds secrets: \
                 chmod 600 {shown}"
            )
        );
        assert_eq!(super::warning(&[], "it holds secrets"), None);
    }
}
