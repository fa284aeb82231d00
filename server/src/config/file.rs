//! `--config FILE`: a TOML file whose keys are the flags' long names, spelt as on the command
//! line (`flood-rate = 2.0`, `admin = ["Michael"]`, `no-plain = true`).
//!
//! The file is turned into the flags it stands for, and clap reads them before the command
//! line's: one parser, so a value in the file is checked exactly as the same flag would be,
//! and every flag, now and to come, has its key. Keys the command line names are left out
//! (see `load.rs`), which is how the command line wins.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};

use crate::broker::redis::address::FileAccess;

/// Largest config file read: a file of every flag with its comments is a few KiB; anything
/// much bigger is not a config file.
pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Flags that have no key: they say where the settings come from, or ask for an answer
/// instead of a server.
pub const NOT_IN_A_FILE: [&str; 4] = ["config", "print-config", "help", "version"];

/// A config file, read and parsed, its keys not yet checked.
pub struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
    access: FileAccess,
}

/// What is wrong with a config file. Never quotes the file's text: it may hold the Redis
/// password.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read the config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}:{line}:{column}: not TOML: {reason}")]
    Syntax { path: PathBuf, line: usize, column: usize, reason: String },
    #[error("{path}: unknown key `{key}`{}", suggestion(.closest))]
    Unknown { path: PathBuf, key: String, closest: Option<String> },
    #[error("{path}: {key}: {problem}")]
    Value { path: PathBuf, key: String, problem: String },
}

fn suggestion(closest: &Option<String>) -> String {
    match closest {
        Some(key) => format!(" (did you mean `{key}`?)"),
        None => " (the keys are chat-server's flags, without the dashes: see --help)".into(),
    }
}

impl FileError {
    /// The kind of clap error it is reported as: the same wording and exit status as a
    /// wrong flag.
    pub fn kind(&self) -> clap::error::ErrorKind {
        use clap::error::ErrorKind;
        match self {
            Self::Read { .. } => ErrorKind::Io,
            Self::Syntax { .. } | Self::Value { .. } => ErrorKind::InvalidValue,
            Self::Unknown { .. } => ErrorKind::UnknownArgument,
        }
    }
}

/// The flags a file stands for, and the keys they came from.
#[derive(Debug, Default)]
pub struct FileArgs {
    pub tokens: Vec<OsString>,
    /// The long names set by the file (and not overridden), for errors to name the file.
    pub keys: Vec<String>,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<Self, FileError> {
        let failed = |reason: String| FileError::Read { path: path.to_owned(), reason };
        let file = File::open(path).map_err(|e| failed(e.to_string()))?;
        let access = FileAccess::of(&file);
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failed(e.to_string()))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(failed(format!("larger than {MAX_CONFIG_BYTES} bytes")));
        }
        let text = String::from_utf8(bytes).map_err(|_| failed("not UTF-8 text".into()))?;
        let table = text.parse::<toml::Table>().map_err(|e| {
            let (line, column) = line_and_column(&text, e.span().map_or(0, |span| span.start));
            // The message alone: the error's own rendering quotes the line, which may be the
            // one with a password.
            let reason = e.message().trim().replace('\n', "; ");
            FileError::Syntax { path: path.to_owned(), line, column, reason }
        })?;
        Ok(Self { path: path.to_owned(), table, access })
    }

    /// Others than the file's owner may read it (and it may hold the Redis password).
    pub fn open_to_others(&self) -> bool {
        self.access.open_to_others()
    }

    /// The flags of `cmd` the file sets, as command-line tokens, but those `overridden` says
    /// the command line decides.
    pub fn args(
        &self,
        cmd: &Command,
        overridden: impl Fn(&Arg) -> bool,
    ) -> Result<FileArgs, FileError> {
        let mut args = FileArgs::default();
        for (key, value) in &self.table {
            let problem = |problem: String| FileError::Value {
                path: self.path.clone(),
                key: key.clone(),
                problem,
            };
            if NOT_IN_A_FILE.contains(&key.as_str()) {
                return Err(problem("a flag for the command line only".into()));
            }
            if let toml::Value::Table(_) = value {
                return Err(problem(scalar(value).err().unwrap_or_default()));
            }
            let arg = cmd.get_arguments().find(|arg| arg.get_long() == Some(key.as_str()));
            let Some(arg) = arg else {
                return Err(FileError::Unknown {
                    path: self.path.clone(),
                    key: key.clone(),
                    closest: closest(cmd, key),
                });
            };
            if overridden(arg) {
                continue;
            }
            let tokens = tokens(arg, key, value).map_err(problem)?;
            args.tokens.extend(tokens);
            args.keys.push(key.clone());
        }
        Ok(args)
    }
}

/// The tokens that give `arg` the file's `value`. `Err`: what is wrong with the value's kind
/// (what is wrong with the value itself is clap's to say, as for the flag).
fn tokens(arg: &Arg, key: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let flag = || OsString::from(format!("--{key}"));
    // `--key=value`, one token: a value that starts with a dash stays a value.
    let with = |value: String| OsString::from(format!("--{key}={value}"));
    match arg.get_action() {
        ArgAction::SetTrue => match value {
            toml::Value::Boolean(on) => Ok(if *on { vec![flag()] } else { vec![] }),
            _ => Err("true or false".into()),
        },
        ArgAction::Count => match value {
            toml::Value::Integer(times @ 0..=255) => Ok((0..*times).map(|_| flag()).collect()),
            _ => Err("a number from 0 to 255".into()),
        },
        ArgAction::Append => {
            let items = match value {
                toml::Value::Array(items) => items.as_slice(),
                one => std::slice::from_ref(one),
            };
            if items.is_empty() && !arg.get_default_values().is_empty() {
                let defaults: Vec<_> =
                    arg.get_default_values().iter().map(|v| v.to_string_lossy()).collect();
                return Err(format!(
                    "an empty list would leave the default ({}) in force: leave the key out \
                     for that, or list what you mean",
                    defaults.join(", ")
                ));
            }
            items.iter().map(|item| scalar(item).map(with)).collect()
        }
        _ => match value {
            toml::Value::Array(_) => Err("one value, not a list".into()),
            value => Ok(vec![with(scalar(value)?)]),
        },
    }
}

/// One value, as it would be written on the command line.
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(on) => Ok(on.to_string()),
        toml::Value::Datetime(_) => Err("a date is not a value of this key".into()),
        toml::Value::Array(_) => Err("a list inside a list".into()),
        toml::Value::Table(_) => Err("a table: the keys are flat, each a flag's long name \
                                      (`flood-rate = 2.0`, not `[flood]` and `rate = 2.0`)"
            .into()),
    }
}

/// The flag whose long name is most like `key`, if one is close enough to be a slip.
fn closest(cmd: &Command, key: &str) -> Option<String> {
    let key = key.replace('_', "-").to_lowercase();
    cmd.get_arguments()
        .filter_map(Arg::get_long)
        .filter(|long| !NOT_IN_A_FILE.contains(long))
        .map(|long| (strsim::jaro_winkler(&key, long), long))
        .filter(|(likeness, _)| *likeness > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, long)| long.to_owned())
}

/// The line and column (from 1, in characters) of byte `at` of `text`.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}
