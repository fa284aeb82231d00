//! The account's password when chat-tui starts, from the first source given of:
//! `--password-file FILE`, the `CHAT_PASSWORD` environment variable, the config file's
//! `password_command`. Without any, there is none: the client asks when the server wants one.
//!
//! Each source is checked before the screen is taken over, and a refusal says what to do:
//! a password file that group or others can open is refused as ssh refuses such a key
//! (`chmod 600` is the fix), a command that fails, prints nothing, prints too much or hangs
//! is an error. Only the first line counts (its line break left out). No error shows the
//! password, and the bytes read are wiped once the [`Password`] holds them.

use std::ffi::OsString;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::Password;

/// The environment variable read for the password.
pub const ENV: &str = "CHAT_PASSWORD";
/// Longest password file or command output read, in bytes: a password is at most
/// [`protocol::limits::MAX_PASSWORD_BYTES`], and this leaves room for a second line.
pub const MAX_READ_BYTES: usize = 4096;
/// Longest `password_command` may take: time for a person to unlock a password manager,
/// and no hang beyond it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the password came from, for messages ("wrong password (from CHAT_PASSWORD)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    File,
    Env,
    Command,
    /// Typed at the prompt in this run.
    Typed,
    /// Given to `/register` or `/passwd` in this run.
    Registered,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::File => "from --password-file",
            Origin::Env => "from CHAT_PASSWORD",
            Origin::Command => "from password_command",
            Origin::Typed => "typed",
            Origin::Registered => "set in this run",
        }
    }
}

/// The sources as they were given; the first one given is used.
#[derive(Default)]
pub struct Sources<'a> {
    /// `--password-file`.
    pub file: Option<&'a Path>,
    /// The value of `CHAT_PASSWORD` (empty counts as not set).
    pub env: Option<OsString>,
    /// The config file's `password_command`.
    pub command: Option<&'a str>,
}

impl Sources<'_> {
    /// Which source is used, in words (for `--print-config`), without reading it.
    pub fn describe(&self) -> String {
        if let Some(file) = self.file {
            format!("read from {} (--password-file)", file.display())
        } else if self.env.as_ref().is_some_and(|v| !v.is_empty()) {
            format!("from the {ENV} environment variable")
        } else if self.command.is_some() {
            "printed by password_command".to_owned()
        } else {
            "none given; asked for when the server wants one".to_owned()
        }
    }
}

/// The password from the first source given, or `None` when there is none.
pub fn load(sources: Sources<'_>) -> Result<Option<(Password, Origin)>, String> {
    if let Some(file) = sources.file {
        return read_file(file).map(|p| Some((p, Origin::File)));
    }
    if let Some(value) = sources.env.filter(|v| !v.is_empty()) {
        let value = value
            .into_string()
            .map_err(|_| format!("{ENV} is not UTF-8 text; it cannot be a password"))?;
        let password = first_line(value.into_bytes(), ENV);
        return password.map(|p| Some((p, Origin::Env)));
    }
    if let Some(command) = sources.command {
        return run_command(command, COMMAND_TIMEOUT).map(|p| Some((p, Origin::Command)));
    }
    Ok(None)
}

/// The first line of the file at `path`, which its owner alone may open.
pub fn read_file(path: &Path) -> Result<Password, String> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read the password file {shown}: {e}"))?;
    // The permissions of what was opened, not of whatever the path names a moment later.
    let mode = file
        .metadata()
        .map_err(|e| format!("cannot read the password file {shown}: {e}"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the password file {shown} is open to group or others (mode {:04o}); make it \
             yours alone: chmod 600 {shown}",
            mode & 0o7777
        ));
    }
    let mut bytes = Vec::with_capacity(MAX_READ_BYTES + 1);
    let read = file.take(MAX_READ_BYTES as u64 + 1).read_to_end(&mut bytes);
    if let Err(e) = read {
        wipe(bytes);
        return Err(format!("cannot read the password file {shown}: {e}"));
    }
    if bytes.len() > MAX_READ_BYTES {
        wipe(bytes);
        return Err(format!(
            "the password file {shown} is longer than {MAX_READ_BYTES} bytes; its first line \
             should be the password"
        ));
    }
    first_line(bytes, &format!("the password file {shown}"))
}

/// Runs `command` with `sh -c` and takes the first line it prints: an error if it exits
/// with a failure, prints nothing, prints more than [`MAX_READ_BYTES`], or is not done
/// within `timeout` (then it is killed). Its standard error goes where chat-tui's does, so
/// its own complaints are seen; its standard input is empty.
pub fn run_command(command: &str, timeout: Duration) -> Result<Password, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run password_command: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err("cannot read what password_command prints".into());
    };
    let deadline = Instant::now() + timeout;
    let (done, output) = std::sync::mpsc::channel();
    // Read beside the wait, so a command printing a lot is not stuck on a full pipe; at
    // most one byte past the bound, after which the pipe is closed on it.
    std::thread::spawn(move || {
        let mut bytes = Vec::with_capacity(MAX_READ_BYTES + 1);
        let read = stdout.take(MAX_READ_BYTES as u64 + 1).read_to_end(&mut bytes);
        let _ = done.send(read.map(|_| bytes));
    });
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let too_long = || {
        format!("password_command did not finish within {} s; it was stopped", timeout.as_secs())
    };
    let bytes = match output.recv_timeout(timeout) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            stop(&mut child);
            return Err(format!("cannot read what password_command prints: {e}"));
        }
        Err(_) => {
            stop(&mut child);
            return Err(too_long());
        }
    };
    if bytes.len() > MAX_READ_BYTES {
        wipe(bytes);
        stop(&mut child);
        return Err(format!(
            "password_command printed more than {MAX_READ_BYTES} bytes; its first line should \
             be the password"
        ));
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                wipe(bytes);
                stop(&mut child);
                return Err(too_long());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                wipe(bytes);
                return Err(format!("cannot wait for password_command: {e}"));
            }
        }
    };
    if !status.success() {
        wipe(bytes);
        return Err(format!("password_command failed ({status}); no password to log in with"));
    }
    if bytes.is_empty() {
        return Err(
            "password_command printed nothing; its first line should be the password".into()
        );
    }
    first_line(bytes, "password_command's output")
}

/// The first line of `bytes` (without its `\n` or `\r\n`) as a password; `what` names
/// where they came from. `bytes` is wiped either way.
fn first_line(bytes: Vec<u8>, what: &str) -> Result<Password, String> {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let result = match std::str::from_utf8(line) {
        Ok("") => Err(format!("the first line of {what} is empty; it should be the password")),
        Ok(text) => Password::parse(text).map_err(|e| format!("cannot use {what}: {e}")),
        Err(_) => Err(format!("{what} is not UTF-8 text")),
    };
    wipe(bytes);
    result
}

/// Overwrites a buffer that held a secret before letting it go.
pub fn wipe(bytes: Vec<u8>) {
    let mut bytes = bytes;
    let capacity = bytes.capacity();
    bytes.clear();
    // Within the capacity: the same allocation, every byte of it written.
    bytes.resize(capacity, 0);
    std::hint::black_box(&mut bytes);
}

/// [`wipe`] for a string.
pub fn wipe_string(text: String) {
    wipe(text.into_bytes());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file_with(dir: &Path, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(format!("password-{mode:o}"));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_file_others_can_read_is_refused_one_of_its_owner_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let open = file_with(dir.path(), "hunter2hunter2\n", 0o644);
        let err = read_file(&open).unwrap_err();
        assert!(err.contains(&open.display().to_string()), "{err}");
        assert!(err.contains(&format!("chmod 600 {}", open.display())), "{err}");
        assert!(err.contains("0644"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let group = file_with(dir.path(), "hunter2hunter2\n", 0o640);
        assert!(read_file(&group).unwrap_err().contains("chmod 600"));
        let mine = file_with(dir.path(), "hunter2hunter2\nsecond line\n", 0o600);
        assert_eq!(read_file(&mine).unwrap().expose(), "hunter2hunter2");
        let crlf = file_with(dir.path(), "two words\r\n", 0o400);
        assert_eq!(read_file(&crlf).unwrap().expose(), "two words");
        let empty = file_with(dir.path(), "\nsecond\n", 0o600);
        assert!(read_file(&empty).unwrap_err().contains("is empty"));
        let missing = dir.path().join("nothing-here");
        assert!(read_file(&missing).unwrap_err().contains("cannot read the password file"));
    }

    #[test]
    fn a_command_prints_the_password_or_is_an_error() {
        let ok = run_command("printf 'secret-pw\\nmore'", COMMAND_TIMEOUT).unwrap();
        assert_eq!(ok.expose(), "secret-pw");
        let failed = run_command("echo secret-pw; exit 3", COMMAND_TIMEOUT).unwrap_err();
        assert!(failed.contains("failed") && failed.contains('3'), "{failed}");
        assert!(!failed.contains("secret-pw"), "{failed}");
        let silent = run_command("true", COMMAND_TIMEOUT).unwrap_err();
        assert!(silent.contains("printed nothing"), "{silent}");
        let flood = run_command("yes", COMMAND_TIMEOUT).unwrap_err();
        assert!(flood.contains("more than"), "{flood}");
        let started = Instant::now();
        let slow = run_command("sleep 5", Duration::from_millis(300)).unwrap_err();
        assert!(slow.contains("did not finish"), "{slow}");
        assert!(started.elapsed() < Duration::from_secs(4), "the wait is bounded");
    }

    #[test]
    fn the_first_source_given_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = file_with(dir.path(), "from-the-file\n", 0o600);
        let env = || Some(OsString::from("from-the-env"));
        let all =
            Sources { file: Some(&file), env: env(), command: Some("printf from-the-command") };
        let (password, origin) = load(all).unwrap().unwrap();
        assert_eq!((password.expose(), origin), ("from-the-file", Origin::File));
        let no_file = Sources { file: None, env: env(), command: Some("printf from-the-command") };
        let (password, origin) = load(no_file).unwrap().unwrap();
        assert_eq!((password.expose(), origin), ("from-the-env", Origin::Env));
        let empty_env = Sources {
            file: None,
            env: Some(OsString::new()),
            command: Some("printf from-the-command"),
        };
        let (password, origin) = load(empty_env).unwrap().unwrap();
        assert_eq!((password.expose(), origin), ("from-the-command", Origin::Command));
        assert!(load(Sources::default()).unwrap().is_none());
        // A refused file is an error, not a reason to fall back on the next source.
        let open = file_with(dir.path(), "from-the-file\n", 0o644);
        assert!(load(Sources { file: Some(&open), env: env(), command: None }).is_err());
    }
}
