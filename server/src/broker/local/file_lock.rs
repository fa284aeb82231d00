//! `PATH.lock` beside the database, locked while one chat-server has the database open.

use std::path::{Path, PathBuf};

use super::store::StoreError;

/// `PATH.lock`, locked by this process while it has the database open: a second chat-server
/// on the same file would number the same rooms' messages too, and their numbers would
/// collide.
pub struct FileLock {
    file: std::fs::File,
    path: PathBuf,
    /// This process made the file: if opening the database fails, it goes again, so a refused
    /// start leaves nothing behind.
    created: bool,
    keep: bool,
}

impl FileLock {
    pub(super) fn take(db: &Path) -> Result<Self, StoreError> {
        let mut path = db.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let refuse = |reason: String| StoreError::Open { path: db.to_owned(), reason };
        let created = !path.exists();
        // An existing lock file is only opened for reading: locking needs no more, and a
        // database someone made read-only should be reported as that, not as a lock problem.
        // So it is made with the usual mode (it holds nothing), readable by whoever may read
        // the database.
        let file = if created {
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)
        } else {
            std::fs::File::open(&path)
        }
        .map_err(|e| refuse(format!("cannot create the lock file {}: {e}", path.display())))?;
        let lock = Self { file, path, created, keep: false };
        match lock.file.try_lock() {
            Ok(()) => Ok(lock),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(refuse("another chat-server is using this database".to_owned()))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(refuse(format!("cannot lock {}: {e}", lock.path.display())))
            }
        }
    }

    /// The database opened: the lock file stays when the lock goes.
    pub(super) fn keep(mut self) -> Self {
        self.keep = true;
        self
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if self.created && !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
